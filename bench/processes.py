"""Real server processes for end-to-end benchmarks: Celery workers started like deployments
start them, and what they need to share the benchmark's database.

Used by ``bench_faces_e2e`` and ``bench_ingest``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
WORKER_READY_TIMEOUT = 60


def database_url(settings_dict: dict) -> str:
    """The URL of the database this process just created, for the server processes."""
    name = settings_dict["NAME"]
    if settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{name}"
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{name}"))


def start_worker(
    env: dict,
    log: Path,
    *,
    name: str,
    queues: str,
    concurrency: int = 1,
    extra: tuple = (),
    nice: int = 0,
) -> subprocess.Popen:
    """``celery -A picpick worker`` in its own process group (so it can be killed whole);
    ``nice``: a lower CPU priority (``nice -n``, which execs: the process keeps its pid)."""
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and the project's app
            [
                *(("nice", "-n", str(nice)) if nice else ()),
                sys.executable,
                "-m",
                "celery",
                "-A",
                "picpick",
                "worker",
                "-Q",
                queues,
                "--concurrency",
                str(concurrency),
                "--pool",
                "prefork",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"{name}@%h",
                "--loglevel",
                "INFO",
                *extra,
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_ready(
    workers: list[tuple[subprocess.Popen, Path]], *, timeout: float = WORKER_READY_TIMEOUT
) -> None:
    """Until every worker's log says ``ready.`` (one log per started process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process, log in workers:
            if process.poll() is not None:
                raise RuntimeError(f"a worker exited early:\n{log.read_text()[-3000:]}")
        if all(b" ready." in log.read_bytes() for _, log in workers):
            return
        time.sleep(0.2)
    raise RuntimeError("the workers did not get ready in time")


def stop(processes: list[subprocess.Popen], *, grace: float = 15) -> None:
    """SIGTERM first (a worker finishes its task), then the whole process group: nothing the
    benchmark started outlives it."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            kill_group(process)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL to the process and every child in its group (a worker and its pool)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    process.wait(timeout=15)
