"""The storage of the ingest benchmark, in a process of its own: the checked moto server the
tests use (``picpick.testing.s3_server``), counting the bytes PUT to it.

moto keeps each object in a ``SpooledTemporaryFile`` (about 5 MB in memory, the rest in a
temporary file), so an event of 5 GB (or 50) lives on disk under this process's ``TMPDIR``,
not in memory. ``GET /__bench__/stats`` answers the bytes received by PUTs and the times of the
first and the last of them: upload throughput from first to last byte, as storage saw it,
whatever the uploader prints.

    python -m bench.ingest.s3_server PORT
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from picpick.testing.s3_server import S3PresignChecks

STATS_PATH = "/__bench__/stats"
RESET_PATH = "/__bench__/reset"


class ByteCounter:
    """WSGI middleware: bytes of every presigned PUT (what clients send: single PUTs and
    multipart parts; not the workers' own SDK writes of derivatives), the first one's start,
    the last one's end."""

    def __init__(self, app) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.bytes = 0
        self.puts = 0
        self.first_started: float | None = None
        self.last_ended: float | None = None

    def stats(self) -> dict:
        with self.lock:
            return {
                "bytes": self.bytes,
                "puts": self.puts,
                "first_started": self.first_started,
                "last_ended": self.last_ended,
                "now": time.time(),
            }

    def reset(self) -> None:
        with self.lock:
            self.bytes = self.puts = 0
            self.first_started = self.last_ended = None

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == RESET_PATH:
            self.reset()
        if environ.get("PATH_INFO") in (STATS_PATH, RESET_PATH):
            body = json.dumps(self.stats()).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        presigned = "X-Amz-Signature=" in environ.get("QUERY_STRING", "")
        if environ["REQUEST_METHOD"] != "PUT" or not presigned:
            return self.app(environ, start_response)
        started = time.time()
        status: list[str] = []

        def recording_start(code, headers, exc_info=None):
            status.append(code)
            return start_response(code, headers, exc_info)

        response = list(self.app(environ, recording_start))
        if status and status[0].startswith("200"):
            size = int(environ.get("CONTENT_LENGTH") or 0)
            with self.lock:
                self.bytes += size
                self.puts += 1
                if self.first_started is None or started < self.first_started:
                    self.first_started = started
                self.last_ended = time.time()
        return response


def main(port: int) -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = ByteCounter(S3PresignChecks(DomainDispatcherApplication(create_backend_app)))
    server = make_server("127.0.0.1", port, app, True, request_handler=MotoRequestHandler)
    print(f"listening on {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]))
