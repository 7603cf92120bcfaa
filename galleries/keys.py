"""Where each object lives in storage. Keys are made here from ids, never from client input.

    studios/<studio>/galleries/<gallery>/originals/<photo>.<ext>     the uploaded file
    studios/<studio>/galleries/<gallery>/d/<name>/<photo>.jpg        derivatives by name
    studios/<studio>/galleries/<gallery>/zips/<job>.zip              built ZIP downloads
    studios/<studio>/watermarks/<watermark>.png                      watermark logos

Derivatives of one kind sit in one folder per gallery, apart from the originals, so a signed
wildcard policy covering a page of thumbnails (see ``picpick.core.storage``) can never reach
an original or another gallery. Deleting a gallery deletes its ``galleries/<gallery>/`` folder.
"""

from __future__ import annotations

import re
import uuid

from galleries.imaging import FORMATS, extension_of

DERIVATIVE_NAMES = ("thumb", "preview", "preview_wm")


def studio_prefix(studio_id: uuid.UUID) -> str:
    return f"studios/{studio_id}/"


def gallery_prefix(studio_id: uuid.UUID, gallery_id: uuid.UUID) -> str:
    return f"{studio_prefix(studio_id)}galleries/{gallery_id}/"


def original_key(
    studio_id: uuid.UUID, gallery_id: uuid.UUID, photo_id: uuid.UUID, filename: str
) -> str:
    ext = extension_of(filename)
    if ext not in FORMATS:
        raise ValueError(f"unsupported extension {ext!r}")
    return f"{gallery_prefix(studio_id, gallery_id)}originals/{photo_id}.{ext}"


_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_ORIGINAL = re.compile(
    rf"^studios/{_UUID}/galleries/{_UUID}/originals/(?P<photo>{_UUID})\.[a-z0-9]+$"
)


def original_photo_id(key: str) -> uuid.UUID | None:
    """The photo id an original's key was made for; None for any other key."""
    match = _ORIGINAL.match(key)
    return uuid.UUID(match["photo"]) if match else None


def originals_prefix(studio_id: uuid.UUID, gallery_id: uuid.UUID) -> str:
    return f"{gallery_prefix(studio_id, gallery_id)}originals/"


def derivative_key(
    studio_id: uuid.UUID, gallery_id: uuid.UUID, photo_id: uuid.UUID, name: str
) -> str:
    if name not in DERIVATIVE_NAMES:
        raise ValueError(f"unknown derivative {name!r}")
    return f"{gallery_prefix(studio_id, gallery_id)}d/{name}/{photo_id}.jpg"


def zip_key(studio_id: uuid.UUID, gallery_id: uuid.UUID, job_id: uuid.UUID) -> str:
    return f"{gallery_prefix(studio_id, gallery_id)}zips/{job_id}.zip"


def studio_logo_key(studio_id: uuid.UUID) -> str:
    return f"{studio_prefix(studio_id)}site/logo.png"


def watermark_logo_key(studio_id: uuid.UUID, watermark_id: uuid.UUID) -> str:
    return f"{studio_prefix(studio_id)}watermarks/{watermark_id}.png"
