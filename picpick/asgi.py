import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "picpick.settings.local")
# Before the application loads its middleware: Django's tracing adds one (off: a no-op).
from picpick.core.observability.tracing import setup_from_env

setup_from_env(default_service="picpick-web")
application = get_asgi_application()
