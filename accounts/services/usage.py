"""The studio's usage totals (galleries, photos, bytes): one row per studio, owned here.

Galleries changes them as it adds and removes photos, always through these functions and under
the usage row's lock, taken first (see ``galleries.lock_objects`` for the order after it).
"""

from __future__ import annotations

from django.db import connection
from django.db.models import F
from django.utils import timezone

from accounts.models import Studio, StudioUsage


def studio_usage_create(*, studio: Studio) -> StudioUsage:
    return StudioUsage.objects.create(studio=studio)


def studio_usage_lock(*, studio: Studio) -> StudioUsage:
    """Lock the studio's usage row, creating it first if a factory or old data left none."""
    usage = StudioUsage.objects.select_for_update().filter(studio=studio).first()
    if usage is not None:
        return usage
    # An upsert, not get_or_create: on a duplicate key a plain INSERT leaves InnoDB holding a
    # *shared* lock on the existing row, and two such losers then deadlock upgrading to the
    # exclusive lock below. INSERT ... ON DUPLICATE KEY UPDATE takes the exclusive lock at once.
    upsert: dict = {"update_conflicts": True, "update_fields": ["updated_at"]}
    if connection.features.supports_update_conflicts_with_target:
        upsert["unique_fields"] = ["studio"]
    StudioUsage.objects.bulk_create([StudioUsage(studio=studio)], **upsert)
    return StudioUsage.objects.select_for_update().get(studio=studio)


def studio_usage_add(*, studio: Studio, galleries: int = 0, photos: int = 0, size: int = 0) -> None:
    """Add deltas; the caller holds the usage row's lock (``studio_usage_lock``)."""
    if galleries or photos or size:
        StudioUsage.objects.filter(studio=studio).update(
            gallery_count=F("gallery_count") + galleries,
            photo_count=F("photo_count") + photos,
            storage_bytes=F("storage_bytes") + size,
            updated_at=timezone.now(),
        )


def studio_usage_set(*, usage: StudioUsage, galleries: int, photos: int, size: int) -> StudioUsage:
    """Store totals counted from the rows (a repair); the caller holds the row's lock."""
    usage.gallery_count, usage.photo_count, usage.storage_bytes = galleries, photos, size
    usage.save(update_fields=["gallery_count", "photo_count", "storage_bytes", "updated_at"])
    return usage
