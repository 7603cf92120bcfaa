"""Sending bytes to storage: presigned PUTs streamed from disk in bounded chunks.

A single PUT sends the whole file; a multipart part sends ``[offset, offset+length)`` read
with seek + bounded reads. Neither ever holds more than one chunk in memory. The body is a
generator, built again for each attempt, that also counts the bytes for the progress display
(taken back when the attempt fails) and computes the MD5 that S3 answers as a part's ETag, so
a part whose bytes arrived altered is sent again.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from picpick_upload.api import USER_AGENT, raise_for_transient, timeouts
from picpick_upload.errors import Interrupted

CHUNK = 1024 * 1024

_PLAIN_MD5_ETAG = re.compile(r'^"?([0-9a-fA-F]{32})"?$')


class UrlExpired(Exception):
    """Storage refused the URL (403: expired or no longer valid): ask the API for a new one."""


class AlreadyStored(Exception):
    """A create-only single PUT found the object there (412): an earlier attempt stored it."""


class BodyRejected(Exception):
    """Storage refused the bytes (400: BadDigest, a checksum or length that does not match)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class UploadGone(Exception):
    """The multipart upload no longer exists in storage (aborted or expired)."""


class ChecksumMismatch(Exception):
    """The part's ETag is not the MD5 of the bytes sent: the part is sent again."""


@dataclass
class SendStats:
    """PUTs and bytes actually sent in this run (for the summary and the tests)."""

    puts: int = 0
    retried: int = 0
    renewed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, *, puts: int = 0, retried: int = 0, renewed: int = 0) -> None:
        with self.lock:
            self.puts += puts
            self.retried += retried
            self.renewed += renewed


def storage_client(max_connections: int) -> httpx.Client:
    # No auth and no base URL: presigned URLs carry their own signature.
    return httpx.Client(
        timeout=timeouts(),
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
    )


def _storage_error_code(response: httpx.Response) -> str:
    match = re.search(rb"<Code>([^<]+)</Code>", response.content or b"")
    return match.group(1).decode("ascii", "replace") if match else f"http_{response.status_code}"


def file_chunks(
    path: Path,
    offset: int,
    length: int,
    *,
    md5: hashlib._Hash | None,
    on_bytes: Callable[[int], None],
    stop: threading.Event,
) -> Iterator[bytes]:
    """``length`` bytes of ``path`` from ``offset``, in chunks of at most 1 MiB."""
    with path.open("rb") as handle:
        handle.seek(offset)
        left = length
        while left > 0:
            if stop.is_set():
                raise Interrupted("interrupted", code="interrupted")
            chunk = handle.read(min(CHUNK, left))
            if not chunk:
                # The file shrank under us: send nothing more; storage refuses the short body.
                raise BodyRejected("the file got shorter while it was read", code="file_changed")
            left -= len(chunk)
            if md5 is not None:
                md5.update(chunk)
            on_bytes(len(chunk))
            yield chunk


def put(
    client: httpx.Client,
    *,
    url: dict,
    path: Path,
    offset: int,
    length: int,
    on_bytes: Callable[[int], None],
    stop: threading.Event,
    check_md5: bool,
) -> str:
    """One PUT of ``length`` bytes to a presigned URL from the API; returns the ETag.

    Raises ``UrlExpired`` (403), ``AlreadyStored`` (412), ``UploadGone`` (404),
    ``BodyRejected`` (other 4xx), ``ChecksumMismatch``; transient failures (network, 5xx,
    429) propagate for the caller's retries. Bytes counted by an attempt that failed are
    given back through ``on_bytes``.
    """
    headers = {k: v for k, v in url["headers"].items() if k.lower() != "content-length"}
    headers["Content-Length"] = str(length)
    headers.setdefault("Content-Type", "application/octet-stream")
    md5 = hashlib.md5(usedforsecurity=False) if check_md5 else None
    counted = 0

    def count(n: int) -> None:
        nonlocal counted
        counted += n
        on_bytes(n)

    try:
        response = client.request(
            url.get("method") or "PUT",
            url["url"],
            headers=headers,
            content=file_chunks(path, offset, length, md5=md5, on_bytes=count, stop=stop),
        )
    except BaseException:
        on_bytes(-counted)
        raise
    status = response.status_code
    if status >= 300:
        on_bytes(-counted)
    if status in (200, 201, 204):
        etag = response.headers.get("ETag", "")
        if md5 is not None:
            match = _PLAIN_MD5_ETAG.match(etag)
            # Only a plain-MD5 ETag can be checked (SSE-KMS answers something else).
            if match and match.group(1).lower() != md5.hexdigest():
                on_bytes(-counted)
                raise ChecksumMismatch(f"ETag {etag} is not the MD5 of the part sent")
        return etag
    if status == 412:
        raise AlreadyStored()
    if status == 403:
        raise UrlExpired(_storage_error_code(response))
    if status == 404:
        raise UploadGone(_storage_error_code(response))
    raise_for_transient(response)
    raise BodyRejected(f"storage refused the bytes (HTTP {status})", _storage_error_code(response))
