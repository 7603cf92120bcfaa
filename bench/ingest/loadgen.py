"""A studio and its guests browsing while an event goes in: a fixed request rate, every
latency, status and timeout recorded.

Open loop: requests leave at fixed times whatever the answers (a slow server does not slow
the load down and hide itself), spread over threads, each with its own keep-alive client.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from bench.ingest.measure import Sample


@dataclass(frozen=True)
class Target:
    kind: str
    path: str
    host: str | None = None  # a studio site's Host header; None: the API host
    studio: bool = False  # sends the studio's access token


class LoadGenerator:
    def __init__(
        self,
        *,
        base_url: str,
        targets: list[Target],
        rate: float,
        token: Callable[[bool], str],
        threads: int = 12,
        timeout: float = 10.0,
    ) -> None:
        """``token(renew)``: the studio's access token (a fresh one when ``renew``)."""
        self.base_url = base_url
        self.targets = targets
        self.rate = rate
        self.token = token
        self.threads = threads
        self.timeout = timeout
        self.samples: list[Sample] = []
        self.renewed = 0
        self._slots: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def start(self) -> None:
        self._workers = [
            threading.Thread(target=self._work, daemon=True) for _ in range(self.threads)
        ]
        self._workers.append(threading.Thread(target=self._schedule, daemon=True))
        for worker in self._workers:
            worker.start()

    def stop(self) -> list[Sample]:
        self._stop.set()
        for _ in range(self.threads):
            self._slots.put(None)
        for worker in self._workers:
            worker.join(timeout=self.timeout + 5)
        with self._lock:
            return list(self.samples)

    def snapshot(self) -> list[Sample]:
        with self._lock:
            return list(self.samples)

    def _schedule(self) -> None:
        interval = 1.0 / self.rate
        due = time.monotonic()
        for target in itertools.cycle(self.targets):
            if self._stop.is_set():
                return
            self._slots.put((due, target))
            due += interval
            pause = due - time.monotonic()
            if pause > 0 and self._stop.wait(pause):
                return

    def _work(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=self.timeout) as client:
            while True:
                slot = self._slots.get()
                if slot is None:
                    return
                _, target = slot
                sample = self._ask(client, target)
                with self._lock:
                    self.samples.append(sample)

    def _ask(self, client: httpx.Client, target: Target) -> Sample:
        for attempt in range(2):
            headers = {}
            if target.host:
                headers["Host"] = target.host
            if target.studio:
                headers["Authorization"] = f"Bearer {self.token(attempt > 0)}"
            at = time.time()
            started = time.perf_counter()
            try:
                response = client.get(target.path, headers=headers)
            except httpx.TimeoutException:
                ms = (time.perf_counter() - started) * 1000
                return Sample(target.kind, 0, ms, timeout=True, at=at)
            except httpx.TransportError:
                return Sample(target.kind, 0, (time.perf_counter() - started) * 1000, at=at)
            ms = (time.perf_counter() - started) * 1000
            if response.status_code == 401 and target.studio and attempt == 0:
                # The access token lived its 10 minutes: renewed, asked again, not counted.
                with self._lock:
                    self.renewed += 1
                continue
            return Sample(target.kind, response.status_code, ms, at=at)
        return Sample(target.kind, 401, ms, at=at)
