"""Object storage: where photo originals and their derivatives live.

Bytes never pass through the web process. A client asks the API for presigned requests and
sends the file straight to storage with them: one ``PUT`` for a small file, S3 multipart for a
large one (create -> PUT each part to its URL, collecting the ``ETag`` answers -> complete).
Workers read originals (``open`` / ``download_to_file`` / ``read_range``) and write derivatives
(``put_object``); API responses carry short-lived presigned GET URLs (``presign_get_many``).

Two backends implement :class:`ObjectStorage`:

- :class:`picpick.core.storage.s3.S3Storage` for production (S3, MinIO or any S3 API), with
  optional CloudFront signed URLs for reads;
- :class:`picpick.core.storage.local.LocalStorage`, the embedded default for ``make run`` and
  the test suite: files under a folder, presigned URLs served by this app under ``/storage/``.
  Clients follow the very same flow against either.

``get_storage()`` returns the configured backend (setting ``PICPICK_STORAGE``), built once per
process; it is rebuilt when a storage setting changes (``override_settings`` in tests).

Keys are chosen by the application (e.g. ``studios/<id>/originals/<photo id>``), never taken
verbatim from a client: :func:`validate_key` refuses anything that could escape a folder.

A presigned ``PUT`` creates an object; it never replaces one. Its URL is signed with the
body's SHA-256 *and* with ``If-None-Match: *`` (an S3 conditional write), so the holder of the
URL can neither store other bytes than were declared nor overwrite the object once it exists
-- a verified original stays the file that was verified for as long as the URL lives. Workers
write derivatives with ``put_object``, which does replace.
"""

from __future__ import annotations

import abc
import base64
import binascii
import functools
import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from picpick.core.errors import ApplicationError, NotFound

__all__ = [
    "MAX_DELETE_BATCH",
    "MAX_OBJECT_SIZE",
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "MAX_PRESIGN_EXPIRY",
    "MAX_SINGLE_PUT_SIZE",
    "MIN_PART_SIZE",
    "PREFERRED_PART_SIZE",
    "InvalidKey",
    "InvalidPart",
    "MultipartUpload",
    "ObjectExists",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStorage",
    "ObjectTooLarge",
    "PresignedRequest",
    "StorageError",
    "UploadNotFound",
    "UploadedPart",
    "choose_part_size",
    "get_storage",
    "part_count",
    "sha256_base64",
    "validate_key",
    "validate_presign_parts",
    "validate_single_put",
]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
TiB = 1024 * GiB

# S3's hard limits (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html).
MIN_PART_SIZE = 5 * MiB  # every part but the last
MAX_PART_SIZE = 5 * GiB
MAX_PARTS = 10_000
MAX_OBJECT_SIZE = 5 * TiB
MAX_SINGLE_PUT_SIZE = 5 * GiB
MAX_PRESIGN_EXPIRY = 7 * 24 * 3600  # SigV4 refuses anything longer
MAX_DELETE_BATCH = 1000  # keys per DeleteObjects call
MAX_KEY_BYTES = 1024

# Parts under ~16 MiB make a 50 GB upload thousands of requests, each with its own latency;
# parts much larger make a retry after a dropped connection expensive on a photographer's
# hotel Wi-Fi. 16 MiB is the usual compromise (and what the AWS CLI's tuning guides suggest).
PREFERRED_PART_SIZE = 16 * MiB

SHA256_ALGORITHM = "SHA256"


# --- Errors ----------------------------------------------------------------------------------
class StorageError(Exception):
    """The storage service failed (unreachable, misconfigured): a 500, not the client's fault."""


class InvalidKey(ApplicationError):
    default_code = "invalid_key"


class ObjectNotFound(NotFound):
    default_code = "object_not_found"


class ObjectExists(ApplicationError):
    """A create-only PUT found an object (or, locally, a deleted one) at its key: S3's 412."""

    status_code = 412
    default_code = "object_exists"


class UploadNotFound(NotFound):
    default_code = "upload_not_found"


class InvalidPart(ApplicationError):
    """A completion named a part that was not uploaded, with another ETag, or too small."""

    default_code = "invalid_part"


class ObjectTooLarge(ApplicationError):
    default_code = "object_too_large"


# --- Values ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PresignedRequest:
    """One HTTP request a client may make without our credentials.

    The client sends ``method`` to ``url`` with ``headers`` exactly (for a single PUT they
    include ``If-None-Match: *``: a retried PUT whose first answer was lost gets a 412, which
    means the object is stored). ``Content-Length``, when
    listed, is what the body's length must be: HTTP clients set that header themselves from the
    body (browsers refuse to let scripts set it), so clients skip it and send the rest. With S3
    the signature covers these headers, so a client cannot send another type, size or content
    than it declared; the local backend checks the same.
    """

    method: str
    url: str
    headers: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    etag: str  # without quotes; "<md5 hex>" for a single PUT, "<hex>-<parts>" for multipart
    content_type: str | None
    checksum_sha256: str | None = None  # base64, as S3 reports it; None when not recorded
    storage_class: str | None = None  # None means STANDARD (S3 omits it)
    last_modified: datetime | None = None


@dataclass(frozen=True, slots=True)
class UploadedPart:
    part_number: int
    size: int
    etag: str  # without quotes
    checksum_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class MultipartUpload:
    key: str
    upload_id: str
    initiated: datetime


PartRef = UploadedPart | tuple[int, str]


# --- Pure helpers ----------------------------------------------------------------------------
def choose_part_size(size: int) -> int:
    """The part size for a multipart upload of ``size`` bytes.

    At least :data:`PREFERRED_PART_SIZE`, grown in whole MiB so the upload needs at most
    :data:`MAX_PARTS` parts. Refuses sizes S3 cannot store.
    """
    if size < 0:
        raise ValueError("size must not be negative")
    if size > MAX_OBJECT_SIZE:
        raise ObjectTooLarge(
            f"{size} bytes is over the {MAX_OBJECT_SIZE} byte limit of one object.",
            extra={"limit": MAX_OBJECT_SIZE},
        )
    needed = math.ceil(size / MAX_PARTS)
    part_size = max(PREFERRED_PART_SIZE, math.ceil(needed / MiB) * MiB)
    assert MIN_PART_SIZE <= part_size <= MAX_PART_SIZE
    return part_size


def part_count(size: int, part_size: int) -> int:
    """How many parts ``size`` bytes make; an empty object is still one (empty) part."""
    return max(1, math.ceil(size / part_size))


_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe object key, else raise :class:`InvalidKey`.

    S3 accepts almost any string, but the local backend maps keys to paths and every key is
    chosen by our code, so one strict rule serves both: relative, ``/``-separated, no empty,
    ``.`` or ``..`` segment, no control character or backslash, and no leading ``.`` on the
    first segment (the local backend keeps its bookkeeping there).
    """
    if not isinstance(key, str) or not key:
        raise InvalidKey("The object key is empty.")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidKey(f"The object key is longer than {MAX_KEY_BYTES} bytes.")
    if _CONTROL.search(key):
        raise InvalidKey("The object key contains a control character or a backslash.")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidKey("The object key is not valid UTF-8.") from exc
    segments = key.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise InvalidKey("The object key has an empty, '.' or '..' segment or is absolute.")
    if segments[0].startswith("."):
        raise InvalidKey("The object key's first segment must not start with '.'.")
    return key


def validate_prefix(prefix: str) -> str:
    """A folder prefix for bulk operations: a valid key ending in ``/`` (never the whole bucket,
    and ``studios/1/`` must not also match ``studios/10/``)."""
    if not prefix.endswith("/"):
        raise InvalidKey("A prefix must end with '/'.")
    validate_key(prefix[:-1])
    return prefix


def validate_single_put(*, key: str, content_length: int, expires_in: int) -> None:
    """What every backend checks before presigning a single PUT."""
    validate_key(key)
    validate_expiry(expires_in)
    if not 0 <= content_length <= MAX_SINGLE_PUT_SIZE:
        raise ObjectTooLarge(
            f"A single PUT takes at most {MAX_SINGLE_PUT_SIZE} bytes; use multipart.",
            extra={"limit": MAX_SINGLE_PUT_SIZE},
        )


def validate_presign_parts(*, key: str, part_numbers: Sequence[int], expires_in: int) -> list[int]:
    """What every backend checks before presigning part URLs; the part numbers, validated."""
    validate_key(key)
    validate_expiry(expires_in)
    return validate_part_numbers(part_numbers)


def validate_expiry(expires_in: int) -> int:
    if not isinstance(expires_in, int) or not 1 <= expires_in <= MAX_PRESIGN_EXPIRY:
        raise ValueError(f"expires_in must be 1..{MAX_PRESIGN_EXPIRY} seconds")
    return expires_in


def validate_checksum_sha256(checksum: str) -> str:
    """A SHA-256 digest in base64 (S3's ``x-amz-checksum-sha256`` format)."""
    try:
        raw = base64.b64decode(checksum, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApplicationError(
            "The SHA-256 checksum is not valid base64.", code="invalid_checksum"
        ) from exc
    if len(raw) != 32:
        raise ApplicationError(
            "The SHA-256 checksum must be 32 bytes in base64.", code="invalid_checksum"
        )
    return checksum


def validate_part_numbers(part_numbers: Sequence[int]) -> list[int]:
    numbers = list(part_numbers)
    if any(not isinstance(n, int) or not 1 <= n <= MAX_PARTS for n in numbers):
        raise InvalidPart(f"Part numbers must be 1..{MAX_PARTS}.")
    if len(set(numbers)) != len(numbers):
        raise InvalidPart("Part numbers must not repeat.")
    return numbers


def normalize_parts(parts: Iterable[PartRef]) -> list[UploadedPart]:
    """Accept ``UploadedPart`` or ``(part_number, etag)``; strip ETag quotes; sort by number."""
    out: list[UploadedPart] = []
    for part in parts:
        if isinstance(part, UploadedPart):
            out.append(
                UploadedPart(
                    part_number=part.part_number,
                    size=part.size,
                    etag=part.etag.strip('"'),
                    checksum_sha256=part.checksum_sha256,
                )
            )
        else:
            number, etag = part
            out.append(UploadedPart(part_number=int(number), size=-1, etag=str(etag).strip('"')))
    if not out:
        raise InvalidPart("A multipart upload needs at least one part.")
    validate_part_numbers([p.part_number for p in out])
    return sorted(out, key=lambda p: p.part_number)


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact name per RFC 6266/5987.

    Quotes, backslashes, control characters and path separators never reach the header, so a
    filename cannot inject a header or make the browser save outside the download folder.
    """
    from urllib.parse import quote

    name = filename.replace("/", "_").replace("\\", "_")
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().strip(".") or "download"
    ascii_name = re.sub(r"[^A-Za-z0-9 !#$&+\-.^_`|~()\[\]{},;=@]", "_", name)
    header = f'attachment; filename="{ascii_name}"'
    if ascii_name != name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header


def sha256_base64(data: bytes) -> str:
    """The base64 SHA-256 of ``data``, as ``x-amz-checksum-sha256`` wants it."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def utcnow() -> datetime:
    """The clock presigners use; tests move it to sign URLs in the past."""
    return datetime.now(UTC)


# --- The interface ---------------------------------------------------------------------------
class ObjectStorage(abc.ABC):
    """What the upload API and the media workers may ask of object storage.

    Every method is keyword-only. Keys are checked with :func:`validate_key`. Expiries are in
    seconds, 1 .. :data:`MAX_PRESIGN_EXPIRY`.
    """

    # -- uploads, done by clients with presigned requests --
    @abc.abstractmethod
    def presign_put(
        self,
        *,
        key: str,
        content_type: str,
        content_length: int,
        checksum_sha256: str,
        expires_in: int,
    ) -> PresignedRequest:
        """A single ``PUT`` creating ``key`` with exactly ``content_length`` bytes of
        ``content_type`` whose SHA-256 is ``checksum_sha256`` (base64).

        Storage refuses any other body, and refuses the PUT once an object exists at ``key``
        (``If-None-Match: *``, signed). Up to :data:`MAX_SINGLE_PUT_SIZE`; larger files go
        multipart.
        """

    @abc.abstractmethod
    def create_multipart(
        self, *, key: str, content_type: str, checksum_algorithm: str | None = None
    ) -> str:
        """Start a multipart upload and return its upload id.

        ``checksum_algorithm="SHA256"`` makes storage require a SHA-256 per part: pass them to
        :meth:`presign_parts` (``checksums_sha256``) and in the parts given to complete.
        """

    @abc.abstractmethod
    def presign_parts(
        self,
        *,
        key: str,
        upload_id: str,
        part_numbers: Sequence[int],
        expires_in: int,
        checksums_sha256: dict[int, str] | None = None,
    ) -> list[PresignedRequest]:
        """One ``PUT`` per part, in the order of ``part_numbers``; the answer's ``ETag`` header
        is what the client reports back for :meth:`complete_multipart`."""

    @abc.abstractmethod
    def list_parts(self, *, key: str, upload_id: str) -> list[UploadedPart]:
        """The parts stored so far, by part number (lets a client resume). Raises
        :class:`UploadNotFound` for an unknown, completed or aborted upload."""

    @abc.abstractmethod
    def complete_multipart(
        self, *, key: str, upload_id: str, parts: Iterable[PartRef]
    ) -> ObjectInfo:
        """Assemble the object from ``parts`` (``UploadedPart`` or ``(number, etag)``).

        Raises :class:`InvalidPart` for a missing part, a wrong ETag or a non-last part under
        :data:`MIN_PART_SIZE`, and :class:`UploadNotFound` for an unknown upload.
        """

    @abc.abstractmethod
    def abort_multipart(self, *, key: str, upload_id: str) -> None:
        """Drop an upload and its parts. Idempotent: an unknown upload is not an error."""

    @abc.abstractmethod
    def list_multipart_uploads(
        self, *, prefix: str, initiated_before: datetime
    ) -> list[MultipartUpload]:
        """Uploads under ``prefix`` (``""`` for all) started before ``initiated_before``:
        what a janitor aborts."""

    # -- reads, done by workers --
    @abc.abstractmethod
    def head(self, *, key: str) -> ObjectInfo | None:
        """The object's metadata, or None when it does not exist."""

    @abc.abstractmethod
    def read_range(self, *, key: str, start: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``start`` (fewer at the end of the object, ``b""`` past
        it): e.g. the first 64 bytes to check a file's magic number."""

    @abc.abstractmethod
    def open(self, *, key: str) -> BinaryIO:
        """A readable binary stream of the whole object; close it when done."""

    @abc.abstractmethod
    def download_to_file(self, *, key: str, path: str | Path) -> None:
        """Copy the object to a local file (large objects in parallel ranges on S3)."""

    # -- writes, done by workers --
    @abc.abstractmethod
    def put_object(
        self,
        *,
        key: str,
        body: bytes | BinaryIO,
        content_type: str,
        cache_control: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """Store a (small) object, e.g. a derivative; replaces any object at ``key``."""

    # -- reads, done by browsers --
    @abc.abstractmethod
    def presign_get(
        self, *, key: str, expires_in: int, download_filename: str | None = None
    ) -> str:
        """A GET URL; with ``download_filename`` the answer is an attachment of that name."""

    def presign_get_many(self, *, keys: Sequence[str], expires_in: int) -> list[str]:
        """GET URLs for a page of objects, in the order of ``keys`` (the hot path of every
        photo list: backends make this cheap)."""
        return [self.presign_get(key=key, expires_in=expires_in) for key in keys]

    # -- housekeeping --
    @abc.abstractmethod
    def delete_many(self, *, keys: Iterable[str]) -> list[str]:
        """Delete objects (missing ones count as deleted); returns the keys that failed."""

    @abc.abstractmethod
    def upload_part(
        self, *, key: str, upload_id: str, part_number: int, body: bytes
    ) -> UploadedPart:
        """Upload one part of a multipart upload from this process (a worker writing a large
        object, e.g. a ZIP, as it goes); clients use ``presign_parts`` instead."""

    @abc.abstractmethod
    def list_keys(self, *, prefix: str, limit: int | None = None) -> list[str]:
        """Keys under the folder ``prefix`` (ending in ``/``), up to ``limit``."""

    @abc.abstractmethod
    def list_objects(
        self, *, prefix: str, start_after: str | None = None, limit: int = MAX_DELETE_BATCH
    ) -> list[ObjectInfo]:
        """Up to ``limit`` objects under the folder ``prefix`` in key order, after the key
        ``start_after``: a page of a scan that can stop and resume anywhere. ``etag``,
        ``size`` and ``last_modified`` are filled; the content type may not be."""

    @abc.abstractmethod
    def delete_prefix(self, *, prefix: str) -> int:
        """Delete every object under a folder prefix (ending in ``/``); returns how many."""

    @abc.abstractmethod
    def set_object_tags(self, *, key: str, tags: dict[str, str]) -> None:
        """Replace the object's tags (lifecycle rules act on them, e.g. ``archived=true``)."""

    @abc.abstractmethod
    def ensure_lifecycle(
        self,
        *,
        archive_tag: str,
        transition_days: int,
        storage_class: str,
        abort_incomplete_multipart_days: int,
    ) -> None:
        """Make sure the bucket moves objects tagged ``archive_tag`` (``"key=value"``) to
        ``storage_class`` after ``transition_days`` and aborts multipart uploads left
        incomplete for ``abort_incomplete_multipart_days``. Safe to run on every deploy."""


def parse_tag(tag: str) -> tuple[str, str]:
    key, sep, value = tag.partition("=")
    if not sep or not key:
        raise ValueError(f"archive_tag must look like 'key=value', not {tag!r}")
    return key, value


# --- The configured backend ------------------------------------------------------------------
@functools.cache
def get_storage() -> ObjectStorage:
    """The backend chosen by ``PICPICK_STORAGE``, built once per process.

    ``get_storage.cache_clear()`` forgets it; changing a storage setting with
    ``override_settings`` does that automatically.
    """
    backend = settings.PICPICK_STORAGE
    if backend == "local":
        from picpick.core.storage.local import LocalStorage

        return LocalStorage(root=Path(settings.PICPICK_LOCAL_STORAGE_ROOT))
    if backend == "s3":
        from picpick.core.storage.s3 import S3Storage

        return S3Storage.from_settings()
    raise ImproperlyConfigured(f"PICPICK_STORAGE={backend!r} must be 'local' or 's3'.")


_STORAGE_SETTINGS = ("PICPICK_STORAGE", "PICPICK_LOCAL_STORAGE_ROOT", "PICPICK_PUBLIC_URL")


@receiver(setting_changed)
def _forget_storage(*, setting: str, **kwargs) -> None:
    if setting in _STORAGE_SETTINGS or setting.startswith(("PICPICK_S3_", "PICPICK_CLOUDFRONT_")):
        get_storage.cache_clear()
