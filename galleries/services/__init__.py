"""Every write of the galleries app. Import from here: ``from galleries import services``."""

from galleries.services.albums import (
    AlbumChanges,
    album_create,
    album_delete,
    album_reorder,
    album_update,
    gallery_writable_check,
)
from galleries.services.counters import counters_apply, studio_usage_recompute
from galleries.services.galleries import (
    GalleryChanges,
    gallery_archive,
    gallery_create,
    gallery_delete,
    gallery_publish,
    gallery_unarchive,
    gallery_update,
    tags_get_or_create,
)
from galleries.services.photos import (
    BULK_MAX_IDS,
    BulkResult,
    PhotoChanges,
    photo_create,
    photo_delete,
    photo_reorder,
    photo_update,
    photos_bulk_action,
)

__all__ = [
    "BULK_MAX_IDS",
    "AlbumChanges",
    "BulkResult",
    "GalleryChanges",
    "PhotoChanges",
    "album_create",
    "album_delete",
    "album_reorder",
    "album_update",
    "counters_apply",
    "gallery_archive",
    "gallery_create",
    "gallery_delete",
    "gallery_publish",
    "gallery_unarchive",
    "gallery_update",
    "gallery_writable_check",
    "photo_create",
    "photo_delete",
    "photo_reorder",
    "photo_update",
    "photos_bulk_action",
    "studio_usage_recompute",
    "tags_get_or_create",
]
