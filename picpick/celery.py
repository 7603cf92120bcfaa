"""The Celery application. Queues, routes and limits are in settings (CELERY_*)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "picpick.settings.local")

app = Celery("picpick")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
