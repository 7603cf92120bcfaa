"""The stuck-photo sweeper, and watermarked previews: made only when set, re-made only on change."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.utils import timezone
from PIL import Image

from galleries import imaging
from galleries.models import Photo
from galleries.services import processing
from galleries.services import watermarks as wm_service
from galleries.services.processing import Outcome, photo_process_ensure
from galleries.tasks import photo_process, photos_sweep_stuck
from tests.processing.conftest import jpeg, logo_png, read, upload

pytestmark = pytest.mark.django_db


def ago(**kwargs) -> dt.datetime:
    return timezone.now() - dt.timedelta(**kwargs)


# --- Sweeper ---------------------------------------------------------------------------------
def test_sweeper_resets_and_requeues_a_photo_whose_worker_died(
    local_storage, gallery_a, alice, django_capture_on_commit_callbacks
):
    photo = upload(gallery_a, alice, jpeg())
    # Claimed by a worker that was killed: its redelivered message does nothing meanwhile.
    Photo.objects.filter(id=photo.id).update(
        state=Photo.State.PROCESSING, processing_started_at=ago(seconds=30), attempts=1
    )
    assert photo_process.delay(str(photo.id)).get() == "skipped"
    with django_capture_on_commit_callbacks(execute=True):
        assert photos_sweep_stuck.delay().get()["reset_processing"] == 0  # still recent
    assert Photo.objects.get(id=photo.id).state == Photo.State.PROCESSING

    Photo.objects.filter(id=photo.id).update(processing_started_at=ago(seconds=150 + 61))
    with django_capture_on_commit_callbacks(execute=True):
        result = photos_sweep_stuck.delay().get()
    assert result == {"requeued_uploaded": 0, "reset_processing": 1, "failed": 0}
    photo.refresh_from_db()
    assert (photo.state, photo.attempts) == (Photo.State.READY, 2)  # requeued and processed


def test_sweeper_fails_a_photo_that_used_up_its_attempts(local_storage, gallery_a, alice):
    photo = upload(gallery_a, alice, jpeg())
    Photo.objects.filter(id=photo.id).update(
        state=Photo.State.PROCESSING, processing_started_at=ago(minutes=10), attempts=3
    )
    assert photos_sweep_stuck.delay().get()["failed"] == 1
    photo.refresh_from_db()
    assert (photo.state, photo.failure_code) == (Photo.State.FAILED, "too_many_attempts")
    assert photo.processing_started_at is None


def test_sweeper_requeues_an_uploaded_photo_whose_message_was_lost(
    local_storage, gallery_a, alice, django_capture_on_commit_callbacks
):
    lost = upload(gallery_a, alice, jpeg(), "lost.jpg")
    fresh = upload(gallery_a, alice, jpeg(), "fresh.jpg")
    Photo.objects.filter(id=lost.id).update(updated_at=ago(minutes=16))
    with django_capture_on_commit_callbacks(execute=True):
        result = photos_sweep_stuck.delay().get()
    assert result == {"requeued_uploaded": 1, "reset_processing": 0, "failed": 0}
    assert Photo.objects.get(id=lost.id).state == Photo.State.READY
    assert Photo.objects.get(id=fresh.id).state == Photo.State.UPLOADED  # its message is queued


def test_sweeper_leaves_ready_failed_and_pending_photos_alone(local_storage, gallery_a, alice):
    photo = upload(gallery_a, alice, jpeg())
    for state in (Photo.State.READY, Photo.State.FAILED, Photo.State.PENDING):
        Photo.objects.filter(id=photo.id).update(
            state=state, processing_started_at=ago(hours=2), updated_at=ago(hours=2)
        )
        assert photos_sweep_stuck.delay().get() == {
            "requeued_uploaded": 0,
            "reset_processing": 0,
            "failed": 0,
        }
        assert Photo.objects.get(id=photo.id).state == state


# --- Watermarked previews --------------------------------------------------------------------
@pytest.fixture
def renders(monkeypatch) -> list[list[str]]:
    """The derivative names of every render, in order."""
    calls: list[list[str]] = []
    real = imaging.render_derivatives

    def spy(decoded, specs, **kwargs):
        specs = list(specs)
        calls.append(sorted(spec.name for spec in specs))
        return real(decoded, specs, **kwargs)

    monkeypatch.setattr(imaging, "render_derivatives", spy)
    return calls


def test_no_watermarked_preview_without_a_watermark(local_storage, gallery_a, alice, renders):
    photo = upload(gallery_a, alice, jpeg())
    photo_process_ensure(photo_id=photo.id)
    photo.refresh_from_db()
    assert "preview_wm" not in photo.derivatives
    assert renders == [["preview", "thumb"]]


def test_empty_watermark_stamps_nothing(local_storage, gallery_a, alice, studio_a):
    gallery_a.watermark = wm_service.watermark_create(studio=studio_a, by=alice, name="Empty")
    gallery_a.save(update_fields=["watermark"])
    photo = upload(gallery_a, alice, jpeg())
    photo_process_ensure(photo_id=photo.id)
    photo.refresh_from_db()
    assert "preview_wm" not in photo.derivatives and photo.watermark_version == 0


def test_watermarked_preview_is_made_in_the_same_pass(local_storage, gallery_a, alice, studio_a):
    mark = wm_service.watermark_create(studio=studio_a, by=alice, name="Logo", text="© Anna")
    gallery_a.watermark = mark
    gallery_a.save(update_fields=["watermark"])
    photo = upload(gallery_a, alice, jpeg((3000, 2000)))
    photo_process_ensure(photo_id=photo.id)
    photo.refresh_from_db()
    stamped = photo.derivatives["preview_wm"]
    assert stamped["watermark_id"] == str(mark.id) and photo.watermark_version == mark.version
    assert (stamped["width"], stamped["height"]) == (2048, 1365)
    clean = Image.open(io.BytesIO(read(local_storage, photo.derivatives["preview"]["key"])))
    marked = Image.open(io.BytesIO(read(local_storage, stamped["key"])))
    assert clean.size == marked.size and clean.tobytes() != marked.tobytes()
    assert not marked.getexif()


def test_watermark_is_rerendered_only_when_it_changes(
    local_storage, gallery_a, alice, studio_a, renders, django_capture_on_commit_callbacks
):
    photo = upload(gallery_a, alice, jpeg())
    photo_process_ensure(photo_id=photo.id)
    mark = wm_service.watermark_create(studio=studio_a, by=alice, name="Studio", text="© Anna")

    # Setting the gallery's watermark renders preview_wm once, from the stored preview.
    with django_capture_on_commit_callbacks(execute=True):
        processing_gallery_set_watermark(gallery_a, alice, mark.id)
    photo.refresh_from_db()
    assert renders == [["preview", "thumb"], ["preview_wm"]]
    assert photo.derivatives["preview_wm"]["watermark_id"] == str(mark.id)
    first_version = photo.watermark_version
    before = Photo.objects.filter(id=photo.id).values().get()

    # Nothing changed: a watermark reprocess (or a duplicate message) renders nothing.
    with django_capture_on_commit_callbacks(execute=True):
        assert processing.gallery_reprocess(gallery=gallery_a, by=alice, scope="watermark") == 1
    assert photo_process.delay(str(photo.id)).get() == "skipped"
    assert len(renders) == 2
    assert Photo.objects.filter(id=photo.id).values().get() == before

    # A rename stamps nothing new; a new text re-renders, once.
    with django_capture_on_commit_callbacks(execute=True):
        wm_service.watermark_update(watermark=mark, by=alice, changes={"name": "Renamed"})
    assert len(renders) == 2
    with django_capture_on_commit_callbacks(execute=True):
        wm_service.watermark_update(watermark=mark, by=alice, changes={"text": "© Anna S."})
    photo.refresh_from_db()
    assert renders[2:] == [["preview_wm"]]
    assert photo.watermark_version == first_version + 1

    # A logo counts as a change too.
    with django_capture_on_commit_callbacks(execute=True):
        wm_service.watermark_logo_set(watermark=mark, by=alice, data=logo_png())
    assert renders[3:] == [["preview_wm"]]

    # Removing the watermark removes the stamped preview (nothing rendered).
    key = photo.derivatives["preview_wm"]["key"]
    with django_capture_on_commit_callbacks(execute=True):
        processing_gallery_set_watermark(gallery_a, alice, None)
    photo.refresh_from_db()
    assert "preview_wm" not in photo.derivatives and photo.watermark_version == 0
    assert local_storage.head(key=key) is None
    assert len(renders) == 4
    assert photo.state == Photo.State.READY


def test_deleting_a_watermark_unstamps_its_galleries(
    local_storage, gallery_a, alice, studio_a, django_capture_on_commit_callbacks
):
    mark = wm_service.watermark_create(studio=studio_a, by=alice, name="Studio", text="© Anna")
    with django_capture_on_commit_callbacks(execute=True):
        wm_service.watermark_logo_set(watermark=mark, by=alice, data=logo_png())
    mark.refresh_from_db()
    gallery_a.watermark = mark
    gallery_a.save(update_fields=["watermark"])
    photo = upload(gallery_a, alice, jpeg())
    photo_process_ensure(photo_id=photo.id)
    assert "preview_wm" in Photo.objects.get(id=photo.id).derivatives
    logo_key = mark.logo_key
    with django_capture_on_commit_callbacks(execute=True):
        wm_service.watermark_delete(watermark=mark, by=alice)
    photo.refresh_from_db()
    gallery_a.refresh_from_db()
    assert gallery_a.watermark_id is None
    assert "preview_wm" not in photo.derivatives
    assert local_storage.head(key=logo_key) is None


def test_rewatermark_lease_prevents_a_second_render(local_storage, gallery_a, alice, studio_a):
    photo = upload(gallery_a, alice, jpeg())
    photo_process_ensure(photo_id=photo.id)
    mark = wm_service.watermark_create(studio=studio_a, by=alice, name="S", text="© A")
    gallery_a.watermark = mark
    gallery_a.save(update_fields=["watermark"])
    # Another delivery is rendering it right now.
    Photo.objects.filter(id=photo.id).update(processing_started_at=timezone.now())
    assert photo_process_ensure(photo_id=photo.id) == Outcome.SKIPPED
    Photo.objects.filter(id=photo.id).update(processing_started_at=None)
    assert photo_process_ensure(photo_id=photo.id) == Outcome.WATERMARK_UPDATED


def processing_gallery_set_watermark(gallery, by, watermark_id) -> None:
    from galleries import services

    services.gallery_update(gallery=gallery, by=by, changes={"watermark_id": watermark_id})
