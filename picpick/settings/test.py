"""Test settings: SQLite unless DATABASE_URL is set (CI sets MariaDB and Redis)."""

import os

from picpick.core.env import env_str
from picpick.core.secret_key import TEST_SECRET_KEY

from .base import *  # noqa: F403
from .base import DATABASES, REST_FRAMEWORK, VAR_DIR

SECRET_KEY = env_str("DJANGO_SECRET_KEY", TEST_SECRET_KEY)
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; tests only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Throttles are tested explicitly with their own rates; the rest of the suite must not trip them.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        **REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
        "anon": "100000/min",
        "user": "100000/min",
        "auth": "100000/min",
        "password_reset": "100000/min",
    },
}
VAR_DIR.mkdir(parents=True, exist_ok=True)
(VAR_DIR / "static").mkdir(parents=True, exist_ok=True)
# Domain verification never asks the internet from a test: nothing answers on this port (the
# tests that need DNS start their own server on loopback and point this setting at it).
PICPICK_DNS_RESOLVER = [("127.0.0.1", 9)]
PICPICK_DNS_TIMEOUT_SECONDS = 1
PICPICK_EDGE_CNAME = "edge.picpick.test"
PICPICK_EDGE_IPV4 = ["203.0.113.10"]
PICPICK_EDGE_IPV6 = ["2001:db8::10"]

# Every writing request is one transaction. An in-memory SQLite test database is one connection
# that the live server's threads share, so concurrent writes would nest their transactions on it:
# the SQLite test database is a file (one per test process), where each thread has its own
# connection and SQLite's lock serialises the writers as it does under `make run`.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
