"""Following the gallery's processing once the bytes are in.

Preferred: the gallery's event stream (``GET /galleries/{id}/events/``, server-sent events,
absolute counts, resumable with ``Last-Event-ID``). A server without it (404/405) is polled
instead: ``GET /galleries/{id}/progress/``, and on a server without that either, the upload
batches this push started (``GET /upload-batches/{id}/``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator

import httpx

from picpick_upload.api import Api, raise_for_transient
from picpick_upload.errors import ApiError, Interrupted, TransientHttpError
from picpick_upload.retry import call_with_retries

logger = logging.getLogger(__name__)

POLL_SECONDS = 2.0


def is_finished(counts: dict) -> bool:
    """Every photo whose bytes are in is processed or failed."""
    return counts.get("processed", 0) + counts.get("failed", 0) >= counts.get("uploaded", 0)


class _NoStream(Exception):
    pass


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str | None, str, str]]:
    """(id, event, data) of each message of a server-sent event stream."""
    event_id: str | None = None
    event = "message"
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield event_id, event, "\n".join(data)
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue  # a comment (keep-alive)
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            event_id = value
        elif name == "event":
            event = value
        elif name == "data":
            data.append(value)


class ProgressFollower:
    def __init__(
        self,
        *,
        api: Api,
        gallery_id: str,
        batch_ids: list[str],
        on_counts: Callable[[dict], None],
        stop: threading.Event,
    ) -> None:
        self.api = api
        self.gallery_id = gallery_id
        self.batch_ids = batch_ids
        self.on_counts = on_counts
        self.stop = stop
        self.last: dict = {}

    def wait(self) -> dict:
        """Blocks until processing is finished; returns the last counts."""
        try:
            return self._follow_stream()
        except _NoStream:
            logger.info("no event stream on this server; polling")
        while not self.stop.is_set():
            counts = self.poll_once()
            self._seen(counts)
            if is_finished(counts):
                return counts
            if self.stop.wait(POLL_SECONDS):
                break
        raise Interrupted("interrupted", code="interrupted")

    def _seen(self, counts: dict) -> None:
        self.last = counts
        self.on_counts(counts)

    # -- polling --
    def poll_once(self) -> dict:
        try:
            return self.api.get(f"/galleries/{self.gallery_id}/progress/", what="progress")
        except ApiError as exc:
            if exc.status not in (404, 405) or exc.code not in (
                "not_found",
                "http_404",
                "http_405",
                "method_not_allowed",
            ):
                raise
        return self._batch_counts()

    def _batch_counts(self) -> dict:
        total = {
            "gallery_id": self.gallery_id,
            "uploaded": 0,
            "processing": 0,
            "processed": 0,
            "failed": 0,
            "faces": 0,
            "people": 0,
        }
        for batch_id in self.batch_ids:
            counts = self.api.get(f"/upload-batches/{batch_id}/", what="batch progress")["counts"]
            total["uploaded"] += (
                counts["uploaded"] + counts["processing"] + counts["ready"] + counts["failed"]
            )
            total["processing"] += counts["uploaded"] + counts["processing"]
            total["processed"] += counts["ready"]
            total["failed"] += counts["failed"]
        return total

    # -- the event stream --
    def _follow_stream(self) -> dict:
        last_id: str | None = None
        path = f"/galleries/{self.gallery_id}/events/"
        while not self.stop.is_set():

            def connect(last_id: str | None = last_id) -> httpx.Response:
                headers = {
                    **self.api._auth_headers(),
                    "Accept": "text/event-stream",
                    "Cache-Control": "no-cache",
                }
                if last_id:
                    headers["Last-Event-ID"] = last_id
                request = self.api.client.build_request(
                    "GET",
                    path,
                    headers=headers,
                    timeout=httpx.Timeout(connect=15.0, read=45.0, write=15.0, pool=30.0),
                )
                response = self.api.client.send(request, stream=True)
                if response.status_code == 401:
                    response.close()
                    self.api.refresh(headers["Authorization"].removeprefix("Bearer "))
                    raise TransientHttpError(401, "token refreshed")
                if response.status_code in (404, 405, 406):
                    response.close()
                    raise _NoStream()
                if response.status_code >= 400:
                    try:
                        raise_for_transient(response)
                    finally:
                        response.close()
                    raise _NoStream()
                if "text/event-stream" not in response.headers.get("Content-Type", ""):
                    response.close()
                    raise _NoStream()
                return response

            response = call_with_retries(
                connect, policy=self.api.policy, stop=self.stop, what="opening the event stream"
            )
            try:
                for event_id, event, data in sse_events(response.iter_lines()):
                    if self.stop.is_set():
                        break
                    if event_id is not None:
                        last_id = event_id
                    if event != "progress":
                        continue
                    try:
                        counts = json.loads(data)
                    except ValueError:
                        continue
                    self._seen(counts)
                    if is_finished(counts):
                        return counts
            except httpx.TransportError as exc:
                logger.info("event stream dropped (%s); reconnecting", exc.__class__.__name__)
                time.sleep(0.5)
            finally:
                response.close()
        raise Interrupted("interrupted", code="interrupted")
