"""Gallery events reach the job's timeline through the hooks galleries and guests declare:
the studio's publish, a guest's first visit, favourites, a ZIP asked for; nothing (one query)
for a gallery no job links, and a failing CRM never fails the guest."""

from __future__ import annotations

import logging

import pytest

from crm.models import TimelineEvent
from crm.services.gallery_events import gallery_activity_record
from galleries import services as gallery_services
from galleries.services.galleries import GALLERY_ACTIVITY_HOOKS
from picpick.testing.factories import JobFactory, JobGalleryFactory, StageFactory
from tests.guests.api_support import guest, public_url, register

pytest_plugins = ["tests.guests.api_fixtures"]
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


@pytest.fixture
def job_a(studio_a):
    return JobFactory(stage=StageFactory(pipeline__studio=studio_a), name="Smith wedding")


@pytest.fixture
def linked(gallery_a, job_a):
    JobGalleryFactory(job=job_a, gallery=gallery_a)
    return job_a


def events(job) -> list[tuple[str, dict]]:
    rows = TimelineEvent.objects.filter(job=job).order_by("occurred_at", "id")
    return [(e.kind, e.payload) for e in rows]


def registered(gallery, captured, email="tom@example.com"):
    with captured(execute=True):
        response = register(guest(), gallery, email)
    assert response.status_code == 200, response.json()
    return guest(response.json()["token"])


def test_publishing_a_gallery_of_a_job_records_it_delivered(
    alice_client, studio_a, alice, job_a, django_capture_on_commit_callbacks
):
    gallery = gallery_services.gallery_create(studio=studio_a, by=alice, name="Smith Wedding")
    JobGalleryFactory(job=job_a, gallery=gallery)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(f"/api/v1/galleries/{gallery.id}/publish/")
    assert response.status_code == 200, response.json()
    assert events(job_a) == [
        ("gallery_delivered", {"gallery_id": str(gallery.id), "gallery_name": "Smith Wedding"})
    ]


def test_a_guest_s_first_visit_favourites_and_zip_reach_the_job(
    linked, gallery_a, photos_a, django_capture_on_commit_callbacks
):
    captured = django_capture_on_commit_callbacks
    client = registered(gallery_a, captured)
    registered(gallery_a, captured)  # a return visit is not a first visit
    with captured(execute=True):
        for photo in photos_a:
            assert client.put(
                public_url(gallery_a, f"favourites/photos/{photo.id}/")
            ).status_code in (
                200,
                201,
            )
    with captured(execute=True):
        response = client.post(public_url(gallery_a, "downloads/"), {"size": "web"}, format="json")
    assert response.status_code == 202, response.json()

    base = {"gallery_id": str(gallery_a.id), "gallery_name": "Smith Wedding"}
    assert events(linked) == [
        ("gallery_first_visit", {**base, "email": "tom@example.com"}),
        ("favourites_made", {**base, "count": 1, "email": "tom@example.com", "list": "Favourites"}),
        ("zip_downloaded", {**base, "size": "web", "email": "tom@example.com"}),
    ]
    assert all(e.actor_id is None for e in TimelineEvent.objects.all())


def test_favourites_are_told_at_the_first_and_every_tenth(
    linked, gallery_a, alice, guest_storage, django_capture_on_commit_callbacks, settings
):
    from guests import services as guest_services
    from tests.delivery.conftest import stored_photo

    photos = [
        stored_photo(guest_storage, gallery_a, alice, filename=f"P{i}.jpg") for i in range(11)
    ]
    client = registered(gallery_a, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        for photo in photos:
            client.put(public_url(gallery_a, f"favourites/photos/{photo.id}/"))
    counts = [p["count"] for k, p in events(linked) if k == "favourites_made"]
    assert counts == [1, guest_services.FAVOURITES_ACTIVITY_EVERY]


def test_a_gallery_without_a_job_records_nothing_in_one_query(gallery_a, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert gallery_activity_record(gallery_a, "first_visit", {"email": "a@example.com"}) is None
    assert not TimelineEvent.objects.exists()


def test_a_guest_of_a_gallery_without_a_job_leaves_no_event(
    gallery_a, photos_a, django_capture_on_commit_callbacks
):
    client = registered(gallery_a, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        client.put(public_url(gallery_a, f"favourites/photos/{photos_a[0].id}/"))
    assert not TimelineEvent.objects.exists()


def test_a_failing_crm_never_fails_the_guest(
    linked, gallery_a, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    def broken(gallery, activity, data):
        raise RuntimeError("crm down")

    monkeypatch.setattr(
        "galleries.services.galleries.GALLERY_ACTIVITY_HOOKS", [broken, *GALLERY_ACTIVITY_HOOKS]
    )
    with caplog.at_level(logging.ERROR, logger="galleries.services.galleries"):
        registered(gallery_a, django_capture_on_commit_callbacks)
    assert "gallery activity listener" in caplog.text and str(gallery_a.id) in caplog.text
    # The listeners after the broken one still ran.
    assert [k for k, _ in events(linked)] == ["gallery_first_visit"]
