"""The face step through the processing service: rows, idempotent reprocess, switches, failures."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from faces import pipeline
from faces.embedding import FoundFace
from faces.models import Face, FaceRejection, GalleryFaceIndex, Person
from galleries.models import Photo
from galleries.services.processing import Outcome, gallery_reprocess, photo_process_ensure
from picpick.testing.scenes import build_scene
from tests.processing.conftest import upload

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def small_scene():
    """~2000 px, three faces: fast enough to process for real in every test that needs it."""
    return build_scene(seed=11, face_heights=[110, 190, 320], size=(2000, 1333))


@pytest.fixture
def queued(monkeypatch):
    """The clustering runs the face step asks for."""
    from faces import tasks

    calls: list[str] = []
    monkeypatch.setattr(tasks, "gallery_cluster_soon", calls.append, raising=False)
    return calls


def process(photo: Photo) -> None:
    assert photo_process_ensure(photo_id=photo.id) == Outcome.PROCESSED


def boxes(photo: Photo) -> list[tuple[int, int, int, int]]:
    return list(
        Face.objects.filter(photo=photo, added_manually=False)
        .order_by("left")
        .values_list("left", "top", "right", "bottom")
    )


def test_processing_a_photo_stores_its_faces(
    local_storage, gallery_a, alice, small_scene, queued, django_capture_on_commit_callbacks
):
    photo = upload(gallery_a, alice, small_scene.jpeg())
    with django_capture_on_commit_callbacks(execute=True):
        process(photo)
    faces = list(Face.objects.filter(photo=photo))
    assert len(faces) == 3
    truth = sorted(face.box for face in small_scene.faces)
    for expected, found in zip(truth, boxes(photo), strict=True):
        assert pipeline.box_iou(expected, found) > 0.4
    for face in faces:
        assert (face.studio_id, face.gallery_id) == (gallery_a.studio_id, gallery_a.id)
        assert len(bytes(face.embedding)) == 512
        assert face.assignment == Face.Assignment.NONE and face.person_id is None
        assert face.size > 80 and face.sharpness > 0
    index = GalleryFaceIndex.objects.get(gallery=gallery_a)
    assert index.dirty and index.dirty_since is not None and index.version > 0
    assert queued == [str(gallery_a.id)]


def test_reprocess_keeps_manual_decisions_on_faces_still_there(
    local_storage, gallery_a, alice, small_scene, queued
):
    photo = upload(gallery_a, alice, small_scene.jpeg())
    process(photo)
    first, second, third = Face.objects.filter(photo=photo).order_by("left")
    couple = Person.objects.create(studio=gallery_a.studio, gallery=gallery_a, name="Bride")
    other = Person.objects.create(studio=gallery_a.studio, gallery=gallery_a)
    Face.objects.filter(id=first.id).update(
        person=couple, assignment=Face.Assignment.MANUAL, distance=0.1
    )
    Face.objects.filter(id=second.id).update(hidden=True)
    FaceRejection.objects.create(studio=gallery_a.studio, face=third, person=other)
    drawn = Face.objects.create(
        studio=gallery_a.studio,
        gallery=gallery_a,
        photo=photo,
        left=5,
        top=5,
        right=60,
        bottom=60,
        embedding=bytes(512),
        added_manually=True,
        person=couple,
        assignment=Face.Assignment.MANUAL,
    )
    version = GalleryFaceIndex.objects.get(gallery=gallery_a).version

    assert gallery_reprocess(gallery=gallery_a, by=alice, scope="all") == 1
    process(photo)

    after = {face.id: face for face in Face.objects.filter(photo=photo)}
    assert set(after) == {first.id, second.id, third.id, drawn.id}
    assert (after[first.id].person_id, after[first.id].assignment) == (couple.id, "manual")
    assert after[second.id].hidden is True
    assert FaceRejection.objects.filter(face=third, person=other).exists()
    assert after[drawn.id].added_manually and after[drawn.id].person_id == couple.id
    assert GalleryFaceIndex.objects.get(gallery=gallery_a).version > version


def found(box, seed: int) -> FoundFace:
    vector = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return FoundFace(box=box, embedding=vector, score=1.0, size=box[3] - box[1], sharpness=10.0)


def test_replace_matches_boxes_deletes_vanished_and_inserts_new(gallery_a, queued):
    from picpick.testing.factories import PhotoFactory

    photo = PhotoFactory(gallery=gallery_a)
    pipeline.photo_faces_replace(
        photo=photo, found=[found((100, 100, 200, 200), 1), found((400, 100, 500, 200), 2)]
    )
    kept, gone = Face.objects.filter(photo=photo).order_by("left")
    person = Person.objects.create(studio=gallery_a.studio, gallery=gallery_a, cover_face=gone)
    FaceRejection.objects.create(studio=gallery_a.studio, face=gone, person=person)

    result = pipeline.photo_faces_replace(
        photo=photo, found=[found((900, 100, 1000, 200), 3), found((105, 102, 205, 203), 4)]
    )

    assert result == {"kept": 1, "created": 1, "deleted": 1}
    faces = list(Face.objects.filter(photo=photo).order_by("left"))
    assert faces[0].id == kept.id
    assert (faces[0].left, faces[0].bottom) == (105, 203)  # the new box and embedding
    assert bytes(faces[0].embedding) == found((0, 0, 1, 1), 4).embedding.tobytes()
    assert faces[1].left == 900 and faces[1].id not in (kept.id, gone.id)
    assert not FaceRejection.objects.filter(face_id=gone.id).exists()
    person.refresh_from_db()
    assert person.cover_face_id is None


def test_an_unchanged_empty_photo_does_not_touch_the_index(gallery_a):
    from picpick.testing.factories import PhotoFactory

    photo = PhotoFactory(gallery=gallery_a)
    assert pipeline.photo_faces_replace(photo=photo, found=[]) == {
        "kept": 0,
        "created": 0,
        "deleted": 0,
    }
    assert not GalleryFaceIndex.objects.filter(gallery=gallery_a).exists()


def test_greedy_matching_pairs_the_best_overlaps_first():
    old = [(0, 0, 100, 100), (50, 0, 150, 100)]
    new = [(45, 0, 145, 100), (0, 0, 100, 100)]
    assert sorted(pipeline.match_boxes(old, new)) == [(0, 1), (1, 0)]
    assert pipeline.match_boxes([(0, 0, 100, 100)], [(60, 0, 160, 100)]) == []


@pytest.mark.parametrize("switch", ["gallery", "studio"])
def test_no_face_step_when_face_recognition_is_off(
    local_storage, gallery_a, alice, small_scene, switch, monkeypatch
):
    owner = gallery_a if switch == "gallery" else gallery_a.studio
    owner.face_recognition_enabled = False
    owner.save(update_fields=["face_recognition_enabled"])
    monkeypatch.setattr(pipeline, "find_faces", pytest.fail)  # never even detected
    photo = upload(gallery_a, alice, small_scene.jpeg())
    process(photo)
    assert not Face.objects.filter(photo=photo).exists()
    assert not GalleryFaceIndex.objects.exists()


def test_a_failing_face_step_is_logged_and_never_fails_the_photo(
    local_storage, gallery_a, alice, small_scene, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("dlib exploded")

    monkeypatch.setattr(pipeline, "find_faces", broken)
    photo = upload(gallery_a, alice, small_scene.jpeg())
    with caplog.at_level(logging.ERROR, logger="faces.pipeline"):
        process(photo)
    photo.refresh_from_db()
    assert photo.state == Photo.State.READY
    assert any(
        str(photo.id) in record.getMessage() and "face step failed" in record.getMessage()
        for record in caplog.records
    )
    assert not Face.objects.filter(photo=photo).exists()


@pytest.mark.parametrize("switch", ["gallery", "studio"])
def test_faces_found_after_a_switch_off_are_not_stored(gallery_a, switch):
    """Detection takes a while; a switch-off that lands meanwhile wins."""
    from picpick.testing.factories import PhotoFactory

    photo = PhotoFactory(gallery=gallery_a)
    owner = gallery_a if switch == "gallery" else gallery_a.studio
    type(owner).objects.filter(id=owner.id).update(face_recognition_enabled=False)
    pipeline.photo_faces_replace(photo=photo, found=[found((100, 100, 200, 200), 1)])
    assert not Face.objects.filter(photo=photo).exists()
    assert not GalleryFaceIndex.objects.exists()


def test_the_tasks_time_limit_is_not_swallowed(gallery_a, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    from picpick.testing.factories import PhotoFactory

    def slow(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(pipeline, "photo_faces_ensure", slow)
    with pytest.raises(SoftTimeLimitExceeded):
        pipeline.decoded_hook(PhotoFactory(gallery=gallery_a), object())
