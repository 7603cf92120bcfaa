"""OpenTelemetry: off unless the environment asks (and then not even imported); on, a request
gives a server span named by its route, and a task it queues runs in the same trace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from picpick.core.observability import tracing
from tests.ops import urls_tracing

ROOT = Path(__file__).resolve().parents[2]
# What tracing would load: the trace SDK, the instrumentations, the exporter. (redis-py imports
# OpenTelemetry's API and metrics SDK on its own when they are installed: not ours to count.)
TRACING_MODULES = (
    "opentelemetry.sdk.trace",
    "opentelemetry.instrumentation",
    "opentelemetry.exporter",
)
PROBE = (
    "import json, sys; import picpick.wsgi; from django.conf import settings; "
    f"loaded = sorted(p for p in {TRACING_MODULES!r} if p in sys.modules); "
    "print(json.dumps({'imported': loaded, 'middleware': settings.MIDDLEWARE[0]}))"
)


def _probe(**env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PICPICK_OTEL"))}
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "picpick.settings.test", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_tracing_is_off_and_not_even_imported_by_default():
    probe = _probe()
    assert probe["imported"] == []
    assert "opentelemetry" not in probe["middleware"]


@pytest.mark.parametrize(
    "env",
    [{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}, {"PICPICK_OTEL": "1"}],
    ids=["endpoint", "switch"],
)
def test_the_environment_switches_tracing_on(env):
    probe = _probe(**env, OTEL_BSP_EXPORT_TIMEOUT="100", OTEL_EXPORTER_OTLP_TIMEOUT="1")
    assert probe["imported"] == sorted(TRACING_MODULES)
    assert probe["middleware"].startswith("opentelemetry.instrumentation.django")


@pytest.fixture
def spans(settings):
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    settings.ROOT_URLCONF = "tests.ops.urls_tracing"
    exporter = InMemorySpanExporter()
    tracing.setup_tracing(
        service_name="picpick-test", span_processor=SimpleSpanProcessor(exporter), set_global=False
    )
    try:
        yield exporter
    finally:
        tracing.teardown_tracing()


def test_a_request_and_the_task_it_queues_share_one_trace(spans, alice_client, monkeypatch):
    from celery.contrib.testing.worker import start_worker
    from celery.fixups.django import DjangoWorkerFixup
    from opentelemetry.trace import SpanKind

    from picpick.celery import app

    @app.task(name="tests.ops.traced_task", shared=False)
    def traced_task(word: str) -> str:
        return word

    urls_tracing.QUEUED[:] = [traced_task]
    # The embedded worker starts in this thread, and Celery's Django fixup closes the
    # starting thread's database connections: the test's own, inside its transaction.
    close = DjangoWorkerFixup._close_database

    def close_in_worker_threads(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            close(self)

    monkeypatch.setattr(DjangoWorkerFixup, "_close_database", close_in_worker_threads)
    app.conf.task_always_eager = False
    try:
        # Queued to the in-memory broker; the worker started next picks it up from there.
        response = alice_client.post("/api/v1/test-tracing/queue/", {}, format="json")
        assert response.status_code == 200, response.content
        with start_worker(app, pool="solo", perform_ping_check=False):
            for _ in range(400):  # until the worker thread finished the task's span
                if any(s.kind == SpanKind.CONSUMER for s in spans.get_finished_spans()):
                    break
                time.sleep(0.05)
    finally:
        app.conf.task_always_eager = True
    finished = spans.get_finished_spans()
    [server] = [s for s in finished if s.kind == SpanKind.SERVER]
    assert server.attributes["http.route"] == "api/v1/test-tracing/queue/"
    assert server.resource.attributes["service.name"] == "picpick-test"
    [producer] = [s for s in finished if s.kind == SpanKind.PRODUCER]
    [consumer] = [s for s in finished if s.kind == SpanKind.CONSUMER]
    assert producer.context.trace_id == server.context.trace_id
    assert consumer.context.trace_id == server.context.trace_id
    assert consumer.attributes.get("celery.task_name") == "tests.ops.traced_task"


def test_after_teardown_requests_make_no_spans(spans, alice_client):
    tracing.teardown_tracing()
    alice_client.get("/api/v1/galleries/")
    assert spans.get_finished_spans() == ()
