"""Aborting uploads and sweeping abandoned ones (placeholders, quota, multipart uploads)."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Studio, User
from accounts.services import studio_usage_lock
from galleries.lock_objects import gallery_lock
from galleries.models import Upload
from galleries.services.uploads.common import (
    ORPHAN_PREFIX,
    ORPHANS_MAX_PER_RUN,
    SWEEP_BATCH,
    SWEEP_MAX_PER_RUN,
    SweepResult,
    _abort_quietly,
    _clean_storage,
    _release_photos,
)
from picpick.core.errors import Conflict, NotFound
from picpick.core.storage import (
    ObjectStorage,
    StorageError,
    get_storage,
)

logger = logging.getLogger(__name__)


# --- Abort -----------------------------------------------------------------------------------
def upload_abort(*, upload: Upload, by: User) -> None:
    """Abort an upload: its placeholder photo goes (counters released), storage is cleaned.

    Aborting an aborted or expired upload changes nothing; a completed one is a 409 (delete
    the photo instead).
    """
    if upload.state == Upload.State.COMPLETED:
        raise Conflict(
            "This upload is completed; delete the photo instead.", code="upload_completed"
        )
    if upload.state != Upload.State.PENDING:
        return
    studio = upload.studio
    with transaction.atomic():
        studio_usage_lock(studio=studio)
        gallery = gallery_lock(studio=studio, gallery_id=upload.gallery_id)
        row = (
            Upload.objects.select_for_update()
            .filter(id=upload.id, state=Upload.State.PENDING)
            .values("id", "photo_id", "key", "multipart_upload_id")
            .first()
        )
        if row is None:  # completed or cleaned up while we waited for the locks
            current = Upload.objects.get(id=upload.id)
            if current.state == Upload.State.COMPLETED:
                raise Conflict(
                    "This upload is completed; delete the photo instead.",
                    code="upload_completed",
                )
            return
        _release_photos(gallery=gallery, photo_ids=[row["photo_id"]])
        Upload.objects.filter(id=upload.id).update(
            state=Upload.State.ABORTED, photo=None, updated_at=timezone.now()
        )
    _clean_storage(get_storage(), [(row["key"], row["multipart_upload_id"])])


# --- Sweep -----------------------------------------------------------------------------------
def uploads_sweep(*, now: datetime | None = None) -> SweepResult:
    """Clean abandoned uploads, then orphan multipart uploads. Safe to run twice at once.

    An upload still pending past ``expires_at`` plus a grace is claimed (under the gallery
    lock, with ``state='pending'`` in the UPDATE, so a concurrent complete or a second sweeper
    takes each row at most once), its placeholder photo removed and its bytes released, then
    its multipart upload aborted and any partial object deleted. Work is done in bounded
    batches. Finally, multipart uploads under ``studios/`` older than
    ``PICPICK_UPLOAD_ORPHAN_DAYS`` that no pending upload knows are aborted.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.PICPICK_UPLOAD_SWEEP_GRACE_MINUTES)
    storage = get_storage()
    result = SweepResult()
    seen: set[uuid.UUID] = set()
    while result.expired < SWEEP_MAX_PER_RUN:
        rows = list(
            Upload.objects.filter(state=Upload.State.PENDING, expires_at__lt=cutoff)
            .exclude(id__in=seen)
            .order_by("expires_at", "id")
            .values("id", "studio_id", "gallery_id")[:SWEEP_BATCH]
        )
        if not rows:
            break
        groups: dict[tuple[uuid.UUID, uuid.UUID], list[uuid.UUID]] = defaultdict(list)
        for row in rows:
            seen.add(row["id"])
            groups[(row["studio_id"], row["gallery_id"])].append(row["id"])
        for (studio_id, gallery_id), upload_ids in groups.items():
            cleaned = _expire(
                studio_id=studio_id, gallery_id=gallery_id, upload_ids=upload_ids, cutoff=cutoff
            )
            result.expired += len(cleaned)
            result.storage_errors += _clean_storage(storage, cleaned)
        if len(rows) < SWEEP_BATCH:
            break
    orphans, errors = _abort_orphans(storage, now=now)
    result.orphans_aborted += orphans
    result.storage_errors += errors
    return result


def _expire(
    *, studio_id: uuid.UUID, gallery_id: uuid.UUID, upload_ids: list[uuid.UUID], cutoff: datetime
) -> list[tuple[str, str]]:
    studio = Studio.objects.filter(id=studio_id).first()
    if studio is None:
        return []
    with transaction.atomic():
        studio_usage_lock(studio=studio)
        try:
            gallery = gallery_lock(studio=studio, gallery_id=gallery_id)
        except NotFound:
            return []  # deleted meanwhile, with its uploads
        rows = list(
            Upload.objects.select_for_update()
            .filter(id__in=upload_ids, state=Upload.State.PENDING, expires_at__lt=cutoff)
            .order_by("id")
            .values("id", "photo_id", "key", "multipart_upload_id")
        )
        if not rows:
            return []
        claimed = Upload.objects.filter(
            id__in=[row["id"] for row in rows], state=Upload.State.PENDING
        ).update(state=Upload.State.EXPIRED, updated_at=timezone.now())
        if claimed != len(rows):  # pragma: no cover - the rows are locked
            raise RuntimeError("uploads changed under their lock")
        _release_photos(gallery=gallery, photo_ids=[row["photo_id"] for row in rows])
    return [(row["key"], row["multipart_upload_id"]) for row in rows]


def _abort_orphans(storage: ObjectStorage, *, now: datetime) -> tuple[int, int]:
    before = now - timedelta(days=settings.PICPICK_UPLOAD_ORPHAN_DAYS)
    try:
        listed = storage.list_multipart_uploads(prefix=ORPHAN_PREFIX, initiated_before=before)[
            :ORPHANS_MAX_PER_RUN
        ]
    except StorageError:
        logger.exception("listing multipart uploads failed")
        return 0, 1
    known: set[str] = set()
    for start in range(0, len(listed), 500):
        chunk = [upload.upload_id for upload in listed[start : start + 500]]
        known |= set(
            Upload.objects.filter(
                state=Upload.State.PENDING, multipart_upload_id__in=chunk
            ).values_list("multipart_upload_id", flat=True)
        )
    orphans = [(u.key, u.upload_id) for u in listed if u.upload_id not in known]
    errors = _abort_quietly(storage, orphans)
    return len(orphans) - errors, errors
