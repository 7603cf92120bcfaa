"""A ZIP writer that streams: entries go out as they are read, nothing is seeked or held whole.

Pure (no Django, no storage): the caller hands in a ``write(bytes)`` sink and, per entry, an
iterable of byte chunks. That is what a ZIP of a 50 GB gallery needs: each original is copied
from storage to the sink chunk by chunk, and the sink (a multipart upload) ships the bytes on.

Entries are *stored* (method 0, no compression): JPEG and camera RAW files are already
compressed, so deflate would spend CPU to save next to nothing. As the CRC-32 of an entry is
only known after its data, every entry sets flag bit 3 and is followed by a data descriptor
(CRC and sizes); readers take the authoritative values from the central directory at the end.

ZIP64 (APPNOTE 4.5.3) is used exactly where the classic 32/16-bit fields overflow: an entry of
4 GiB or more (or of unknown size), an entry starting past 4 GiB, more than 65,535 entries, or
a central directory past 4 GiB. ``force_zip64`` writes the ZIP64 records regardless, so tests
can prove the format with small data.
"""

from __future__ import annotations

import re
import struct
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

__all__ = ["ZipStreamWriter", "sanitize_name", "unique_name"]

ZIP32_LIMIT = 0xFFFFFFFF  # the largest value a 32-bit field may hold (it means "see ZIP64")
ZIP16_LIMIT = 0xFFFF
_UTF8_FLAG = 1 << 11
_DESCRIPTOR_FLAG = 1 << 3
_VERSION_ZIP64 = 45
_VERSION_DEFAULT = 20
_VERSION_MADE_BY = (3 << 8) | _VERSION_ZIP64  # Unix, spec 4.5
_UNIX_FILE_MODE = 0o100644 << 16  # a regular file, rw-r--r--

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_DESCRIPTOR32 = struct.Struct("<IIII")
_DESCRIPTOR64 = struct.Struct("<IIQQ")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_END64 = struct.Struct("<IQHHIIQQQQ")
_LOCATOR64 = struct.Struct("<IIQI")


def _dos_time(moment: datetime | None) -> tuple[int, int]:
    parts = (moment.timetuple() if moment else time.localtime())[:6]
    year, month, day, hour, minute, second = parts
    year = min(max(year, 1980), 2107)  # the DOS date's range
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


@dataclass(slots=True)
class _Entry:
    name: bytes
    offset: int
    crc: int
    size: int
    dos_time: int
    dos_date: int
    zip64_local: bool


class ZipStreamWriter:
    """Write a ZIP to ``sink`` one entry at a time; :meth:`close` writes the central directory.

    Memory: one chunk of the entry being copied, plus ~60 bytes and the name per entry for the
    central directory (a 50,000-photo gallery: a few MB).
    """

    def __init__(self, sink: Callable[[bytes], object], *, force_zip64: bool = False) -> None:
        self._sink = sink
        self._force_zip64 = force_zip64
        self._entries: list[_Entry] = []
        self._offset = 0
        self._closed = False

    @property
    def bytes_written(self) -> int:
        return self._offset

    @property
    def entry_count(self) -> int:
        return len(self._entries)

    def _write(self, data: bytes) -> None:
        if data:
            self._sink(data)
            self._offset += len(data)

    def add(
        self,
        name: str,
        chunks: Iterable[bytes],
        *,
        size_hint: int | None = None,
        modified: datetime | None = None,
    ) -> int:
        """Append a stored entry named ``name`` with the bytes of ``chunks``; returns its size.

        ``size_hint`` (the expected size) decides whether the local header announces ZIP64
        sizes in its data descriptor; without it, ZIP64 is assumed (always correct, 8 bytes
        more). A hint under 4 GiB whose data turns out larger is an error, not a corrupt file.
        """
        if self._closed:
            raise ValueError("the ZIP is closed")
        encoded = name.encode("utf-8")
        if not encoded or len(encoded) > ZIP16_LIMIT:
            raise ValueError("an entry name must be 1..65535 bytes")
        zip64_local = self._force_zip64 or size_hint is None or size_hint >= ZIP32_LIMIT
        dos_time, dos_date = _dos_time(modified)
        offset = self._offset
        extra = struct.pack("<HHQQ", 0x0001, 16, 0, 0) if zip64_local else b""
        self._write(
            _LOCAL.pack(
                0x04034B50,
                _VERSION_ZIP64 if zip64_local else _VERSION_DEFAULT,
                _UTF8_FLAG | _DESCRIPTOR_FLAG,
                0,  # stored
                dos_time,
                dos_date,
                0,  # CRC and sizes follow the data, in the descriptor
                0,
                0,
                len(encoded),
                len(extra),
            )
            + encoded
            + extra
        )
        crc = 0
        size = 0
        for chunk in chunks:
            if not chunk:
                continue
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            self._write(chunk)
        if size >= ZIP32_LIMIT and not zip64_local:
            raise ValueError(f"{name!r} is {size} bytes, over its size hint's 4 GiB limit")
        if zip64_local:
            self._write(_DESCRIPTOR64.pack(0x08074B50, crc, size, size))
        else:
            self._write(_DESCRIPTOR32.pack(0x08074B50, crc, size, size))
        self._entries.append(_Entry(encoded, offset, crc, size, dos_time, dos_date, zip64_local))
        return size

    def close(self) -> int:
        """Write the central directory and the end records; returns the ZIP's total size."""
        if self._closed:
            return self._offset
        self._closed = True
        directory_start = self._offset
        for entry in self._entries:
            self._write(self._central_header(entry))
        directory_size = self._offset - directory_start
        count = len(self._entries)
        needs_zip64 = (
            self._force_zip64
            or count >= ZIP16_LIMIT
            or directory_start >= ZIP32_LIMIT
            or directory_size >= ZIP32_LIMIT
        )
        if needs_zip64:
            end64_offset = self._offset
            self._write(
                _END64.pack(
                    0x06064B50,
                    _END64.size - 12,  # the record's size after this field
                    _VERSION_MADE_BY,
                    _VERSION_ZIP64,
                    0,
                    0,
                    count,
                    count,
                    directory_size,
                    directory_start,
                )
            )
            self._write(_LOCATOR64.pack(0x07064B50, 0, end64_offset, 1))
        self._write(
            _END.pack(
                0x06054B50,
                0,
                0,
                min(count, ZIP16_LIMIT),
                min(count, ZIP16_LIMIT),
                min(directory_size, ZIP32_LIMIT),
                min(directory_start, ZIP32_LIMIT),
                0,
            )
        )
        return self._offset

    def _central_header(self, entry: _Entry) -> bytes:
        # ZIP64 extra field values appear in this fixed order, each only if its 32-bit field
        # holds 0xFFFFFFFF: uncompressed size, compressed size, local header offset.
        big_size = self._force_zip64 or entry.size >= ZIP32_LIMIT
        big_offset = self._force_zip64 or entry.offset >= ZIP32_LIMIT
        values: list[int] = []
        if big_size:
            values += [entry.size, entry.size]
        if big_offset:
            values.append(entry.offset)
        extra = b""
        if values:
            extra = struct.pack(f"<HH{len(values)}Q", 0x0001, 8 * len(values), *values)
        zip64 = bool(values) or entry.zip64_local
        size_field = ZIP32_LIMIT if big_size else entry.size
        return (
            _CENTRAL.pack(
                0x02014B50,
                _VERSION_MADE_BY,
                _VERSION_ZIP64 if zip64 else _VERSION_DEFAULT,
                _UTF8_FLAG | _DESCRIPTOR_FLAG,
                0,
                entry.dos_time,
                entry.dos_date,
                entry.crc,
                size_field,
                size_field,
                len(entry.name),
                len(extra),
                0,  # comment length
                0,  # disk number
                0,  # internal attributes
                _UNIX_FILE_MODE,
                ZIP32_LIMIT if big_offset else entry.offset,
            )
            + entry.name
            + extra
        )


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
