"""Writes of watermarks: create, edit, logo upload, delete.

Every change bumps ``version``; the ready photos of every gallery using the watermark then get
their watermarked preview re-rendered (only that one derivative, queued after commit).
"""

from __future__ import annotations

import io
import uuid
import warnings
from typing import TypedDict

from django.db import transaction
from django.db.models import F
from PIL import Image, UnidentifiedImageError

from accounts.models import Studio, User
from galleries import keys
from galleries.models import Gallery, Watermark
from galleries.services.processing import galleries_rewatermark
from picpick.core.errors import ApplicationError, NotFound
from picpick.core.storage import get_storage

LOGO_MAX_BYTES = 2 * 1024 * 1024
# A logo is stamped at a fraction of a 2048 px preview: anything larger is wasted decoding on
# every render (and a cheap way to make a worker decode a bomb).
LOGO_MAX_SIDE = 4096


class WatermarkChanges(TypedDict, total=False):
    name: str
    text: str
    position: str
    opacity: float
    scale: float


def _lock(watermark: Watermark) -> Watermark:
    locked = (
        Watermark.objects.select_for_update()
        .filter(studio_id=watermark.studio_id, id=watermark.id)
        .first()
    )
    if locked is None:
        raise NotFound("Watermark not found.")
    return locked


def _galleries_using(watermark: Watermark) -> list[uuid.UUID]:
    return list(Gallery.objects.filter(watermark=watermark).values_list("id", flat=True))


@transaction.atomic
def watermark_create(
    *,
    studio: Studio,
    by: User,
    name: str,
    text: str = "",
    position: str = Watermark.Position.BOTTOM_RIGHT,
    opacity: float = 0.5,
    scale: float = 0.2,
) -> Watermark:
    return Watermark.objects.create(
        studio=studio, name=name, text=text, position=position, opacity=opacity, scale=scale
    )


@transaction.atomic
def watermark_update(*, watermark: Watermark, by: User, changes: WatermarkChanges) -> Watermark:
    watermark = _lock(watermark)
    fields = [
        name
        for name in ("name", "text", "position", "opacity", "scale")
        if name in changes and getattr(watermark, name) != changes[name]  # type: ignore[literal-required]
    ]
    if not fields:
        return watermark
    for name in fields:
        setattr(watermark, name, changes[name])  # type: ignore[literal-required]
    # The name is drawn on nothing: a rename must not re-render every preview of a gallery.
    stamps = fields != ["name"]
    if stamps:
        watermark.version = F("version") + 1
        fields.append("version")
    watermark.save(update_fields=[*fields, "updated_at"])
    watermark.refresh_from_db(fields=["version"])
    if stamps:
        galleries_rewatermark(gallery_ids=_galleries_using(watermark))
    return watermark


def logo_validate(data: bytes) -> None:
    """A PNG of sane size that Pillow can fully decode; anything else is refused."""
    if len(data) > LOGO_MAX_BYTES:
        raise ApplicationError(
            f"The logo is {len(data)} bytes; the limit is {LOGO_MAX_BYTES} bytes.",
            code="logo_too_large",
            status=413,
            fields={"file": ["Too large."]},
            extra={"limit": LOGO_MAX_BYTES},
        )
    invalid = ApplicationError(
        "The logo must be a PNG image.", code="invalid_logo", fields={"file": ["Not a PNG."]}
    )
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise invalid
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
            if image.format != "PNG":
                raise invalid
            if max(image.size) > LOGO_MAX_SIDE:
                raise ApplicationError(
                    f"The logo is {image.width}×{image.height}; at most {LOGO_MAX_SIDE} px a side.",
                    code="invalid_logo",
                    fields={"file": ["Too many pixels."]},
                )
            image.load()  # a broken or truncated PNG fails here, not in a worker later
        except (
            UnidentifiedImageError,
            OSError,
            SyntaxError,
            ValueError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
        ) as exc:
            raise invalid from exc


@transaction.atomic
def watermark_logo_set(*, watermark: Watermark, by: User, data: bytes) -> Watermark:
    logo_validate(data)
    watermark = _lock(watermark)
    key = keys.watermark_logo_key(watermark.studio_id, watermark.id)
    # Written before the commit: if the transaction then fails, the object is simply replaced
    # by the next upload (the key is fixed per watermark).
    get_storage().put_object(
        key=key, body=data, content_type="image/png", cache_control="private, max-age=300"
    )
    watermark.logo_key = key
    watermark.version = F("version") + 1
    watermark.save(update_fields=["logo_key", "version", "updated_at"])
    watermark.refresh_from_db(fields=["version"])
    galleries_rewatermark(gallery_ids=_galleries_using(watermark))
    return watermark


@transaction.atomic
def watermark_delete(*, watermark: Watermark, by: User) -> None:
    """Delete it; galleries using it lose their watermark and their previews' stamp."""
    watermark = _lock(watermark)
    gallery_ids = _galleries_using(watermark)
    logo_key = watermark.logo_key
    Gallery.objects.filter(id__in=gallery_ids).update(watermark=None)
    watermark.delete()
    if logo_key:
        transaction.on_commit(lambda: get_storage().delete_many(keys=[logo_key]))
    galleries_rewatermark(gallery_ids=gallery_ids)
