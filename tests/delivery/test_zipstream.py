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
    assert (b"PK\x06\x06" in data) is force_zip64


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
    from galleries import zipstream

    monkeypatch.setattr(zipstream, "ZIP32_LIMIT", 10)
    writer = ZipStreamWriter(io.BytesIO().write)
    with pytest.raises(ValueError, match="4 GiB"):
        writer.add("big", [b"x" * 11], size_hint=5)


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
