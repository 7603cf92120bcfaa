"""What the user sees: a live progress display (rich), or JSON lines for scripts.

Both receive the same calls from the engine (from many threads: every method is safe to call
concurrently). The live display goes to stderr, the summary to stdout; with ``--json`` stdout
carries only JSON lines (``start``, ``file_done``, ``file_skipped``, ``file_failed``,
``file_changed``, ``file_vanished``, ``progress``, ``processing``, ``summary``).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any, Protocol

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

PROGRESS_EVERY_SECONDS = 1.0


class Reporter(Protocol):
    def start(self, *, total_files: int, total_bytes: int, gallery_id: str) -> None: ...
    def bytes_sent(self, n: int) -> None: ...
    def bytes_already(self, n: int) -> None: ...
    def file_started(self, relpath: str, size: int) -> None: ...
    def file_finished(self, relpath: str) -> None: ...
    def file_done(self, relpath: str, size: int) -> None: ...
    def file_skipped(self, relpath: str, size: int, reason: str) -> None: ...
    def file_failed(self, relpath: str, code: str, message: str) -> None: ...
    def file_changed(self, relpath: str) -> None: ...
    def file_vanished(self, relpath: str) -> None: ...
    def processing(self, counts: dict) -> None: ...
    def message(self, text: str) -> None: ...
    def summary(self, data: dict) -> None: ...
    def close(self) -> None: ...


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


class _Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.total_files = 0
        self.total_bytes = 0
        self.files_done = 0
        self.bytes_done = 0
        self.current: dict[str, int] = {}
        self.started = time.monotonic()


class JsonReporter:
    """One JSON object per line on stdout."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdout
        self.c = _Counters()
        self._last_progress = 0.0
        self._out = threading.Lock()

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, "time": round(time.time(), 3), **fields})
        with self._out:
            self.stream.write(line + "\n")
            self.stream.flush()

    def _progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_progress < PROGRESS_EVERY_SECONDS:
            return
        self._last_progress = now
        with self.c.lock:
            fields = {
                "files_done": self.c.files_done,
                "files_total": self.c.total_files,
                "bytes_done": self.c.bytes_done,
                "bytes_total": self.c.total_bytes,
                "current": sorted(self.c.current),
            }
        self.emit("progress", **fields)

    def start(self, *, total_files: int, total_bytes: int, gallery_id: str) -> None:
        with self.c.lock:
            self.c.total_files, self.c.total_bytes = total_files, total_bytes
            self.c.files_done = self.c.bytes_done = 0
        self.emit("start", gallery_id=gallery_id, files=total_files, bytes=total_bytes)

    def bytes_sent(self, n: int) -> None:
        with self.c.lock:
            self.c.bytes_done += n
        self._progress()

    bytes_already = bytes_sent

    def file_started(self, relpath: str, size: int) -> None:
        with self.c.lock:
            self.c.current[relpath] = size

    def file_finished(self, relpath: str) -> None:
        with self.c.lock:
            self.c.current.pop(relpath, None)

    def _file_over(self, size: int | None = None) -> None:
        with self.c.lock:
            self.c.files_done += 1
            if size is not None:
                self.c.bytes_done += size

    def file_done(self, relpath: str, size: int) -> None:
        self._file_over()
        self.emit("file_done", path=relpath, size=size)
        self._progress()

    def file_skipped(self, relpath: str, size: int, reason: str) -> None:
        self._file_over(size)
        self.emit("file_skipped", path=relpath, size=size, reason=reason)

    def file_failed(self, relpath: str, code: str, message: str) -> None:
        self._file_over()
        self.emit("file_failed", path=relpath, code=code, message=message)

    def file_changed(self, relpath: str) -> None:
        self.emit("file_changed", path=relpath)

    def file_vanished(self, relpath: str) -> None:
        self._file_over()
        self.emit("file_vanished", path=relpath)

    def processing(self, counts: dict) -> None:
        self.emit("processing", **counts)

    def message(self, text: str) -> None:
        self.emit("message", text=text)

    def summary(self, data: dict) -> None:
        self._progress(force=True)
        self.emit("summary", **data)

    def close(self) -> None:
        pass


class _LiveProgress(Progress):
    def __init__(self, owner: RichReporter, *columns: Any, **kwargs: Any) -> None:
        self.owner = owner  # before Progress.__init__, which may render already
        super().__init__(*columns, **kwargs)

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        line = self.owner.current_line()
        if line:
            yield Text(line, style="dim", overflow="ellipsis", no_wrap=True)


class RichReporter:
    """A live bar (files, bytes, speed, ETA, current files) on stderr; summary on stdout."""

    def __init__(self, *, quiet: bool = False) -> None:
        self.err = Console(stderr=True)
        self.out = Console()
        self.c = _Counters()
        self.quiet = quiet
        self.progress: _LiveProgress | None = None
        self.task: Any = None
        self.proc_task: Any = None

    def current_line(self) -> str:
        with self.c.lock:
            names = sorted(self.c.current)
        if not names:
            return ""
        shown = ", ".join(names[:4])
        return f"  sending {shown}" + (f" and {len(names) - 4} more" if len(names) > 4 else "")

    def _files_text(self) -> str:
        with self.c.lock:
            return f"{self.c.files_done}/{self.c.total_files} files"

    def start(self, *, total_files: int, total_bytes: int, gallery_id: str) -> None:
        with self.c.lock:
            self.c.total_files, self.c.total_bytes = total_files, total_bytes
            self.c.files_done = self.c.bytes_done = 0
        if self.progress is None:
            self.progress = _LiveProgress(
                self,
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[files]}"),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self.err,
                refresh_per_second=4,
                transient=False,
            )
            self.progress.start()
            self.task = self.progress.add_task(
                "Uploading", total=total_bytes, files=self._files_text()
            )
        else:  # watch: a new round of files
            self.progress.update(
                self.task, total=total_bytes, completed=0, files=self._files_text()
            )

    def _refresh(self, advance: int = 0) -> None:
        if self.progress is not None:
            self.progress.update(self.task, advance=advance, files=self._files_text())

    def bytes_sent(self, n: int) -> None:
        with self.c.lock:
            self.c.bytes_done += n
        self._refresh(n)

    bytes_already = bytes_sent

    def file_started(self, relpath: str, size: int) -> None:
        with self.c.lock:
            self.c.current[relpath] = size

    def file_finished(self, relpath: str) -> None:
        with self.c.lock:
            self.c.current.pop(relpath, None)

    def _file_over(self, size: int = 0) -> None:
        with self.c.lock:
            self.c.files_done += 1
            self.c.bytes_done += size
        self._refresh(size)

    def _say(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(text)
        else:
            self.err.print(text)

    def file_done(self, relpath: str, size: int) -> None:
        self._file_over()

    def file_skipped(self, relpath: str, size: int, reason: str) -> None:
        self._file_over(size)

    def file_failed(self, relpath: str, code: str, message: str) -> None:
        self._file_over()
        self._say(f"[red]failed[/red] {relpath}: {code} {message}")

    def file_changed(self, relpath: str) -> None:
        self._say(f"[yellow]changed while uploading[/yellow] {relpath}: uploading it again")

    def file_vanished(self, relpath: str) -> None:
        self._file_over()
        self._say(f"[yellow]vanished[/yellow] {relpath}: no longer on disk")

    def processing(self, counts: dict) -> None:
        if self.progress is None:
            return
        done = counts.get("processed", 0) + counts.get("failed", 0)
        total = max(counts.get("uploaded", 0), 1)
        desc = f"faces {counts.get('faces', 0)}, people {counts.get('people', 0)}"
        if self.proc_task is None:
            self.proc_task = self.progress.add_task("Processing", total=total, files=desc)
        self.progress.update(self.proc_task, total=total, completed=done, files=desc)

    def message(self, text: str) -> None:
        self._say(text)

    def summary(self, data: dict) -> None:
        self.close()
        for line in summary_lines(data):
            self.out.print(line, highlight=False)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def summary_lines(data: dict) -> list[str]:
    lines = [
        f"Gallery {data['gallery_id']}: {data['uploaded']} uploaded, "
        f"{data['already']} already there, {data['duplicates']} skipped as duplicates, "
        f"{len(data['failed'])} failed."
    ]
    for failure in data["failed"]:
        lines.append(f"  failed: {failure['path']}: {failure['code']} {failure['message']}")
    for path in data["changed"]:
        lines.append(f"  changed while uploading (sent again as a new upload): {path}")
    for path in data["vanished"]:
        lines.append(f"  vanished before it was uploaded: {path}")
    seconds = max(data.get("seconds", 0.0), 0.001)
    lines.append(
        f"Sent {human_bytes(data['bytes_sent'])} in {seconds:.1f} s "
        f"({human_bytes(data['bytes_sent'] / seconds)}/s)."
    )
    if data.get("processing"):
        p = data["processing"]
        lines.append(
            f"Processed {p.get('processed', 0)} of {p.get('uploaded', 0)} photos "
            f"({p.get('failed', 0)} failed), {p.get('faces', 0)} faces, "
            f"{p.get('people', 0)} people."
        )
    if data.get("hint"):
        lines.append(data["hint"])
    return lines
