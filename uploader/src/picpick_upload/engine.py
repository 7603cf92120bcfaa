"""The push engine: hash, start batches, send bytes in parallel, complete, resume.

One orchestrating loop owns every file's state and takes events from worker pools (hashing,
uploading, completing) through a queue, so the state machine is in one place:

    found --hash--> hashed --start (batch of <= 500)--> started --PUT bytes--> sent
          --complete (grouped per batch)--> completed

and side exits: ``duplicate`` (the gallery has the same bytes), ``failed`` (the server's code
and message), ``vanished``, and back to ``found`` for a file that changed while being sent or
whose upload the server no longer has (a new upload, with a new idempotency key).

Every transition is written to the state db before the next step, and every step can be
repeated: starts carry deterministic idempotency keys (a repeated start answers the same
upload), parts the server already has are never sent again, a single PUT is create-only (a
412 means it is stored), completes are idempotent.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from picpick_upload import scanner, state, transfer
from picpick_upload.api import Api
from picpick_upload.errors import (
    ApiError,
    Interrupted,
    NetworkGaveUp,
    UploaderError,
)
from picpick_upload.output import Reporter
from picpick_upload.scanner import FoundFile
from picpick_upload.sending import FileFailed, Restart, Sender, Vanished
from picpick_upload.state import FileRow, StateDB

logger = logging.getLogger(__name__)

MAX_FILES_PER_BATCH = 500  # the API's limit per start request
# How long a lone hashed file waits for company before its batch starts anyway.
BATCH_LINGER_SECONDS = 1.0
COMPLETE_GROUP = 100
COMPLETE_LINGER_SECONDS = 0.3
# A file that keeps changing (or keeps losing its upload) is given up after this many tries.
MAX_RESTARTS = 5

# Rejections at start that mean "the gallery already has it".
DUPLICATE_CODES = frozenset({"duplicate"})


@dataclass
class PushOptions:
    server: str
    gallery_id: str
    folder: Path
    album_id: str | None = None
    concurrency: int = 4
    part_concurrency: int = 4
    hash_threads: int = 4


@dataclass
class PushResult:
    total: int = 0
    uploaded: int = 0  # completed in this run
    already: int = 0  # completed by an earlier run
    duplicates: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # relpath, code, message
    changed: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    bytes_sent: int = 0
    puts: int = 0
    batch_ids: set[str] = field(default_factory=set)
    interrupted: bool = False
    network_error: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted and not self.network_error


@dataclass
class Item:
    found: FoundFile
    row: FileRow | None = None
    restarts: int = 0
    upload: dict | None = None  # the API's upload object (urls, parts) from start/resume
    hashed_at: float = 0.0

    @property
    def relpath(self) -> str:
        return self.found.relpath


def idempotency_key(*, gallery_id: str, path: str, size: int, sha256: str, generation: int) -> str:
    """The same file, version and attempt always get the same key (so a repeated start is a
    replay), another version or a new attempt a new one."""
    material = f"{gallery_id}\n{path}\n{size}\n{sha256}\n{generation}".encode()
    return "pu1-" + hashlib.sha256(material).hexdigest()[:48]


class Engine:
    def __init__(
        self,
        *,
        api: Api,
        db: StateDB,
        options: PushOptions,
        reporter: Reporter,
        stop: threading.Event,
    ) -> None:
        self.api = api
        self.db = db
        self.options = options
        self.reporter = reporter
        self.stop = stop
        self.events: queue.Queue[tuple[str, Item, object]] = queue.Queue()
        self.storage = transfer.storage_client(
            max(4, options.concurrency * max(1, options.part_concurrency))
        )
        self.stats = transfer.SendStats()
        self._bytes_lock = threading.Lock()
        self.bytes_sent = 0
        self._requeued = 0
        self.sender = Sender(
            api=api,
            db=db,
            options=options,
            reporter=reporter,
            stop=stop,
            storage=self.storage,
            stats=self.stats,
            on_bytes=self._on_bytes,
        )

    def close(self) -> None:
        self.storage.close()

    # -- byte accounting (from worker threads) --
    def _on_bytes(self, n: int) -> None:
        with self._bytes_lock:
            self.bytes_sent += n
        self.reporter.bytes_sent(n)

    # ------------------------------------------------------------------------------------
    def run(self, files: list[FoundFile]) -> PushResult:
        """Push ``files``; returns when each is done, skipped or failed (or on stop)."""
        result = PushResult(total=len(files))
        opts = self.options
        items = [Item(found=f) for f in files]
        self.reporter.start(
            total_files=len(items),
            total_bytes=sum(f.size for f in files),
            gallery_id=opts.gallery_id,
        )
        hash_pool = ThreadPoolExecutor(max(1, opts.hash_threads), thread_name_prefix="hash")
        file_pool = ThreadPoolExecutor(max(1, opts.concurrency), thread_name_prefix="upload")
        start_pool = ThreadPoolExecutor(1, thread_name_prefix="start")
        complete_pool = ThreadPoolExecutor(1, thread_name_prefix="complete")
        running: set[Future] = set()
        to_start: list[Item] = []
        to_complete: list[Item] = []
        last_complete_flush = time.monotonic()
        hashing = starting = uploading = completing = 0

        def submit(pool: ThreadPoolExecutor, fn: Callable[..., None], *args: object) -> None:
            future = pool.submit(self._guard, fn, *args)
            running.add(future)
            future.add_done_callback(running.discard)

        for item in items:
            hashing += 1
            submit(hash_pool, self._hash, item)

        try:
            while (
                hashing
                or to_start
                or starting
                or uploading
                or to_complete
                or completing
                or self._requeued
            ):
                if self.stop.is_set():
                    result.interrupted = True
                    break
                try:
                    kind, item, payload = self.events.get(timeout=0.2)
                except queue.Empty:
                    kind, item, payload = "tick", None, None  # type: ignore[assignment]
                if kind == "hashed":
                    hashing -= 1
                    assert item is not None
                    if item.row is not None and item.row.state in state.DONE_STATES:
                        self._count_done_before(item, result)
                    else:
                        item.hashed_at = time.monotonic()
                        to_start.append(item)
                elif kind == "started":  # payload: list of (item, outcome)
                    starting -= 1
                    uploading_delta, completed = self._after_start(payload, result)  # type: ignore[arg-type]
                    for ready in uploading_delta:
                        uploading += 1
                        submit(file_pool, self._upload, ready)
                    to_complete.extend(completed)
                elif kind == "sent":
                    uploading -= 1
                    assert item is not None
                    to_complete.append(item)
                elif kind == "restart":
                    assert item is not None
                    if payload in ("upload", "changed"):
                        uploading -= 1
                    elif payload == "hash":
                        hashing -= 1
                    else:  # requeued by this loop itself ("start", "complete")
                        self._requeued -= 1
                    if payload == "changed":
                        result.changed.append(item.relpath)
                    item.restarts += 1
                    if item.restarts > MAX_RESTARTS:
                        self._fail(item, "too_many_restarts", "The file kept changing.", result)
                    else:
                        hashing += 1
                        submit(hash_pool, self._hash, item)
                elif kind in ("failed", "vanished"):
                    assert item is not None
                    if payload and isinstance(payload, tuple) and payload[0] == "upload":
                        uploading -= 1
                    if kind == "failed":
                        code, message = payload[1], payload[2]  # type: ignore[index]
                        self._fail(item, code, message, result)
                    else:
                        result.vanished.append(item.relpath)
                        self.reporter.file_vanished(item.relpath)
                elif kind == "hash_vanished":
                    hashing -= 1
                    assert item is not None
                    result.vanished.append(item.relpath)
                    self.reporter.file_vanished(item.relpath)
                elif kind == "completed":
                    completing -= 1
                    for done_item, outcome in payload:  # type: ignore[union-attr]
                        self._after_complete(done_item, outcome, result)
                        if outcome.get("_restart"):
                            self._requeue(done_item, "complete")
                        elif outcome.get("_resend"):
                            uploading += 1
                            submit(file_pool, self._upload, done_item)
                elif kind == "fatal":
                    raise payload  # type: ignore[misc]

                # Start a batch when enough files are hashed, or hashing is over, or the
                # first one waited long enough; keep at most one batch queued ahead of the
                # uploaders so URLs are fresh when used.
                now = time.monotonic()
                if (
                    to_start
                    and uploading < MAX_FILES_PER_BATCH // 2
                    and not starting
                    and (
                        len(to_start) >= MAX_FILES_PER_BATCH
                        or hashing == 0
                        or now - to_start[0].hashed_at >= BATCH_LINGER_SECONDS
                    )
                ):
                    group = to_start[:MAX_FILES_PER_BATCH]
                    del to_start[: len(group)]
                    starting += 1
                    submit(start_pool, self._start_batch, group)
                if to_complete and (
                    len(to_complete) >= COMPLETE_GROUP
                    or now - last_complete_flush >= COMPLETE_LINGER_SECONDS
                    or not (hashing or to_start or starting or uploading)
                ):
                    group = to_complete[:COMPLETE_GROUP]
                    del to_complete[: len(group)]
                    completing += 1
                    last_complete_flush = now
                    submit(complete_pool, self._complete, group)
        except NetworkGaveUp as exc:
            result.network_error = exc.message
            self.stop.set()
        except Interrupted:
            result.interrupted = True
            self.stop.set()
        except BaseException:
            self.stop.set()  # the workers stop too before the error goes up
            raise
        finally:
            if self.stop.is_set() and not result.network_error:
                result.interrupted = True
            for pool in (hash_pool, start_pool, file_pool, complete_pool):
                pool.shutdown(wait=True, cancel_futures=True)
            self._record_late_answers(result)
            result.bytes_sent = self.bytes_sent
            result.puts = self.stats.puts
        return result

    def _requeue(self, item: Item, why: str) -> None:
        """From the loop's own thread: start ``item`` again (counted until the loop takes it,
        so the loop does not end in between)."""
        self._requeued += 1
        self.events.put(("restart", item, why))

    def forget_missing(self, files: list[FoundFile]) -> list[str]:
        """Files an earlier push of this folder started that are no longer there: their
        uploads are aborted (the pending photos released) and they are reported vanished."""
        present = {str(f.path) for f in files}
        gone = []
        for row in self.db.folder_files(
            self.options.server, self.options.gallery_id, str(self.options.folder)
        ):
            if str(row.path) in present or row.state not in (state.PENDING, state.STARTED):
                continue
            if scanner.found_file(self.options.folder, Path(row.path)) is not None:
                continue  # there, but no longer a photo we take (renamed to .txt?): keep
            if row.upload_id:
                self.sender.abort_quietly(row.upload_id)
            self.db.file_delete(row)
            gone.append(row.relpath)
        return gone

    def _record_late_answers(self, result: PushResult) -> None:
        """After a stop: starts and completes answered while the loop was leaving are
        recorded too (the next run would learn them again, but the summary should count them).
        """
        while True:
            try:
                kind, _, payload = self.events.get_nowait()
            except queue.Empty:
                return
            try:
                if kind == "started":
                    self._after_start(payload, result)  # type: ignore[arg-type]
                elif kind == "completed":
                    for item, outcome in payload:  # type: ignore[union-attr]
                        self._after_complete(item, outcome, result)
            except Exception:  # recording is best effort here; the next run asks again
                logger.exception("recording a late answer failed")

    # ------------------------------------------------------------------------------------
    def _guard(self, fn: Callable[..., None], *args: object) -> None:
        """Run a worker step; what it cannot handle reaches the loop as a fatal event."""
        try:
            fn(*args)
        except Interrupted:
            self.stop.set()
        except NetworkGaveUp as exc:
            self.events.put(("fatal", None, exc))  # type: ignore[arg-type]
        except UploaderError as exc:
            self.events.put(("fatal", None, exc))  # type: ignore[arg-type]
        except Exception as exc:
            logger.exception("unexpected error in %s", getattr(fn, "__name__", fn))
            self.events.put(("fatal", None, exc))  # type: ignore[arg-type]

    def _fail(self, item: Item, code: str, message: str, result: PushResult) -> None:
        if item.row is not None:
            self.db.file_update(item.row, state=state.FAILED, code=code, message=message)
        result.failed.append((item.relpath, code, message))
        self.reporter.file_failed(item.relpath, code, message)

    def _count_done_before(self, item: Item, result: PushResult) -> None:
        assert item.row is not None
        if item.row.state == state.DUPLICATE:
            result.duplicates += 1
            self.reporter.file_skipped(item.relpath, item.found.size, "duplicate")
        else:
            result.already += 1
            self.reporter.file_skipped(item.relpath, item.found.size, "already_uploaded")

    # -- hashing ----------------------------------------------------------------------------
    def _hash(self, item: Item) -> None:
        """Bring ``item.row`` up to date with the file on disk (hashing only when needed).

        A file met again with the size and mtime of its row keeps the row (and its hash). A
        restarted file (it changed, or its upload is gone) gets a new generation, so a new
        idempotency key: the next start makes a new upload instead of replaying the old one.
        """
        if item.restarts and self.stop.wait(min(2.0, 0.25 * item.restarts)):
            return
        if self.stop.is_set():
            return
        opts = self.options
        current = scanner.found_file(opts.folder, item.found.path)
        if current is None:
            self.events.put(("hash_vanished", item, None))
            return
        item.found = current
        key = str(current.path)
        row = self.db.file_get(opts.server, opts.gallery_id, key)
        same_stat = row is not None and (row.size, row.mtime_ns) == (current.size, current.mtime_ns)
        if row is not None and same_stat and (item.restarts == 0 or row.state in state.DONE_STATES):
            item.row = row
            self.events.put(("hashed", item, None))
            return
        digest = self.db.cached_hash(key, current.size, current.mtime_ns)
        if digest is None:
            try:
                digest = scanner.sha256_file(current.path, self.stop)
            except FileNotFoundError:
                self.events.put(("hash_vanished", item, None))
                return
            except scanner.HashStopped:
                return
            after = scanner.found_file(opts.folder, current.path)
            if after is None:
                self.events.put(("hash_vanished", item, None))
                return
            if (after.size, after.mtime_ns) != (current.size, current.mtime_ns):
                # Still being written (a card copy in progress): hash it again shortly.
                self.events.put(("restart", item, "hash"))
                return
            self.db.cache_hash(key, current.size, current.mtime_ns, digest)
        if row is not None and row.sha256 == digest and row.state in state.DONE_STATES:
            # Same bytes, only touched: still done.
            self.db.file_update(row, size=current.size, mtime_ns=current.mtime_ns)
            item.row = row
            self.events.put(("hashed", item, None))
            return
        if (
            row is not None
            and row.sha256 != digest
            and row.state == state.STARTED
            and row.upload_id
        ):
            # Changed since an earlier run started it: that upload will never be completed.
            self.sender.abort_quietly(row.upload_id)
            self.db.parts_forget(row.upload_id)
        keep = row is not None and row.sha256 == digest and item.restarts == 0
        generation = 0 if row is None else row.generation + (0 if keep else 1)
        row = FileRow(
            server=opts.server,
            gallery_id=opts.gallery_id,
            path=key,
            relpath=current.relpath,
            size=current.size,
            mtime_ns=current.mtime_ns,
            sha256=digest,
            generation=generation,
            state=row.state if keep and row is not None else state.PENDING,
            batch_id=row.batch_id if keep and row is not None else None,
            upload_id=row.upload_id if keep and row is not None else None,
            method=row.method if keep and row is not None else None,
            part_size=row.part_size if keep and row is not None else 0,
            part_count=row.part_count if keep and row is not None else 0,
            photo_id=None,
            code="",
            message="",
            updated_at=0.0,
        )
        self.db.file_put(row)
        item.row = row
        item.upload = None
        self.events.put(("hashed", item, None))

    # -- starting ---------------------------------------------------------------------------
    def _start_batch(self, group: list[Item]) -> None:
        self.events.put(("started", None, self._start(group)))  # type: ignore[arg-type]

    def _start(self, group: list[Item]) -> list[tuple[Item, dict]]:
        opts = self.options
        files = []
        for item in group:
            assert item.row is not None
            files.append(
                {
                    "name": item.found.name,
                    "size": item.row.size,
                    "content_type": item.found.content_type,
                    "checksum_sha256": item.row.sha256,
                    "idempotency_key": idempotency_key(
                        gallery_id=opts.gallery_id,
                        path=item.row.path,
                        size=item.row.size,
                        sha256=item.row.sha256,
                        generation=item.row.generation,
                    ),
                }
            )
        body: dict = {"files": files}
        if opts.album_id:
            body["album_id"] = opts.album_id
        try:
            answer = self.api.post(
                f"/galleries/{opts.gallery_id}/uploads/", body, what="starting a batch"
            )
        except ApiError as exc:
            if exc.code != "no_files_accepted":
                raise
            answer = {"files": [], "rejected": exc.body.get("error", {}).get("rejected", [])}
        outcomes: list[tuple[Item, dict]] = []
        for started in answer.get("files", []):
            outcomes.append((group[started["index"]], {"started": started}))
        for rejected in answer.get("rejected", []):
            if rejected.get("code") in DUPLICATE_CODES and rejected.get("duplicate_of"):
                rejected["twin_pending"] = self._photo_pending(str(rejected["duplicate_of"]))
            outcomes.append((group[rejected["index"]], {"rejected": rejected}))
        return outcomes

    def _photo_pending(self, photo_id: str) -> bool:
        """Whether the gallery's copy is still waiting for its bytes (not there yet)."""
        try:
            photo = self.api.get(f"/photos/{photo_id}/", what="checking a duplicate")
        except ApiError:
            return False
        return photo.get("state") == "pending"

    def _after_start(
        self, outcomes: list[tuple[Item, dict]], result: PushResult
    ) -> tuple[list[Item], list[Item]]:
        """Record the start's answer; returns (files to upload, files to complete)."""
        to_upload: list[Item] = []
        to_complete: list[Item] = []
        for item, outcome in outcomes:
            row = item.row
            assert row is not None
            if "rejected" in outcome:
                rejected = outcome["rejected"]
                code, message = rejected.get("code", "rejected"), rejected.get("message", "")
                if code in DUPLICATE_CODES and rejected.get("twin_pending"):
                    self._pending_twin(item, result)
                elif code in DUPLICATE_CODES:
                    self.db.file_update(row, state=state.DUPLICATE, code=code, message=message)
                    result.duplicates += 1
                    self.reporter.file_skipped(item.relpath, row.size, "duplicate")
                elif code in ("idempotency_key_reused", "duplicate_idempotency_key"):
                    self._requeue(item, "start")
                else:
                    self._fail(item, code, message, result)
                continue
            upload = outcome["started"]
            result.batch_ids.add(str(upload["batch_id"]))
            self.db.file_update(
                row,
                state=state.STARTED,
                batch_id=str(upload["batch_id"]),
                upload_id=str(upload["upload_id"]),
                method=upload["method"],
                part_size=upload["part_size"],
                part_count=upload["part_count"],
                photo_id=str(upload["photo_id"]) if upload.get("photo_id") else None,
            )
            item.upload = upload
            if upload["state"] == "completed":
                to_complete.append(item)  # completing again answers the same result
            elif upload["state"] != "pending" or upload.get("failure_code"):
                # Aborted, expired or failed verification earlier: a new upload.
                self.db.file_update(row, state=state.PENDING)
                self._requeue(item, "start")
            else:
                to_upload.append(item)
        return to_upload, to_complete

    def _pending_twin(self, item: Item, result: PushResult) -> None:
        """The gallery's copy of these bytes has not arrived yet. If it is an upload this
        computer started under another path (the folder was moved or renamed since), that
        upload is cancelled and this file takes its place; someone else's is waited for."""
        row = item.row
        assert row is not None
        twins = [
            other
            for other in self.db.same_bytes(row.server, row.gallery_id, row.sha256)
            if other.path != row.path and other.state == state.STARTED and other.upload_id
        ]
        if not twins:
            self._fail(
                item,
                "duplicate_pending",
                "The same photo is being uploaded by another upload; run again once it is in.",
                result,
            )
            return
        for twin in twins:
            assert twin.upload_id
            self.sender.abort_quietly(twin.upload_id)
            self.db.file_delete(twin)
        self._requeue(item, "start")

    # -- uploading --------------------------------------------------------------------------
    def _upload(self, item: Item) -> None:
        try:
            self.sender.send(item)
        except Restart as exc:
            if exc.changed:
                self.reporter.file_changed(item.relpath)
            elif item.row is not None and item.row.upload_id:
                # Its multipart upload is gone from storage (or the upload expired): release
                # the pending photo now rather than at the server's sweep (a no-op if done).
                self.sender.abort_quietly(item.row.upload_id)
            self.events.put(("restart", item, "changed" if exc.changed else "upload"))
        except FileFailed as exc:
            self.events.put(("failed", item, ("upload", exc.code, exc.message)))
        except Vanished:
            if item.row is not None and item.row.upload_id:
                self.sender.abort_quietly(item.row.upload_id)
            self.events.put(("vanished", item, ("upload",)))
        else:
            self.events.put(("sent", item, None))

    # -- completing -------------------------------------------------------------------------
    def _complete(self, group: list[Item]) -> None:
        by_batch: dict[str, list[Item]] = defaultdict(list)
        for item in group:
            assert item.row is not None and item.row.batch_id
            by_batch[item.row.batch_id].append(item)
        outcomes: list[tuple[Item, dict]] = []
        for batch_id, items in by_batch.items():
            uploads = []
            for item in items:
                assert item.row is not None
                entry: dict = {"upload_id": item.row.upload_id}
                if item.row.method == "multipart":
                    parts = self.db.parts_done(item.row.upload_id or "")
                    if len(parts) == item.row.part_count:
                        entry["parts"] = [
                            {"part_number": n, "etag": etag}
                            for n, (etag, _) in sorted(parts.items())
                        ]
                uploads.append(entry)
            answer = self.api.post(
                f"/upload-batches/{batch_id}/complete/", {"uploads": uploads}, what="completing"
            )
            by_id = {str(item.row.upload_id): item for item in items if item.row is not None}
            for done in answer.get("completed", []):
                item = by_id.pop(str(done["upload_id"]), None)
                if item is not None:
                    outcomes.append((item, {"completed": done}))
            for failed in answer.get("failed", []):
                item = by_id.pop(str(failed["upload_id"]), None)
                if item is not None:
                    outcomes.append((item, {"failed": failed}))
            for item in by_id.values():
                outcomes.append((item, {"failed": {"code": "not_answered", "message": ""}}))
        self.events.put(("completed", None, outcomes))  # type: ignore[arg-type]

    def _after_complete(self, item: Item, outcome: dict, result: PushResult) -> None:
        row = item.row
        assert row is not None
        if "completed" in outcome:
            done = outcome["completed"]
            self.db.file_update(
                row,
                state=state.COMPLETED,
                photo_id=str(done["photo_id"]) if done.get("photo_id") else row.photo_id,
                code="",
                message="",
            )
            if row.upload_id:
                self.db.parts_forget(row.upload_id)
            result.uploaded += 1
            self.reporter.file_done(item.relpath, row.size)
            return
        failed = outcome["failed"]
        code, message = failed.get("code", "error"), failed.get("message", "")
        if code == "upload_incomplete":
            # Storage lacks bytes we thought were sent (or a part): send what is missing.
            if row.upload_id:
                self.db.parts_forget(row.upload_id)
            item.upload = None
            item.restarts += 1
            if item.restarts > MAX_RESTARTS:
                self._fail(item, code, message, result)
                return
            outcome["_resend"] = True
            return
        if code in ("upload_aborted", "upload_expired", "not_found") or (
            code in ("size_mismatch", "checksum_mismatch") and not self._still_same(item)
        ):
            self.db.file_update(row, state=state.PENDING)
            outcome["_restart"] = True
            if code in ("size_mismatch", "checksum_mismatch"):
                result.changed.append(item.relpath)
                self.reporter.file_changed(item.relpath)
            return
        self._fail(item, code, message, result)

    def _still_same(self, item: Item) -> bool:
        try:
            return self.sender.unchanged(item)
        except Vanished:
            return False
