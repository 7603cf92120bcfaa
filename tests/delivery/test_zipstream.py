"""The streaming ZIP writer, read back by the standard library's zipfile."""

from __future__ import annotations

import io
import struct
import zipfile
from datetime import datetime

import pytest

from galleries.zipstream import ZIP16_LIMIT, ZipStreamWriter, sanitize_name, unique_name


def build(entries, **options) -> bytes:
    out = io.BytesIO()
    writer = ZipStreamWriter(out.write, **options)
    for name, chunks, hint in entries:
        writer.add(name, chunks, size_hint=hint, modified=datetime(2025, 6, 14, 15, 30, 10))
    total = writer.close()
    assert total == len(out.getvalue()) == writer.bytes_written
    return out.getvalue()


@pytest.mark.parametrize("force_zip64", [False, True])
def test_entries_read_back_byte_for_byte(force_zip64):
    payload = bytes(range(256)) * 4096  # 1 MiB, in uneven chunks
    chunks = [payload[i : i + 70_000] for i in range(0, len(payload), 70_000)]
    data = build(
        [
            ("Ceremony/IMG_0001.jpg", chunks, len(payload)),
            ("Été/ünïcode.CR3", [b"raw"], None),  # unknown size: ZIP64 descriptor
            ("empty.txt", [], 0),
        ],
        force_zip64=force_zip64,
    )
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    assert archive.namelist() == ["Ceremony/IMG_0001.jpg", "Été/ünïcode.CR3", "empty.txt"]
    assert archive.read("Ceremony/IMG_0001.jpg") == payload
    assert archive.read("Été/ünïcode.CR3") == b"raw"
    assert archive.read("empty.txt") == b""
    info = archive.getinfo("Ceremony/IMG_0001.jpg")
    assert info.compress_type == zipfile.ZIP_STORED
    assert info.date_time == (2025, 6, 14, 15, 30, 10)
    # forced, even the first entry (its size known and small) has ZIP64 sizes: a 20-byte
    # extra field in its local header and a 64-bit data descriptor
    extra_length = struct.unpack("<H", data[28:30])[0]
    assert (extra_length == 20) is force_zip64


def test_more_than_65535_entries_use_zip64_end_records():
    count = ZIP16_LIMIT + 10
    data = build([(f"f{n}", [b"x"], 1) for n in range(count)])
    end = data[-22:]
    assert struct.unpack("<H", end[10:12])[0] == ZIP16_LIMIT  # "see the ZIP64 record"
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert len(archive.infolist()) == count
    assert archive.read(f"f{count - 1}") == b"x"


def test_forced_zip64_central_directory_holds_sizes_and_offsets():
    data = build([("a", [b"1234"], 4), ("b", [b"56"], 2)], force_zip64=True)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert [archive.read(name) for name in ("a", "b")] == [b"1234", b"56"]
    assert all(info.file_size < 10 for info in archive.infolist())


def test_data_larger_than_its_32_bit_hint_is_refused_not_corrupted(monkeypatch):
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 10)  # the format's limit, made small
    writer = ZipStreamWriter(io.BytesIO().write)
    with pytest.raises(ValueError, match="without ZIP64"):
        writer.add("big", [b"x" * 11], size_hint=5)


@pytest.mark.parametrize(
    ("modified", "stored"),
    [
        (datetime(1970, 1, 1, 0, 0, 0), (1980, 1, 1, 0, 0, 0)),
        (datetime(2200, 5, 5, 5, 5, 5), (2107, 12, 31, 23, 59, 58)),
    ],
)
def test_a_time_outside_the_zip_date_range_is_clamped(modified, stored):
    out = io.BytesIO()
    writer = ZipStreamWriter(out.write)
    writer.add("old.jpg", [b"x"], size_hint=1, modified=modified)
    writer.close()
    assert zipfile.ZipFile(io.BytesIO(out.getvalue())).getinfo("old.jpg").date_time == stored


def test_the_sink_is_written_in_order_without_seeking():
    # a multipart upload can only append: a writer that went back to patch a header would
    # need a seekable file; this sink has only write()
    pieces: list[bytes] = []
    writer = ZipStreamWriter(pieces.append)
    writer.add("a.jpg", iter([b"12", b"34"]), size_hint=4)
    writer.add("b.jpg", iter([b"5"]), size_hint=None)
    total = writer.close()
    data = b"".join(pieces)
    assert total == len(data) == writer.bytes_written and writer.entry_count == 2
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.read("a.jpg") == b"1234" and archive.read("b.jpg") == b"5"
    assert all(info.flag_bits & 0x08 for info in archive.infolist())  # data descriptors
    assert all(info.external_attr >> 16 == 0o100644 for info in archive.infolist())


def test_a_closed_writer_takes_no_more_entries():
    writer = ZipStreamWriter(io.BytesIO().write)
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.add("late", [b"x"], size_hint=1)


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("IMG_1.jpg", "IMG_1.jpg"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("..", "file"),
        ("a/b\\c.jpg", "a_b_c.jpg"),
        ("  .hidden.jpg ", "hidden.jpg"),
        ('bad:*?"<>|\x00name.jpg', "bad________name.jpg"),
        ("", "file"),
        ("x" * 300 + ".jpeg", "x" * 195 + ".jpeg"),
    ],
)
def test_names_are_sanitised_to_one_safe_segment(raw, safe):
    assert sanitize_name(raw) == safe


def test_duplicate_names_get_a_number_case_insensitively():
    taken: set[str] = set()
    names = ["IMG_1.jpg", "IMG_1.jpg", "img_1.JPG", "Album/IMG_1.jpg", "Album/IMG_1.jpg", "README"]
    assert [unique_name(name, taken) for name in names] == [
        "IMG_1.jpg",
        "IMG_1 (2).jpg",
        "img_1 (3).JPG",
        "Album/IMG_1.jpg",
        "Album/IMG_1 (2).jpg",
        "README",
    ]
    assert unique_name("README", taken) == "README (2)"
