"""The uploader's pure parts: finding files, the state db, keys, retry waits, event parsing."""

from __future__ import annotations

import os
import sqlite3
import threading

import pytest
import tenacity
from picpick_upload import scanner
from picpick_upload.api import normalize_api_url, token_expiry
from picpick_upload.config import Session, session_load, session_save
from picpick_upload.engine import idempotency_key
from picpick_upload.errors import NetworkGaveUp, TransientHttpError, UsageError
from picpick_upload.processing import is_finished, sse_events
from picpick_upload.retry import RetryPolicy, _Wait, call_with_retries, retry_after_seconds
from picpick_upload.state import COMPLETED, STARTED, FileRow, StateDB


def _touch(path, data: bytes = b"x") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_scan_finds_accepted_photos_case_insensitively_and_skips_sidecars_and_hidden(tmp_path):
    for name in (
        "a.CR2",
        "b.cr3",
        "c.NEF",
        "d.arw",
        "e.RAF",
        "f.orf",
        "g.Rw2",
        "h.dng",
        "i.JPG",
        "j.jpeg",
        "k.HEIC",
        "l.heif",
        "m.png",
        "n.TIF",
        "o.tiff",
        "sub/deeper/p.jpg",
    ):
        _touch(tmp_path / name)
    for name in ("a.xmp", "a.THM", ".DS_Store", "._a.jpg", ".cache/q.jpg", "sub/.git/r.jpg"):
        _touch(tmp_path / name)
    _touch(tmp_path / "notes.txt")
    _touch(tmp_path / "clip.mov")

    photos, ignored = scanner.scan(tmp_path)

    assert [f.relpath for f in photos] == sorted(
        [
            "a.CR2",
            "b.cr3",
            "c.NEF",
            "d.arw",
            "e.RAF",
            "f.orf",
            "g.Rw2",
            "h.dng",
            "i.JPG",
            "j.jpeg",
            "k.HEIC",
            "l.heif",
            "m.png",
            "n.TIF",
            "o.tiff",
            "sub/deeper/p.jpg",
        ]
    )
    assert ignored == ["clip.mov", "notes.txt"]
    assert {f.content_type for f in photos if f.relpath.endswith("NEF")} == {"image/x-nikon-nef"}


def test_sha256_is_the_base64_digest_the_api_takes(tmp_path):
    path = tmp_path / "a.jpg"
    data = os.urandom(3 * scanner.HASH_CHUNK + 17)
    path.write_bytes(data)
    import base64
    import hashlib

    assert scanner.sha256_file(path) == base64.b64encode(hashlib.sha256(data).digest()).decode()


def _row(**changes) -> FileRow:
    values = dict(
        server="https://picpick.test",
        gallery_id="g1",
        path="/photos/a.jpg",
        relpath="a.jpg",
        size=10,
        mtime_ns=5,
        sha256="h",
        generation=0,
        state=STARTED,
        batch_id="b1",
        upload_id="u1",
        method="multipart",
        part_size=4,
        part_count=3,
        photo_id=None,
        code="",
        message="",
        updated_at=0.0,
    )
    values.update(changes)
    return FileRow(**values)


def test_state_db_keeps_files_parts_and_hashes_across_reopening(tmp_path):
    db = StateDB(tmp_path / "state.sqlite3")
    row = _row()
    db.file_put(row)
    db.part_done("u1", 1, '"etag1"', 4)
    db.part_done("u1", 2, '"etag2"', 4)
    db.cache_hash("/photos/a.jpg", 10, 5, "h")
    db.file_update(row, state=COMPLETED, photo_id="p1")
    db.close()

    db = StateDB(tmp_path / "state.sqlite3")
    again = db.file_get("https://picpick.test", "g1", "/photos/a.jpg")
    assert again is not None and again.state == COMPLETED and again.photo_id == "p1"
    assert db.parts_done("u1") == {1: ('"etag1"', 4), 2: ('"etag2"', 4)}
    assert db.cached_hash("/photos/a.jpg", 10, 5) == "h"
    assert db.cached_hash("/photos/a.jpg", 10, 6) is None  # touched: hashed again
    assert db.file_get("https://other.test", "g1", "/photos/a.jpg") is None
    db.close()
    mode = sqlite3.connect(tmp_path / "state.sqlite3").execute("PRAGMA journal_mode").fetchone()
    assert mode[0] == "wal"


def test_state_db_takes_writes_from_many_threads(tmp_path):
    db = StateDB(tmp_path / "state.sqlite3")

    def write(n: int) -> None:
        for part in range(1, 51):
            db.part_done(f"u{n}", part, f'"e{part}"', 1)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(len(db.parts_done(f"u{n}")) == 50 for n in range(8))


def test_idempotency_keys_are_stable_per_file_version_and_attempt():
    base = dict(gallery_id="g", path="/a.jpg", size=1, sha256="h", generation=0)
    key = idempotency_key(**base)
    assert key == idempotency_key(**base)
    assert len(key) <= 100
    for change in (
        {"gallery_id": "g2"},
        {"path": "/b.jpg"},
        {"size": 2},
        {"sha256": "h2"},
        {"generation": 1},
    ):
        assert idempotency_key(**{**base, **change}) != key


def test_retry_after_is_read_as_seconds_or_a_date_and_waited_at_least():
    assert retry_after_seconds("7") == 7
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # in the past
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    wait = _Wait(RetryPolicy(attempts=5, initial_wait=0.01, max_wait=0.05))
    state = tenacity.RetryCallState(None, None, (), {})
    state.set_exception((TransientHttpError, TransientHttpError(429, "slow down", 3.0), None))
    assert wait(state) >= 3.0


def test_transient_failures_are_retried_then_give_up_as_a_network_error():
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TransientHttpError(503, "busy")
        return "ok"

    policy = RetryPolicy(attempts=4, initial_wait=0.0, max_wait=0.0)
    assert call_with_retries(flaky, policy=policy, stop=threading.Event()) == "ok"
    assert len(calls) == 3

    def down() -> str:
        raise TransientHttpError(502, "bad gateway")

    with pytest.raises(NetworkGaveUp):
        call_with_retries(down, policy=policy, stop=threading.Event())


def test_server_sent_events_are_parsed_with_ids_and_comments():
    lines = [
        "retry: 3000",
        "",
        ": keep-alive",
        "",
        "id: 1",
        "event: progress",
        'data: {"a": 1}',
        "",
        "id: 2",
        "event: progress",
        'data: {"a":',
        "data: 2}",
        "",
    ]
    assert list(sse_events(iter(lines))) == [
        ("1", "progress", '{"a": 1}'),
        ("2", "progress", '{"a":\n2}'),
    ]
    assert is_finished({"uploaded": 3, "processed": 2, "failed": 1})
    assert not is_finished({"uploaded": 3, "processed": 2, "failed": 0})


def test_api_urls_and_token_expiry():
    assert normalize_api_url("https://picpick.test/api/v1/") == "https://picpick.test"
    with pytest.raises(UsageError):
        normalize_api_url("picpick.test")
    import base64
    import json

    payload = base64.urlsafe_b64encode(json.dumps({"exp": 1234}).encode()).decode().rstrip("=")
    assert token_expiry(f"h.{payload}.s") == 1234
    assert token_expiry("garbage") is None


def test_the_session_file_is_created_readable_by_its_owner_only(tmp_path, monkeypatch):
    monkeypatch.setenv("PICPICK_UPLOAD_CONFIG_DIR", str(tmp_path / "cfg"))
    old = os.umask(0)  # even a permissive umask does not open it up
    try:
        session_save(Session("https://p.test", "a@b.c", "s", "S", "s", "acc", "ref"))
    finally:
        os.umask(old)
    path = tmp_path / "cfg" / "session.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert session_load() == Session("https://p.test", "a@b.c", "s", "S", "s", "acc", "ref")


def test_log_lines_never_carry_signatures_or_tokens(caplog):
    import logging

    from picpick_upload.cli import _Redact

    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        "HTTP Request: PUT %s with %s",
        ("https://s3.test/b/k?X-Amz-Signature=abc123&x=1", "Authorization: Bearer eyJ.abc.def"),
        None,
    )
    _Redact().filter(record)
    assert "abc123" not in record.getMessage() and "eyJ" not in record.getMessage()
    assert "X-Amz-Signature=[redacted]&x=1" in record.getMessage()
