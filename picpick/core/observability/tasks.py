"""Celery signal handlers: the request id carried into tasks, a log line and metrics per task,
and the worker's metrics endpoint.

Connected by ``picpick.celery`` (imported by every process that has the Celery app).

A task queued while a request id is set carries it (and the studio id) in its message
headers; the worker binds them while the task runs, so its log lines and those of the tasks
it queues in turn have the request's id. A task queued with none (beat, a sweep) gets one of
its own. Eager tasks (tests) run inside the caller and simply keep its ids.
"""

from __future__ import annotations

import logging
import os
import sys
import time

from celery.exceptions import Retry
from celery.signals import (
    before_task_publish,
    task_failure,
    task_postrun,
    task_prerun,
    task_retry,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
)
from django.conf import settings

from picpick.core.observability import context, metrics, multiproc, tracing

logger = logging.getLogger("picpick.task")

REQUEST_ID_HEADER = "picpick_request_id"
STUDIO_ID_HEADER = "picpick_studio_id"

# task id -> (start, context tokens). A dict, not the task's request: eager tasks nest, and a
# retried task's request object is not the one prerun saw.
_running: dict[str, tuple[float, tuple]] = {}


@before_task_publish.connect(dispatch_uid="picpick.observability.publish")
def _carry_context(headers: dict | None = None, **kwargs) -> None:
    if headers is None:
        return
    request_id = context.current_request_id()
    if request_id:
        headers.setdefault(REQUEST_ID_HEADER, request_id)
    studio_id = context.current_studio_id()
    if studio_id:
        headers.setdefault(STUDIO_ID_HEADER, studio_id)


def _header(task, name: str) -> str | None:
    request = task.request
    value = getattr(request, name, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(name)
    return str(value) if value else None


@task_prerun.connect(dispatch_uid="picpick.observability.prerun")
def _task_started(task_id: str | None = None, task=None, **kwargs) -> None:
    if task_id is None or task is None:
        return
    request_id = (
        context.sane_request_id(_header(task, REQUEST_ID_HEADER))
        or context.current_request_id()
        or context.new_request_id()
    )
    studio_id = _header(task, STUDIO_ID_HEADER) or context.current_studio_id()
    tokens = context.bind(request_id=request_id, studio_id=studio_id)
    _running[task_id] = (time.perf_counter(), tokens)


@task_postrun.connect(dispatch_uid="picpick.observability.postrun")
def _task_ended(task_id: str | None = None, task=None, state: str | None = None, **kwargs):
    raised = sys.exc_info()[1]
    if state is None and raised is not None and task is not None:
        # An eager task raising with exceptions propagated (tests): Celery sends neither
        # task_failure nor task_retry, and no state, only this, with the exception on its way.
        if isinstance(raised, Retry):
            metrics.TASK_RETRIES.labels(task=task.name).inc()
            state = "RETRY"
        else:
            metrics.TASK_FAILURES.labels(task=task.name).inc()
            state = "FAILURE"
    _finish(task_id, task, state or "UNKNOWN")


# A failure or a retry ends the run there: eager tasks that raise (tests, with exceptions
# propagated) never reach postrun, and a worker's postrun then finds the run already finished.
@task_failure.connect(dispatch_uid="picpick.observability.failure")
def _task_failed(sender=None, task_id: str | None = None, **kwargs) -> None:
    if sender is not None:
        metrics.TASK_FAILURES.labels(task=sender.name).inc()
        _finish(task_id, sender, "FAILURE")


@task_retry.connect(dispatch_uid="picpick.observability.retry")
def _task_retried(sender=None, request=None, **kwargs) -> None:
    if sender is not None:
        metrics.TASK_RETRIES.labels(task=sender.name).inc()
        _finish(getattr(request, "id", None), sender, "RETRY")


def _finish(task_id: str | None, task, state: str) -> None:
    started = _running.pop(task_id, None) if task_id else None
    if started is None or task is None:
        return
    begun, tokens = started
    elapsed = time.perf_counter() - begun
    metrics.TASK_RUNTIME.labels(task=task.name, state=state).observe(elapsed)
    runtime_ms = round(elapsed * 1000, 1)
    try:
        logger.log(
            logging.WARNING if state == "FAILURE" else logging.INFO,
            "task %s %s %.1fms",
            task.name,
            state,
            runtime_ms,
            extra={
                "event": "task",
                "task": task.name,
                "task_id": task_id,
                "state": state,
                "runtime_ms": runtime_ms,
                "retries": getattr(task.request, "retries", 0),
            },
        )
    finally:
        context.unbind(tokens)


# --- The worker's own processes ------------------------------------------------------------------
def _is_prefork(worker) -> bool:
    pool = getattr(worker, "pool_cls", None)
    name = pool if isinstance(pool, str) else getattr(pool, "__module__", "")
    return "prefork" in str(name) or str(name) in {"processes", "celery.concurrency.prefork"}


@worker_init.connect(dispatch_uid="picpick.observability.worker_init")
def _worker_started(sender=None, **kwargs) -> None:
    """In the worker's main process, before its pool starts: the metrics endpoint, which adds
    up what every child wrote (multiprocess mode)."""
    prefork = _is_prefork(sender)
    multiproc.wipe_multiprocess_dir()
    port = getattr(settings, "PICPICK_WORKER_METRICS_PORT", 0)
    if port:
        if prefork and not multiproc.multiprocess_dir():
            logger.warning(
                "worker metrics on port %s show only this process: set %s so the pool's "
                "children count too",
                port,
                multiproc.MULTIPROC_ENV,
            )
        from prometheus_client import start_http_server

        start_http_server(port, registry=metrics.scrape_registry())
        logger.info("worker metrics on port %s", port)
    if not prefork:  # solo and thread pools run tasks here; prefork children set up their own
        tracing.setup_from_env(default_service="picpick-worker")


@worker_process_init.connect(dispatch_uid="picpick.observability.process_init")
def _worker_child_started(**kwargs) -> None:
    # After the fork: a span exporter's thread does not survive it.
    tracing.setup_from_env(default_service="picpick-worker")


@worker_process_shutdown.connect(dispatch_uid="picpick.observability.process_shutdown")
def _worker_child_ended(**kwargs) -> None:
    multiproc.process_exited(os.getpid())
