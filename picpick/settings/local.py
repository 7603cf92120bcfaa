"""Developer defaults for `make run`: SQLite, local files, a folder as the Celery broker."""

from picpick.core.env import env_bool, env_str

from .base import *  # noqa: F403
from .base import VAR_DIR

DEBUG = env_bool("DJANGO_DEBUG", True)
# A fixed development key is fine here: this module is never loaded in production.
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "local-development-only-not-secret-0123456789abcdef")
VAR_DIR.mkdir(parents=True, exist_ok=True)
(VAR_DIR / "static").mkdir(parents=True, exist_ok=True)
