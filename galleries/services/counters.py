"""Denormalised counters: Gallery/Album photo counts, storage bytes and StudioUsage.

Counters only change through ``counters_apply`` with F() expressions, inside the transaction
that changes the rows they count and after the rows were locked in the order documented in
``galleries.lock_objects``. ``studio_usage_recompute`` rebuilds them from the rows, for repair.

What is counted: every photo row, whatever its state (a registered ``pending`` photo reserves
its declared size), hidden photos included.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.db.models import Count, F, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Studio, StudioUsage
from accounts.services import studio_usage_add, studio_usage_lock, studio_usage_set
from galleries.lock_objects import galleries_lock
from galleries.models import Album, Gallery, Photo


def counters_apply(
    *,
    studio: Studio,
    gallery: Gallery | None = None,
    galleries: int = 0,
    photos: int = 0,
    size: int = 0,
    albums: dict[uuid.UUID | None, int] | None = None,
) -> None:
    """Add deltas to the counters. The caller holds the locks of the rows it changes."""
    now = timezone.now()
    studio_usage_add(studio=studio, galleries=galleries, photos=photos, size=size)
    if gallery is not None and (photos or size):
        Gallery.objects.filter(id=gallery.id).update(
            photo_count=F("photo_count") + photos,
            storage_bytes=F("storage_bytes") + size,
            updated_at=now,
        )
    for album_id, delta in sorted((albums or {}).items(), key=lambda item: str(item[0])):
        if album_id is not None and delta:
            Album.objects.filter(id=album_id).update(photo_count=F("photo_count") + delta)


@transaction.atomic
def studio_usage_recompute(*, studio: Studio) -> StudioUsage:
    """Rebuild every counter of ``studio`` from its rows and return the usage row.

    Takes the same locks as the writers (usage, then every gallery), so no write can slip in
    between the counting and the storing.
    """
    usage = studio_usage_lock(studio=studio)
    galleries = galleries_lock(studio=studio)
    per_gallery = {
        row["gallery_id"]: row
        for row in Photo.objects.filter(studio=studio)
        .values("gallery_id")
        .annotate(n=Count("id"), size=Coalesce(Sum("size"), 0))
        .order_by()
    }
    for gallery in galleries:
        row = per_gallery.get(gallery.id, {"n": 0, "size": 0})
        gallery.photo_count, gallery.storage_bytes = row["n"], row["size"]
    Gallery.objects.bulk_update(galleries, ["photo_count", "storage_bytes"], batch_size=500)

    per_album = dict(
        Photo.objects.filter(studio=studio, album__isnull=False)
        .values("album_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("album_id", "n")
    )
    albums = list(Album.objects.filter(studio=studio).order_by("id"))
    for album in albums:
        album.photo_count = per_album.get(album.id, 0)
    Album.objects.bulk_update(albums, ["photo_count"], batch_size=500)

    return studio_usage_set(
        usage=usage,
        galleries=len(galleries),
        photos=sum(row["n"] for row in per_gallery.values()),
        size=sum(row["size"] for row in per_gallery.values()),
    )
