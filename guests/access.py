"""Guest grants: what a guest has unlocked on one gallery, as a short-lived signed token.

The token is the only guest state: the mobile apps send it in the ``X-Gallery-Token`` header,
the pages keep it in an HttpOnly cookie per gallery. It names the gallery, the gallery's
``access_version`` when it was issued (changing the password or PIN bumps it, so every
token issued before stops working), the visitor once the guest gave an email, and whether
the download PIN was given. Signed with the secret key (salted), never stored.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace

from django.conf import settings
from django.core import signing

_SALT = "guests.grant"
HEADER = "HTTP_X_GALLERY_TOKEN"


@dataclass(frozen=True)
class Grant:
    gallery_id: uuid.UUID
    access_version: int
    visitor_id: uuid.UUID | None = None
    downloads_unlocked: bool = False

    def with_visitor(self, visitor_id: uuid.UUID) -> Grant:
        return replace(self, visitor_id=visitor_id)

    def with_downloads(self) -> Grant:
        return replace(self, downloads_unlocked=True)


def lifetime() -> dt.timedelta:
    return dt.timedelta(hours=settings.PICPICK_GUEST_TOKEN_HOURS)


def cookie_name(gallery_id: uuid.UUID) -> str:
    return f"g_{gallery_id.hex}"


def dump(grant: Grant) -> str:
    payload = {
        "g": grant.gallery_id.hex,
        "v": grant.access_version,
        "u": grant.visitor_id.hex if grant.visitor_id else None,
        "d": 1 if grant.downloads_unlocked else 0,
    }
    return signing.dumps(payload, salt=_SALT, compress=True)


def load(token: str) -> Grant | None:
    """The grant in ``token``, or None when it is forged, malformed or too old."""
    if not token or len(token) > 512:
        return None
    try:
        payload = signing.loads(token, salt=_SALT, max_age=lifetime())
        return Grant(
            gallery_id=uuid.UUID(hex=payload["g"]),
            access_version=int(payload["v"]),
            visitor_id=uuid.UUID(hex=payload["u"]) if payload.get("u") else None,
            downloads_unlocked=bool(payload.get("d")),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
