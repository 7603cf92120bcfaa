"""The Prometheus metrics of the web process and the workers, and the calls that feed them.

Apps call the small functions at the bottom (``photo_processed``, ``faces_detected``, ...):
one line where the thing happens, no metric objects outside this module.

Several processes (gunicorn workers, Celery prefork children) each count their own: with
``PROMETHEUS_MULTIPROC_DIR`` set (before prometheus_client is imported, i.e. in the
environment), every process writes its values to files there and a scrape adds them up
(prometheus_client's multiprocess mode); without it (``make run``, tests) the process's own
registry is what a scrape reads. The directory must be empty when the process tree starts
(compose gives each container a tmpfs; ``multiproc.wipe_multiprocess_dir`` for the rest).
"""

from __future__ import annotations

import logging

from django.db import transaction
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from picpick.core.observability.multiproc import ensure_multiprocess_dir, multiprocess_dir

logger = logging.getLogger(__name__)

ensure_multiprocess_dir()  # before the first metric below writes its file there

# Latency buckets for requests and tasks: API answers sit in 5-500 ms, photo tasks in seconds.
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_TASK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 150.0, 300.0, 900.0)

# --- Requests (picpick.core.observability.middleware) ------------------------------------------
HTTP_REQUESTS = Counter(
    "picpick_http_requests",
    "Requests answered, by method, URL pattern (route) and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "picpick_http_request_duration_seconds",
    "Time from the request reaching the app to its response, by method, route and status.",
    ["method", "route", "status"],
    buckets=_REQUEST_BUCKETS,
)

# --- Tasks (picpick.core.observability.tasks) ---------------------------------------------------
TASK_RUNTIME = Histogram(
    "picpick_celery_task_duration_seconds",
    "Runtime of Celery tasks, by task name and final state (SUCCESS, FAILURE, RETRY, ...).",
    ["task", "state"],
    buckets=_TASK_BUCKETS,
)
TASK_FAILURES = Counter(
    "picpick_celery_task_failures", "Celery tasks that raised, by task name.", ["task"]
)
TASK_RETRIES = Counter(
    "picpick_celery_task_retries", "Celery tasks that asked for a retry, by task name.", ["task"]
)

# --- The work itself --------------------------------------------------------------------------
PHOTOS_PROCESSED = Counter(
    "picpick_photos_processed",
    "Photos that finished processing, by outcome (ready, failed) and source kind "
    "(jpeg, png, heif, tiff, raw-preview, raw-demosaic; for failures: raw or the file type).",
    ["outcome", "source"],
)
FACES_DETECTED = Counter(
    "picpick_faces_detected", "Faces found in processed photos (faces per second: rate())."
)
FACE_DETECTION = Histogram(
    "picpick_face_detection_duration_seconds",
    "Time to detect and encode the faces of one photo.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0),
)
UPLOADS_COMPLETED = Counter(
    "picpick_uploads_completed", "Files whose upload was completed and verified."
)
UPLOAD_BYTES = Counter(
    "picpick_upload_bytes", "Bytes of files whose upload was completed and verified."
)
SELFIE_SEARCHES = Counter(
    "picpick_selfie_searches",
    "Selfie searches answered, by whether the selfie matched any photo.",
    ["matched"],
)
RATE_LIMIT_HITS = Counter(
    "picpick_rate_limit_hits",
    "Requests refused by a rate limit, by limit name (throttle:anon, selfie, login, ...).",
    ["limit"],
)


# --- What the apps call ------------------------------------------------------------------------
def photo_processed(*, outcome: str, source: str) -> None:
    PHOTOS_PROCESSED.labels(outcome=outcome, source=source or "unknown").inc()


def faces_detected(*, count: int, seconds: float) -> None:
    FACES_DETECTED.inc(count)
    FACE_DETECTION.observe(seconds)


def uploads_completed(*, files: int, size: int) -> None:
    """Counted once the completing transaction commits (a rolled-back completion uploaded
    nothing)."""

    def count() -> None:
        UPLOADS_COMPLETED.inc(files)
        UPLOAD_BYTES.inc(size)

    transaction.on_commit(count)


def selfie_searched(*, matched: bool) -> None:
    SELFIE_SEARCHES.labels(matched="yes" if matched else "no").inc()


def rate_limited(*, key: str) -> None:
    RATE_LIMIT_HITS.labels(limit=limit_name(key)).inc()


def limit_name(key: str) -> str:
    """The bounded name of a rate-limit key: its first part (``selfie:a:<hash>`` -> selfie),
    with the scope for DRF throttles (``throttle:anon:<ident>`` -> throttle:anon)."""
    parts = key.split(":")
    name = ":".join(parts[:2]) if parts[0] == "throttle" and len(parts) > 2 else parts[0]
    return name[:40]


# --- Scraping -----------------------------------------------------------------------------------
class _Forward:
    """A registry's samples, collected into another registry (no names are claimed, so the
    same metrics can be scraped from a fresh registry per scrape)."""

    def __init__(self, source) -> None:
        self.source = source

    def collect(self):
        return self.source.collect()


def scrape_registry(*extra_collectors) -> CollectorRegistry:
    """What a scrape reads: every process's values in multiprocess mode, else this
    process's, plus ``extra_collectors`` (read at scrape time)."""
    registry = CollectorRegistry()
    path = multiprocess_dir()
    if path:
        MultiProcessCollector(registry, path=path)
    else:
        registry.register(_Forward(REGISTRY))
    for collector in extra_collectors:
        registry.register(collector)
    return registry


def exposition(*extra_collectors) -> bytes:
    return generate_latest(scrape_registry(*extra_collectors))
