"""Reads of the upload protocol, scoped to a studio: uploads, batches and their progress.

Batch progress is computed from the upload and photo rows with one GROUP BY, never from stored
counters that could drift from what the rows say.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.db.models import BooleanField, Case, Count, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce

from accounts.models import Studio
from galleries.models import Photo, Upload, UploadBatch
from picpick.core.pagination import DEFAULT_PAGE_SIZE, Page, paginate
from picpick.core.selectors import studio_object_or_404

# What a file of a batch is, from the uploader's point of view.
FILE_STATES = (
    "pending",  # waiting for its bytes
    "uploaded",  # verified, waiting for processing
    "processing",
    "ready",
    "failed",  # failed verification (size/checksum/type) or processing
    "aborted",  # aborted by the client
    "expired",  # abandoned, cleaned up by the sweeper
    "deleted",  # completed, then its photo was deleted
)

_FILE_STATE_FILTERS: dict[str, Q] = {
    "failed": Q(failure_code__gt="") | Q(photo__state=Photo.State.FAILED),
    "pending": Q(state=Upload.State.PENDING),
    "uploaded": Q(state=Upload.State.COMPLETED, photo__state=Photo.State.UPLOADED),
    "processing": Q(state=Upload.State.COMPLETED, photo__state=Photo.State.PROCESSING),
    "ready": Q(state=Upload.State.COMPLETED, photo__state=Photo.State.READY),
    "aborted": Q(state=Upload.State.ABORTED, failure_code=""),
    "expired": Q(state=Upload.State.EXPIRED),
    "deleted": Q(state=Upload.State.COMPLETED, photo__isnull=True),
}


def file_state(*, state: str, photo_state: str | None, failed_verification: bool) -> str:
    """The batch-file state of an upload (see ``FILE_STATES``)."""
    if failed_verification or photo_state == Photo.State.FAILED:
        return "failed"
    if state == Upload.State.COMPLETED:
        return photo_state or "deleted"
    return str(state)


def upload_get(*, studio: Studio, upload_id: uuid.UUID | str) -> Upload:
    upload = studio_object_or_404(
        Upload.objects.select_related("gallery", "photo", "batch"),
        studio=studio,
        object_id=upload_id,
        message="Upload not found.",
    )
    upload.gallery.studio = studio
    return upload


def upload_batch_get(*, studio: Studio, batch_id: uuid.UUID | str) -> UploadBatch:
    batch = studio_object_or_404(
        UploadBatch.objects.select_related("gallery"),
        studio=studio,
        object_id=batch_id,
        message="Upload batch not found.",
    )
    batch.gallery.studio = studio
    return batch


def upload_batch_uploads(*, batch: UploadBatch, upload_ids: list[uuid.UUID]) -> list[Upload]:
    """The batch's uploads among ``upload_ids`` (others, e.g. another studio's, are left out)."""
    rows = Upload.objects.filter(batch=batch, id__in=upload_ids).select_related("photo")
    for upload in rows:
        upload.studio = batch.studio
        upload.gallery = batch.gallery
    return list(rows)


@dataclass
class BatchProgress:
    declared: int
    accepted_bytes: int
    completed_bytes: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FILE_STATES, 0))
    rejected: int = 0


def upload_batch_progress(*, batch: UploadBatch) -> BatchProgress:
    """Counts per file state with one GROUP BY over the batch's uploads joined to photos."""
    rows = (
        Upload.objects.filter(batch=batch)
        .annotate(
            failed_verification=Case(
                When(failure_code="", then=Value(False)),
                default=Value(True),
                output_field=BooleanField(),
            )
        )
        .values("state", "photo__state", "failed_verification")
        .annotate(n=Count("id"), bytes=Coalesce(Sum("size"), 0))
        .order_by()
    )
    progress = BatchProgress(declared=batch.declared_count, accepted_bytes=batch.declared_bytes)
    registered = 0
    for row in rows:
        name = file_state(
            state=row["state"],
            photo_state=row["photo__state"],
            failed_verification=row["failed_verification"],
        )
        progress.counts[name] += row["n"]
        registered += row["n"]
        if row["state"] == Upload.State.COMPLETED:
            progress.completed_bytes += row["bytes"]
    progress.rejected = max(0, batch.declared_count - registered)
    return progress


def upload_batch_files(*, batch: UploadBatch, state: str | None = None) -> QuerySet[Upload]:
    queryset = Upload.objects.filter(batch=batch).select_related("photo")
    if state:
        queryset = queryset.filter(_FILE_STATE_FILTERS[state])
    return queryset


def upload_batch_files_page(
    *,
    batch: UploadBatch,
    state: str | None = None,
    cursor: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page:
    return paginate(
        upload_batch_files(batch=batch, state=state),
        ordering=["id"],  # UUIDv7: the order the files were declared in
        cursor=cursor,
        page_size=page_size,
    )
