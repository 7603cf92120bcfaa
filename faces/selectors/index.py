"""A gallery's selfie-search index, built from the database and cached per process.

The matrix is built with one query and cached per process, keyed by
``(gallery_id, GalleryFaceIndex.version)``: every writer of faces or people bumps the version
in the same transaction, so a search costs one tiny query for the version and no rebuild while
nothing changed. The cache is a small LRU bounded by total bytes.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict

from django.conf import settings
from django.db.models import Q

from faces.matching import FaceIndex, index_from_rows
from faces.models import Face, GalleryFaceIndex


def index_build(*, gallery_id: uuid.UUID) -> FaceIndex:
    """One query for every searchable face of the gallery."""
    rows = list(
        Face.objects.filter(gallery_id=gallery_id, hidden=False)
        .filter(Q(person__isnull=True) | Q(person__hidden=False))
        .order_by()
        .values_list("id", "photo_id", "person_id", "embedding")
    )
    return index_from_rows(rows)


class IndexCache:
    """A per-process LRU of indexes, bounded by their total bytes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[uuid.UUID, int], FaceIndex] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple[uuid.UUID, int]) -> FaceIndex | None:
        with self._lock:
            index = self._items.get(key)
            if index is not None:
                self._items.move_to_end(key)
            return index

    def put(self, key: tuple[uuid.UUID, int], index: FaceIndex, *, max_bytes: int) -> None:
        with self._lock:
            # Older versions of the same gallery can never be asked for again.
            for stale in [k for k in self._items if k[0] == key[0] and k != key]:
                self._bytes -= self._items.pop(stale).nbytes
            if key in self._items:
                return
            if index.nbytes > max_bytes:
                return  # larger than the whole cache: served, not kept
            self._items[key] = index
            self._bytes += index.nbytes
            while self._bytes > max_bytes and self._items:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= evicted.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes


INDEX_CACHE = IndexCache()


def index_for_gallery(*, gallery_id: uuid.UUID) -> FaceIndex:
    """The gallery's index, from the process cache while its version has not changed.

    The version is read before the rows: a change committed in between gives rows newer than
    the version they are cached under, and the next search (seeing the new version) rebuilds;
    the cache never holds older rows under a newer version.
    """
    version = (
        GalleryFaceIndex.objects.filter(gallery_id=gallery_id)
        .values_list("version", flat=True)
        .first()
    )
    if version is None:
        # No index row yet: nothing bumps a version we could key on, so build without caching.
        return index_build(gallery_id=gallery_id)
    key = (gallery_id, int(version))
    index = INDEX_CACHE.get(key)
    if index is None:
        index = index_build(gallery_id=gallery_id)
        INDEX_CACHE.put(key, index, max_bytes=settings.PICPICK_FACE_INDEX_CACHE_BYTES)
    return index
