"""A gallery's progress: the snapshot, the polling endpoint, stream tickets, and publishing
(after commit only, coalesced, the final counts always last)."""

from __future__ import annotations

import json
import math
import os
import time

import pytest
import redis
from django.core import signing
from django.db import transaction

from faces.models import Face
from galleries.models import Photo
from galleries.selectors.progress import PROGRESS_HOOKS, gallery_progress, gallery_progress_topic
from galleries.services.progress import gallery_progress_changed
from picpick.core import events
from picpick.core.events import bus
from picpick.core.events.tickets import ticket_issue, ticket_read
from picpick.testing.factories import (
    FaceFactory,
    GalleryFaceIndexFactory,
    PersonFactory,
    PhotoFactory,
)
from tests.galleries.conftest import error_code
from tests.processing.conftest import jpeg
from tests.uploads.conftest import complete, declare, put, start

pytestmark = pytest.mark.django_db

needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (the Redis Streams transport)"
)


@pytest.fixture
def mixed_gallery(gallery_a):
    """Photos in every state, faces on two of them, two people (one left without faces)."""
    sizes = {
        Photo.State.PENDING: [500],
        Photo.State.UPLOADED: [1000, 1001],
        Photo.State.PROCESSING: [2000],
        Photo.State.READY: [3000, 3001, 3002],
        Photo.State.FAILED: [4000],
    }
    photos = {
        state: [PhotoFactory(gallery=gallery_a, state=state, size=size) for size in values]
        for state, values in sizes.items()
    }
    ready = photos[Photo.State.READY]
    bride = PersonFactory(gallery=gallery_a, face_count=2)
    PersonFactory(gallery=gallery_a, name="Named, no faces left", face_count=0)
    FaceFactory(photo=ready[0], person=bride)
    FaceFactory(photo=ready[1], person=bride)
    FaceFactory(photo=ready[1])  # not grouped yet
    return gallery_a


def test_the_snapshot_counts_each_state_bytes_faces_and_people(mixed_gallery, gallery_b):
    PhotoFactory(gallery=gallery_b, state=Photo.State.READY)  # another gallery counts nothing
    progress = gallery_progress(gallery_id=mixed_gallery.id).as_dict()
    assert {k: v for k, v in progress.items() if k != "updated_at"} == {
        "gallery_id": str(mixed_gallery.id),
        "photos": 8,
        "uploaded": 7,
        "processing": 3,
        "processed": 3,
        "failed": 1,
        "faces": 3,
        "people": 1,
        "bytes_uploaded": 1000 + 1001 + 2000 + 3000 + 3001 + 3002 + 4000,
    }
    assert progress["updated_at"].endswith("+00:00")


def test_faces_and_people_come_from_the_faces_app_hook(mixed_gallery):
    from faces.selectors.progress import gallery_face_counts

    assert gallery_face_counts in PROGRESS_HOOKS
    Face.objects.filter(gallery=mixed_gallery).delete()
    progress = gallery_progress(gallery_id=mixed_gallery.id)
    assert (progress.faces, progress.people) == (0, 1)


def test_the_snapshot_is_a_few_queries_whatever_the_gallery_size(
    mixed_gallery, django_assert_num_queries
):
    with django_assert_num_queries(3):  # photos GROUP BY state; faces; people
        gallery_progress(gallery_id=mixed_gallery.id)


def test_the_polling_endpoint_answers_the_snapshot(alice_client, mixed_gallery):
    response = alice_client.get(f"/api/v1/galleries/{mixed_gallery.id}/progress/")
    assert response.status_code == 200
    body = response.json()
    assert (body["photos"], body["processed"], body["faces"], body["people"]) == (8, 3, 3, 1)
    assert set(body) == {
        "gallery_id",
        "photos",
        "uploaded",
        "processing",
        "processed",
        "failed",
        "faces",
        "people",
        "bytes_uploaded",
        "updated_at",
    }


def test_another_studio_gets_404_from_every_progress_route(bob_client, gallery_a):
    for method, path in (
        ("get", "progress/"),
        ("get", "events/"),
        ("post", "events/ticket/"),
    ):
        response = getattr(bob_client, method)(f"/api/v1/galleries/{gallery_a.id}/{path}")
        assert response.status_code == 404, path
        assert error_code(response) == "not_found"


def test_without_a_token_the_progress_routes_answer_401(anon_client, gallery_a):
    for method, path in (("get", "progress/"), ("get", "events/"), ("post", "events/ticket/")):
        response = getattr(anon_client, method)(f"/api/v1/galleries/{gallery_a.id}/{path}")
        assert response.status_code == 401, path


def test_a_ticket_is_bound_to_the_gallery_and_expires(alice_client, alice, studio_a, gallery_a):
    response = alice_client.post(f"/api/v1/galleries/{gallery_a.id}/events/ticket/")
    assert response.status_code == 200
    body = response.json()
    assert body["expires_in"] == 60
    assert body["url"] == f"/api/v1/galleries/{gallery_a.id}/events/?ticket={body['ticket']}"
    ticket = ticket_read(body["ticket"])
    assert (ticket.user_id, ticket.studio_id, ticket.scope) == (
        str(alice.id),
        str(studio_a.id),
        f"gallery:{gallery_a.id}",
    )
    assert ticket_read(body["ticket"], max_age=-1) is None  # expired
    assert ticket_read(body["ticket"][:-2] + "xx") is None  # altered


def test_a_stream_refuses_a_forged_expired_or_foreign_ticket(
    anon_client, alice, studio_a, gallery_a, mixed_gallery, monkeypatch
):
    other = PhotoFactory(gallery__studio=studio_a).gallery
    url = f"/api/v1/galleries/{gallery_a.id}/events/"
    forged = signing.TimestampSigner(salt="another salt").sign_object(
        {"u": str(alice.id), "s": str(studio_a.id), "v": alice.token_version, "t": "x"}
    )
    for_other = ticket_issue(user=alice, studio_id=studio_a.id, scope=f"gallery:{other.id}")
    for ticket in (forged, for_other, "nonsense"):
        response = anon_client.get(url, {"ticket": ticket})
        assert response.status_code == 401
        assert error_code(response) == "ticket_invalid"
    monkeypatch.setattr("picpick.core.events.tickets.TICKET_MAX_AGE", -1)
    fresh = ticket_issue(user=alice, studio_id=studio_a.id, scope=f"gallery:{gallery_a.id}")
    assert anon_client.get(url, {"ticket": fresh}).status_code == 401


def test_a_ticket_dies_with_the_membership_and_with_revoked_tokens(
    anon_client, alice, studio_a, gallery_a
):
    url = f"/api/v1/galleries/{gallery_a.id}/progress/"
    ticket = ticket_issue(user=alice, studio_id=studio_a.id, scope=f"gallery:{gallery_a.id}")
    # The polling twin takes no ticket: only the stream does.
    assert anon_client.get(url, {"ticket": ticket}).status_code == 401
    url = f"/api/v1/galleries/{gallery_a.id}/events/"
    alice.token_version += 1
    alice.save(update_fields=["token_version"])
    assert anon_client.get(url, {"ticket": ticket}).status_code == 401
    alice.refresh_from_db()
    ticket = ticket_issue(user=alice, studio_id=studio_a.id, scope=f"gallery:{gallery_a.id}")
    alice.memberships.all().delete()
    response = anon_client.get(url, {"ticket": ticket})
    assert response.status_code == 403
    assert error_code(response) == "not_a_member"


def test_a_stream_served_by_a_gunicorn_worker_ends_before_the_worker_timeout(
    alice_client, gallery_a, settings, monkeypatch
):
    settings.REDIS_URL = ""
    monkeypatch.setattr("picpick.core.events.sse.GUNICORN_LIFETIME_SECONDS", 0.3)
    monkeypatch.setattr("picpick.core.events.sse.POLL_SECONDS", 0.1)
    response = alice_client.get(
        f"/api/v1/galleries/{gallery_a.id}/events/", SERVER_SOFTWARE="gunicorn/23.0.0"
    )
    body = b"".join(response.streaming_content).decode()  # ends by itself
    assert body.startswith("retry: 3000\n\n")
    assert body.count("event: progress") == 1


# --- Publishing ------------------------------------------------------------------------------
class Recorded(list):
    """Topics published, with the snapshot each would carry (the transport itself is tested
    below with Redis)."""

    snapshots: list

    def last(self) -> dict:
        return self.snapshots[-1]()


@pytest.fixture
def published(monkeypatch) -> Recorded:
    topics = Recorded()
    topics.snapshots = []

    def submit(topic, snapshot):
        topics.append(topic)
        topics.snapshots.append(snapshot)

    monkeypatch.setattr(bus, "redis_url", lambda: "redis://recorded")
    monkeypatch.setattr(bus._coalescer, "submit", submit)
    return topics


def test_a_change_is_published_after_commit_and_not_at_all_on_rollback(
    gallery_a, published, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        gallery_progress_changed(gallery_id=gallery_a.id)
        raise RuntimeError("the work failed")
    assert published == []
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        gallery_progress_changed(gallery_id=gallery_a.id)
    assert published == []  # not before the commit
    callbacks[0]()
    assert published == [gallery_progress_topic(gallery_a.id)]


def test_without_redis_publishing_is_a_no_op(gallery_a, settings):
    settings.REDIS_URL = ""
    events.publish(topic="gallery:x", snapshot=lambda: pytest.fail("no snapshot without Redis"))


def test_a_broken_snapshot_or_redis_never_fails_the_caller(monkeypatch, settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    monkeypatch.setattr(bus, "COALESCE_SECONDS", 0)
    events.publish(topic="gallery:broken", snapshot=lambda: {"photos": 1})
    assert "could not publish" in caplog.text


@needs_redis
def test_a_publish_appends_the_snapshot_to_the_gallerys_redis_stream(
    mixed_gallery, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(bus, "COALESCE_SECONDS", 0)
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    key = bus.stream_key(gallery_progress_topic(mixed_gallery.id))
    client.delete(key)
    with django_capture_on_commit_callbacks(execute=True):
        gallery_progress_changed(gallery_id=mixed_gallery.id)
    entries = client.xrange(key)
    assert len(entries) == 1
    data = json.loads(entries[0][1][b"data"])
    assert (data["photos"], data["faces"], data["gallery_id"]) == (8, 3, str(mixed_gallery.id))
    assert 0 < client.ttl(key) <= bus.STREAM_TTL_SECONDS


@needs_redis
@pytest.mark.django_db(transaction=True)  # the trailing publish reads from its own thread
def test_a_burst_of_200_changes_is_coalesced_and_the_final_counts_arrive_last(
    gallery_a, monkeypatch
):
    """What a worker finishing many photos a second does: each change publishes; the stream
    gets a few snapshots, the last with the final counts."""
    interval = 0.5
    monkeypatch.setattr(bus, "COALESCE_SECONDS", interval)
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    key = bus.stream_key(gallery_progress_topic(gallery_a.id))
    client.delete(key)
    photos = [PhotoFactory(gallery=gallery_a, state=Photo.State.UPLOADED) for _ in range(200)]
    reads = []

    def snapshot():
        reads.append(1)
        return gallery_progress(gallery_id=gallery_a.id).as_dict()

    started = time.monotonic()
    for photo in photos:
        Photo.objects.filter(id=photo.id).update(state=Photo.State.READY)
        events.publish(topic=gallery_progress_topic(gallery_a.id), snapshot=snapshot)
    elapsed = time.monotonic() - started
    assert events.flush(timeout=10)
    entries = client.xrange(key)
    # The leading publish, then at most one per interval, then the trailing one.
    assert 2 <= len(entries) <= math.ceil(elapsed / interval) + 2
    assert len(reads) == len(entries)
    final = json.loads(entries[-1][1][b"data"])
    assert (final["processed"], final["processing"]) == (200, 0)


@needs_redis
def test_processes_share_one_gate(gallery_a, monkeypatch):
    """Another process published less than an interval ago: this one waits for the gate and
    then publishes the counts of that moment."""
    monkeypatch.setattr(bus, "COALESCE_SECONDS", 0.3)
    topic = gallery_progress_topic(gallery_a.id)
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.delete(bus.stream_key(topic))
    client.set(bus._gate_key(topic), 1, px=300)  # "another process" just published
    events.publish(topic=topic, snapshot=lambda: {"photos": 7})
    assert client.xlen(bus.stream_key(topic)) == 0
    assert events.flush(timeout=5)
    assert [json.loads(e[1][b"data"]) for e in client.xrange(bus.stream_key(topic))] == [
        {"photos": 7}
    ]


# --- Where the counts move -------------------------------------------------------------------
def test_an_upload_completed_and_its_photo_processed_each_publish(
    alice_client, gallery_a, local_storage, published, django_capture_on_commit_callbacks
):
    body = jpeg()
    response = start(alice_client, gallery_a, [declare("IMG_0001.jpg", body)])
    assert response.status_code == 201
    upload = response.json()["files"][0]
    put(upload["urls"][0], body)
    topic = gallery_progress_topic(gallery_a.id)
    with django_capture_on_commit_callbacks(execute=True):
        # Processing is queued after the commit and runs eagerly here, as a worker would.
        assert complete(alice_client, upload["upload_id"]).status_code == 200
    assert published == [topic, topic]  # the upload completed; the photo processed
    last = published.last()
    assert (last["uploaded"], last["processed"], last["bytes_uploaded"]) == (1, 1, len(body))


def test_a_reprocess_and_a_clustering_run_publish(
    gallery_a, alice, published, monkeypatch, django_capture_on_commit_callbacks
):
    from faces.services.clustering import gallery_cluster_run
    from galleries.services import processing

    monkeypatch.setattr(processing, "photos_enqueue", lambda ids: None)
    PhotoFactory(gallery=gallery_a, state=Photo.State.FAILED)
    GalleryFaceIndexFactory(gallery=gallery_a, dirty=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert processing.gallery_reprocess(gallery=gallery_a, by=alice, scope="failed") == 1
        assert gallery_cluster_run(gallery_id=gallery_a.id) == "incremental"
    assert published == [gallery_progress_topic(gallery_a.id)] * 2
    assert published.last()["processing"] == 1


def test_a_worker_that_stops_publishes_its_pending_snapshot_first(monkeypatch, settings):
    from celery.signals import worker_process_shutdown

    settings.REDIS_URL = "redis://recorded"
    sent: list[dict] = []
    monkeypatch.setattr(bus, "_send", lambda topic, snapshot: sent.append(snapshot()))
    monkeypatch.setattr(bus, "COALESCE_SECONDS", 0.5)
    events.publish(topic="gallery:stopping", snapshot=lambda: {"photos": 1})  # at once
    events.publish(topic="gallery:stopping", snapshot=lambda: {"photos": 2})  # trailing
    assert sent == [{"photos": 1}]
    worker_process_shutdown.send(sender=None, pid=1, exitcode=0)
    assert sent == [{"photos": 1}, {"photos": 2}]
