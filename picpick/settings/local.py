"""Developer defaults for `make run`: SQLite, local files, a folder as the Celery broker."""

from urllib.parse import urlsplit

from picpick.core.env import env_bool, env_choice, env_int, env_str
from picpick.core.secret_key import LOCAL_SECRET_KEY

from .base import *  # noqa: F403
from .base import PICPICK_PUBLIC_URL, VAR_DIR

DEBUG = env_bool("DJANGO_DEBUG", True)
# A fixed development key is fine here: production refuses it (picpick.core.secret_key).
SECRET_KEY = env_str("DJANGO_SECRET_KEY", LOCAL_SECRET_KEY)
VAR_DIR.mkdir(parents=True, exist_ok=True)
(VAR_DIR / "static").mkdir(parents=True, exist_ok=True)
# Studio sites on http://<slug>.localhost:<the port `make run` serves on>, e.g.
# http://demo.localhost:8000 (browsers resolve *.localhost to loopback).
PICPICK_SITE_SCHEME = env_choice("PICPICK_SITE_SCHEME", "http", {"http", "https"})
PICPICK_SITE_PORT = (
    env_int("PICPICK_SITE_PORT", urlsplit(PICPICK_PUBLIC_URL).port or 0, minimum=0, maximum=65535)
    or None
)
