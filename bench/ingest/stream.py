"""A dashboard beside the photographer: the gallery's progress stream (Server-Sent Events),
read for the whole ingest, reconnecting with ``Last-Event-ID`` as a browser's EventSource does
(the broker restart drops it)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import httpx


class ProgressStream(threading.Thread):
    def __init__(self, url: str, token: Callable[[bool], str]) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.token = token
        self.events = 0
        self.connects = 0
        self.last: dict | None = None
        self.last_at = 0.0
        self.errors: list[str] = []
        self.last_id: str | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def stop(self) -> None:
        self._stop.set()

    def snapshot(self) -> tuple[dict | None, float]:
        with self._lock:
            return self.last, self.last_at

    def run(self) -> None:
        renew = False
        while not self._stop.is_set():
            headers = {
                "Authorization": f"Bearer {self.token(renew)}",
                "Accept": "text/event-stream",
            }
            renew = False
            if self.last_id:
                headers["Last-Event-ID"] = self.last_id
            try:
                with httpx.stream(
                    "GET", self.url, headers=headers, timeout=httpx.Timeout(10, read=40)
                ) as response:
                    if response.status_code == 401:
                        renew = True
                        continue
                    if response.status_code != 200:
                        self.errors.append(f"HTTP {response.status_code}")
                        self._stop.wait(1)
                        continue
                    self.connects += 1
                    self._read(response)
            except httpx.HTTPError as exc:
                self.errors.append(type(exc).__name__)
                self._stop.wait(1)

    def _read(self, response: httpx.Response) -> None:
        event_id, data = None, []
        for line in response.iter_lines():
            if self._stop.is_set():
                return
            if not line:
                if data:
                    self._dispatch(event_id, "\n".join(data))
                event_id, data = None, []
            elif line.startswith("id:"):
                event_id = line[3:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())

    def _dispatch(self, event_id: str | None, data: str) -> None:
        try:
            body = json.loads(data)
        except ValueError:
            self.errors.append("data not JSON")
            return
        with self._lock:
            self.events += 1
            self.last = body
            self.last_at = time.time()
            if event_id:
                self.last_id = event_id
