"""ZIP downloads of a gallery or an album: request, build (in a worker), expire.

The build streams: each object is read from storage in chunks, written as a stored ZIP entry
(``galleries.zipstream``) and the output leaves as a multipart upload in parts of at least
16 MiB, uploaded as they fill. Memory stays at about one part plus one chunk whatever the size
of the gallery, and nothing touches the web process.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Iterator

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from galleries import keys
from galleries.lock_objects import gallery_lock
from galleries.models import Album, DownloadJob, Gallery
from galleries.selectors.delivery import (
    ZipPlan,
    download_counts,
    download_job_reusable,
    download_plan,
)
from galleries.zipstream import ZipStreamWriter
from picpick.core.errors import Conflict, Unprocessable
from picpick.core.storage import (
    PREFERRED_PART_SIZE,
    ObjectNotFound,
    ObjectStorage,
    choose_part_size,
    get_storage,
)

logger = logging.getLogger(__name__)

READ_CHUNK = 1024 * 1024
PROGRESS_EVERY_FILES = 25
PROGRESS_EVERY_SECONDS = 2.0
# A "running" job whose worker died is not redelivered for a visibility timeout; the sweep
# fails it once it is older than the task's hard time limit plus this margin.
STALE_MARGIN = dt.timedelta(minutes=5)
QUEUED_TIMEOUT = dt.timedelta(hours=12)


# --- Request ----------------------------------------------------------------------------------
@transaction.atomic
def download_job_request(
    *,
    gallery: Gallery,
    by: User | None,
    size: str,
    album_id: uuid.UUID | None = None,
    requested_by_email: str = "",
) -> tuple[DownloadJob, bool]:
    """The job that delivers this ZIP: an identical still-valid one, or a new queued one
    (built after commit). Returns ``(job, created)``. A guest's request (``by`` None, with the
    email they registered, if any) reuses only guests' jobs: members' jobs stay theirs."""
    # The gallery lock serialises identical requests, so two clicks make one job.
    gallery = gallery_lock(studio=gallery.studio, gallery_id=gallery.id)
    album = None
    if album_id is not None:
        album = Album.objects.filter(gallery=gallery, id=album_id).first()
        if album is None:
            raise Unprocessable(
                "The album must be an album of this gallery.",
                code="invalid_album",
                fields={"album_id": ["Not an album of this gallery."]},
            )
    existing = download_job_reusable(
        gallery=gallery, album_id=album_id, size=size, guests_only=by is None
    )
    if existing is not None:
        return existing, False
    job = DownloadJob(
        studio=gallery.studio,
        gallery=gallery,
        album=album,
        requested_by=by,
        requested_by_email=requested_by_email if by is None else "",
        size=size,
        state=DownloadJob.State.QUEUED,
    )
    job.result_key = keys.zip_key(gallery.studio_id, gallery.id, job.id)
    deliverable, skipped, bytes_total = download_counts(job=job)
    if not deliverable:
        raise Conflict(
            "Nothing to download: no photo here has that size ready.",
            code="nothing_to_download",
            extra={"skipped": skipped},
        )
    job.file_count, job.files_skipped, job.bytes_total = deliverable, skipped, bytes_total
    job.save(force_insert=True)

    from galleries.tasks import delivery_send, download_build

    job_id = str(job.id)
    transaction.on_commit(lambda: delivery_send(download_build, job_id))
    return job, True


# --- Output: a multipart upload fed as the ZIP is written --------------------------------------
class MultipartSink:
    """A write() target that uploads every ``part_size`` bytes as one part.

    Holds at most one part plus the last write; :meth:`abort` drops what was uploaded.
    """

    def __init__(self, storage: ObjectStorage, *, key: str, part_size: int) -> None:
        self.storage = storage
        self.key = key
        self.part_size = part_size
        self.upload_id = storage.create_multipart(key=key, content_type="application/zip")
        self.parts: list[tuple[int, str]] = []
        self.peak_buffer = 0
        self._buffer = bytearray()

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.peak_buffer = max(self.peak_buffer, len(self._buffer))
        while len(self._buffer) >= self.part_size:
            self._flush(self.part_size)

    def _flush(self, length: int) -> None:
        with memoryview(self._buffer) as view:
            data = bytes(view[:length])  # one copy (slicing the bytearray would make two)
        del self._buffer[:length]
        number = len(self.parts) + 1
        part = self.storage.upload_part(
            key=self.key, upload_id=self.upload_id, part_number=number, body=data
        )
        self.parts.append((number, part.etag))

    def complete(self) -> None:
        if self._buffer or not self.parts:
            self._flush(len(self._buffer))
        self.storage.complete_multipart(key=self.key, upload_id=self.upload_id, parts=self.parts)

    def abort(self) -> None:
        try:
            self.storage.abort_multipart(key=self.key, upload_id=self.upload_id)
        except Exception:  # the bucket's abort-incomplete rule is the backstop
            logger.exception("abort of the ZIP upload %s (%s) failed", self.key, self.upload_id)


def _chunks(stream) -> Iterator[bytes]:
    try:
        while True:
            chunk = stream.read(READ_CHUNK)
            if not chunk:
                return
            yield chunk
    finally:
        stream.close()


# --- Build ------------------------------------------------------------------------------------
def _claim(job_id: uuid.UUID | str) -> bool:
    """queued -> running, atomically: a duplicate delivery of the task finds nothing to do."""
    now = timezone.now()
    return (
        DownloadJob.objects.filter(id=job_id, state=DownloadJob.State.QUEUED).update(
            state=DownloadJob.State.RUNNING, started_at=now, updated_at=now
        )
        == 1
    )


def _progress(job_id, **fields) -> int:
    return DownloadJob.objects.filter(id=job_id, state=DownloadJob.State.RUNNING).update(
        **fields, updated_at=timezone.now()
    )


def download_build(*, job_id: uuid.UUID | str, force_zip64: bool = False) -> DownloadJob | None:
    """Build the job's ZIP into storage at ``job.result_key`` and mark it ready.

    Idempotent: only a queued job is built (claimed atomically). A failure marks the job
    failed with a message and aborts the partial upload; a photo whose object is missing is
    skipped and counted rather than failing a whole wedding.
    """
    if not _claim(job_id):
        return None
    job = DownloadJob.objects.select_related("gallery", "album").get(id=job_id)
    storage = get_storage()
    sink: MultipartSink | None = None
    try:
        plan: ZipPlan = download_plan(job=job)
        # Parts of >= 16 MiB, grown for very large galleries so 10,000 parts always suffice
        # (ZIP overhead is ~100 bytes per entry, well inside the 1 MiB rounding).
        part_size = max(
            PREFERRED_PART_SIZE,
            choose_part_size(plan.bytes_total + 1024 * len(plan.items) + 1024 * 1024),
        )
        _progress(
            job.id,
            file_count=len(plan.items),
            files_skipped=plan.skipped,
            bytes_total=plan.bytes_total,
            files_done=0,
            bytes_done=0,
        )
        sink = MultipartSink(storage, key=job.result_key, part_size=part_size)
        writer = ZipStreamWriter(sink.write, force_zip64=force_zip64)
        files_done = bytes_done = 0
        skipped = plan.skipped
        reported_at, reported_files = time.monotonic(), 0
        for item in plan.items:
            try:
                stream = storage.open(key=item.key)
            except ObjectNotFound:
                logger.warning("ZIP %s: object %s is missing; skipped", job.id, item.key)
                skipped += 1
                continue
            bytes_done += writer.add(
                item.name, _chunks(stream), size_hint=item.size, modified=item.modified
            )
            files_done += 1
            now = time.monotonic()
            if (
                files_done - reported_files >= PROGRESS_EVERY_FILES
                or now - reported_at >= PROGRESS_EVERY_SECONDS
            ):
                if not _progress(
                    job.id, files_done=files_done, bytes_done=bytes_done, files_skipped=skipped
                ):
                    raise _JobGone
                reported_at, reported_files = now, files_done
        result_size = writer.close()
        sink.complete()
        sink = None  # completed: nothing to abort any more
        finished = timezone.now()
        updated = _progress(
            job.id,
            state=DownloadJob.State.READY,
            file_count=files_done,
            files_done=files_done,
            files_skipped=skipped,
            bytes_done=bytes_done,
            result_size=result_size,
            finished_at=finished,
            expires_at=finished + dt.timedelta(days=settings.PICPICK_DOWNLOAD_EXPIRE_DAYS),
        )
        if not updated:
            raise _JobGone
    except _JobGone:
        # The gallery (and so the job) was deleted while we built: leave nothing behind.
        logger.info("ZIP %s: the job disappeared while building; output dropped", job.id)
        if sink is not None:
            sink.abort()
        storage.delete_many(keys=[job.result_key])
        return None
    except Exception as exc:
        logger.exception("ZIP %s of gallery %s failed", job.id, job.gallery_id)
        if sink is not None:
            sink.abort()
        DownloadJob.objects.filter(id=job.id).update(
            state=DownloadJob.State.FAILED,
            failure_message=f"The ZIP could not be built: {exc}"[:500],
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
        return DownloadJob.objects.filter(id=job.id).first()
    return DownloadJob.objects.get(id=job.id)


class _JobGone(Exception):
    pass


# --- Expiry -----------------------------------------------------------------------------------
def downloads_expire(*, now: dt.datetime | None = None) -> int:
    """Delete the ZIPs of expired jobs and mark them expired; fail jobs that can no longer
    finish (queued for too long, or running past the task's hard limit). Returns how many
    ZIPs were removed. A ZIP whose delete fails stays ready and is retried next run."""
    now = now or timezone.now()
    hard_limit = dt.timedelta(seconds=settings.PICPICK_DOWNLOAD_TIME_LIMIT + 60)
    DownloadJob.objects.filter(
        state=DownloadJob.State.RUNNING, started_at__lt=now - hard_limit - STALE_MARGIN
    ).update(
        state=DownloadJob.State.FAILED,
        failure_message="The build was interrupted; request the download again.",
        finished_at=now,
        updated_at=now,
    )
    DownloadJob.objects.filter(
        state=DownloadJob.State.QUEUED, created_at__lt=now - QUEUED_TIMEOUT
    ).update(
        state=DownloadJob.State.FAILED,
        failure_message="The build never started; request the download again.",
        finished_at=now,
        updated_at=now,
    )
    removed = 0
    storage = get_storage()
    expired = DownloadJob.objects.filter(state=DownloadJob.State.READY, expires_at__lte=now)
    while True:
        batch = list(expired.order_by("expires_at", "id").values_list("id", "result_key")[:500])
        if not batch:
            return removed
        failed = set(storage.delete_many(keys=[key for _, key in batch if key]))
        done = [job_id for job_id, key in batch if key not in failed]
        if failed:
            logger.error("expired ZIPs not deleted, retried next run: %s", sorted(failed))
        DownloadJob.objects.filter(id__in=done, state=DownloadJob.State.READY).update(
            state=DownloadJob.State.EXPIRED, updated_at=now
        )
        removed += len(done)
        if failed:
            return removed  # the failed ones would come back in the next batch forever
