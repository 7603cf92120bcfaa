"""What an operator watches: request ids, structured logs, metrics, health and tracing.

``context``: the request id and studio id of the work in progress (contextvars), carried from
a request into the Celery tasks it queues. ``logs``: the filters every log record passes
(context fields, redaction) and the JSON format. ``metrics``: the Prometheus metrics and the
one-line calls the apps make. ``middleware``: one line and one observation per request.
``health``: readiness checks. ``tasks``: Celery signal handlers. ``tracing``: OpenTelemetry,
imported only when switched on.
"""
