"""/metrics: protected, labelled by route, queue depth from the broker, task and domain
counters, and several processes adding up (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from celery.exceptions import Retry
from django.test import Client
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from picpick.core import ratelimit
from picpick.core.observability import metrics, multiproc
from tests.faces_search.conftest import selfie_bytes, shared_faces, shared_gallery  # noqa: F401
from tests.faces_search.test_selfie_api import guest_url, post_selfie
from tests.processing.conftest import jpeg
from tests.uploads.conftest import declare, put, start

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "m" * 20 + uuid.uuid4().hex  # 52 characters


def scrape(host: str = "web", **headers) -> str:
    response = Client().get("/metrics", HTTP_HOST=host, **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


# --- Protection ---------------------------------------------------------------------------------
def test_metrics_answer_on_an_internal_host_without_a_token(db):
    assert "picpick_http_requests_total" in scrape("web") or True  # nothing counted yet is fine
    assert Client().get("/metrics", HTTP_HOST="web:8000").status_code == 200


def test_metrics_are_a_plain_404_on_the_public_api_host_without_the_token(db, settings):
    settings.PICPICK_METRICS_TOKEN = TOKEN
    client = Client()
    unknown = client.get("/no-such-page")
    for headers in (
        {},
        {"HTTP_AUTHORIZATION": "Bearer wrong-token-of-the-same-kind-0000000000000000"},
        {"HTTP_AUTHORIZATION": f"Basic {TOKEN}"},
        {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}x"},
    ):
        response = client.get("/metrics", **headers)
        assert response.status_code == 404
        assert response.json() == unknown.json()  # not even revealed


def test_metrics_answer_on_the_public_api_host_to_the_token(db, settings):
    settings.PICPICK_METRICS_TOKEN = TOKEN
    text = scrape("localhost", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert "picpick_http_requests_total" in text


def test_without_a_token_configured_only_internal_hosts_get_metrics(db, settings):
    settings.PICPICK_METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_studio_sites_have_no_metrics(settings, studio_a):
    settings.PICPICK_METRICS_TOKEN = TOKEN
    response = Client().get(
        "/metrics", HTTP_HOST="annasmith.localhost", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    )
    assert response.status_code == 404


# --- Requests -----------------------------------------------------------------------------------
def test_requests_are_counted_and_timed_by_route_never_by_path(alice_client, studio_a):
    before = scrape()
    gallery_id = uuid.uuid4()
    alice_client.get("/api/v1/galleries/")
    alice_client.get(f"/api/v1/galleries/{gallery_id}/")
    after = scrape()
    listed = {"method": "GET", "route": "api/v1/galleries/", "status": "200"}
    assert sample(after, "picpick_http_requests_total", **listed) == (
        sample(before, "picpick_http_requests_total", **listed) + 1
    )
    one = {"method": "GET", "route": "api/v1/galleries/<uuid:gallery_id>/", "status": "404"}
    assert sample(after, "picpick_http_requests_total", **one) >= 1
    assert sample(after, "picpick_http_request_duration_seconds_count", **listed) >= 1
    assert sample(after, "picpick_http_request_duration_seconds_bucket", le="+Inf", **listed) >= 1
    assert str(gallery_id) not in after


# --- Queue depth --------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/8"


@pytest.fixture
def redis_broker(settings):
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis at REDIS_URL")
    prefix = f"t{uuid.uuid4().hex[:8]}."
    settings.CELERY_BROKER_URL = REDIS_URL
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": prefix}
    yield client, prefix
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)


def test_queue_depth_is_read_from_redis_at_scrape_time(db, redis_broker):
    client, prefix = redis_broker
    client.lpush(f"{prefix}media", *[b"{}"] * 3)
    client.lpush(f"{prefix}faces", b"{}")
    client.lpush(f"{prefix}faces\x06\x163", *[b"{}"] * 2)  # a priority step's own list
    text = scrape()
    assert sample(text, "picpick_celery_queue_length", queue="media") == 3
    assert sample(text, "picpick_celery_queue_length", queue="faces") == 3
    assert sample(text, "picpick_celery_queue_length", queue="default") == 0
    assert 'queue="billing"' in text
    client.rpop(f"{prefix}media")
    assert sample(scrape(), "picpick_celery_queue_length", queue="media") == 2


def test_queue_depth_of_the_folder_broker_counts_its_message_files(db, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path)}
    for index, queue in enumerate(["media", "media", "default"]):
        (tmp_path / f"{1000 + index}_{uuid.uuid4()}.{queue}.msg").write_text("{}")
    text = scrape()
    assert sample(text, "picpick_celery_queue_length", queue="media") == 2
    assert sample(text, "picpick_celery_queue_length", queue="default") == 1


def test_a_broker_that_does_not_answer_leaves_the_rest_of_the_scrape_intact(db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    text = scrape()
    assert "picpick_celery_queue_length" not in text
    assert "picpick_http_requests_total" in text


# --- Tasks --------------------------------------------------------------------------------------
def _tasks():
    from picpick.celery import app

    @app.task(name="tests.ops.metrics_ok", shared=False)
    def ok() -> int:
        return 1

    @app.task(name="tests.ops.metrics_broken", shared=False)
    def broken() -> None:
        raise RuntimeError("broken on purpose")

    @app.task(name="tests.ops.metrics_flaky", shared=False, bind=True, max_retries=1)
    def flaky(self) -> str:
        if self.request.retries == 0:
            raise self.retry(countdown=0)
        return "second time lucky"

    return ok, broken, flaky


def test_task_runtime_failures_and_retries_are_counted_by_task(db):
    ok, broken, flaky = _tasks()
    before = scrape()
    ok.delay()
    with pytest.raises(RuntimeError):
        broken.delay()
    with pytest.raises(Retry):  # eager: the retry runs at once, then Retry is raised
        flaky.delay()
    after = scrape()

    def grew(name: str, **labels) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    runtime = "picpick_celery_task_duration_seconds_count"
    assert grew(runtime, task="tests.ops.metrics_ok", state="SUCCESS") == 1
    assert grew(runtime, task="tests.ops.metrics_broken", state="FAILURE") == 1
    assert grew("picpick_celery_task_failures_total", task="tests.ops.metrics_broken") == 1
    assert grew("picpick_celery_task_failures_total", task="tests.ops.metrics_ok") == 0
    assert grew("picpick_celery_task_retries_total", task="tests.ops.metrics_flaky") == 1


# --- The work -----------------------------------------------------------------------------------
def test_an_upload_completion_and_its_processing_count_bytes_photos_and_faces(
    transactional_db, local_storage, alice_client, studio_a, alice
):
    from galleries import services

    gallery = services.gallery_create(studio=studio_a, by=alice, name="Smith Wedding")
    data = jpeg(seed=5)
    before = scrape()
    [file] = start(alice_client, gallery, [declare("IMG_0001.jpg", data)]).json()["files"]
    [url] = file["urls"]
    assert put(url, data).status == 200
    response = alice_client.post(f"/api/v1/uploads/{file['upload_id']}/complete/", {})
    assert response.status_code == 200, response.content
    after = scrape()
    assert sample(after, "picpick_upload_bytes_total") - sample(
        before, "picpick_upload_bytes_total"
    ) == len(data)
    assert (
        sample(after, "picpick_uploads_completed_total")
        - sample(before, "picpick_uploads_completed_total")
        == 1
    )
    ready = {"outcome": "ready", "source": "jpeg"}
    assert (
        sample(after, "picpick_photos_processed_total", **ready)
        - sample(before, "picpick_photos_processed_total", **ready)
        == 1
    )
    detections = "picpick_face_detection_duration_seconds_count"
    assert sample(after, detections) - sample(before, detections) == 1
    assert sample(after, "picpick_faces_detected_total") >= sample(
        before, "picpick_faces_detected_total"
    )


def test_a_photo_that_fails_processing_is_counted_as_failed(db, local_storage, studio_a, alice):
    from galleries import services
    from galleries.services.processing import photo_process_ensure
    from tests.processing.conftest import upload

    gallery = services.gallery_create(studio=studio_a, by=alice, name="Broken")
    photo = upload(gallery, alice, b"not an image at all" * 100, filename="IMG_0002.CR3")
    before = scrape()
    photo_process_ensure(photo_id=photo.id)
    failed = {"outcome": "failed", "source": "raw"}
    assert (
        sample(scrape(), "picpick_photos_processed_total", **failed)
        - sample(before, "picpick_photos_processed_total", **failed)
        == 1
    )


def test_faces_are_counted_on_a_photo_with_faces(db, local_storage, studio_a, alice):
    from galleries import services
    from galleries.services.processing import photo_process_ensure
    from tests.processing.conftest import upload

    gallery = services.gallery_create(studio=studio_a, by=alice, name="Faces")
    photo = upload(gallery, alice, selfie_bytes("obama/obama1.jpg"))
    before = sample(scrape(), "picpick_faces_detected_total")
    photo_process_ensure(photo_id=photo.id)
    assert sample(scrape(), "picpick_faces_detected_total") - before >= 1


def test_selfie_searches_and_rate_limit_hits_are_counted(
    anon_client,
    shared_gallery,  # noqa: F811
    settings,
):
    settings.PICPICK_SELFIE_RATE_PER_ADDRESS = 1
    url = guest_url(shared_gallery.gallery.id)
    before = scrape()
    assert post_selfie(anon_client, url, selfie_bytes("obama/obama1.jpg")).status_code == 200
    assert post_selfie(anon_client, url, selfie_bytes("obama/obama1.jpg")).status_code == 429
    after = scrape()
    assert (
        sample(after, "picpick_selfie_searches_total", matched="yes")
        - sample(before, "picpick_selfie_searches_total", matched="yes")
        == 1
    )
    assert (
        sample(after, "picpick_rate_limit_hits_total", limit="selfie")
        - sample(before, "picpick_rate_limit_hits_total", limit="selfie")
        == 1
    )


def test_throttles_are_counted_by_scope(db):
    key = f"throttle:anon:addr:{uuid.uuid4().hex}"
    before = sample(scrape(), "picpick_rate_limit_hits_total", limit="throttle:anon")
    assert ratelimit.take([(key, 1)], window=60) is None
    assert ratelimit.take([(key, 1)], window=60) is not None
    after = sample(scrape(), "picpick_rate_limit_hits_total", limit="throttle:anon")
    assert after - before == 1


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("throttle:auth:user:42", "throttle:auth"),
        ("selfie:a:abcdef", "selfie"),
        ("gift-card-code:0196:all", "gift-card-code"),
        ("login:0a1b2c", "login"),
    ],
)
def test_limit_names_are_bounded(key, name):
    assert metrics.limit_name(key) == name


# --- Several processes --------------------------------------------------------------------------
WRITER = """
import sys
from picpick.core.observability import metrics, multiproc
labels = {"method": "GET", "route": "api/v1/galleries/", "status": "200"}
metrics.HTTP_REQUESTS.labels(**labels).inc(int(sys.argv[1]))
metrics.HTTP_LATENCY.labels(**labels).observe(0.2)
metrics.photo_processed(outcome="ready", source="raw-preview")
"""


def test_several_processes_add_up_in_multiprocess_mode(tmp_path):
    env = {**os.environ, multiproc.MULTIPROC_ENV: str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the writer needs no Django settings
    for count in (2, 5):
        subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
            [sys.executable, "-c", WRITER, str(count)], cwd=ROOT, env=env, check=True, timeout=60
        )
    assert len(list(tmp_path.glob("*.db"))) >= 2  # one file per process and kind
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    text = generate_latest(registry).decode()
    labels = {"method": "GET", "route": "api/v1/galleries/", "status": "200"}
    assert sample(text, "picpick_http_requests_total", **labels) == 7
    assert sample(text, "picpick_http_request_duration_seconds_count", **labels) == 2
    assert sample(text, "picpick_photos_processed_total", source="raw-preview") == 2


def test_the_scrape_reads_the_multiprocess_directory_when_it_is_set(tmp_path, monkeypatch):
    env = {**os.environ, multiproc.MULTIPROC_ENV: str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run(  # noqa: S603
        [sys.executable, "-c", WRITER, "3"], cwd=ROOT, env=env, check=True, timeout=60
    )
    monkeypatch.setenv(multiproc.MULTIPROC_ENV, str(tmp_path))
    text = metrics.exposition().decode()
    labels = {"method": "GET", "route": "api/v1/galleries/", "status": "200"}
    assert sample(text, "picpick_http_requests_total", **labels) == 3
    multiproc.wipe_multiprocess_dir()
    assert list(tmp_path.iterdir()) == []
