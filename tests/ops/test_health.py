"""/healthz is liveness (nothing asked); /readyz asks the database, the migrations, Redis and
storage, each within a budget, and says which one failed."""

from __future__ import annotations

import os
import shutil
import time

import pytest
from django.test import Client

from picpick.core.observability import health

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/8"
DOWN = "127.0.0.1:9"  # the discard port: nothing listens there


def readyz(host: str = "web"):
    return Client().get("/readyz", HTTP_HOST=host)


@pytest.fixture(autouse=True)
def _fresh_clients(monkeypatch):
    monkeypatch.setattr(health, "_redis_clients", {})
    monkeypatch.setattr(health, "_s3_clients", {})


def test_ready_when_everything_answers(db, local_storage):
    response = readyz()
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "migrations": True,
        "redis": True,
        "storage": True,
    }
    assert body["checks"]["storage"]["detail"] == "root writable"
    assert "failed" not in body


@pytest.mark.parametrize("host", ["web", "localhost", "annasmith.localhost"])
def test_readyz_answers_where_healthz_does(host, studio_a, local_storage):
    assert Client().get("/healthz", HTTP_HOST=host).status_code == 200
    assert readyz(host).status_code == 200


def test_redis_is_asked_when_configured(db, local_storage, settings):
    import redis

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis at REDIS_URL")
    settings.REDIS_URL = REDIS_URL
    response = readyz()
    assert response.status_code == 200
    assert response.json()["checks"]["redis"]["detail"] == "reachable"


def test_not_ready_when_redis_is_down_and_the_answer_holds_no_secret(db, local_storage, settings):
    settings.REDIS_URL = f"redis://:sekret-password@{DOWN}/0"
    response = readyz()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["failed"] == ["redis"]
    assert body["checks"]["redis"]["detail"].startswith("unreachable (")
    assert body["checks"]["database"]["ok"] and body["checks"]["storage"]["ok"]
    assert "sekret" not in response.content.decode()
    assert DOWN not in response.content.decode()


def test_ready_with_s3_when_the_bucket_answers(db, s3_settings):
    response = readyz()
    assert response.status_code == 200
    assert response.json()["checks"]["storage"]["detail"] == "bucket reachable"


def test_not_ready_when_s3_is_down(db, s3_settings, settings):
    settings.PICPICK_S3_ENDPOINT_URL = f"http://{DOWN}"
    response = readyz()
    assert response.status_code == 503
    assert response.json()["failed"] == ["storage"]


def test_not_ready_when_the_bucket_is_missing(db, s3_settings, settings):
    settings.PICPICK_S3_BUCKET = "no-such-bucket-here"
    response = readyz()
    assert response.status_code == 503
    assert response.json()["failed"] == ["storage"]


def test_not_ready_when_the_local_root_cannot_hold_a_file(db, local_storage):
    """A volume that did not mount leaves no folder where the root should be (here a plain
    file): unlike a read-only mode, this stops every user, root included (CI runs as root)."""
    root = local_storage.root
    shutil.rmtree(root, ignore_errors=True)
    root.write_text("not a folder")
    try:
        response = readyz()
        assert response.status_code == 503
        assert response.json()["failed"] == ["storage"]
    finally:
        root.unlink()
        root.mkdir(parents=True)


def test_pending_migrations_make_it_not_ready_until_they_are_applied(
    db, local_storage, monkeypatch
):
    from django.db.migrations.executor import MigrationExecutor

    plans = [["0042_pending", "0043_pending"], []]
    asked = []

    def plan(self, targets, clean_start=False):
        asked.append(1)
        return plans[min(len(asked) - 1, 1)]

    monkeypatch.setattr(health, "_migrations_applied", False)
    monkeypatch.setattr(MigrationExecutor, "migration_plan", plan)
    response = readyz()
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"]["detail"] == "2 migrations not applied"
    assert readyz().status_code == 200
    assert readyz().status_code == 200
    assert len(asked) == 2  # once applied, never asked again


def test_a_check_that_hangs_fails_within_the_budget(monkeypatch):
    monkeypatch.setitem(health.CHECKS, "redis", lambda: time.sleep(1.5) or "late")
    monkeypatch.setitem(health.CHECKS, "database", lambda: "reachable")
    monkeypatch.setitem(health.CHECKS, "migrations", lambda: "applied")
    monkeypatch.setitem(health.CHECKS, "storage", lambda: "root writable")
    results = {r.name: r for r in health.run_checks(budget=0.2)}
    assert not results["redis"].ok
    assert results["redis"].detail == "no answer within 0.2 s"
    assert results["database"].ok


def test_healthz_asks_nothing(db, settings, django_assert_num_queries):
    settings.REDIS_URL = f"redis://{DOWN}/0"
    with django_assert_num_queries(0):
        assert Client().get("/healthz", HTTP_HOST="web").json() == {"status": "ok"}
