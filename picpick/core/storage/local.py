"""The embedded backend: objects are files in a folder, presigned URLs are served by this app.

Used by ``make run`` and the test suite, so a developer needs no S3. Clients follow exactly the
S3 flow: PUT the body to a presigned URL (collecting the ``ETag`` answer for parts), then ask
the API to complete. The URLs point at ``/storage/o/<key>`` (see ``views.py``) and carry a
Django signature (``TimestampSigner``, salted) over everything the request may do: method, key,
content type, length, checksum, upload id and part number, download name and lifetime.

Layout under the root::

    <key>                          the object's bytes (keys never start with ".")
    .meta/<key>.json               content type, ETag, checksum, cache control, tags; after a
                                   delete, a tombstone ({"deleted_at": ...})
    .uploads/<upload id>/          upload.json + 00001.part / 00001.json per part
    .tmp/                          bodies being received; renamed into place when complete

S3 allows both ``a`` and ``a/b`` as keys; a filesystem cannot, so here that is a 409
``key_conflict``. Our keys are ``<folder>/<id>`` shaped, so it does not arise in practice.

A presigned PUT is create-only, as on S3 (``If-None-Match: *``, signed), and stricter: it is
refused while the object exists *and* after it was deleted (the tombstone), so a PUT URL of a
completed, aborted, expired or deleted upload can never bring bytes back. Upload keys carry a
fresh id, so no legitimate first write ever meets a tombstone; ``put_object`` (workers'
derivatives) ignores them. S3 has no tombstones: there, what a late PUT restores is left to
the orphan sweep.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from picpick.core.errors import ApplicationError, Conflict, Forbidden
from picpick.core.storage import (
    MAX_DELETE_BATCH,
    MIN_PART_SIZE,
    SHA256_ALGORITHM,
    InvalidKey,
    InvalidPart,
    MultipartUpload,
    ObjectExists,
    ObjectInfo,
    ObjectNotFound,
    ObjectStorage,
    PartRef,
    PresignedRequest,
    UploadedPart,
    UploadNotFound,
    content_disposition,
    normalize_parts,
    parse_tag,
    utcnow,
    validate_checksum_sha256,
    validate_expiry,
    validate_key,
    validate_part_numbers,
    validate_prefix,
    validate_presign_parts,
    validate_single_put,
)
from picpick.core.storage.sigv4 import encode_key

SALT = "picpick.core.storage.local"
CHUNK_SIZE = 1024 * 1024
UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
# The query parameters a signature covers, in a fixed order; a missing one signs as "".
SIGNED_PARAMS = ("ct", "len", "sha", "inm", "uid", "pn", "cd", "ttl")


class _UrlSigner(signing.TimestampSigner):
    # Signed with the storage clock (tests move it), checked against the real one.
    def timestamp(self) -> str:
        return signing.b62_encode(int(utcnow().timestamp()))


def _signed_string(method: str, key: str, params: Mapping[str, str]) -> str:
    return "\n".join([method, key, *(f"{name}={params.get(name, '')}" for name in SIGNED_PARAMS)])


def _write_json(path: Path, data: dict, tmp_dir: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


class LocalStorage(ObjectStorage):
    def __init__(self, *, root: Path) -> None:
        self.root = Path(root)
        self._tmp = self.root / ".tmp"
        self._meta = self.root / ".meta"
        self._uploads = self.root / ".uploads"
        for folder in (self.root, self._tmp, self._meta, self._uploads):
            folder.mkdir(parents=True, exist_ok=True)
        self._resolved_root = self.root.resolve()
        self._signer = _UrlSigner(salt=SALT)
        self._url_prefix: str | None = None

    # -- paths --
    def path_for(self, key: str) -> Path:
        """The file of ``key``; never outside the root, even through a symlink."""
        validate_key(key)
        path = self.root.joinpath(*key.split("/"))
        if not path.resolve().is_relative_to(self._resolved_root):
            raise InvalidKey("The object key points outside the storage root.")
        return path

    def _meta_path(self, key: str) -> Path:
        return self._meta.joinpath(*f"{key}.json".split("/"))

    def _upload_dir(self, upload_id: str) -> Path:
        if not isinstance(upload_id, str) or not UPLOAD_ID.match(upload_id):
            raise UploadNotFound("No such multipart upload.")
        return self._uploads / upload_id

    def _read_meta(self, key: str) -> dict[str, Any]:
        try:
            return json.loads(self._meta_path(key).read_text())
        except (FileNotFoundError, ValueError):
            return {}

    # -- signed URLs --
    def _url(self, key: str, params: dict[str, str], *, method: str) -> str:
        if self._url_prefix is None:
            self._url_prefix = reverse("storage:object", kwargs={"key": "k"})[:-1]
        token = self._signer.sign(_signed_string(method, key, params))
        timestamp, signature = token.rsplit(":", 2)[-2:]
        query = urlencode({**params, "t": timestamp, "s": signature})
        return f"{settings.PICPICK_PUBLIC_URL}{self._url_prefix}{encode_key(key)}?{query}"

    def verify(self, *, method: str, key: str, query: Mapping[str, str]) -> dict[str, str]:
        """The signed parameters of a request to our storage URL, or a 403."""
        params = {name: query[name] for name in SIGNED_PARAMS if name in query}
        try:
            ttl = int(params.get("ttl", ""))
            token = f"{_signed_string(method, key, params)}:{query['t']}:{query['s']}"
            self._signer.unsign(token, max_age=ttl)
        except signing.SignatureExpired as exc:
            raise Forbidden("This URL has expired.", code="url_expired") from exc
        except (signing.BadSignature, KeyError, ValueError) as exc:
            raise Forbidden(
                "The URL's signature does not match this request.", code="signature_invalid"
            ) from exc
        return params

    # -- receiving bodies --
    def _receive(
        self, stream: BinaryIO, *, length: int | None, checksum_sha256: str | None
    ) -> tuple[Path, int, str, str]:
        """Stream ``stream`` into a temp file: (path, size, md5 hex, sha256 base64).

        Never holds the body in memory; on any failure nothing is left behind.
        """
        import base64

        md5 = hashlib.md5()  # noqa: S324 - S3's ETag format, not security
        sha = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=self._tmp, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    chunk = stream.read(CHUNK_SIZE)
                    if not chunk:
                        break
                    size += len(chunk)
                    if length is not None and size > length:
                        break
                    md5.update(chunk)
                    sha.update(chunk)
                    out.write(chunk)
            if length is not None and size != length:
                raise ApplicationError(
                    f"The body has {'more' if size > length else 'fewer'} bytes than the "
                    f"{length} declared.",
                    code="content_length_mismatch",
                )
            sha_b64 = base64.b64encode(sha.digest()).decode()
            if checksum_sha256 is not None and sha_b64 != checksum_sha256:
                raise ApplicationError(
                    "The body's SHA-256 is not the one declared.", code="checksum_mismatch"
                )
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return Path(tmp), size, md5.hexdigest(), sha_b64

    def _place(self, tmp: Path, target: Path, *, create_only: bool = False) -> None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_dir():
                raise IsADirectoryError(target)
            if create_only:
                # link() fails if the target exists: of two PUTs racing, exactly one creates.
                try:
                    os.link(tmp, target)
                except FileExistsError as exc:
                    raise ObjectExists("An object already exists at this key.") from exc
                finally:
                    tmp.unlink(missing_ok=True)
            else:
                os.replace(tmp, target)  # atomic: readers see the old object or the new one
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
            tmp.unlink(missing_ok=True)
            raise Conflict(
                "The key collides with an existing key used as a folder.", code="key_conflict"
            ) from exc

    def _tombstoned(self, key: str) -> bool:
        return "deleted_at" in self._read_meta(key)

    def write_object(
        self,
        *,
        key: str,
        stream: BinaryIO,
        content_type: str,
        length: int | None = None,
        checksum_sha256: str | None = None,
        cache_control: str | None = None,
        tags: dict[str, str] | None = None,
        etag: str | None = None,
        create_only: bool = False,
    ) -> ObjectInfo:
        """Store ``stream`` at ``key``; with ``create_only`` (a presigned PUT) only where no
        object is or was (:class:`ObjectExists` otherwise, checked again as it is placed)."""
        target = self.path_for(key)
        if create_only and (target.is_file() or self._tombstoned(key)):
            raise ObjectExists("An object exists or existed at this key; it is not replaced.")
        tmp, _size, md5_hex, sha_b64 = self._receive(
            stream, length=length, checksum_sha256=checksum_sha256
        )
        meta = {
            "content_type": content_type,
            "etag": etag or md5_hex,
            "checksum_sha256": sha_b64 if etag is None else None,
            "cache_control": cache_control,
            "tags": tags or {},
        }
        self._place(tmp, target, create_only=create_only)
        meta_path = self._meta_path(key)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        _write_json(meta_path, meta, self._tmp)
        return self._info(key, target, meta)

    def write_part(
        self,
        *,
        key: str,
        upload_id: str,
        part_number: int,
        stream: BinaryIO,
        length: int | None,
        checksum_sha256: str | None = None,
    ) -> UploadedPart:
        upload = self._manifest(key=key, upload_id=upload_id)
        folder = self._upload_dir(upload_id)
        validate_part_numbers([part_number])
        if upload.get("checksum_algorithm") == SHA256_ALGORITHM and checksum_sha256 is None:
            raise ApplicationError(
                "This upload requires a SHA-256 checksum per part.", code="checksum_required"
            )
        tmp, size, md5_hex, sha_b64 = self._receive(
            stream, length=length, checksum_sha256=checksum_sha256
        )
        if not folder.is_dir():  # aborted while the body was arriving
            tmp.unlink(missing_ok=True)
            raise UploadNotFound("No such multipart upload.")
        os.replace(tmp, folder / f"{part_number:05d}.part")
        part = UploadedPart(
            part_number=part_number, size=size, etag=md5_hex, checksum_sha256=sha_b64
        )
        _write_json(
            folder / f"{part_number:05d}.json",
            {"size": size, "etag": md5_hex, "checksum_sha256": sha_b64},
            self._tmp,
        )
        return part

    def _info(self, key: str, path: Path, meta: dict[str, Any]) -> ObjectInfo:
        stat = path.stat()
        return ObjectInfo(
            key=key,
            size=stat.st_size,
            etag=meta.get("etag") or "",
            content_type=meta.get("content_type"),
            checksum_sha256=meta.get("checksum_sha256"),
            storage_class=None,
            last_modified=datetime.fromtimestamp(stat.st_mtime, tz=UTC),
        )

    # -- uploads --
    def presign_put(
        self,
        *,
        key: str,
        content_type: str,
        content_length: int,
        checksum_sha256: str,
        expires_in: int,
    ) -> PresignedRequest:
        validate_single_put(key=key, content_length=content_length, expires_in=expires_in)
        checksum = validate_checksum_sha256(checksum_sha256)
        params = {
            "ct": content_type,
            "len": str(content_length),
            "sha": checksum,
            "inm": "*",
            "ttl": str(expires_in),
        }
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(content_length),
            "If-None-Match": "*",
            "x-amz-checksum-sha256": checksum,
        }
        return PresignedRequest(
            method="PUT",
            url=self._url(key, params, method="PUT"),
            headers=headers,
            expires_at=utcnow() + timedelta(seconds=expires_in),
        )

    def create_multipart(
        self, *, key: str, content_type: str, checksum_algorithm: str | None = None
    ) -> str:
        validate_key(key)
        if checksum_algorithm not in (None, SHA256_ALGORITHM):
            raise ValueError("only SHA256 is supported")
        upload_id = secrets.token_urlsafe(24)
        folder = self._uploads / upload_id
        folder.mkdir()
        _write_json(
            folder / "upload.json",
            {
                "key": key,
                "content_type": content_type,
                "checksum_algorithm": checksum_algorithm,
                "initiated": utcnow().isoformat(),
            },
            self._tmp,
        )
        return upload_id

    def _manifest(self, *, key: str, upload_id: str) -> dict[str, Any]:
        validate_key(key)
        try:
            manifest = json.loads((self._upload_dir(upload_id) / "upload.json").read_text())
        except (FileNotFoundError, NotADirectoryError, ValueError) as exc:
            raise UploadNotFound("No such multipart upload.") from exc
        if manifest.get("key") != key:
            raise UploadNotFound("No such multipart upload for this key.")
        return manifest

    def presign_parts(
        self,
        *,
        key: str,
        upload_id: str,
        part_numbers: Sequence[int],
        expires_in: int,
        checksums_sha256: dict[int, str] | None = None,
    ) -> list[PresignedRequest]:
        numbers = validate_presign_parts(key=key, part_numbers=part_numbers, expires_in=expires_in)
        checksums = checksums_sha256 or {}
        expires_at = utcnow() + timedelta(seconds=expires_in)
        out = []
        for number in numbers:
            params = {"uid": upload_id, "pn": str(number), "ttl": str(expires_in)}
            headers: dict[str, str] = {}
            if number in checksums:
                params["sha"] = headers["x-amz-checksum-sha256"] = validate_checksum_sha256(
                    checksums[number]
                )
            out.append(
                PresignedRequest(
                    method="PUT",
                    url=self._url(key, params, method="PUT"),
                    headers=headers,
                    expires_at=expires_at,
                )
            )
        return out

    def list_parts(self, *, key: str, upload_id: str) -> list[UploadedPart]:
        self._manifest(key=key, upload_id=upload_id)
        parts = []
        for meta_file in sorted(self._upload_dir(upload_id).glob("[0-9]*.json")):
            meta = json.loads(meta_file.read_text())
            parts.append(
                UploadedPart(
                    part_number=int(meta_file.stem),
                    size=meta["size"],
                    etag=meta["etag"],
                    checksum_sha256=meta.get("checksum_sha256"),
                )
            )
        return parts

    def complete_multipart(
        self, *, key: str, upload_id: str, parts: Iterable[PartRef]
    ) -> ObjectInfo:
        manifest = self._manifest(key=key, upload_id=upload_id)
        wanted = normalize_parts(parts)
        stored = {part.part_number: part for part in self.list_parts(key=key, upload_id=upload_id)}
        for index, part in enumerate(wanted):
            have = stored.get(part.part_number)
            if have is None or have.etag != part.etag:
                raise InvalidPart(
                    f"Part {part.part_number} was not uploaded or has another ETag.",
                    extra={"part_number": part.part_number},
                )
            if index < len(wanted) - 1 and have.size < MIN_PART_SIZE:
                raise InvalidPart(
                    f"Part {part.part_number} is smaller than {MIN_PART_SIZE} bytes and is "
                    "not the last.",
                    code="part_too_small",
                    extra={"part_number": part.part_number},
                )
        folder = self._upload_dir(upload_id)
        # The S3 multipart ETag: MD5 of the concatenated binary part MD5s, then "-<count>".
        digests = b"".join(bytes.fromhex(stored[p.part_number].etag) for p in wanted)
        etag = f"{hashlib.md5(digests).hexdigest()}-{len(wanted)}"  # noqa: S324
        with _Concatenated([folder / f"{p.part_number:05d}.part" for p in wanted]) as stream:
            info = self.write_object(
                key=key, stream=stream, content_type=manifest["content_type"], etag=etag
            )
        shutil.rmtree(folder, ignore_errors=True)
        return info

    def abort_multipart(self, *, key: str, upload_id: str) -> None:
        try:
            self._manifest(key=key, upload_id=upload_id)
        except UploadNotFound:
            return
        shutil.rmtree(self._upload_dir(upload_id), ignore_errors=True)

    def list_multipart_uploads(
        self, *, prefix: str, initiated_before: datetime
    ) -> list[MultipartUpload]:
        out = []
        for manifest_path in self._uploads.glob("*/upload.json"):
            try:
                manifest = json.loads(manifest_path.read_text())
            except (OSError, ValueError):
                continue  # completed or aborted while we listed
            initiated = parse_datetime(manifest["initiated"])
            if manifest["key"].startswith(prefix) and initiated and initiated < initiated_before:
                out.append(
                    MultipartUpload(
                        key=manifest["key"],
                        upload_id=manifest_path.parent.name,
                        initiated=initiated,
                    )
                )
        return sorted(out, key=lambda upload: (upload.key, upload.initiated))

    # -- reads --
    def head(self, *, key: str) -> ObjectInfo | None:
        path = self.path_for(key)
        if not path.is_file():
            return None
        return self._info(key, path, self._read_meta(key))

    def read_range(self, *, key: str, start: int, length: int) -> bytes:
        if start < 0 or length < 0:
            raise ValueError("start and length must not be negative")
        with self.open(key=key) as handle:
            handle.seek(start)
            return handle.read(length)

    def open(self, *, key: str) -> BinaryIO:
        path = self.path_for(key)
        try:
            return path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFound("No such object.") from exc

    def download_to_file(self, *, key: str, path: str | Path) -> None:
        with self.open(key=key) as source, open(path, "wb") as target:
            shutil.copyfileobj(source, target, CHUNK_SIZE)

    # -- writes --
    def put_object(
        self,
        *,
        key: str,
        body: bytes | BinaryIO,
        content_type: str,
        cache_control: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        stream = io.BytesIO(body) if isinstance(body, bytes | bytearray) else body
        self.write_object(
            key=key,
            stream=stream,
            content_type=content_type,
            cache_control=cache_control,
            tags=tags,
        )

    # -- browser reads --
    def presign_get(
        self, *, key: str, expires_in: int, download_filename: str | None = None
    ) -> str:
        validate_key(key)
        validate_expiry(expires_in)
        params = {"ttl": str(expires_in)}
        if download_filename is not None:
            params["cd"] = content_disposition(download_filename)
        return self._url(key, params, method="GET")

    # -- housekeeping --
    def delete_many(self, *, keys: Iterable[str]) -> list[str]:
        failed = []
        deleted_at = utcnow().isoformat()
        for key in [validate_key(key) for key in keys]:
            try:
                path = self.path_for(key)
                if path.is_dir():
                    failed.append(key)
                    continue
                # The tombstone first: a create-only PUT racing this delete then finds either
                # the object or the tombstone, never an empty key. Written for a key that was
                # never stored too (an abandoned upload): its URL must not fill it later.
                meta_path = self._meta_path(key)
                meta_path.parent.mkdir(parents=True, exist_ok=True)
                _write_json(meta_path, {"deleted_at": deleted_at}, self._tmp)
                path.unlink(missing_ok=True)
            except OSError:
                failed.append(key)
                continue
            self._prune(path.parent, self.root)
        return failed

    @staticmethod
    def _prune(folder: Path, stop: Path) -> None:
        # Empty folders left by deletes would pile up by the million; a concurrent write that
        # needs the folder recreates it (mkdir parents=True), so losing this race is harmless.
        while folder != stop and folder.is_relative_to(stop):
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

    def upload_part(
        self, *, key: str, upload_id: str, part_number: int, body: bytes
    ) -> UploadedPart:
        return self.write_part(
            key=key,
            upload_id=upload_id,
            part_number=part_number,
            stream=io.BytesIO(body),
            length=len(body),
        )

    def list_keys(self, *, prefix: str, limit: int | None = None) -> list[str]:
        validate_prefix(prefix)
        folder = self.path_for(prefix[:-1])
        if not folder.is_dir():
            return []
        found: list[str] = []
        for path in _walk_files(folder):
            if path.name.startswith("."):  # temp files of a write in progress
                continue
            found.append(path.relative_to(self.root).as_posix())
            if limit is not None and len(found) >= limit:
                break
        return found

    def list_objects(
        self, *, prefix: str, start_after: str | None = None, limit: int = MAX_DELETE_BATCH
    ) -> list[ObjectInfo]:
        validate_prefix(prefix)
        if limit < 1:
            raise ValueError("limit must be at least 1")
        folder = self.path_for(prefix[:-1])
        if not folder.is_dir():
            return []
        # A folder has no key order: sort the whole walk (the local backend holds a
        # developer's objects, not a bucket's millions).
        listed = sorted(
            path.relative_to(self.root).as_posix()
            for path in _walk_files(folder)
            if not path.name.startswith(".")
        )
        found: list[ObjectInfo] = []
        for key in listed:
            if start_after is not None and key <= start_after:
                continue
            info = self.head(key=key)
            if info is not None:  # deleted while we listed
                found.append(info)
            if len(found) >= limit:
                break
        return found

    def delete_prefix(self, *, prefix: str) -> int:
        validate_prefix(prefix)
        folder = self.path_for(prefix[:-1])
        if not folder.is_dir():
            return 0
        keys = [
            path.relative_to(self.root).as_posix()
            for path in _walk_files(folder)
            if not path.name.startswith(".")  # temp files of a write in progress
        ]
        failed = self.delete_many(keys=keys)
        return len(keys) - len(failed)

    def set_object_tags(self, *, key: str, tags: dict[str, str]) -> None:
        if self.head(key=key) is None:
            raise ObjectNotFound("No such object.")
        meta = self._read_meta(key)
        meta["tags"] = dict(tags)
        meta_path = self._meta_path(key)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        _write_json(meta_path, meta, self._tmp)

    def get_object_tags(self, *, key: str) -> dict[str, str]:
        return dict(self._read_meta(key).get("tags") or {})

    def object_headers(self, *, key: str) -> dict[str, str]:
        """Content-Type, ETag and Cache-Control to answer a GET with."""
        meta = self._read_meta(key)
        headers = {"Content-Type": meta.get("content_type") or "application/octet-stream"}
        if meta.get("etag"):
            headers["ETag"] = f'"{meta["etag"]}"'
        if meta.get("cache_control"):
            headers["Cache-Control"] = meta["cache_control"]
        return headers

    def ensure_lifecycle(
        self,
        *,
        archive_tag: str,
        transition_days: int,
        storage_class: str,
        abort_incomplete_multipart_days: int,
    ) -> None:
        """A no-op: a folder has no storage classes, and ``make run`` has no janitor.

        The arguments are still checked so a bad value fails in development too.
        """
        parse_tag(archive_tag)
        if transition_days < 0 or abort_incomplete_multipart_days < 1:
            raise ValueError("transition_days >= 0 and abort_incomplete_multipart_days >= 1")


def _walk_files(folder: Path) -> Iterator[Path]:
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            yield Path(dirpath) / name


class _Concatenated(io.RawIOBase):
    """The part files read one after the other, as one stream (never all in memory)."""

    def __init__(self, paths: list[Path]) -> None:
        self._paths = iter(paths)
        self._current: BinaryIO | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while True:
            if self._current is None:
                path = next(self._paths, None)
                if path is None:
                    return b""
                self._current = path.open("rb")
            chunk = self._current.read(size)
            if chunk:
                return chunk
            self._current.close()
            self._current = None

    def close(self) -> None:
        if self._current is not None:
            with contextlib.suppress(OSError):
                self._current.close()
        super().close()
