"""Row locks for the galleries app, always taken in the same order.

Every write that changes counters locks, in this order and only what it needs:

1. the studio's ``StudioUsage`` row (``accounts.services.studio_usage_lock``: accounts owns it),
2. the ``Gallery`` row,
3. the gallery's ``Album`` rows, sorted by id.

Two transactions that lock the same rows therefore queue up instead of deadlocking (one holding
the gallery and waiting for usage while the other does the reverse). Holding the gallery lock
also serialises every write to that gallery's photos and albums, so reads of photo rows made
after it (positions, sizes, album membership) cannot change underneath the transaction.

On SQLite ``select_for_update`` is a no-op; the settings open every transaction with
``BEGIN IMMEDIATE``, which serialises writers database-wide instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from accounts.models import Studio
from galleries.models import Album, Gallery
from picpick.core.errors import NotFound


def gallery_lock(*, studio: Studio, gallery_id: uuid.UUID) -> Gallery:
    gallery = Gallery.objects.select_for_update().filter(studio=studio, id=gallery_id).first()
    if gallery is None:
        raise NotFound("Gallery not found.", code="not_found")
    gallery.studio = studio  # known already; saves a query on every later gallery.studio
    return gallery


def galleries_lock(*, studio: Studio) -> list[Gallery]:
    return list(Gallery.objects.select_for_update().filter(studio=studio).order_by("id"))


def albums_lock(*, gallery: Gallery, album_ids: Iterable[uuid.UUID | None]) -> dict:
    """Lock the given albums of ``gallery`` (None is ignored); returns them by id."""
    ids = sorted({album_id for album_id in album_ids if album_id is not None})
    if not ids:
        return {}
    rows = Album.objects.select_for_update().filter(gallery=gallery, id__in=ids).order_by("id")
    return {album.id: album for album in rows}
