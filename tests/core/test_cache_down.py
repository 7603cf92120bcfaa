"""Redis restarting (a deploy, a failover) must not turn requests into 500s: rate limits fail
open and host routing asks the database while the shared cache cannot be reached."""

from __future__ import annotations

import logging
import socket

import pytest
from django.test import Client

from picpick.core import ratelimit
from tests.domains.conftest import STUDIO_A_HOST


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def cache_down(settings):
    """The default cache is a Redis nobody listens on: every call is refused."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
        }
    }
    ratelimit._down_logged_at = 0.0


def test_a_rate_limit_lets_the_request_through_and_says_why(cache_down, caplog):
    with caplog.at_level(logging.WARNING, logger="picpick.core.ratelimit"):
        assert ratelimit.take([("test:key", 1)], window=60) is None
        assert ratelimit.take([("test:key", 1)], window=60) is None  # uncounted, not refused
        ratelimit.give_back("test:key", window=60)
    warnings = [r for r in caplog.records if "cache is unreachable" in r.getMessage()]
    assert len(warnings) == 1  # one line per interval, not one per request


def test_a_throttled_api_request_answers_while_redis_is_away(cache_down, alice_client):
    response = alice_client.get("/api/v1/galleries/")
    assert response.status_code == 200


def test_a_studio_site_is_routed_from_the_database_while_redis_is_away(cache_down, studio_a):
    response = Client().get("/healthz", HTTP_HOST=STUDIO_A_HOST)
    assert response.status_code == 200
    unknown = Client().get("/healthz", HTTP_HOST="nobody.localhost")
    assert unknown.status_code == 400
