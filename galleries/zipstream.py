"""A ZIP that streams: entries go out as they are read, nothing is seeked or held whole.

Pure (no Django, no storage): the caller hands in a ``write(bytes)`` sink and, per entry, an
iterable of byte chunks. That is what a ZIP of a 50 GB gallery needs: each original is copied
from storage to the sink chunk by chunk, and the sink (a multipart upload) ships the bytes on.

The format is the standard library's ``zipfile``: on a sink that cannot seek it writes each
entry's CRC and sizes in a data descriptor after the data, and ZIP64 where a 32-bit field
would overflow (from 2 GiB on, to be safe). This module only adapts it to chunks and a write
callable, and says per entry whether ZIP64 is needed before the data is seen.

It replaced a 200-line writer of our own once ``bench/bench_zipstream.py`` showed the two
equal where it matters (200 x 5 MB stored to a counting sink, three runs on a shared 2-core
machine): 1.2-2.1 GB/s ours against 1.0-2.8 GB/s ``zipfile``, noise either way and far above
what storage delivers; 0.06 against 0.07 MB peak allocations; byte for byte the same 27,222
bytes of headers; for 50,000 entries 14 against 21 MB of central-directory bookkeeping, little
beside the 16 MiB upload part the build holds anyway.
Neither writer can announce the ZIP's size before it is written, and the build does not need
that: it writes to storage, and the download is served from there with its size.

Entries are *stored* (no compression): JPEG and camera RAW files are already compressed, so
deflate would spend CPU to save next to nothing.
"""

from __future__ import annotations

import re
import time
import zipfile
from collections.abc import Callable, Iterable
from datetime import datetime

__all__ = ["ZipStreamWriter", "sanitize_name", "unique_name"]

ZIP16_LIMIT = 0xFFFF
_UNIX_FILE_MODE = 0o100644 << 16  # a regular file, rw-r--r--
_UNIX = 3


class _Counter:
    """The file object ``zipfile`` writes to: it can tell its position, but not seek, so
    ``zipfile`` streams (data descriptors) instead of going back to patch headers."""

    def __init__(self, sink: Callable[[bytes], object]) -> None:
        self._sink = sink
        self.position = 0

    def write(self, data: bytes) -> int:
        if data:
            self._sink(data)
            self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass


def _date_time(moment: datetime | None) -> tuple[int, ...]:
    parts = tuple((moment.timetuple() if moment else time.localtime())[:6])
    # The DOS date's range; zipfile refuses a time outside it rather than clamping.
    if parts[0] < 1980:
        return (1980, 1, 1, 0, 0, 0)
    if parts[0] > 2107:
        return (2107, 12, 31, 23, 59, 58)
    return parts


class ZipStreamWriter:
    """Write a ZIP to ``sink`` one entry at a time; :meth:`close` writes the central directory.

    Memory: one chunk of the entry being copied, plus a ``ZipInfo`` per entry for the central
    directory (a 50,000-photo gallery: about 20 MB).
    """

    def __init__(self, sink: Callable[[bytes], object], *, force_zip64: bool = False) -> None:
        self._out = _Counter(sink)
        self._force_zip64 = force_zip64
        self._zip = zipfile.ZipFile(self._out, "w", zipfile.ZIP_STORED, allowZip64=True)
        self._closed = False

    @property
    def bytes_written(self) -> int:
        return self._out.position

    @property
    def entry_count(self) -> int:
        return len(self._zip.filelist)

    def add(
        self,
        name: str,
        chunks: Iterable[bytes],
        *,
        size_hint: int | None = None,
        modified: datetime | None = None,
    ) -> int:
        """Append a stored entry named ``name`` with the bytes of ``chunks``; returns its size.

        ``size_hint`` (the expected size) decides whether the entry is written as ZIP64
        before its data is seen; without it, ZIP64 is assumed (always correct, a few bytes
        more). Data larger than a hint that left ZIP64 out is an error, not a corrupt file.
        """
        if self._closed:
            raise ValueError("the ZIP is closed")
        if not name or len(name.encode("utf-8")) > ZIP16_LIMIT:
            raise ValueError("an entry name must be 1..65535 bytes")
        info = zipfile.ZipInfo(name, _date_time(modified))
        info.compress_type = zipfile.ZIP_STORED
        info.create_system = _UNIX
        info.external_attr = _UNIX_FILE_MODE
        # zipfile decides ZIP64 from file_size when the entry is opened (over 2 GiB - 1)
        info.file_size = size_hint or 0
        size = 0
        try:
            with self._zip.open(
                info, "w", force_zip64=self._force_zip64 or size_hint is None
            ) as entry:
                for chunk in chunks:
                    entry.write(chunk)
                    size += len(chunk)
        except RuntimeError as exc:  # zipfile's "File size too large, try using force_zip64"
            raise ValueError(
                f"{name!r} is {size} bytes, too large for its size hint without ZIP64"
            ) from exc
        return size

    def close(self) -> int:
        """Write the central directory and the end records; returns the ZIP's total size."""
        if not self._closed:
            self._closed = True
            self._zip.close()
        return self._out.position


# --- Names inside the ZIP ---------------------------------------------------------------------
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
MAX_NAME_CHARS = 200


def sanitize_name(name: str, *, fallback: str = "file") -> str:
    """One safe path segment: no separators, no control or Windows-reserved characters, no
    leading dots (so never ``..`` or a hidden file), and a bounded length that keeps the
    extension. Unzipping can then never write outside the target folder."""
    cleaned = _UNSAFE.sub("_", name).strip().lstrip(".").strip()
    if not cleaned:
        return fallback
    if len(cleaned) > MAX_NAME_CHARS:
        stem, dot, ext = cleaned.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            cleaned = f"{stem[: MAX_NAME_CHARS - len(ext) - 1]}.{ext}"
        else:
            cleaned = cleaned[:MAX_NAME_CHARS]
    return cleaned


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``stem (2).ext``, ``stem (3).ext``... the first not in ``taken`` (compared
    case-insensitively: Windows and macOS would overwrite ``IMG_1.JPG`` with ``img_1.jpg``).
    Adds the result to ``taken``."""
    folder, slash, leaf = name.rpartition("/")
    stem, dot, ext = leaf.rpartition(".")
    if not dot or not stem:
        stem, dot, ext = leaf, "", ""
    candidate, number = name, 2
    while candidate.lower() in taken:
        candidate = f"{folder}{slash}{stem} ({number}){dot}{ext}"
        number += 1
    taken.add(candidate.lower())
    return candidate
