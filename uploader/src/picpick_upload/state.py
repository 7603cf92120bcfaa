"""The local state database: what was pushed where, so any run can resume the last one.

One SQLite file in the user's data dir, in WAL mode, written through one connection under a
lock (threads of a push share it; a concurrent ``status`` reads beside it). Every step is
recorded as soon as it happened (upload started, each part's ETag, completion), each in its
own transaction, so a ``kill -9`` at any point loses at most the step in flight -- and the
server is asked again on resume (the parts storage has, the upload's state), so even that is
not sent twice.

A file is keyed by server + gallery + path, and carries the size, mtime and SHA-256 it had when
it was started: a file found with another size or mtime is hashed again, and with another
hash it is a new file (a new upload; the old pending one is aborted).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    server TEXT NOT NULL,
    gallery_id TEXT NOT NULL,
    path TEXT NOT NULL,
    relpath TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    batch_id TEXT,
    upload_id TEXT,
    method TEXT,
    part_size INTEGER NOT NULL DEFAULT 0,
    part_count INTEGER NOT NULL DEFAULT 0,
    photo_id TEXT,
    code TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL,
    PRIMARY KEY (server, gallery_id, path)
);
CREATE INDEX IF NOT EXISTS files_upload ON files (upload_id);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    etag TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
CREATE TABLE IF NOT EXISTS hashes (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pushes (
    server TEXT NOT NULL,
    gallery_id TEXT NOT NULL,
    folder TEXT NOT NULL,
    gallery_name TEXT NOT NULL DEFAULT '',
    started_at REAL NOT NULL,
    finished_at REAL,
    outcome TEXT NOT NULL DEFAULT 'running',
    PRIMARY KEY (server, gallery_id, folder)
);
CREATE TABLE IF NOT EXISTS new_galleries (
    server TEXT NOT NULL,
    studio_id TEXT NOT NULL,
    folder TEXT NOT NULL,
    name TEXT NOT NULL,
    gallery_id TEXT NOT NULL,
    PRIMARY KEY (server, studio_id, folder, name)
);
"""

# File states. ``started``: the service knows it (an upload id); ``completed``: its bytes are
# verified in the gallery; ``duplicate``: the gallery already had the same bytes; ``failed``:
# refused or failed verification (the server's code and message are kept).
PENDING = "pending"
STARTED = "started"
COMPLETED = "completed"
DUPLICATE = "duplicate"
FAILED = "failed"
DONE_STATES = frozenset({COMPLETED, DUPLICATE})


@dataclass
class FileRow:
    server: str
    gallery_id: str
    path: str
    relpath: str
    size: int
    mtime_ns: int
    sha256: str
    generation: int
    state: str
    batch_id: str | None
    upload_id: str | None
    method: str | None
    part_size: int
    part_count: int
    photo_id: str | None
    code: str
    message: str
    updated_at: float


@dataclass
class PushRow:
    server: str
    gallery_id: str
    folder: str
    gallery_name: str
    started_at: float
    finished_at: float | None
    outcome: str


class StateDB:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self._lock = threading.RLock()
        # isolation_level=None: autocommit, transactions only where ``transaction`` opens one.
        self._conn = sqlite3.connect(
            str(path), check_same_thread=False, isolation_level=None, timeout=30.0
        )
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a killed process (not a power cut mid-write, which
            # loses at most the last steps: the server is asked again on resume).
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=OFF")
            self._conn.executescript(SCHEMA)
            self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: Iterable[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    def _execute(self, sql: str, params: Iterable[object] = ()) -> None:
        with self._lock:
            self._conn.execute(sql, tuple(params))

    # -- hash cache --
    def cached_hash(self, path: str, size: int, mtime_ns: int) -> str | None:
        rows = self._query(
            "SELECT sha256 FROM hashes WHERE path=? AND size=? AND mtime_ns=?",
            (path, size, mtime_ns),
        )
        return rows[0]["sha256"] if rows else None

    def cache_hash(self, path: str, size: int, mtime_ns: int, sha256: str) -> None:
        self._execute(
            "INSERT INTO hashes (path, size, mtime_ns, sha256) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET size=excluded.size, mtime_ns=excluded.mtime_ns, "
            "sha256=excluded.sha256",
            (path, size, mtime_ns, sha256),
        )

    # -- files --
    def file_get(self, server: str, gallery_id: str, path: str) -> FileRow | None:
        rows = self._query(
            "SELECT * FROM files WHERE server=? AND gallery_id=? AND path=?",
            (server, gallery_id, path),
        )
        return FileRow(**dict(rows[0])) if rows else None

    def files_of(self, server: str, gallery_id: str) -> list[FileRow]:
        rows = self._query(
            "SELECT * FROM files WHERE server=? AND gallery_id=? ORDER BY relpath",
            (server, gallery_id),
        )
        return [FileRow(**dict(row)) for row in rows]

    def same_bytes(self, server: str, gallery_id: str, sha256: str) -> list[FileRow]:
        rows = self._query(
            "SELECT * FROM files WHERE server=? AND gallery_id=? AND sha256=?",
            (server, gallery_id, sha256),
        )
        return [FileRow(**dict(row)) for row in rows]

    def file_put(self, row: FileRow) -> None:
        row.updated_at = time.time()
        names = list(FileRow.__dataclass_fields__)
        with self.transaction() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO files ({', '.join(names)}) "  # noqa: S608 -- our names
                f"VALUES ({', '.join('?' for _ in names)})",
                [getattr(row, name) for name in names],
            )

    def file_update(self, row: FileRow, **changes: object) -> None:
        for name, value in changes.items():
            setattr(row, name, value)
        row.updated_at = time.time()
        assignments = ", ".join(f"{name}=?" for name in changes)
        self._execute(
            f"UPDATE files SET {assignments}, updated_at=? "  # noqa: S608 -- our names
            "WHERE server=? AND gallery_id=? AND path=?",
            [*changes.values(), row.updated_at, row.server, row.gallery_id, row.path],
        )

    def file_delete(self, row: FileRow) -> None:
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM files WHERE server=? AND gallery_id=? AND path=?",
                (row.server, row.gallery_id, row.path),
            )
            if row.upload_id:
                conn.execute("DELETE FROM parts WHERE upload_id=?", (row.upload_id,))

    # -- parts --
    def parts_done(self, upload_id: str) -> dict[int, tuple[str, int]]:
        rows = self._query(
            "SELECT part_number, etag, size FROM parts WHERE upload_id=?", (upload_id,)
        )
        return {row["part_number"]: (row["etag"], row["size"]) for row in rows}

    def part_done(self, upload_id: str, part_number: int, etag: str, size: int) -> None:
        self._execute(
            "INSERT OR REPLACE INTO parts (upload_id, part_number, etag, size) VALUES (?, ?, ?, ?)",
            (upload_id, part_number, etag, size),
        )

    def parts_forget(self, upload_id: str) -> None:
        self._execute("DELETE FROM parts WHERE upload_id=?", (upload_id,))

    # -- pushes --
    def push_begin(self, server: str, gallery_id: str, folder: str, gallery_name: str) -> None:
        self._execute(
            "INSERT INTO pushes (server, gallery_id, folder, gallery_name, started_at, outcome) "
            "VALUES (?, ?, ?, ?, ?, 'running') ON CONFLICT(server, gallery_id, folder) DO UPDATE "
            "SET started_at=excluded.started_at, finished_at=NULL, outcome='running', "
            "gallery_name=excluded.gallery_name",
            (server, gallery_id, folder, gallery_name, time.time()),
        )

    def push_end(self, server: str, gallery_id: str, folder: str, outcome: str) -> None:
        self._execute(
            "UPDATE pushes SET finished_at=?, outcome=? WHERE server=? AND gallery_id=? "
            "AND folder=?",
            (time.time(), outcome, server, gallery_id, folder),
        )

    def pushes(self) -> list[PushRow]:
        rows = self._query("SELECT * FROM pushes ORDER BY started_at DESC")
        return [PushRow(**dict(row)) for row in rows]

    def folder_files(self, server: str, gallery_id: str, folder: str) -> list[FileRow]:
        prefix = folder.rstrip("/") + "/"
        rows = self._query(
            "SELECT * FROM files WHERE server=? AND gallery_id=? AND substr(path, 1, ?)=?",
            (server, gallery_id, len(prefix), prefix),
        )
        return [FileRow(**dict(row)) for row in rows]

    # -- galleries made by --new-gallery --
    def new_gallery_get(self, server: str, studio_id: str, folder: str, name: str) -> str | None:
        rows = self._query(
            "SELECT gallery_id FROM new_galleries WHERE server=? AND studio_id=? AND folder=? "
            "AND name=?",
            (server, studio_id, folder, name),
        )
        return rows[0]["gallery_id"] if rows else None

    def new_gallery_put(
        self, server: str, studio_id: str, folder: str, name: str, gallery_id: str
    ) -> None:
        self._execute(
            "INSERT OR REPLACE INTO new_galleries (server, studio_id, folder, name, gallery_id) "
            "VALUES (?, ?, ?, ?, ?)",
            (server, studio_id, folder, name, gallery_id),
        )


def open_state(data_dir: Path) -> StateDB:
    return StateDB(data_dir / "state.sqlite3")
