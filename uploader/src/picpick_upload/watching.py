"""Tethered shooting: upload what is in the folder, then each photo that appears in it.

``watchdog`` reports files created, modified or moved into the folder; a file is uploaded once
its size and mtime stayed the same for ``--settle`` seconds (a camera or a card reader writes
a RAW in many pieces). A rescan every few seconds catches what the file system did not report
(network shares, some card readers). Runs the same engine and state db as ``push``, so a
``watch`` killed and started again resumes like a push.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from picpick_upload.engine import PushResult
from picpick_upload.errors import EXIT_FILES_FAILED, EXIT_INTERRUPTED, EXIT_NETWORK, EXIT_OK
from picpick_upload.scanner import FoundFile, classify, found_file, in_hidden_dir, scan

RESCAN_SECONDS = 10.0
TICK_SECONDS = 0.25


class _Seen(FileSystemEventHandler):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.paths: set[Path] = set()

    def _add(self, path: str | bytes) -> None:
        name = path.decode() if isinstance(path, bytes) else path
        with self.lock:
            self.paths.add(Path(name))

    def on_created(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._add(event.src_path)

    def on_modified(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._add(event.src_path)

    def on_closed(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._add(event.src_path)

    def on_moved(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._add(event.dest_path)

    def take(self) -> set[Path]:
        with self.lock:
            paths, self.paths = self.paths, set()
        return paths


@dataclass
class _Candidate:
    size: int
    mtime_ns: int
    stable_since: float


def _add_results(total: PushResult, part: PushResult) -> None:
    total.total += part.total
    total.uploaded += part.uploaded
    total.already += part.already
    total.duplicates += part.duplicates
    total.failed += part.failed
    total.changed += part.changed
    total.vanished += part.vanished
    total.bytes_sent += part.bytes_sent
    total.puts += part.puts
    total.batch_ids |= part.batch_ids
    total.network_error = part.network_error or total.network_error
    total.interrupted = part.interrupted  # the last round's: was Ctrl-C in the middle of one


def watch_folder(
    pusher: Any,
    *,
    settle: float,
    result_data: Callable[[PushResult, str, float], dict],
    exit_code: Callable[[PushResult], int],
) -> int:
    folder: Path = pusher.folder
    stop: threading.Event = pusher.stop
    began = time.monotonic()
    total = PushResult()
    handled: set[Path] = set()

    seen = _Seen()
    observer = Observer()
    observer.schedule(seen, str(folder), recursive=True)
    observer.start()
    try:
        files, _ = scan(folder)
        pusher.reporter.message(
            f"Watching {folder}: {len(files)} photos there now; new ones are uploaded once "
            f"they stop growing ({settle:g} s). Ctrl-C to stop."
        )
        handled.update(f.path for f in files)
        _add_results(total, pusher.push(files))
        candidates: dict[Path, _Candidate] = {}
        last_rescan = time.monotonic()
        while not stop.is_set() and not total.network_error:
            if stop.wait(TICK_SECONDS):
                break
            now = time.monotonic()
            paths = seen.take()
            if now - last_rescan >= RESCAN_SECONDS:
                last_rescan = now
                paths |= {f.path for f in scan(folder)[0] if f.path not in handled}
            for path in paths:
                if classify(path.name) != "photo" or in_hidden_dir(folder, path):
                    continue
                candidates.setdefault(path, _Candidate(-1, -1, now))
            ready: list[FoundFile] = []
            for path, candidate in list(candidates.items()):
                current = found_file(folder, path)
                if current is None:
                    del candidates[path]  # gone before it settled (a temp file renamed)
                    continue
                if (current.size, current.mtime_ns) != (candidate.size, candidate.mtime_ns):
                    candidates[path] = _Candidate(current.size, current.mtime_ns, now)
                elif now - candidate.stable_since >= settle and current.size > 0:
                    ready.append(current)
                    del candidates[path]
            if ready:
                handled.update(f.path for f in ready)
                _add_results(total, pusher.push(sorted(ready, key=lambda f: f.relpath)))
    finally:
        observer.stop()
        observer.join(timeout=5)
    data = result_data(total, pusher.gallery_id, time.monotonic() - began)
    if total.network_error:
        code = EXIT_NETWORK
        data["hint"] = f"Network gave up ({total.network_error}). Run the same command again."
    elif total.interrupted:
        # Ctrl-C while files were being sent: they resume with the next push or watch.
        code = EXIT_INTERRUPTED
        data["hint"] = "Interrupted while uploading. Run the same command again to resume."
    else:
        # Ctrl-C while waiting for new photos is how a watch ends: not an error.
        code = EXIT_FILES_FAILED if total.failed else EXIT_OK
        data["interrupted"] = False
    data["exit_code"] = code
    pusher.reporter.summary(data)
    _ = exit_code
    return code
