"""The People API says whether grouping is still under way, so an empty list right after an
upload reads "not yet" rather than "nobody"."""

from __future__ import annotations

import pytest

from faces import pipeline, tasks
from faces.embedding import FoundFace
from faces.models import PhotoFaceScan
from faces.selectors import grouping_status
from faces.services import clustering as service
from galleries.models import Photo
from picpick.testing.factories import GalleryFactory, PhotoFactory
from tests.faces_people.conftest import person_vectors

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_queue(monkeypatch):
    monkeypatch.setattr(tasks.gallery_cluster_run, "apply_async", lambda *a, **kw: None)


def people(client, gallery) -> dict:
    response = client.get(f"/api/v1/galleries/{gallery.id}/people/")
    assert response.status_code == 200
    return response.json()


def faces_found(photo: Photo, vectors) -> None:
    """The face step of ``photo`` finished with these faces (one per vector)."""
    found = [
        FoundFace(
            box=(100 + 300 * n, 100, 300 + 300 * n, 300),
            embedding=vector,
            score=1.0,
            size=200,
            sharpness=10.0,
        )
        for n, vector in enumerate(vectors)
    ]
    pipeline.photo_faces_replace(photo=photo, found=found)


def test_people_list_says_pending_until_every_photos_faces_are_grouped(gallery_a, alice_client):
    photos = [PhotoFactory(gallery=gallery_a, state=Photo.State.UPLOADED) for _ in range(3)]
    body = people(alice_client, gallery_a)
    assert body == {
        "results": [],
        "next": None,
        "previous": None,
        "grouping": {"state": "pending", "photos_waiting": 3, "faces_waiting": 0},
    }
    # Every photo ready, the face index clean (it has none yet) -- and still not done: a photo
    # is ready before its face step runs. (What ended the end-to-end benchmark's clock early.)
    Photo.objects.filter(gallery=gallery_a).update(state=Photo.State.READY)
    assert people(alice_client, gallery_a)["grouping"]["state"] == "pending"
    vectors = [vector for _, vector in person_vectors(3, people=2, per_person=3)]
    for photo, index in zip(photos[:2], ((0, 3), (1, 4)), strict=True):
        faces_found(photo, [vectors[i] for i in index])
    assert people(alice_client, gallery_a)["grouping"] == {
        "state": "pending",
        "photos_waiting": 1,
        "faces_waiting": 4,
    }
    faces_found(photos[2], [vectors[2], vectors[5]])
    assert people(alice_client, gallery_a)["grouping"] == {
        "state": "pending",
        "photos_waiting": 0,
        "faces_waiting": 6,
    }

    assert service.gallery_cluster_run(gallery_id=gallery_a.id) == "incremental"
    body = people(alice_client, gallery_a)
    assert len(body["results"]) == 2
    assert body["grouping"] == {"state": "done", "photos_waiting": 0, "faces_waiting": 0}


def test_a_photo_after_the_run_makes_it_pending_again(gallery_a, alice_client):
    vectors = [vector for _, vector in person_vectors(4, people=1, per_person=3)]
    faces_found(PhotoFactory(gallery=gallery_a), vectors[:2])
    service.gallery_cluster_run(gallery_id=gallery_a.id)
    assert grouping_status(gallery=gallery_a).state == "done"
    faces_found(PhotoFactory(gallery=gallery_a), vectors[2:])
    status = grouping_status(gallery=gallery_a)
    assert (status.state, status.faces_waiting) == ("pending", 1)


def test_running_while_a_clustering_run_works(gallery_a, monkeypatch):
    vectors = [vector for _, vector in person_vectors(5, people=1, per_person=2)]
    faces_found(PhotoFactory(gallery=gallery_a), vectors)
    seen = []
    original = service.gallery_cluster_incremental

    def observed(*, gallery):
        seen.append(grouping_status(gallery=gallery).state)
        return original(gallery=gallery)

    monkeypatch.setattr(service, "gallery_cluster_incremental", observed)
    service.gallery_cluster_run(gallery_id=gallery_a.id)
    assert seen == ["running"]
    assert grouping_status(gallery=gallery_a).state == "done"


def test_a_photo_the_face_step_gave_up_on_does_not_keep_it_pending(gallery_a):
    photo = PhotoFactory(gallery=gallery_a)
    assert grouping_status(gallery=gallery_a).photos_waiting == 1
    PhotoFaceScan.objects.create(
        photo=photo,
        studio_id=photo.studio_id,
        gallery=gallery_a,
        attempts=pipeline.MAX_ATTEMPTS,
    )
    assert grouping_status(gallery=gallery_a).state == "done"


@pytest.mark.parametrize("switch", ["gallery", "studio"])
def test_off_when_face_recognition_is_switched_off(gallery_a, alice_client, switch):
    PhotoFactory(gallery=gallery_a, state=Photo.State.UPLOADED)
    owner = gallery_a if switch == "gallery" else gallery_a.studio
    type(owner).objects.filter(id=owner.id).update(face_recognition_enabled=False)
    assert people(alice_client, gallery_a)["grouping"] == {
        "state": "off",
        "photos_waiting": 0,
        "faces_waiting": 0,
    }


def test_a_photo_scanned_by_an_older_step_has_its_faces_and_does_not_wait(gallery_a, monkeypatch):
    vectors = [vector for _, vector in person_vectors(6, people=1, per_person=2)]
    faces_found(PhotoFactory(gallery=gallery_a), vectors)
    service.gallery_cluster_run(gallery_id=gallery_a.id)
    monkeypatch.setattr(pipeline, "FACE_STEP_VERSION", pipeline.FACE_STEP_VERSION + 1)
    assert pipeline.photos_faces_missing(gallery=gallery_a).count() == 1  # the sweep's work
    assert grouping_status(gallery=gallery_a).state == "done"


def test_photos_from_before_the_scans_count_as_scanned_by_the_first_version(gallery_a):
    import importlib

    from django.apps import apps

    backfill = importlib.import_module("faces.migrations.0003_backfill_photo_face_scans").backfill
    before = PhotoFactory(gallery=gallery_a)
    rescanned = PhotoFactory(gallery=gallery_a)
    faces_found(rescanned, [])
    PhotoFactory(gallery=gallery_a, state=Photo.State.UPLOADED)
    PhotoFactory(gallery=GalleryFactory(studio=gallery_a.studio, face_recognition_enabled=False))
    backfill(apps, None)
    assert dict(PhotoFaceScan.objects.values_list("photo_id", "version")) == {
        before.id: 1,
        rescanned.id: pipeline.FACE_STEP_VERSION,
    }
