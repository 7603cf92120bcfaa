import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "picpick.settings.local")
# Before the application loads its middleware: Django's tracing adds one (off: a no-op).
from picpick.core.observability.tracing import setup_from_env

setup_from_env(default_service="picpick-web")
application = get_wsgi_application()

# The objects a loaded worker holds for its life (apps, every URL configuration with its views,
# serializers and schema) are loaded now and moved out of the garbage collector's view, so a
# full collection walks only what requests leave behind (``picpick.core.warmup``).
from picpick.core.warmup import worker_freeze  # noqa: E402  (Django is set up above)

worker_freeze()
