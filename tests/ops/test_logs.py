"""Structured logs: one JSON line per request and per task, a request id that follows a photo
from the API call into its tasks, the studio id, and nothing secret in any line."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import Client

from picpick.core.observability import context
from picpick.core.observability.logs import redact
from tests.logscan import capture_lines, find_secrets
from tests.ops.test_settings import PRODUCTION_ENV
from tests.processing.conftest import jpeg
from tests.uploads.conftest import declare, put, start

ROOT = Path(__file__).resolve().parents[2]


def _records(lines: list[str], event: str) -> list[dict]:
    parsed = [json.loads(line) for line in lines]
    return [entry for entry in parsed if entry.get("event") == event]


def test_a_request_writes_one_json_line_with_route_status_studio_user_and_client(
    alice, studio_a, alice_client
):
    with capture_lines() as lines:
        response = alice_client.get("/api/v1/galleries/", REMOTE_ADDR="192.0.2.7")
    assert response.status_code == 200
    [line] = _records(lines, "request")
    assert line["level"] == "INFO"
    assert line["name"] == "picpick.request"
    assert line["method"] == "GET"
    assert line["route"] == "api/v1/galleries/"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["client"] == "192.0.2.7"
    assert line["user_id"] == str(alice.pk)
    assert line["studio_id"] == str(studio_a.id)
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert "time" in line and line["message"].startswith("GET api/v1/galleries/ 200 ")


def test_the_route_is_the_url_pattern_never_the_path(alice_client, studio_a):
    with capture_lines() as lines:
        alice_client.get("/api/v1/galleries/0196a1b2-0000-7000-8000-000000000000/")
    [line] = _records(lines, "request")
    assert line["route"] == "api/v1/galleries/<uuid:gallery_id>/"
    assert line["status"] == 404


def test_a_request_refused_by_the_host_check_is_logged_too(db):
    with capture_lines() as lines:
        response = Client().get("/healthz", HTTP_HOST="nobody.invalid")
    assert response.status_code == 400
    [line] = _records(lines, "request")
    assert line["route"] == "<unmatched>" and line["status"] == 400


def test_a_sane_incoming_request_id_is_kept_and_returned(db):
    response = Client().get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a9c21.upload:42")
    assert response.headers["X-Request-ID"] == "lb-7f3a9c21.upload:42"


@pytest.mark.parametrize(
    "offered",
    ["short", "has spaces in it", "x" * 129, "quote\"inside'it", "-starts-with-a-dash", "é" * 10],
)
def test_an_odd_incoming_request_id_is_replaced(db, offered):
    response = Client().get("/healthz", HTTP_X_REQUEST_ID=offered)
    returned = response.headers["X-Request-ID"]
    assert returned != offered
    assert len(returned) == 32 and int(returned, 16) >= 0


def test_every_line_inside_a_request_carries_its_request_id(db, alice_client):
    with capture_lines() as lines:
        response = alice_client.get("/api/v1/galleries/", HTTP_X_REQUEST_ID="trace-me-123456")
    assert response.headers["X-Request-ID"] == "trace-me-123456"
    assert lines and all(json.loads(x)["request_id"] == "trace-me-123456" for x in lines)
    assert context.current_request_id() is None  # nothing leaks into the next request


def test_the_request_id_follows_a_photo_from_upload_complete_into_its_tasks(
    transactional_db, local_storage, alice_client, studio_a, alice
):
    # Committed for real: the processing task is queued when the request's transaction
    # commits, inside the request, as in production.
    from galleries import services

    gallery = services.gallery_create(studio=studio_a, by=alice, name="Smith Wedding")
    data = jpeg(seed=3)
    started = start(alice_client, gallery, [declare("IMG_0001.jpg", data)]).json()
    [file] = started["files"]
    [url] = file["urls"]
    assert put(url, data).status == 200
    with capture_lines() as lines:
        response = alice_client.post(
            f"/api/v1/uploads/{file['upload_id']}/complete/",
            {},
            format="json",
            HTTP_X_REQUEST_ID="event-day-0001",
        )
    assert response.status_code == 200, response.content
    tasks = _records(lines, "task")
    assert "galleries.tasks.photo_process" in {t["task"] for t in tasks}
    for task in tasks:
        assert task["request_id"] == "event-day-0001"
        assert task["studio_id"] == str(studio_a.id)
        assert task["state"] == "SUCCESS" and task["runtime_ms"] >= 0
    # The processing and face step's own lines carry it too.
    photo_lines = [json.loads(x) for x in lines if "galleries.services" in x or "faces." in x]
    assert photo_lines and {x["request_id"] for x in photo_lines} == {"event-day-0001"}


# --- Through a real broker: the header carries the id from the publisher to the worker --------
def _worker_task():
    from picpick.celery import app

    @app.task(name="tests.ops.log_the_request_id", shared=False)
    def log_the_request_id(word: str) -> None:
        logging.getLogger("picpick.tests").info("working on %s", word)

    return app, log_the_request_id


def test_a_task_published_during_a_request_logs_its_request_id_in_the_worker(settings):
    from celery.contrib.testing.worker import start_worker

    app, task = _worker_task()
    app.conf.task_always_eager = False
    try:
        # The embedded worker sets up Celery's logging when it starts: capture after that.
        with start_worker(app, pool="solo", perform_ping_check=False), capture_lines() as lines:
            with context.bound(request_id="published-0001", studio_id="studio-x"):
                result = task.apply_async(("hello",), queue="default")
            assert result.id
            for _ in range(400):  # until the worker thread logged the task's end
                if any('"event": "task"' in x for x in lines):
                    break
                time.sleep(0.05)
    finally:
        app.conf.task_always_eager = True
    [worked] = [json.loads(x) for x in lines if "working on hello" in x]
    [ended] = _records(lines, "task")
    assert worked["request_id"] == ended["request_id"] == "published-0001"
    assert worked["studio_id"] == ended["studio_id"] == "studio-x"


# --- Redaction ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abc.def.ghi-1234567890", "abc.def.ghi-1234567890"),
        (
            "headers={'Authorization': 'Bearer sk_live_abcdefgh12345678'}",
            "sk_live_abcdefgh12345678",
        ),
        (
            "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl leaked",
            "eyJhbGciOiJIUzI1NiJ9",
        ),
        ("GET https://s3/b/k?X-Amz-Credential=AKIAEXAMPLE%2F2026&X-Amz-Signature=0a1b2c", "0a1b2c"),
        ("https://s3/b/k?X-Amz-Credential=AKIAEXAMPLE%2F2026&X-Amz-Date=1", "AKIAEXAMPLE"),
        ("/storage/o/k?expires=99&signature=Zm9vYmFyYmF6", "Zm9vYmFyYmF6"),
        ("https://site/g/x?ticket=t1ck3tvalue&a=1", "t1ck3tvalue"),
        ("https://site/reset?token=resettoken42", "resettoken42"),
        ('{"email": "a@b.c", "password": "hunter2hunter2"}', "hunter2hunter2"),
        ("login password=hunter2hunter2 failed", "hunter2hunter2"),
        ("key 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "9f86d081884c7d"),
        ("selfie /9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQE", "4AAQSkZJRgABAQ"),
        ("b'\\xff\\xd8\\xff\\xe0\\x00\\x10JFIF'", "\\xff\\xd8\\xff"),
    ],
)
def test_redaction_masks_credentials_and_encoded_data(text, secret):
    assert secret not in redact(text)
    assert "[redacted]" in redact(text) or "[bytes]" in redact(text)


def test_redaction_masks_a_face_vector_and_keeps_ids_and_keys_readable():
    vector = "[" + ", ".join(f"{i / 997 - 0.06:.6f}" for i in range(128)) + "]"
    assert "0.0" not in redact(f"embedding {vector}").replace("[vector]", "")
    kept = (
        "photo 0196a1b2-3c4d-7e5f-8a9b-0c1d2e3f4a5b of studios/0196a1b2-3c4d-7e5f-8a9b-0c1d2e3f4a5b"
        "/galleries/x/IMG_0001.CR3 request 4c0e4a3b2f1d4e5f8a9b0c1d2e3f4a5b took 12.5 ms"
    )
    assert redact(kept) == kept


def test_redaction_covers_arguments_exceptions_and_extras():
    with capture_lines() as lines:
        logger = logging.getLogger("picpick.tests")
        logger.info(
            "calling %s", "https://x/?signature=abcdef123456", extra={"url": "?token=zz9zz9zz"}
        )
        try:
            raise ValueError("refused Authorization: Bearer s3cr3t-t0ken-value")
        except ValueError:
            logger.exception("it failed")
    text = "\n".join(lines)
    for secret in ("abcdef123456", "zz9zz9zz", "s3cr3t-t0ken-value"):
        assert secret not in text
    assert "ValueError" in text  # the exception is still there, only masked


def test_redaction_masks_what_is_written_and_leaves_the_record_to_other_handlers(caplog):
    with capture_lines() as lines:
        logging.getLogger("picpick.tests").warning("calling %s", "https://x/?signature=s1gn4tur3")
    assert "s1gn4tur3" not in lines[-1]
    # The formatter masked a copy: pytest's handler (or an error tracker's) got the record as
    # it was logged, and decides for itself.
    assert caplog.records[-1].args == ("https://x/?signature=s1gn4tur3",)


def test_the_scanner_sees_what_the_redaction_would_miss():
    leaked = [
        '{"message": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlXzEy"}',
        '{"message": "https://s3/k?X-Amz-Signature=abc123"}',
        '{"message": "selfie /9j/4AAQSkZJRg"}',
        '{"message": "' + ", ".join("0.125" for _ in range(20)) + '"}',
        '{"message": "known-secret-value-1"}',
    ]
    found = find_secrets(leaked, known=["known-secret-value-1"])
    assert {line for _, line in found} == set(leaked)
    assert find_secrets(['{"message": "X-Amz-Signature=[redacted]"}']) == []


# --- Which format where ------------------------------------------------------------------------
def _formatter(env: dict[str, str], module: str) -> str:
    probe = f"import {module} as s; print(s.LOGGING['handlers']['console']['formatter'])"
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip()


def test_production_logs_json_and_development_plain_unless_told_otherwise():
    assert _formatter(PRODUCTION_ENV, "picpick.settings.production") == "json"
    plain = {**PRODUCTION_ENV, "PICPICK_LOG_FORMAT": "plain"}
    assert _formatter(plain, "picpick.settings.production") == "plain"
    assert _formatter({}, "picpick.settings.local") == "plain"
    assert _formatter({"PICPICK_LOG_FORMAT": "json"}, "picpick.settings.local") == "json"


def test_under_asgi_the_request_gets_its_id_line_and_metrics_too(db):
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    with capture_lines() as lines:
        response = async_to_sync(AsyncClient().get)(
            "/healthz", headers={"x-request-id": "asgi-request-0001"}
        )
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "asgi-request-0001"
    [line] = _records(lines, "request")
    assert line["route"] == "healthz" and line["request_id"] == "asgi-request-0001"
