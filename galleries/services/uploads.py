"""The upload protocol: start a batch, hand out presigned URLs, verify, complete, abort, sweep.

Bytes never pass through this process. ``upload_batch_start`` registers one pending photo and
one ``Upload`` per accepted file and answers presigned requests (a single ``PUT``, or S3
multipart for large files); the client sends the bytes straight to storage and asks
``uploads_complete`` to verify them (size, SHA-256 where storage records it, magic bytes), which
marks the photo ``uploaded`` and queues its processing after the commit.

Storage is not transactional, so each write orders its storage calls so that a failure leaves
nothing the sweeper cannot find:

- start creates multipart uploads *before* the commit and aborts them if the transaction
  fails (a crash in between leaves an orphan that ``uploads_sweep`` aborts after N days);
- abort and expiry commit the database first, then abort/delete in storage (best effort; the
  orphan pass catches a multipart upload left behind);
- complete verifies storage first, then claims the row; a row claimed meanwhile by someone
  else (a second complete, the sweeper) is reported as it now is.

Locks: studio usage (quota, byte counters) -> gallery -> albums, as everywhere
(``galleries.lock_objects``); upload rows are locked only after the gallery, so every writer of
an upload's state (start, complete, abort, sweep) is serialised by the gallery lock. These
functions talk to storage after their own commit: call them outside any transaction.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import Studio, User
from galleries import keys
from galleries.imaging import (
    ACCEPTED_CONTENT_TYPES,
    FORMATS,
    MAGIC_BYTES_NEEDED,
    extension_of,
    magic_matches,
)
from galleries.lock_objects import albums_lock, gallery_lock, studio_usage_lock
from galleries.models import Gallery, Photo, Upload, UploadBatch
from galleries.services.albums import gallery_writable_check
from galleries.services.counters import counters_apply
from galleries.services.photos import photo_rows_delete
from picpick.core.errors import ApplicationError, Conflict, NotFound, Unprocessable
from picpick.core.ids import uuid7
from picpick.core.storage import (
    MAX_PARTS,
    MAX_SINGLE_PUT_SIZE,
    InvalidPart,
    MiB,
    ObjectInfo,
    ObjectStorage,
    ObjectTooLarge,
    PresignedRequest,
    StorageError,
    UploadedPart,
    UploadNotFound,
    choose_part_size,
    get_storage,
    part_count,
    validate_checksum_sha256,
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
    checksum_sha256: str | None = None
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


# --- Pure rules ------------------------------------------------------------------------------
def studio_quota_bytes(studio: Studio) -> int:
    """The storage the studio's plan allows (declared sizes of pending photos included)."""
    quotas = {
        Studio.Plan.FREE: settings.PICPICK_QUOTA_FREE_BYTES,
        Studio.Plan.PRO: settings.PICPICK_QUOTA_PRO_BYTES,
        Studio.Plan.BUSINESS: settings.PICPICK_QUOTA_BUSINESS_BYTES,
    }
    return quotas.get(studio.plan, settings.PICPICK_QUOTA_FREE_BYTES)


def upload_plan(size: int) -> tuple[int, int]:
    """``(part_size, part_count)`` for a file of ``size`` bytes; ``(0, 1)`` is a single PUT.

    The part size is the configured one, grown in whole MiB when the file would otherwise need
    more than S3's 10,000 parts. ``choose_part_size`` refuses what S3 cannot store at all.
    """
    if size <= min(settings.PICPICK_UPLOAD_SINGLE_PUT_MAX_BYTES, MAX_SINGLE_PUT_SIZE):
        return 0, 1
    choose_part_size(size)  # raises ObjectTooLarge past S3's 5 TiB
    needed = math.ceil(math.ceil(size / MAX_PARTS) / MiB) * MiB
    part_size = max(settings.PICPICK_UPLOAD_PART_BYTES, needed)
    count = part_count(size, part_size)
    if count > MAX_PARTS:  # pragma: no cover - excluded by the arithmetic above
        raise ObjectTooLarge(f"{size} bytes would need {count} parts.")
    return part_size, count


def _checksum_problem(declaration: FileDeclaration) -> str | None:
    if declaration.checksum_sha256 is not None:
        try:
            validate_checksum_sha256(declaration.checksum_sha256)
        except ApplicationError as exc:
            return exc.message
    if declaration.checksum_crc32c is not None:
        try:
            raw = base64.b64decode(declaration.checksum_crc32c, validate=True)
        except (binascii.Error, ValueError):
            return "The CRC32C checksum is not valid base64."
        if len(raw) != 4:
            return "The CRC32C checksum must be 4 bytes in base64."
    return None


def _supported_list() -> str:
    return ", ".join(sorted({ext.upper() for ext in FORMATS}))


def _check_file(index: int, declaration: FileDeclaration) -> _Accepted | Rejection:
    """The checks that need no database: type, size, checksum format, part plan."""

    def reject(code: str, message: str) -> Rejection:
        return Rejection(index=index, name=declaration.name, code=code, message=message)

    ext = extension_of(declaration.name)
    if ext not in FORMATS:
        return reject(
            "unsupported_type",
            f"'.{ext}' is not a supported photo type ({_supported_list()})."
            if ext
            else f"The file name has no extension; supported: {_supported_list()}.",
        )
    declared_type = declaration.content_type.strip().lower()
    if declared_type not in ACCEPTED_CONTENT_TYPES[ext]:
        return reject(
            "unsupported_type",
            f"The content type {declaration.content_type!r} does not match a .{ext} file "
            f"(expected {FORMATS[ext][1]}).",
        )
    if declaration.size == 0:
        return reject("empty_file", "The file is empty (0 bytes).")
    limit = settings.PICPICK_MAX_FILE_BYTES
    if declaration.size > limit:
        return reject(
            "file_too_large", f"The file has {declaration.size} bytes; the limit is {limit}."
        )
    problem = _checksum_problem(declaration)
    if problem is not None:
        return reject("invalid_checksum", problem)
    try:
        part_size, count = upload_plan(declaration.size)
    except ObjectTooLarge as exc:
        return reject("file_too_large", exc.message)
    return _Accepted(
        index=index,
        declaration=declaration,
        extension=ext,
        # The canonical type, not the declared one: storage serves what we sign here.
        content_type=FORMATS[ext][1],
        part_size=part_size,
        part_count=count,
    )


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
    """The presigned single PUT of a file; signed with its SHA-256 when the client gave one,
    so storage refuses any other body."""
    request = storage.presign_put(
        key=upload.key,
        content_type=upload.content_type,
        content_length=upload.size,
        checksum_sha256=upload.checksum_sha256 or None,
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


def _create_multiparts(storage: ObjectStorage, items: list[_Accepted]) -> list[tuple[str, str]]:
    """Create the multipart uploads of ``items`` (in parallel); all or none."""
    results = _in_threads(
        lambda item: storage.create_multipart(key=item.key, content_type=item.content_type),
        items,
    )
    created = [
        (item.key, result)
        for item, result in zip(items, results, strict=True)
        if isinstance(result, str)
    ]
    failure = next((result for result in results if isinstance(result, Exception)), None)
    if failure is not None:
        _abort_quietly(storage, created)
        raise failure
    for item, result in zip(items, results, strict=True):
        item.multipart_upload_id = str(result)
    return created


def upload_batch_start(
    *,
    gallery: Gallery,
    by: User,
    files: Sequence[FileDeclaration],
    album_id: uuid.UUID | None = None,
    allow_duplicates: bool = False,
) -> BatchStart:
    """Register the acceptable files of a batch and return their presigned requests.

    Each file is checked on its own; a file that fails is reported in ``rejected`` with a code
    while the others proceed. When none can proceed the whole request is a 422
    (``no_files_accepted``, with the rejections). The quota is checked and reserved under the
    studio usage lock, so two concurrent batches cannot both take the last bytes; files are
    taken in order while they fit.
    """
    if len(files) > MAX_FILES_PER_BATCH:
        raise ApplicationError(
            f"At most {MAX_FILES_PER_BATCH} files per batch.", code="too_many_files"
        )
    studio = gallery.studio
    storage = get_storage()
    rejected: list[Rejection] = []
    checked: list[_Accepted] = []
    seen_keys: set[str] = set()
    for index, declaration in enumerate(files):
        key = declaration.idempotency_key
        if key is not None and key in seen_keys:
            rejected.append(
                Rejection(
                    index=index,
                    name=declaration.name,
                    code="duplicate_idempotency_key",
                    message="Another file of this request has the same idempotency key.",
                )
            )
            continue
        if key is not None:
            seen_keys.add(key)
        result = _check_file(index, declaration)
        (rejected if isinstance(result, Rejection) else checked).append(result)

    created: list[tuple[str, str]] = []
    try:
        with transaction.atomic():
            usage = studio_usage_lock(studio=studio)
            gallery = gallery_lock(studio=studio, gallery_id=gallery.id)
            gallery_writable_check(gallery)
            albums = albums_lock(gallery=gallery, album_ids=[album_id])
            if album_id is not None and album_id not in albums:
                raise Unprocessable(
                    "The album must be an album of this gallery.",
                    code="invalid_album",
                    fields={"album_id": ["Not an album of this gallery."]},
                )
            accepted, replays, more_rejected = _decide(
                studio=studio,
                gallery=gallery,
                checked=checked,
                used=usage.storage_bytes,
                allow_duplicates=allow_duplicates,
            )
            rejected = sorted(rejected + more_rejected, key=lambda r: r.index)
            if not accepted and not replays:
                raise Unprocessable(
                    "No file of this batch can be uploaded.",
                    code="no_files_accepted",
                    extra={"rejected": [_rejection_dict(r) for r in rejected]},
                )
            if not accepted and not rejected:
                # A retried start whose every file was registered before: the same batch.
                batch = replays[0].upload.batch
                created_batch = False
            else:
                batch = _register(
                    studio=studio,
                    gallery=gallery,
                    by=by,
                    album_id=album_id,
                    accepted=accepted,
                    rejected=rejected,
                    storage=storage,
                    created=created,
                )
                created_batch = True
    except BaseException:
        _abort_quietly(storage, created)
        raise

    started = []
    for item in accepted:
        assert item.upload_row is not None
        started.append(
            StartedFile(
                index=item.index,
                upload=item.upload_row,
                urls=_first_urls(storage, item.upload_row),
                duplicate_of=item.duplicate_of,
            )
        )
    for replay in replays:
        replay.urls = upload_resume_urls(storage=storage, upload=replay.upload)[0]
    files_out = sorted(started + replays, key=lambda f: f.index)
    return BatchStart(batch=batch, files=files_out, rejected=rejected, created=created_batch)


def _rejection_dict(rejection: Rejection) -> dict:
    return {
        "index": rejection.index,
        "name": rejection.name,
        "code": rejection.code,
        "message": rejection.message,
        "duplicate_of": str(rejection.duplicate_of) if rejection.duplicate_of else None,
    }


def _decide(
    *,
    studio: Studio,
    gallery: Gallery,
    checked: list[_Accepted],
    used: int,
    allow_duplicates: bool,
) -> tuple[list[_Accepted], list[StartedFile], list[Rejection]]:
    """Replays, duplicates and the quota, decided under the usage and gallery locks."""
    idem_keys = [c.declaration.idempotency_key for c in checked if c.declaration.idempotency_key]
    earlier = {
        upload.idempotency_key: upload
        for upload in Upload.objects.filter(studio=studio, idempotency_key__in=idem_keys)
        .select_related("batch", "photo")
        .order_by()
    }
    checksums = [c.declaration.checksum_sha256 for c in checked if c.declaration.checksum_sha256]
    existing: dict[str, uuid.UUID] = {}
    if checksums:
        rows = (
            Photo.objects.filter(gallery=gallery, checksum__in=checksums)
            .exclude(state=Photo.State.FAILED)
            .order_by("-position", "-id")
            .values_list("checksum", "id")
        )
        existing = dict(rows)  # the last wins: the first photo of the gallery with it
    quota = studio_quota_bytes(studio)

    accepted: list[_Accepted] = []
    replays: list[StartedFile] = []
    rejected: list[Rejection] = []

    def reject(
        item: _Accepted, code: str, message: str, duplicate_of: uuid.UUID | None = None
    ) -> None:
        rejected.append(
            Rejection(
                index=item.index,
                name=item.declaration.name,
                code=code,
                message=message,
                duplicate_of=duplicate_of,
            )
        )

    for item in checked:
        declaration = item.declaration
        previous = earlier.get(declaration.idempotency_key) if declaration.idempotency_key else None
        if previous is not None:
            if (
                previous.gallery_id != gallery.id
                or previous.filename != declaration.name
                or previous.size != declaration.size
            ):
                reject(
                    item,
                    "idempotency_key_reused",
                    "This idempotency key was used for another file; use a new key per file.",
                )
            else:
                replays.append(
                    StartedFile(index=item.index, upload=previous, urls=[], replayed=True)
                )
            continue
        checksum = declaration.checksum_sha256
        duplicate_of = existing.get(checksum) if checksum else None
        if duplicate_of is not None and not allow_duplicates:
            reject(
                item,
                "duplicate",
                "A photo with the same SHA-256 is already in this gallery.",
                duplicate_of=duplicate_of,
            )
            continue
        if used + declaration.size > quota:
            reject(
                item,
                "quota_exceeded",
                f"The studio's storage quota ({quota} bytes) would be exceeded; {used} bytes "
                "are used or reserved.",
            )
            continue
        used += declaration.size
        item.duplicate_of = duplicate_of
        item.key = keys.original_key(studio.id, gallery.id, item.photo_id, declaration.name)
        accepted.append(item)
        if checksum and checksum not in existing:
            existing[checksum] = item.photo_id  # a second copy later in the same request
    return accepted, replays, rejected


def _register(
    *,
    studio: Studio,
    gallery: Gallery,
    by: User,
    album_id: uuid.UUID | None,
    accepted: list[_Accepted],
    rejected: list[Rejection],
    storage: ObjectStorage,
    created: list[tuple[str, str]],
) -> UploadBatch:
    multiparts = [item for item in accepted if item.multipart]
    if multiparts:
        created.extend(_create_multiparts(storage, multiparts))
    now = timezone.now()
    expires_at = now + timedelta(hours=settings.PICPICK_UPLOAD_TTL_HOURS)
    batch = UploadBatch.objects.create(
        studio=studio,
        gallery=gallery,
        album_id=album_id,
        created_by=by,
        declared_count=len(accepted) + len(rejected),
        # Bytes of the accepted files: a rejected size may be absurd (that is why it was).
        declared_bytes=sum(item.declaration.size for item in accepted),
    )
    # Safe under the gallery lock: no other transaction can take these positions meanwhile.
    last = Photo.objects.filter(gallery=gallery).aggregate(last=Max("position"))["last"]
    start = 0 if last is None else last + 1
    photos = [
        Photo(
            id=item.photo_id,
            studio=studio,
            gallery=gallery,
            album_id=album_id,
            filename=item.declaration.name,
            size=item.declaration.size,
            content_type=item.content_type,
            checksum=item.declaration.checksum_sha256 or "",
            state=Photo.State.PENDING,
            position=start + offset,
            original_key=item.key,
        )
        for offset, item in enumerate(accepted)
    ]
    Photo.objects.bulk_create(photos, batch_size=500)
    # UUIDv7s made within one millisecond are in random order; handing them out sorted makes
    # the batch's files list (keyset-paginated by id) come back in declaration order.
    for item, upload_id in zip(accepted, sorted(item.upload_id for item in accepted), strict=True):
        item.upload_id = upload_id
    uploads = []
    for item, photo in zip(accepted, photos, strict=True):
        upload = Upload(
            id=item.upload_id,
            studio=studio,
            batch=batch,
            photo=photo,
            gallery=gallery,
            idempotency_key=item.declaration.idempotency_key,
            filename=item.declaration.name,
            key=item.key,
            size=item.declaration.size,
            content_type=item.content_type,
            checksum_sha256=item.declaration.checksum_sha256 or "",
            checksum_crc32c=item.declaration.checksum_crc32c or "",
            multipart_upload_id=item.multipart_upload_id,
            part_size=item.part_size,
            part_count=item.part_count,
            expires_at=expires_at,
        )
        uploads.append(upload)
        item.upload_row = upload
    Upload.objects.bulk_create(uploads, batch_size=500)
    counters_apply(
        studio=studio,
        gallery=gallery,
        photos=len(photos),
        size=sum(photo.size for photo in photos),
        albums={album_id: len(photos)},
    )
    return batch


def _first_urls(storage: ObjectStorage, upload: Upload) -> list[PartUrl]:
    if not upload_is_multipart(upload):
        return [upload_put_url(storage=storage, upload=upload)]
    first = range(1, min(upload.part_count, FIRST_PART_URLS) + 1)
    return upload_part_urls_for(storage=storage, upload=upload, part_numbers=list(first))


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
    # the parts' checksums, never the file's SHA-256, so there is nothing to compare it with.
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


def _delete_quietly(storage: ObjectStorage, object_keys: list[str]) -> int:
    try:
        failed = storage.delete_many(keys=object_keys)
    except Exception:
        logger.exception("deleting %d uploaded objects failed", len(object_keys))
        return len(object_keys)
    if failed:
        logger.warning("could not delete %d uploaded objects: %s", len(failed), failed[:10])
    return len(failed)


def upload_complete(*, upload: Upload, by: User | None, parts: PartsSpec = None) -> Upload:
    """Complete one upload; raises the outcome's error (after recording it)."""
    outcome = uploads_complete(gallery=upload.gallery, by=by, items=[(upload, parts)])[0]
    if outcome.error is not None:
        raise outcome.error
    return outcome.upload


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
