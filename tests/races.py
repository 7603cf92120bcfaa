"""Run the same work in several threads released at once, each on its own DB connection."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections


def race(workers: int, work: Callable[[int], object], *, timeout: float = 60) -> list[object]:
    """``work(index)`` in ``workers`` threads started together; results or raised exceptions."""
    barrier = threading.Barrier(workers)
    results: list[object] = [None] * workers

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as exc:  # reported to the test, not lost in the thread
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results
