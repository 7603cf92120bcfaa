"""prometheus_client's multiprocess mode: the directory, wiped at a process tree's start, and
the children that ended. No Django here: gunicorn's master imports it (docker/gunicorn.conf.py).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def ensure_multiprocess_dir() -> None:
    """prometheus_client writes its files there from the first metric on; a missing folder
    would break every process that counts anything."""
    path = multiprocess_dir()
    if path:
        Path(path).mkdir(parents=True, exist_ok=True)


def wipe_multiprocess_dir() -> None:
    """Empty the multiprocess directory; only the parent of a process tree, before it starts
    any child (a file left by a previous run would be added to this run's counts)."""
    path = multiprocess_dir()
    if not path:
        return
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    for item in folder.iterdir():
        if item.is_dir():
            shutil.rmtree(item, ignore_errors=True)
        else:
            item.unlink(missing_ok=True)


def process_exited(pid: int) -> None:
    """A child process ended: its live gauges stop counting (multiprocess mode)."""
    if multiprocess_dir():
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(pid)
