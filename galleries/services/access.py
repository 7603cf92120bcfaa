"""Who gets into a gallery's guest pages and what they may download: the gallery's own
columns, written here (the guests app reads them, checks guests against them, and asks for
changes through this service)."""

from __future__ import annotations

from typing import TypedDict

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import F

from galleries.lock_objects import gallery_lock
from galleries.models import Gallery
from picpick.core.errors import Unprocessable

# The sizes a studio may offer guests, in the order they are stored.
DOWNLOAD_SIZES = ("original", "high", "web")


class GuestAccessChanges(TypedDict, total=False):
    access: str
    secret: str
    listed: bool
    require_registration: bool
    download_sizes: list[str]
    download_pin: str


def _is_pin(value: str) -> bool:
    # ASCII only: str.isdigit() also takes "²³⁴⁵" and full-width digits no keypad types.
    return value.isascii() and value.isdigit() and 4 <= len(value) <= 8


def _check_secret(access: str, secret: str) -> None:
    if access == Gallery.Access.PIN and not _is_pin(secret):
        raise Unprocessable(
            "A PIN is 4 to 8 digits.", code="invalid_pin", fields={"secret": ["4 to 8 digits."]}
        )
    if access == Gallery.Access.PASSWORD and not 6 <= len(secret) <= 128:
        raise Unprocessable(
            "A password is 6 to 128 characters.",
            code="invalid_password",
            fields={"secret": ["6 to 128 characters."]},
        )


@transaction.atomic
def gallery_guest_access_update(*, gallery: Gallery, changes: GuestAccessChanges) -> Gallery:
    """Change who gets in and what they may download. A new access mode or secret bumps
    ``access_version``: every guest token issued before stops working."""
    gallery = gallery_lock(studio=gallery.studio, gallery_id=gallery.id)
    fields: list[str] = []
    access = changes.get("access", gallery.access)
    secret = changes.get("secret")
    if access != Gallery.Access.PUBLIC:
        if secret is None and (access != gallery.access or not gallery.access_secret):
            raise Unprocessable(
                f"Give the {access} guests will need.",
                code="secret_required",
                fields={"secret": ["Required for this access."]},
            )
        if secret is not None:
            _check_secret(access, secret)
    if access != gallery.access or (secret is not None and access != Gallery.Access.PUBLIC):
        gallery.access = access
        gallery.access_secret = make_password(secret) if access != "public" else ""
        gallery.access_version = F("access_version") + 1
        fields += ["access", "access_secret", "access_version"]
    for name in ("listed", "require_registration"):
        if name in changes:
            setattr(gallery, name, changes[name])  # type: ignore[literal-required]
            fields.append(name)
    if "download_sizes" in changes:
        gallery.download_sizes = [s for s in DOWNLOAD_SIZES if s in changes["download_sizes"]]
        fields.append("download_sizes")
    if "download_pin" in changes:
        pin = changes["download_pin"]
        if pin and not _is_pin(pin):
            raise Unprocessable(
                "A PIN is 4 to 8 digits.",
                code="invalid_pin",
                fields={"download_pin": ["4 to 8 digits."]},
            )
        gallery.download_pin = make_password(pin) if pin else ""
        fields.append("download_pin")
    if fields:
        gallery.save(update_fields=[*fields, "updated_at"])
        gallery.refresh_from_db(fields=["access_version"])
    return gallery
