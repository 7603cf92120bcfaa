"""Resuming an upload: the parts storage already has, fresh URLs, renewal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from galleries.models import Upload
from galleries.services.uploads.common import (
    FIRST_PART_URLS,
    MAX_PART_URLS_PER_REQUEST,
    PartUrl,
    upload_is_multipart,
    upload_part_urls_for,
    upload_put_url,
)
from picpick.core.errors import ApplicationError, Conflict
from picpick.core.storage import (
    ObjectStorage,
    UploadedPart,
    UploadNotFound,
    get_storage,
)


# --- Resume ----------------------------------------------------------------------------------
def upload_is_resumable(upload: Upload, *, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return upload.state == Upload.State.PENDING and upload.expires_at > now


def upload_resumable_check(upload: Upload) -> None:
    """409 with a code when the upload can no longer take bytes."""
    if upload.state == Upload.State.COMPLETED:
        raise Conflict("This upload is already completed.", code="upload_completed")
    if upload.failure_code:
        raise Conflict(
            f"This upload failed verification ({upload.failure_code}); start a new one.",
            code="upload_failed",
        )
    if upload.state == Upload.State.ABORTED:
        raise Conflict("This upload was aborted; start a new one.", code="upload_aborted")
    if upload.state == Upload.State.EXPIRED or upload.expires_at <= timezone.now():
        raise Conflict("This upload has expired; start a new one.", code="upload_expired")


def upload_resume_urls(
    *, storage: ObjectStorage, upload: Upload
) -> tuple[list[PartUrl], list[UploadedPart], list[int]]:
    """Fresh URLs for what is still missing, the parts storage has, and the missing numbers.

    Nothing for an upload that cannot be resumed. For multipart, storage is asked which parts
    it has (``list_parts``): a client that lost its state resumes from there.
    """
    if not upload_is_resumable(upload):
        return [], [], []
    if not upload_is_multipart(upload):
        if not upload.checksum_sha256:
            # Started before checksums were required: no URL can be signed for it any more
            # (it would be one that could replace the file); it expires like any abandoned one.
            return [], [], []
        return [upload_put_url(storage=storage, upload=upload)], [], []
    try:
        parts = storage.list_parts(key=upload.key, upload_id=upload.multipart_upload_id)
    except UploadNotFound:
        parts = []
    have = {part.part_number for part in parts}
    missing = [n for n in range(1, upload.part_count + 1) if n not in have]
    urls = upload_part_urls_for(
        storage=storage, upload=upload, part_numbers=missing[:FIRST_PART_URLS]
    )
    return urls, parts, missing


def _extend(upload: Upload) -> None:
    """A client that asks for URLs is alive: push the abandonment deadline forward."""
    deadline = timezone.now() + timedelta(hours=settings.PICPICK_UPLOAD_TTL_HOURS)
    if deadline > upload.expires_at:
        updated = Upload.objects.filter(id=upload.id, state=Upload.State.PENDING).update(
            expires_at=deadline, updated_at=timezone.now()
        )
        if updated:
            upload.expires_at = deadline


def upload_renew(
    *, upload: Upload, by: User
) -> tuple[list[PartUrl], list[UploadedPart], list[int]]:
    """New URLs for the rest of an upload (a single PUT, or the missing parts)."""
    upload_resumable_check(upload)
    _extend(upload)
    return upload_resume_urls(storage=get_storage(), upload=upload)


def upload_part_urls(*, upload: Upload, by: User, part_numbers: Sequence[int]) -> list[PartUrl]:
    """Presigned URLs for the given parts of a multipart upload (resume, or the next batch)."""
    if not upload_is_multipart(upload):
        raise Conflict("This upload is a single PUT; renew its URL instead.", code="not_multipart")
    upload_resumable_check(upload)
    numbers = list(part_numbers)
    if len(numbers) > MAX_PART_URLS_PER_REQUEST:
        raise ApplicationError(
            f"At most {MAX_PART_URLS_PER_REQUEST} part URLs per request.",
            code="invalid_part_number",
            fields={"part_numbers": [f"At most {MAX_PART_URLS_PER_REQUEST}."]},
        )
    outside = sorted({n for n in numbers if not 1 <= n <= upload.part_count})
    if outside or len(set(numbers)) != len(numbers):
        message = (
            f"Parts are numbered 1..{upload.part_count} for this upload."
            if outside
            else "Part numbers must not repeat."
        )
        raise ApplicationError(
            message, code="invalid_part_number", fields={"part_numbers": [message]}
        )
    _extend(upload)
    return upload_part_urls_for(storage=get_storage(), upload=upload, part_numbers=numbers)
