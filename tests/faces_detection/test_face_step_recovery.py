"""A photo whose face step was lost (raised, or its worker died after the ready commit) gets its
faces from the processing ``ensure`` step, queued by the face step sweep."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone

from faces import pipeline
from faces.models import Face, PhotoFaceScan
from galleries.models import Photo
from galleries.services.photos import photo_delete
from galleries.services.processing import Outcome, photo_process_ensure
from picpick.testing.scenes import build_scene
from tests.processing.conftest import upload

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_scene():
    """~2000 px, three faces: fast enough to process for real."""
    return build_scene(seed=11, face_heights=[110, 190, 320], size=(2000, 1333))


@pytest.fixture(autouse=True)
def no_clustering(monkeypatch):
    from faces import tasks

    monkeypatch.setattr(tasks, "gallery_cluster_soon", lambda gallery_id: None, raising=False)


@pytest.fixture
def broken_face_step(monkeypatch):
    """The face step raises until the test repairs it (``broken_face_step.undo()``)."""

    def broken(*args, **kwargs):
        raise RuntimeError("dlib exploded")

    monkeypatch.setattr(pipeline, "find_faces", broken)
    return monkeypatch


def age(photo: Photo, by: dt.timedelta) -> None:
    """The photo became ready ``by`` earlier (its task is long over)."""
    Photo.objects.filter(id=photo.id).update(processed_at=timezone.now() - by)


def test_a_face_step_that_raised_leaves_the_photo_ready_and_the_sweep_gives_it_faces(
    local_storage,
    gallery_a,
    alice,
    small_scene,
    broken_face_step,
    django_capture_on_commit_callbacks,
):
    photo = upload(gallery_a, alice, small_scene.jpeg())
    assert photo_process_ensure(photo_id=photo.id) == Outcome.PROCESSED
    photo.refresh_from_db()
    assert photo.state == Photo.State.READY
    assert not Face.objects.filter(photo=photo).exists()
    assert not PhotoFaceScan.objects.filter(photo=photo).exists()
    # Right after the ready commit the step may still be running in its own task: left alone.
    assert pipeline.photos_face_step_sweep() == 0

    broken_face_step.undo()
    age(photo, dt.timedelta(hours=1))
    # The sweep queues the processing task (eager in the tests), whose ensure step re-runs it.
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.photos_face_step_sweep() == 1
    assert Face.objects.filter(photo=photo).count() == 3
    scan = PhotoFaceScan.objects.get(photo=photo)
    assert (scan.version, scan.attempts) == (pipeline.FACE_STEP_VERSION, 0)
    photo.refresh_from_db()
    assert photo.state == Photo.State.READY and photo.processing_started_at is None
    # Done: neither the sweep nor another delivery runs it again.
    assert pipeline.photos_face_step_sweep(now=timezone.now() + dt.timedelta(days=1)) == 0
    assert photo_process_ensure(photo_id=photo.id) == Outcome.SKIPPED


def test_the_ensure_step_reruns_only_a_due_photo(
    local_storage, gallery_a, alice, small_scene, broken_face_step
):
    photo = upload(gallery_a, alice, small_scene.jpeg())
    photo_process_ensure(photo_id=photo.id)
    broken_face_step.undo()
    # A duplicate delivery right after the ready commit cannot tell a dead face step from a
    # running one: it leaves the photo to the sweep.
    assert photo_process_ensure(photo_id=photo.id) == Outcome.SKIPPED
    age(photo, dt.timedelta(hours=1))
    assert photo_process_ensure(photo_id=photo.id) == Outcome.STEPS_RERUN
    assert Face.objects.filter(photo=photo).count() == 3
    # Current now: no decode, no detection.
    broken_face_step.setattr(pipeline, "find_faces", pytest.fail)
    assert photo_process_ensure(photo_id=photo.id) == Outcome.SKIPPED


def test_a_rerun_keeps_faces_ids_and_the_studios_decisions(
    local_storage, gallery_a, alice, small_scene
):
    photo = upload(gallery_a, alice, small_scene.jpeg())
    photo_process_ensure(photo_id=photo.id)
    before = set(Face.objects.filter(photo=photo).values_list("id", flat=True))
    PhotoFaceScan.objects.filter(photo=photo).update(version=0)  # an older step's faces
    age(photo, dt.timedelta(hours=1))
    assert photo_process_ensure(photo_id=photo.id) == Outcome.STEPS_RERUN
    assert set(Face.objects.filter(photo=photo).values_list("id", flat=True)) == before


def test_a_photo_the_step_keeps_failing_on_is_given_up_after_a_few_attempts(
    local_storage,
    gallery_a,
    alice,
    small_scene,
    broken_face_step,
    django_capture_on_commit_callbacks,
):
    photo = upload(gallery_a, alice, small_scene.jpeg())
    photo_process_ensure(photo_id=photo.id)
    age(photo, dt.timedelta(hours=1))
    now = timezone.now()
    queued, again = [], []
    for attempt in range(pipeline.MAX_ATTEMPTS + 2):
        at = now + attempt * (pipeline.RETRY_AFTER + dt.timedelta(minutes=1))
        with django_capture_on_commit_callbacks(execute=True):
            queued.append(pipeline.photos_face_step_sweep(now=at))
        # Not before RETRY_AFTER: the re-run may still wait behind a long media queue.
        again.append(pipeline.photos_face_step_sweep(now=at + pipeline.RETRY_AFTER / 2))
    assert queued == [1] * pipeline.MAX_ATTEMPTS + [0, 0]
    assert again == [0] * (pipeline.MAX_ATTEMPTS + 2)
    assert PhotoFaceScan.objects.get(photo=photo).attempts == pipeline.MAX_ATTEMPTS
    assert not Face.objects.filter(photo=photo).exists()
    # A new version of the step is a new chance.
    broken_face_step.undo()
    broken_face_step.setattr(pipeline, "FACE_STEP_VERSION", pipeline.FACE_STEP_VERSION + 1)
    PhotoFaceScan.objects.filter(photo=photo).update(attempts=0)
    assert pipeline.photo_faces_due(photo=Photo.objects.get(id=photo.id))


@pytest.mark.parametrize("switch", ["gallery", "studio"])
def test_no_rerun_while_face_recognition_is_off(
    local_storage, gallery_a, alice, small_scene, broken_face_step, switch
):
    photo = upload(gallery_a, alice, small_scene.jpeg())
    photo_process_ensure(photo_id=photo.id)
    age(photo, dt.timedelta(hours=1))
    owner = gallery_a if switch == "gallery" else gallery_a.studio
    type(owner).objects.filter(id=owner.id).update(face_recognition_enabled=False)
    assert pipeline.photos_face_step_sweep() == 0
    assert photo_process_ensure(photo_id=photo.id) == Outcome.SKIPPED


def test_switching_off_and_deleting_photos_take_the_scan_rows_along(
    local_storage, gallery_a, alice, small_scene
):
    from faces.services import faces_disable_gallery

    first = upload(gallery_a, alice, small_scene.jpeg(), "A.jpg")
    second = upload(gallery_a, alice, small_scene.jpeg(), "B.jpg")
    for photo in (first, second):
        photo_process_ensure(photo_id=photo.id)
    assert PhotoFaceScan.objects.filter(gallery=gallery_a).count() == 2
    photo_delete(photo=first, by=alice)
    assert list(PhotoFaceScan.objects.values_list("photo_id", flat=True)) == [second.id]
    faces_disable_gallery(gallery=gallery_a, by=alice)
    # Switched on again, its photos are due: their faces went with the switch-off.
    assert not PhotoFaceScan.objects.exists()


# --- A real worker process killed between the two commits ------------------------------------
def _script(tmp_path: Path, phase: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "picpick.settings.test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}",
        "PICPICK_STORAGE": "local",
        "PICPICK_LOCAL_STORAGE_ROOT": str(tmp_path / "objects"),
    }
    return subprocess.run(  # noqa: S603 - our own interpreter and test module
        [sys.executable, "-m", "tests.faces_detection.killed_worker", phase],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.shared_photos
def test_a_worker_killed_between_the_ready_and_the_faces_commit_is_caught_by_the_sweep(tmp_path):
    """Two processes on one database file: the first processes a photo and is SIGKILLed right
    after the ready commit (a hook placed before the face step kills it); the second is the
    beat's sweep and the worker it queues for."""
    killed = _script(tmp_path, "process")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    swept = _script(tmp_path, "sweep")
    assert swept.returncode == 0, swept.stderr[-3000:]
    lines = dict(line.split("=", 1) for line in swept.stdout.split() if "=" in line)
    assert lines == {
        "state_after_kill": "ready",
        "faces_after_kill": "0",
        "queued": "1",
        "faces_after_sweep": "3",
        "scan_version": str(pipeline.FACE_STEP_VERSION),
    }


def test_no_rerun_on_an_original_that_is_not_the_verified_file(
    local_storage, gallery_a, alice, small_scene, broken_face_step
):
    photo = upload(gallery_a, alice, small_scene.jpeg())
    photo_process_ensure(photo_id=photo.id)
    broken_face_step.undo()
    age(photo, dt.timedelta(hours=1))
    local_storage.put_object(key=photo.original_key, body=b"<html>", content_type="text/html")
    assert photo_process_ensure(photo_id=photo.id) == Outcome.FAILED
    photo.refresh_from_db()
    assert photo.state == Photo.State.READY and photo.processing_started_at is None
    assert not Face.objects.filter(photo=photo).exists()
