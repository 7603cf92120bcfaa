"""Completing uploads: verify size, checksum and magic bytes, then queue processing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import studio_usage_lock
from galleries.imaging import (
    FORMATS,
    MAGIC_BYTES_NEEDED,
    extension_of,
    magic_matches,
)
from galleries.lock_objects import gallery_lock
from galleries.models import Gallery, Photo, Upload
from galleries.services.counters import counters_apply
from galleries.services.progress import gallery_progress_changed
from galleries.services.uploads.common import (
    FIRST_PART_URLS,
    CompleteOutcome,
    _clean_storage,
    _in_threads,
    upload_is_multipart,
)
from picpick.core.errors import ApplicationError, Conflict, Unprocessable
from picpick.core.observability import metrics
from picpick.core.storage import (
    InvalidPart,
    ObjectInfo,
    ObjectStorage,
    UploadNotFound,
    get_storage,
)


# --- Complete --------------------------------------------------------------------------------
@dataclass
class _Verified:
    info: ObjectInfo


@dataclass
class _Bad:
    """The stored bytes are not what was declared: the object goes, the photo fails."""

    code: str
    message: str


@dataclass
class _Gone:
    """The photo was deleted while its bytes were on the way: drop the object."""


PartsSpec = list[tuple[int, str]] | None


def _verify(storage: ObjectStorage, upload: Upload, parts: PartsSpec) -> object:
    """Storage's view of an upload: verified, bad, or an error for the client (nothing
    changes; the client may retry)."""
    if upload.photo_id is None:
        return _Gone()
    if upload_is_multipart(upload):
        info = _assemble(storage, upload, parts)
        if isinstance(info, ApplicationError):
            return info
    else:
        info = storage.head(key=upload.key)
        if info is None:
            return Conflict(
                "The file has not been uploaded yet: PUT it to its URL first.",
                code="upload_incomplete",
            )
    if info.size != upload.size:
        return _Bad(
            "size_mismatch",
            f"The stored file has {info.size} bytes; {upload.size} were declared.",
        )
    # A single PUT is signed with the declared SHA-256, and storage records the checksum of
    # the body it took. Multipart uploads are not: S3's multipart checksum is a checksum of
    # the parts' checksums, never the file's SHA-256, and hashing the object here would pull
    # up to 500 files of 64 MiB-2 GiB through this request. Processing downloads the whole
    # file anyway and checks its SHA-256 there (``original_changed``) before anything is
    # rendered; part URLs die with their multipart upload, so nothing replaces it afterwards.
    if (
        not upload_is_multipart(upload)
        and upload.checksum_sha256
        and info.checksum_sha256
        and info.checksum_sha256 != upload.checksum_sha256
    ):
        return _Bad("checksum_mismatch", "The stored file's SHA-256 is not the one declared.")
    head = storage.read_range(key=upload.key, start=0, length=MAGIC_BYTES_NEEDED)
    if not magic_matches(upload.filename, head):
        family = FORMATS[extension_of(upload.filename)][0].upper()
        return _Bad(
            "type_mismatch",
            f"The file's content is not the {family} image its name "
            f"'.{extension_of(upload.filename)}' declares.",
        )
    return _Verified(info)


def _assemble(
    storage: ObjectStorage, upload: Upload, parts: PartsSpec
) -> ObjectInfo | ApplicationError:
    expected = set(range(1, upload.part_count + 1))
    if parts is None:
        try:
            listed = storage.list_parts(key=upload.key, upload_id=upload.multipart_upload_id)
        except UploadNotFound:
            return _already_assembled(storage, upload)
        refs: list[tuple[int, str]] = [
            (p.part_number, p.etag) for p in listed if p.part_number in expected
        ]
    else:
        outside = sorted({number for number, _ in parts if number not in expected})
        if outside:
            message = f"Parts are numbered 1..{upload.part_count} for this upload."
            return ApplicationError(
                message, code="invalid_part_number", fields={"parts": [message]}
            )
        refs = list(parts)
    missing = sorted(expected - {number for number, _ in refs})
    if missing:
        return Conflict(
            f"{len(missing)} of {upload.part_count} parts are not uploaded yet.",
            code="upload_incomplete",
            extra={"missing_parts": missing[:FIRST_PART_URLS]},
        )
    try:
        return storage.complete_multipart(
            key=upload.key, upload_id=upload.multipart_upload_id, parts=refs
        )
    except InvalidPart as exc:
        return Unprocessable(exc.message, code="invalid_part")
    except UploadNotFound:
        return _already_assembled(storage, upload)


def _already_assembled(storage: ObjectStorage, upload: Upload) -> ObjectInfo | ApplicationError:
    # Completed by a concurrent request (or aborted): the object tells which.
    info = storage.head(key=upload.key)
    if info is None:
        return Conflict(
            "The multipart upload no longer exists in storage; start a new upload.",
            code="upload_incomplete",
        )
    return info


def _state_error(upload: Upload) -> ApplicationError | None:
    """The answer for an upload that is no longer pending (None: completed, a success)."""
    if upload.failure_code:
        return Unprocessable(upload.failure_message, code=upload.failure_code)
    if upload.state == Upload.State.COMPLETED:
        return None
    if upload.state == Upload.State.ABORTED:
        return Conflict("This upload was aborted.", code="upload_aborted")
    if upload.state == Upload.State.EXPIRED:
        return Conflict("This upload expired and was cleaned up.", code="upload_expired")
    return Conflict("This upload is still pending.", code="upload_incomplete")


def uploads_complete(
    *, gallery: Gallery, by: User | None, items: Sequence[tuple[Upload, PartsSpec]]
) -> list[CompleteOutcome]:
    """Verify and complete uploads of ``gallery``; one outcome per item, in order.

    Idempotent: an upload completed before is reported completed again and queues nothing; a
    failed one answers its failure again. Verified photos become ``uploaded`` and their
    processing is queued after the commit; a file whose bytes are not what was declared is
    deleted from storage and its photo marked ``failed`` with the reason (its declared bytes
    are released from the quota).
    """
    storage = get_storage()
    pending = [(u, p) for u, p in items if u.state == Upload.State.PENDING and not u.failure_code]
    verdicts = dict(
        zip(
            [u.id for u, _ in pending],
            _in_threads(lambda pair: _verify(storage, pair[0], pair[1]), pending),
            strict=True,
        )
    )
    for verdict in verdicts.values():
        if isinstance(verdict, Exception) and not isinstance(verdict, ApplicationError):
            raise verdict  # storage is down: a 500, and nothing was changed

    to_claim = {
        upload_id: verdict
        for upload_id, verdict in verdicts.items()
        if isinstance(verdict, _Verified | _Bad | _Gone)
    }
    if to_claim:
        cleanup = _apply_verdicts(gallery=gallery, verdicts=to_claim)
        gallery_progress_changed(gallery_id=gallery.id)
        if cleanup:
            _clean_storage(storage, cleanup)

    fresh = {
        upload.id: upload
        for upload in Upload.objects.filter(id__in=[u.id for u, _ in items]).select_related(
            "photo", "batch"
        )
    }
    outcomes = []
    for upload, _ in items:
        current = fresh.get(upload.id, upload)
        verdict = verdicts.get(upload.id)
        if isinstance(verdict, ApplicationError) and current.state == Upload.State.PENDING:
            outcomes.append(CompleteOutcome(upload=current, error=verdict))
        elif isinstance(verdict, _Gone) and current.state == Upload.State.ABORTED:
            outcomes.append(
                CompleteOutcome(
                    upload=current,
                    error=Conflict(
                        "The photo was deleted while uploading; the file was discarded.",
                        code="photo_deleted",
                    ),
                )
            )
        else:
            outcomes.append(CompleteOutcome(upload=current, error=_state_error(current)))
    return outcomes


def _apply_verdicts(
    *, gallery: Gallery, verdicts: dict[uuid.UUID, object]
) -> list[tuple[str, str]]:
    """Claim the still-pending uploads and record their outcome; returns what storage must
    clean afterwards: (key, multipart upload id or "")."""
    from galleries.tasks import photo_process  # the tasks module imports services

    studio = gallery.studio
    now = timezone.now()
    cleanup: list[tuple[str, str]] = []
    releases = any(isinstance(v, _Bad | _Gone) for v in verdicts.values())
    with transaction.atomic():
        if releases:
            studio_usage_lock(studio=studio)
        gallery = gallery_lock(studio=studio, gallery_id=gallery.id)
        claimed = {
            upload.id: upload
            for upload in Upload.objects.select_for_update()
            .filter(id__in=list(verdicts), gallery=gallery, state=Upload.State.PENDING)
            .order_by("id")
        }
        ok = [uid for uid in claimed if isinstance(verdicts[uid], _Verified)]
        bad = [uid for uid in claimed if isinstance(verdicts[uid], _Bad)]
        gone = [uid for uid in claimed if isinstance(verdicts[uid], _Gone)]
        if ok:
            Upload.objects.filter(id__in=ok).update(
                state=Upload.State.COMPLETED, completed_at=now, updated_at=now
            )
            photo_ids = [claimed[uid].photo_id for uid in ok]
            moved = list(
                Photo.objects.filter(id__in=photo_ids, state=Photo.State.PENDING).values_list(
                    "id", flat=True
                )
            )
            Photo.objects.filter(id__in=moved).update(state=Photo.State.UPLOADED, updated_at=now)
            metrics.uploads_completed(files=len(ok), size=sum(claimed[uid].size for uid in ok))
            for photo_id in moved:
                transaction.on_commit(
                    lambda pid=str(photo_id): photo_process.delay(pid), robust=True
                )
        if bad:
            _fail(gallery=gallery, uploads=[claimed[uid] for uid in bad], verdicts=verdicts)
            cleanup += [(claimed[uid].key, "") for uid in bad]  # assembled already
        if gone:
            Upload.objects.filter(id__in=gone).update(state=Upload.State.ABORTED, updated_at=now)
            cleanup += [(claimed[uid].key, claimed[uid].multipart_upload_id) for uid in gone]
    return cleanup


def _fail(*, gallery: Gallery, uploads: list[Upload], verdicts: dict[uuid.UUID, object]) -> None:
    now = timezone.now()
    photos = {
        photo.id: photo
        for photo in Photo.objects.filter(id__in=[u.photo_id for u in uploads]).order_by("id")
    }
    released = 0
    for upload in uploads:
        verdict = verdicts[upload.id]
        assert isinstance(verdict, _Bad)
        upload.state = Upload.State.ABORTED
        upload.failure_code, upload.failure_message = verdict.code, verdict.message
        upload.updated_at = now
        photo = photos.get(upload.photo_id)
        if photo is not None:
            released += photo.size
            photo.state = Photo.State.FAILED
            photo.failure_code, photo.failure_message = verdict.code, verdict.message
            photo.size = 0  # the object is deleted: its bytes no longer count
            photo.updated_at = now
    Upload.objects.bulk_update(uploads, ["state", "failure_code", "failure_message", "updated_at"])
    Photo.objects.bulk_update(
        list(photos.values()),
        ["state", "failure_code", "failure_message", "size", "updated_at"],
    )
    counters_apply(studio=gallery.studio, gallery=gallery, size=-released)


def upload_complete(*, upload: Upload, by: User | None, parts: PartsSpec = None) -> Upload:
    """Complete one upload; raises the outcome's error (after recording it)."""
    outcome = uploads_complete(gallery=upload.gallery, by=by, items=[(upload, parts)])[0]
    if outcome.error is not None:
        raise outcome.error
    return outcome.upload
