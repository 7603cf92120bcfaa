"""Celery tasks of the galleries app (queue ``media``). Thin: they take ids and call services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from galleries.services import processing as _processing
from picpick.core.storage import StorageError

# --- Processing (galleries.services.processing) ----------------------------------------------


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.PICPICK_PROCESSING_SOFT_TIME_LIMIT,
    time_limit=settings.PICPICK_PROCESSING_TIME_LIMIT,
    max_retries=None,  # bounded by the photo's own attempts (PICPICK_PROCESSING_MAX_ATTEMPTS)
)
def photo_process(self, photo_id: str) -> str:
    """Process one photo (idempotent: a duplicate or redelivered message changes nothing)."""
    try:
        return str(_processing.photo_process_ensure(photo_id=photo_id))
    except _processing.ProcessingRetry as exc:
        # Exponential backoff for storage hiccups: 15 s, 30 s, 60 s ... at most 10 minutes.
        raise self.retry(countdown=min(600, 15 * 2**self.request.retries), exc=exc) from exc


@shared_task
def photos_process_many(photo_ids: list[str]) -> int:
    """Fan-out of a reprocess or a sweep: one ``photo_process`` message per photo."""
    for photo_id in photo_ids:
        photo_process.delay(photo_id)
    return len(photo_ids)


@shared_task
def photos_sweep_stuck() -> dict:
    """Beat: requeue photos whose message was lost, unstick those whose worker died."""
    result = _processing.photos_sweep_stuck()
    return {
        "requeued_uploaded": result.requeued_uploaded,
        "reset_processing": result.reset_processing,
        "failed": result.failed,
    }


# --- Delivery: ZIP downloads, object deletes, archive tags -------------------------------------
# These are I/O (storage round trips), not CPU work, and a ZIP of a wedding runs for minutes:
# they are sent to the "default" queue (explicitly, at every send and retry, over the
# "galleries.tasks.*" route) so they never hold the "media" workers that fresh uploads wait
# on for their previews. Send them with ``delivery_send``.
_delivery_log = logging.getLogger("galleries.tasks.delivery")
# Storage outages last minutes to hours: back off up to an hour between tries, for about a day.
_STORAGE_RETRY = {"max_retries": 30, "retry_backoff": 30, "retry_backoff_max": 3600}
DELIVERY_QUEUE = "default"


def delivery_send(task, *args) -> None:
    task.apply_async(args=list(args), queue=DELIVERY_QUEUE)


@shared_task(
    bind=True,
    soft_time_limit=settings.PICPICK_DOWNLOAD_TIME_LIMIT,
    time_limit=settings.PICPICK_DOWNLOAD_TIME_LIMIT + 60,
)
def download_build(self, job_id: str) -> None:
    from galleries.services.downloads import download_build as build

    build(job_id=job_id)


@shared_task
def downloads_expire() -> None:
    from galleries.services.downloads import downloads_expire as expire

    expire()


def _retry_countdown(retries: int) -> int:
    return min(_STORAGE_RETRY["retry_backoff"] * 2**retries, _STORAGE_RETRY["retry_backoff_max"])


@shared_task(bind=True, max_retries=_STORAGE_RETRY["max_retries"])
def objects_delete(self, object_keys: list[str], context: str = "") -> None:
    """Delete objects of deleted rows; a retry carries only the keys that failed."""
    from galleries.services.storage_lifecycle import ObjectsNotDeleted
    from galleries.services.storage_lifecycle import objects_delete as delete

    try:
        delete(object_keys=object_keys, context=context)
    except ObjectsNotDeleted as exc:
        if self.request.retries >= self.max_retries:
            # Out of retries: the keys go to the error log in full, never silently dropped.
            _delivery_log.error("giving up deleting %s (%s): %s", exc.keys, context, exc)
            raise
        raise self.retry(
            args=[exc.keys, context],
            exc=exc,
            countdown=_retry_countdown(self.request.retries),
            queue=DELIVERY_QUEUE,
        ) from exc


@shared_task(bind=True, max_retries=_STORAGE_RETRY["max_retries"])
def gallery_objects_delete(self, studio_id: str, gallery_id: str) -> None:
    from galleries.services.storage_lifecycle import gallery_objects_delete as delete

    try:
        delete(studio_id=studio_id, gallery_id=gallery_id)
    except StorageError as exc:
        _delivery_log.warning("deleting gallery %s's objects failed: %s", gallery_id, exc)
        if self.request.retries >= self.max_retries:
            _delivery_log.error("giving up deleting studio %s gallery %s", studio_id, gallery_id)
            raise
        raise self.retry(
            exc=exc, countdown=_retry_countdown(self.request.retries), queue=DELIVERY_QUEUE
        ) from exc


@shared_task(bind=True, max_retries=_STORAGE_RETRY["max_retries"])
def gallery_archive_tags_sync(self, gallery_id: str, after: str | None = None) -> None:
    """Tag (or untag) a gallery's originals in short runs, each resuming where the last
    stopped, so no run nears a time limit and a retry redoes at most one batch."""
    from galleries.services.storage_lifecycle import TagSyncInterrupted
    from galleries.services.storage_lifecycle import gallery_archive_tags_sync as sync

    try:
        cursor = sync(gallery_id=gallery_id, after=after)
    except TagSyncInterrupted as exc:
        if self.request.retries >= self.max_retries:
            _delivery_log.error("giving up tagging gallery %s after %s", gallery_id, exc.cursor)
            raise
        raise self.retry(
            args=[gallery_id, exc.cursor],
            exc=exc,
            countdown=_retry_countdown(self.request.retries),
            queue=DELIVERY_QUEUE,
        ) from exc
    if cursor is not None:
        delivery_send(gallery_archive_tags_sync, gallery_id, cursor)


# --- Uploads (galleries.services.uploads) ------------------------------------------------------
@shared_task
def uploads_sweep() -> dict:
    """Beat: clean abandoned uploads and orphan multipart uploads (safe to run twice at once)."""
    from galleries.services.uploads import uploads_sweep as sweep

    result = sweep()
    return {
        "expired": result.expired,
        "orphans_aborted": result.orphans_aborted,
        "storage_errors": result.storage_errors,
    }


@shared_task
def originals_orphans_sweep() -> dict:
    """Beat: delete originals no photo references once past their grace (a resumable scan)."""
    from galleries.services.storage_lifecycle import originals_orphans_sweep as sweep

    result = sweep()
    return {
        "listed": result.listed,
        "originals": result.originals,
        "deleted": result.deleted,
        "recent": result.recent,
        "errors": result.errors,
    }
