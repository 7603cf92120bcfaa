"""Objects in storage follow their rows: deleted after the rows are, tagged while archived.

Storage is not transactional, so every storage change is queued with
``transaction.on_commit``: a rolled-back delete never loses a file, and a committed one
always queues its cleanup. The tasks (``galleries.tasks``) retry storage failures with the
exact keys that failed, so no key is forgotten while storage is unavailable.

What no row queued a delete for is found by ``originals_orphans_sweep``: an original nothing
references (a PUT URL used after its photo was deleted, a delete whose retries ran out).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from galleries import keys
from galleries.models import Gallery, Photo, Upload
from picpick.core.storage import (
    MAX_DELETE_BATCH,
    ObjectInfo,
    ObjectNotFound,
    ObjectStorage,
    StorageError,
    get_storage,
)

logger = logging.getLogger(__name__)

ARCHIVE_TAG_KEY = "archived"
ARCHIVE_TAG_VALUE = "true"
ARCHIVE_TAG = f"{ARCHIVE_TAG_KEY}={ARCHIVE_TAG_VALUE}"
# Unarchiving overwrites the tag with this value instead of sending an empty tag set: the rule
# matches only "true", and an empty PutObjectTagging is refused by some S3 implementations.
UNARCHIVED_TAG_VALUE = "false"
TAG_BATCH = 200
# Every studio's objects live under here (galleries.keys); other prefixes are not ours.
ORPHANS_PREFIX = "studios/"
ORPHANS_PAGE = MAX_DELETE_BATCH
ORPHANS_MAX_KEYS_PER_RUN = 20_000
ORPHANS_CURSOR_KEY = "galleries:originals-orphans-sweep:cursor"


class ObjectsNotDeleted(StorageError):
    """Some deletes failed; ``keys`` are exactly those, for the retry."""

    def __init__(self, message: str, *, keys: list[str]) -> None:
        super().__init__(message)
        self.keys = keys


class TagSyncInterrupted(StorageError):
    """Tagging stopped on a storage error; resume after ``cursor`` (None: from the start)."""

    def __init__(self, message: str, *, cursor: str | None) -> None:
        super().__init__(message)
        self.cursor = cursor


# --- Deletes ----------------------------------------------------------------------------------
def photo_object_keys(*, original_key: str, derivatives: dict | None) -> list[str]:
    """Every object of one photo: its original and each derivative."""
    found = [original_key] if original_key else []
    for entry in (derivatives or {}).values():
        if isinstance(entry, dict) and entry.get("key"):
            found.append(str(entry["key"]))
    return found


def objects_delete_later(*, object_keys: Iterable[str], context: str) -> None:
    """Queue deletes of ``object_keys`` for after the commit, in tasks of at most 1,000 keys
    (one S3 DeleteObjects call each)."""
    pending = sorted(set(object_keys))
    if not pending:
        return
    from galleries.tasks import delivery_send, objects_delete

    for start in range(0, len(pending), MAX_DELETE_BATCH):
        batch = pending[start : start + MAX_DELETE_BATCH]
        transaction.on_commit(lambda batch=batch: delivery_send(objects_delete, batch, context))


def objects_delete(*, object_keys: list[str], context: str = "") -> int:
    """Delete ``object_keys``; missing ones count as deleted. Raises :class:`ObjectsNotDeleted`
    with the keys that failed (the task retries those, and only those)."""
    failed = get_storage().delete_many(keys=object_keys)
    if failed:
        logger.warning(
            "%d of %d object deletes failed (%s), e.g. %s",
            len(failed),
            len(object_keys),
            context,
            failed[:5],
        )
        raise ObjectsNotDeleted(f"{len(failed)} deletes failed ({context})", keys=failed)
    return len(object_keys)


def gallery_objects_delete_later(*, gallery: Gallery) -> None:
    studio_id, gallery_id = str(gallery.studio_id), str(gallery.id)
    from galleries.tasks import delivery_send, gallery_objects_delete

    transaction.on_commit(lambda: delivery_send(gallery_objects_delete, studio_id, gallery_id))


def gallery_objects_delete(*, studio_id: uuid.UUID | str, gallery_id: uuid.UUID | str) -> int:
    """Delete everything under the gallery's folder (originals, derivatives, ZIPs), batched
    by the backend (1,000 keys per S3 call). Raises :class:`StorageError` while anything is
    left, so the task retries until the folder is empty."""
    prefix = keys.gallery_prefix(uuid.UUID(str(studio_id)), uuid.UUID(str(gallery_id)))
    storage = get_storage()
    deleted = storage.delete_prefix(prefix=prefix)
    if storage.list_keys(prefix=prefix, limit=1):
        raise StorageError(f"objects are left under {prefix} after deleting {deleted}")
    logger.info("deleted %d objects of gallery %s", deleted, gallery_id)
    return deleted


# --- Orphan originals -------------------------------------------------------------------------
@dataclass
class OrphanSweepResult:
    listed: int = 0
    originals: int = 0
    deleted: int = 0
    recent: int = 0  # unreferenced, but younger than the grace period: left for a later run
    errors: int = 0
    cursor: str | None = None  # where the next run resumes; None after a full pass


def originals_orphans_sweep(
    *,
    now: dt.datetime | None = None,
    max_keys: int = ORPHANS_MAX_KEYS_PER_RUN,
    from_start: bool = False,
) -> OrphanSweepResult:
    """Delete originals that no photo references, once older than the grace period.

    A presigned PUT cannot replace an object, but on S3 it can create one again after the
    photo's object was deleted; and a delete can give up. Such an object is served by nothing
    and counted nowhere: this finds it. The scan walks ``studios/`` in key order, a page at a
    time, at most ``max_keys`` keys per run, and saves where it stopped (in the cache: losing
    it only restarts the scan), so a large bucket is swept by many short runs.

    Safe against uploads in flight: a photo row always exists before its original can (the
    start commits it before handing out URLs) and keys carry the photo's fresh id, so an
    object with no row is never about to get one. The grace period
    (``PICPICK_ORPHAN_ORIGINALS_GRACE_HOURS``) is a margin for what this reasoning misses.
    """
    now = now or timezone.now()
    before = now - dt.timedelta(hours=settings.PICPICK_ORPHAN_ORIGINALS_GRACE_HOURS)
    storage = get_storage()
    result = OrphanSweepResult()
    cursor = None if from_start else cache.get(ORPHANS_CURSOR_KEY)
    while result.listed < max_keys:
        limit = min(ORPHANS_PAGE, max_keys - result.listed)
        page = storage.list_objects(prefix=ORPHANS_PREFIX, start_after=cursor, limit=limit)
        result.listed += len(page)
        if page:
            cursor = page[-1].key
            _orphans_delete(storage, page, before=before, result=result)
        if len(page) < limit:
            cursor = None  # a full pass: the next run starts over
            break
    result.cursor = cursor
    cache.set(ORPHANS_CURSOR_KEY, cursor, timeout=7 * 24 * 3600)
    logger.info(
        "originals orphan sweep: %d keys listed, %d originals, %d orphans deleted, "
        "%d too recent, %d delete errors; next from %s",
        result.listed,
        result.originals,
        result.deleted,
        result.recent,
        result.errors,
        cursor or "the start",
    )
    return result


def _orphans_delete(
    storage: ObjectStorage,
    page: list[ObjectInfo],
    *,
    before: dt.datetime,
    result: OrphanSweepResult,
) -> None:
    originals = {
        info.key: (photo_id, info)
        for info in page
        if (photo_id := keys.original_photo_id(info.key)) is not None
    }
    result.originals += len(originals)
    if not originals:
        return
    photo_ids = [photo_id for photo_id, _ in originals.values()]
    rows = Photo.objects.filter(id__in=photo_ids).values_list("id", "original_key")
    # A photo that failed verification at upload had its object deleted and its bytes
    # released: an object at its key again is nobody's.
    refused = set(
        Upload.objects.filter(photo_id__in=photo_ids)
        .exclude(failure_code="")
        .values_list("photo_id", flat=True)
    )
    referenced = {key for photo_id, key in rows if photo_id not in refused}
    orphans = []
    for key, (_photo_id, info) in originals.items():
        if key in referenced:
            continue
        if info.last_modified is None or info.last_modified >= before:
            result.recent += 1
            continue
        orphans.append(key)
    if not orphans:
        return
    failed = storage.delete_many(keys=orphans)
    result.deleted += len(orphans) - len(failed)
    result.errors += len(failed)
    logger.warning(
        "deleted %d originals no photo references, e.g. %s",
        len(orphans) - len(failed),
        orphans[:3],
    )
    if failed:
        logger.warning("could not delete %d orphan originals, e.g. %s", len(failed), failed[:5])


# --- Archive tags -----------------------------------------------------------------------------
def gallery_archive_tags_sync_later(*, gallery: Gallery) -> None:
    gallery_id = str(gallery.id)
    from galleries.tasks import delivery_send, gallery_archive_tags_sync

    transaction.on_commit(lambda: delivery_send(gallery_archive_tags_sync, gallery_id))


def gallery_archive_tags_sync(
    *, gallery_id: uuid.UUID | str, after: str | None = None, budget_seconds: float = 60.0
) -> str | None:
    """Make the tags of the gallery's originals match its status: ``archived=true`` while it
    is archived (the bucket's lifecycle rule then moves them to a colder class),
    ``archived=false`` after it is unarchived.

    Works in batches by photo id from ``after`` and stops after ``budget_seconds``, returning
    the id to resume from (None when done), so a 10,000-photo gallery is many short runs, not
    one that a time limit kills. The status is read again for every batch: an archive and an
    unarchive in quick succession both converge on the status the gallery has now.
    """
    storage = get_storage()
    started = time.monotonic()
    cursor = after
    while True:
        status = Gallery.objects.filter(id=gallery_id).values_list("status", flat=True).first()
        if status is None:
            return None  # deleted: its objects go with it
        archived = status == Gallery.Status.ARCHIVED
        tags = {ARCHIVE_TAG_KEY: ARCHIVE_TAG_VALUE if archived else UNARCHIVED_TAG_VALUE}
        photos = (
            Photo.objects.filter(gallery_id=gallery_id)
            .exclude(original_key="")
            .exclude(state=Photo.State.PENDING)  # no object yet
            .order_by("id")
        )
        if cursor is not None:
            photos = photos.filter(id__gt=cursor)
        batch = list(photos.values_list("id", "original_key")[:TAG_BATCH])
        if not batch:
            return None
        for photo_id, key in batch:
            try:
                storage.set_object_tags(key=key, tags=tags)
            except ObjectNotFound:
                logger.info("original %s of photo %s is missing; not tagged", key, photo_id)
            except StorageError as exc:
                logger.warning(
                    "tagging %s (gallery %s, photo %s) failed: %s", key, gallery_id, photo_id, exc
                )
                raise TagSyncInterrupted(str(exc), cursor=cursor) from exc
            cursor = str(photo_id)
        if time.monotonic() - started >= budget_seconds:
            return cursor


def storage_lifecycle_ensure() -> None:
    """Apply the bucket's lifecycle rules from the settings (safe to run on every deploy)."""
    get_storage().ensure_lifecycle(
        archive_tag=ARCHIVE_TAG,
        transition_days=settings.PICPICK_ARCHIVE_TRANSITION_DAYS,
        storage_class=settings.PICPICK_ARCHIVE_STORAGE_CLASS,
        abort_incomplete_multipart_days=settings.PICPICK_ABORT_INCOMPLETE_MULTIPART_DAYS,
    )
