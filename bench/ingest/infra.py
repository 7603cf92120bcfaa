"""The processes of the ingest benchmark, each started like a deployment starts it and stopped
whole (process groups) when the benchmark ends, however it ends."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from bench import processes

ROOT = processes.ROOT
READY_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _popen(args: list[str], *, env: dict, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and programs
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_http(url: str, process: subprocess.Popen, log: Path, *, headers=None) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{log.name}: exited early\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, headers=headers or {}, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{log.name}: not answering {url}\n{log.read_text()[-3000:]}")


class RedisServer:
    """A private redis-server on a free port, append-only like compose's (queued tasks survive
    a restart), in its own folder; ``restart`` stops it (SIGTERM: it writes its AOF) and starts
    it again on the same port with the same files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.folder), "--appendonly", "yes", "--save", ""]
        args += ["--maxmemory-policy", "noeviction", "--protected-mode", "no"]
        self.process = _popen(args, env=dict(os.environ), log=self.folder / "redis.log")
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.folder / "redis.log").read_text()[-2000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                processes.kill_group(self.process)

    def restart(self) -> float:
        """Seconds the broker was away."""
        started = time.monotonic()
        self.stop()
        self.start()
        return time.monotonic() - started


class StorageServer:
    """``bench.ingest.s3_server`` (moto, checked like S3, counting PUT bytes) in its own
    process; its objects' temporary files under ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TMPDIR": str(folder)}
        self.log = folder.parent / "s3.log"
        self.process = _popen(
            [sys.executable, "-m", "bench.ingest.s3_server", str(self.port)], env=env, log=self.log
        )
        _wait_http(f"{self.endpoint}/__bench__/stats", self.process, self.log)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict:
        return httpx.get(f"{self.endpoint}/__bench__/stats", timeout=10).json()

    def reset(self) -> None:
        httpx.get(f"{self.endpoint}/__bench__/reset", timeout=10).raise_for_status()


def gunicorn(env: dict, log: Path, *, workers: int) -> tuple[subprocess.Popen, str]:
    """The WSGI app as compose serves it (sync workers, 30 s timeout)."""
    port = free_port()
    process = _popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "picpick.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            f"--workers={workers}",
            "--timeout=30",
            "--graceful-timeout=30",
        ],
        env=env,
        log=log,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_http(f"{url}/healthz", process, log)
    return process, url


def uvicorn(env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    """The ASGI app (the event stream), as its deployment runs it."""
    port = free_port()
    process = _popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "picpick.asgi:application",
            "--host=127.0.0.1",
            f"--port={port}",
            "--workers=1",
            "--no-access-log",
        ],
        env=env,
        log=log,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_http(f"{url}/healthz", process, log)
    return process, url


def beat(env: dict, log: Path, schedule: Path) -> subprocess.Popen:
    return _popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "picpick",
            "beat",
            "--loglevel=INFO",
            f"--schedule={schedule}",
        ],
        env=env,
        log=log,
    )


# --- Memory ----------------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            found += [int(child) for child in text.split()]
    except OSError:
        pass
    return found


def tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += _children(current)
    return pids


def cpu_ticks(pid: int) -> int:
    """CPU time used so far by a process and its children (clock ticks)."""
    total = 0
    for member in tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def _proc_kb(pid: int, file: str, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler(threading.Thread):
    """Peak memory of each worker: its main process and pool children together, as a container
    limit would count them. Each sample adds up the processes' proportional set sizes (``Pss``:
    pages shared after the fork counted once, not in each process); the peak is the largest
    sample (every 0.5 s). The largest single process's own peak (``VmHWM``, which no sample
    can miss) is kept beside it."""

    def __init__(self, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.watched: dict[str, subprocess.Popen] = {}
        self.peak_mb: dict[str, float] = {}
        self.process_peak_mb: dict[str, float] = {}
        self.done = threading.Event()
        self.lock = threading.Lock()

    def watch(self, name: str, process: subprocess.Popen) -> None:
        with self.lock:
            self.watched[name] = process

    def sample(self) -> None:
        with self.lock:
            watched = dict(self.watched)
        for name, process in watched.items():
            if process.poll() is not None:
                continue
            pids = tree(process.pid)
            mb = sum(_proc_kb(pid, "smaps_rollup", "Pss:") for pid in pids) / 1024
            self.peak_mb[name] = max(self.peak_mb.get(name, 0.0), mb)
            hwm = max((_proc_kb(pid, "status", "VmHWM:") for pid in pids), default=0) / 1024
            self.process_peak_mb[name] = max(self.process_peak_mb.get(name, 0.0), hwm)

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=5)
        self.sample()
