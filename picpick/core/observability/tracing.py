"""OpenTelemetry tracing, switched on by the environment only.

On when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set or ``PICPICK_OTEL=1`` (settings.PICPICK_OTEL):
Django and Celery are instrumented and spans leave through a BatchSpanProcessor and the
OTLP/HTTP exporter (its endpoint, headers and timeouts from the standard ``OTEL_EXPORTER_*``
variables). The service is named by ``OTEL_SERVICE_NAME``, else picpick-web or
picpick-worker. Off, nothing of OpenTelemetry is imported: this module imports it inside the
functions only.

Called before Django loads its middleware (``picpick.wsgi``, ``picpick.asgi``: the Django
instrumentation adds its own) and in each worker process after the fork
(``picpick.core.observability.tasks``: an exporter's thread does not survive a fork).
"""

from __future__ import annotations

import logging
import os

from django.conf import settings

logger = logging.getLogger(__name__)

_configured_in: set[int] = set()  # pids: once per process


def enabled() -> bool:
    return bool(getattr(settings, "PICPICK_OTEL", False))


def setup_from_env(*, default_service: str) -> bool:
    """Switch tracing on in this process if the environment asks for it; whether it is on."""
    if not enabled():
        return False
    if os.getpid() in _configured_in:
        return True
    setup_tracing(service_name=os.environ.get("OTEL_SERVICE_NAME") or default_service)
    _configured_in.add(os.getpid())
    return True


def setup_tracing(*, service_name: str, span_processor=None, set_global: bool = True):
    """Instrument Django and Celery, sending spans through ``span_processor`` (default: a
    BatchSpanProcessor with the OTLP/HTTP exporter); the tracer provider.

    ``set_global=False`` leaves OpenTelemetry's global provider alone (tests: it can be set
    once per process); the instrumentations use the returned provider either way.
    """
    from opentelemetry import trace
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    if span_processor is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        span_processor = BatchSpanProcessor(OTLPSpanExporter())
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(span_processor)
    if set_global:
        trace.set_tracer_provider(provider)
    # Health checks and scrapes every few seconds would be most of the traces.
    DjangoInstrumentor().instrument(
        tracer_provider=provider, excluded_urls="healthz,readyz,metrics"
    )
    CeleryInstrumentor().instrument(tracer_provider=provider)
    logger.info("tracing on: service %s", service_name)
    return provider


def teardown_tracing() -> None:
    """Undo ``setup_tracing``'s instrumentation (tests)."""
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    DjangoInstrumentor().uninstrument()
    CeleryInstrumentor().uninstrument()
    _configured_in.discard(os.getpid())
