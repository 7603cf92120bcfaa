"""The Celery application. Queues, routes and limits are in settings (CELERY_*)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "picpick.settings.local")

app = Celery("picpick")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Request ids carried into tasks, a log line and metrics per task, the worker's metrics port.
import picpick.core.observability.tasks  # noqa: E402, F401  (connects its signal handlers)
