"""Objects in storage follow their rows: deleted after the rows are, tagged while archived.

Storage is not transactional, so every storage change is queued with
``transaction.on_commit``: a rolled-back delete never loses a file, and a committed one
always queues its cleanup. The tasks (``galleries.tasks``) retry storage failures with the
exact keys that failed, so no key is forgotten while storage is unavailable.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction

from galleries import keys
from galleries.models import Gallery, Photo
from picpick.core.storage import (
    MAX_DELETE_BATCH,
    ObjectNotFound,
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
