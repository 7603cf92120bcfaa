"""Shared pieces of the upload protocol: limits, value types, URL issuing, storage clean-up."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from django.conf import settings

from galleries.lock_objects import albums_lock
from galleries.models import Gallery, Photo, Upload, UploadBatch
from galleries.services.counters import counters_apply
from galleries.services.photos import photo_rows_delete
from picpick.core.errors import ApplicationError
from picpick.core.ids import uuid7
from picpick.core.storage import (
    ObjectStorage,
    PresignedRequest,
)

logger = logging.getLogger(__name__)


MAX_FILES_PER_BATCH = 500


# Part URLs handed out with a start or a resume: 100 parts of 16 MiB cover 1.6 GB, i.e. any
# RAW or JPEG in one go; larger files ask for more with ``upload_part_urls``.
FIRST_PART_URLS = 100


MAX_PART_URLS_PER_REQUEST = 1000


# Storage round trips of a batch complete (HEAD + a 64-byte GET per file) run this wide: they
# wait on the network, not the CPU (S3Storage's connection pool holds 20).
STORAGE_THREADS = 16


SWEEP_BATCH = 200


SWEEP_MAX_PER_RUN = 5000


ORPHANS_MAX_PER_RUN = 1000


# Every object of a studio lives under studios/<id>/ (galleries.keys); other prefixes of the
# bucket (another app, a manual upload) are none of the sweeper's business.
ORPHAN_PREFIX = "studios/"


T = TypeVar("T")


# --- Values ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileDeclaration:
    """One file as the client declares it in a start request."""

    name: str
    size: int
    content_type: str
    # Required: a single PUT is signed with it, so storage takes no other bytes (see
    # picpick.core.storage); multipart files are checked against it when processed.
    checksum_sha256: str
    checksum_crc32c: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Rejection:
    index: int
    name: str
    code: str
    message: str
    duplicate_of: uuid.UUID | None = None


@dataclass(frozen=True)
class PartUrl:
    part_number: int | None  # None for a single PUT
    request: PresignedRequest


@dataclass
class StartedFile:
    index: int
    upload: Upload
    urls: list[PartUrl]
    replayed: bool = False  # an earlier start with the same idempotency key
    duplicate_of: uuid.UUID | None = None  # same SHA-256 in the gallery (allow_duplicates)


@dataclass
class BatchStart:
    batch: UploadBatch
    files: list[StartedFile]
    rejected: list[Rejection]
    created: bool  # False when every file replayed an earlier start


@dataclass
class CompleteOutcome:
    upload: Upload
    error: ApplicationError | None = None


@dataclass
class SweepResult:
    expired: int = 0
    orphans_aborted: int = 0
    storage_errors: int = 0


@dataclass
class _Accepted:
    index: int
    declaration: FileDeclaration
    extension: str
    content_type: str
    part_size: int
    part_count: int
    duplicate_of: uuid.UUID | None = None
    photo_id: uuid.UUID = field(default_factory=uuid7)
    upload_id: uuid.UUID = field(default_factory=uuid7)
    key: str = ""
    multipart_upload_id: str = ""
    upload_row: Upload | None = None

    @property
    def multipart(self) -> bool:
        return self.part_size > 0


def _in_threads(func: Callable[[T], object], items: Sequence[T]) -> list[object]:
    """``func`` over ``items`` (storage round trips), results in order; exceptions returned."""

    def safe(item: T) -> object:
        try:
            return func(item)
        except Exception as exc:  # returned to the caller, which decides per item
            return exc

    if len(items) <= 1:
        return [safe(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(STORAGE_THREADS, len(items))) as pool:
        return list(pool.map(safe, items))


# --- URLs ------------------------------------------------------------------------------------
def _put_expiry() -> int:
    return settings.PICPICK_STORAGE_PUT_EXPIRES


def _part_expiry() -> int:
    return settings.PICPICK_UPLOAD_PART_EXPIRES


def upload_put_url(*, storage: ObjectStorage, upload: Upload) -> PartUrl:
    """The presigned single PUT of a file: signed with its SHA-256 and create-only, so storage
    takes exactly the declared bytes, once."""
    request = storage.presign_put(
        key=upload.key,
        content_type=upload.content_type,
        content_length=upload.size,
        checksum_sha256=upload.checksum_sha256,
        expires_in=_put_expiry(),
    )
    return PartUrl(part_number=None, request=request)


def upload_part_urls_for(
    *, storage: ObjectStorage, upload: Upload, part_numbers: Sequence[int]
) -> list[PartUrl]:
    if not part_numbers:
        return []
    requests = storage.presign_parts(
        key=upload.key,
        upload_id=upload.multipart_upload_id,
        part_numbers=list(part_numbers),
        expires_in=_part_expiry(),
    )
    return [PartUrl(part_number=n, request=r) for n, r in zip(part_numbers, requests, strict=True)]


def upload_is_multipart(upload: Upload) -> bool:
    return bool(upload.multipart_upload_id)


# --- Start -----------------------------------------------------------------------------------
def _abort_quietly(storage: ObjectStorage, created: Iterable[tuple[str, str]]) -> int:
    errors = 0
    for key, upload_id in created:
        try:
            storage.abort_multipart(key=key, upload_id=upload_id)
        except Exception:  # the orphan pass of the sweeper retries it
            errors += 1
            logger.exception("aborting multipart upload %s of %s failed", upload_id, key)
    return errors


def _delete_quietly(storage: ObjectStorage, object_keys: list[str]) -> int:
    try:
        failed = storage.delete_many(keys=object_keys)
    except Exception:
        logger.exception("deleting %d uploaded objects failed", len(object_keys))
        return len(object_keys)
    if failed:
        logger.warning("could not delete %d uploaded objects: %s", len(failed), failed[:10])
    return len(failed)


def _release_photos(*, gallery: Gallery, photo_ids: list[uuid.UUID | None]) -> int:
    """Delete pending placeholder photos and give their counts and bytes back."""
    rows = list(
        Photo.objects.filter(
            gallery=gallery, id__in=[pid for pid in photo_ids if pid], state=Photo.State.PENDING
        ).values("id", "album_id", "size")
    )
    if not rows:
        return 0
    albums_lock(gallery=gallery, album_ids=[row["album_id"] for row in rows])
    leaving = Counter(row["album_id"] for row in rows)
    counters_apply(
        studio=gallery.studio,
        gallery=gallery,
        photos=-len(rows),
        size=-sum(row["size"] for row in rows),
        albums={album_id: -n for album_id, n in leaving.items()},
    )
    photo_rows_delete(gallery=gallery, photo_ids=[row["id"] for row in rows])
    return len(rows)


def _clean_storage(storage: ObjectStorage, items: list[tuple[str, str]]) -> int:
    """Abort multipart uploads and delete any (partial) object; returns how many calls failed.

    Best effort after the commit: what fails here is found again by the sweeper's orphan pass.
    """
    errors = _abort_quietly(storage, [(key, uid) for key, uid in items if uid])
    errors += _delete_quietly(storage, [key for key, _ in items])
    return errors
