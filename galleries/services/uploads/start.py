"""Starting a batch: per-file checks, quota and duplicates, placeholder photos, first URLs."""

from __future__ import annotations

import base64
import binascii
import math
import uuid
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import Studio, User
from accounts.services import studio_usage_lock
from galleries import keys
from galleries.imaging import (
    ACCEPTED_CONTENT_TYPES,
    FORMATS,
    extension_of,
)
from galleries.lock_objects import albums_lock, gallery_lock
from galleries.models import Gallery, Photo, Upload, UploadBatch
from galleries.services.albums import gallery_writable_check
from galleries.services.counters import counters_apply
from galleries.services.uploads.common import (
    FIRST_PART_URLS,
    MAX_FILES_PER_BATCH,
    BatchStart,
    FileDeclaration,
    PartUrl,
    Rejection,
    StartedFile,
    _abort_quietly,
    _Accepted,
    _in_threads,
    upload_is_multipart,
    upload_part_urls_for,
    upload_put_url,
)
from galleries.services.uploads.resume import upload_resume_urls
from picpick.core.errors import ApplicationError, Unprocessable
from picpick.core.storage import (
    MAX_PARTS,
    MAX_SINGLE_PUT_SIZE,
    MiB,
    ObjectStorage,
    ObjectTooLarge,
    choose_part_size,
    get_storage,
    part_count,
    validate_checksum_sha256,
)


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
    if not declaration.checksum_sha256:
        return reject(
            "checksum_required", "Every file needs its SHA-256 (checksum_sha256, base64)."
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
    checksums = [c.declaration.checksum_sha256 for c in checked]
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
        duplicate_of = existing.get(checksum)
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
        if checksum not in existing:
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
            checksum=item.declaration.checksum_sha256,
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
            checksum_sha256=item.declaration.checksum_sha256,
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
