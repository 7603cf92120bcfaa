"""The ASGI entry point: what the events service's uvicorn workers load (the live progress
streams, ``picpick.core.events``); any other route works here too."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "picpick.settings.local")
# Before the application loads its middleware: Django's tracing adds one (off: a no-op).
from picpick.core.observability.tracing import setup_from_env

setup_from_env(default_service="picpick-web")
application = get_asgi_application()

# As for the WSGI workers: every URL configuration loaded now and what the process holds for its
# life moved out of the collector's view, so a full collection -- which pauses every open
# stream of the worker's event loop -- walks only what requests leave behind.
from picpick.core.warmup import worker_freeze  # noqa: E402  (Django is set up above)

worker_freeze()
