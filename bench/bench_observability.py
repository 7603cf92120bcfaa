"""What watching costs: the request middleware (request id, metrics, one JSON log line), a
scrape of /metrics, and the formatting (with redaction) of one log line.

The overhead is the median time of ``/healthz`` on the internal host through the full stack
with the observability middleware, minus the same without it (both write their log lines to
/dev/null through the production JSON formatter, so formatting counts and the terminal does
not). The scrape is ``/metrics`` after requests spread over 50 routes and 5 statuses (a real
API's worth of label sets).
"""

from __future__ import annotations

import logging
import os
import statistics
import time

from bench import Result, percentile
from bench.django_env import fresh_database

REQUESTS = 2_000
LINES = 5_000
TARGET_OVERHEAD_MS = 0.5
TARGET_SCRAPE_MS = 50
TARGET_LINE_US = 60
MIDDLEWARE = "picpick.core.observability.middleware.RequestObservabilityMiddleware"


def _json_to_devnull() -> None:
    from picpick.core.observability.logs import ContextFilter, JsonFormatter

    sink = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - for the whole run
    sink.addFilter(ContextFilter())
    sink.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers = [sink]
    root.setLevel(logging.INFO)


def _healthz_ms(client, n: int) -> list[float]:
    timings = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get("/healthz", HTTP_HOST="web")
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise AssertionError(f"/healthz answered {response.status_code}")
    return timings


def run() -> list[Result]:
    with fresh_database():
        from django.conf import settings
        from django.test import Client
        from django.test.utils import override_settings

        from picpick.core.observability import metrics
        from picpick.core.observability.logs import JsonFormatter

        _json_to_devnull()
        with_it = Client()
        with override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if m != MIDDLEWARE]):
            without = Client()
            _healthz_ms(without, 200)  # builds its middleware chain now, under the override
        _healthz_ms(with_it, 200)
        on_ms, off_ms = [], []
        for _ in range(REQUESTS // 100):  # interleaved: both see the same machine load
            on_ms += _healthz_ms(with_it, 100)
            off_ms += _healthz_ms(without, 100)
        overhead = max(0.0, statistics.median(on_ms) - statistics.median(off_ms))

        for route in range(50):
            for status in ("200", "201", "400", "404", "500"):
                labels = {"method": "GET", "route": f"api/v1/things{route}/", "status": status}
                metrics.HTTP_REQUESTS.labels(**labels).inc()
                metrics.HTTP_LATENCY.labels(**labels).observe(0.01)
        scrape_ms = []
        for _ in range(50):
            started = time.perf_counter()
            response = with_it.get("/metrics", HTTP_HOST="web")
            scrape_ms.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise AssertionError(f"/metrics answered {response.status_code}")

        formatter = JsonFormatter()
        record = logging.LogRecord(
            "picpick.request", logging.INFO, __file__, 1, "%s %s %s %.1fms", None, None
        )
        record.args = ("POST", "api/v1/uploads/<uuid:upload_id>/complete/", "200", 48.3)
        for name, value in {
            "event": "request",
            "method": "POST",
            "route": "api/v1/uploads/<uuid:upload_id>/complete/",
            "status": 200,
            "duration_ms": 48.3,
            "client": "203.0.113.7",
            "user_id": "42",
            "request_id": "3f9c0b6e2a8d4f1e9b7c5a3d1e0f2a4b",
            "studio_id": "0196a1b2-3c4d-7e5f-8a9b-0c1d2e3f4a5b",
        }.items():
            setattr(record, name, value)
        started = time.perf_counter()
        for _ in range(LINES):
            formatter.format(record)
        line_us = (time.perf_counter() - started) / LINES * 1e6

    return [
        Result.at_most("observability.request_overhead_median", overhead, "ms", TARGET_OVERHEAD_MS),
        Result.at_most("observability.healthz_p99", percentile(on_ms, 0.99), "ms", 5),
        Result.at_most("observability.scrape_p50", statistics.median(scrape_ms), "ms", 50),
        Result.at_most("observability.scrape_max", max(scrape_ms), "ms", TARGET_SCRAPE_MS * 2),
        Result.at_most("observability.json_log_line", line_us, "us", TARGET_LINE_US),
    ]
