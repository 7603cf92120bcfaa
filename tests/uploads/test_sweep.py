"""The sweeper of abandoned uploads: rows, counters and storage cleaned; harmless twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from accounts.models import StudioUsage
from galleries import tasks
from galleries.models import Gallery, Photo, Upload
from galleries.services.uploads import uploads_sweep
from picpick.core.ids import uuid7
from picpick.core.storage.local import LocalStorage
from tests.uploads.conftest import MiB, complete, declare, jpeg_bytes, put, start

pytestmark = pytest.mark.django_db


def _multipart_ids(storage, key: str) -> list[str]:
    listed = storage.list_multipart_uploads(
        prefix=key, initiated_before=timezone.now() + timedelta(days=1)
    )
    return [upload.upload_id for upload in listed]


def _expire(upload_id, ago: timedelta) -> None:
    Upload.objects.filter(id=upload_id).update(expires_at=timezone.now() - ago)


def test_an_expired_pending_upload_is_cleaned_and_a_completed_one_untouched(
    backend, alice_client, gallery_a, album_a
):
    big, small = jpeg_bytes(11 * MiB), jpeg_bytes(2000)
    response = start(
        alice_client,
        gallery_a,
        [
            declare("abandoned.jpg", big),
            declare("abandoned-single.jpg", size=3000),
            declare("done.jpg", small),
        ],
        album_id=str(album_a.id),
    )
    abandoned, single, done = response.json()["files"]
    put(abandoned["urls"][0], big[: 5 * MiB])  # one part, then the uploader vanished
    put(single["urls"][0], jpeg_bytes(3000))  # all bytes, but never completed
    put(done["urls"][0], small)
    assert complete(alice_client, done["upload_id"]).status_code == 200
    key = Upload.objects.get(id=abandoned["upload_id"]).key
    single_key = Upload.objects.get(id=single["upload_id"]).key
    assert _multipart_ids(backend, key)
    for file in (abandoned, single, done):
        _expire(file["upload_id"], timedelta(hours=1))

    result = uploads_sweep()

    assert result.expired == 2
    assert result.storage_errors == 0
    cleaned = Upload.objects.get(id=abandoned["upload_id"])
    assert (cleaned.state, cleaned.photo_id) == (Upload.State.EXPIRED, None)
    assert Upload.objects.get(id=single["upload_id"]).state == Upload.State.EXPIRED
    assert not Photo.objects.filter(id__in=[abandoned["photo_id"], single["photo_id"]]).exists()
    assert _multipart_ids(backend, key) == []
    assert backend.head(key=single_key) is None
    # The completed upload and its photo are untouched; counters hold only it.
    assert Upload.objects.get(id=done["upload_id"]).state == Upload.State.COMPLETED
    assert Photo.objects.get(id=done["photo_id"]).state == Photo.State.UPLOADED
    assert StudioUsage.objects.get(studio=gallery_a.studio).storage_bytes == len(small)
    gallery = Gallery.objects.get(id=gallery_a.id)
    assert (gallery.photo_count, gallery.storage_bytes) == (1, len(small))
    album_a.refresh_from_db()
    assert album_a.photo_count == 1

    # Twice is harmless.
    assert uploads_sweep().expired == 0
    assert StudioUsage.objects.get(studio=gallery_a.studio).storage_bytes == len(small)

    progress = alice_client.get(f"/api/v1/upload-batches/{response.json()['id']}/").json()
    assert progress["counts"]["expired"] == 2
    assert progress["counts"]["uploaded"] == 1


def test_the_grace_period_protects_an_upload_that_just_expired(alice_client, gallery_a):
    [file] = start(alice_client, gallery_a, [declare("a.jpg", size=100)]).json()["files"]
    grace = django_settings.PICPICK_UPLOAD_SWEEP_GRACE_MINUTES
    _expire(file["upload_id"], timedelta(minutes=grace - 1))
    assert uploads_sweep().expired == 0
    assert Upload.objects.get(id=file["upload_id"]).state == Upload.State.PENDING
    assert uploads_sweep(now=timezone.now() + timedelta(minutes=2)).expired == 1


def test_a_pending_upload_still_in_time_is_untouched(alice_client, gallery_a):
    [file] = start(alice_client, gallery_a, [declare("a.jpg", size=100)]).json()["files"]
    assert uploads_sweep().expired == 0
    assert Photo.objects.filter(id=file["photo_id"], state=Photo.State.PENDING).exists()


def test_orphan_multipart_uploads_are_aborted_known_ones_kept(backend, alice_client, gallery_a):
    [file] = start(alice_client, gallery_a, [declare("a.jpg", size=11 * MiB)]).json()["files"]
    known = Upload.objects.get(id=file["upload_id"])
    orphan_key = f"studios/{gallery_a.studio_id}/galleries/{gallery_a.id}/originals/{uuid7()}.jpg"
    orphan_id = backend.create_multipart(key=orphan_key, content_type="image/jpeg")
    outside_key = f"elsewhere/{uuid7()}.jpg"  # not ours: never touched
    outside_id = backend.create_multipart(key=outside_key, content_type="image/jpeg")
    try:
        if isinstance(backend, LocalStorage):  # moto reports every upload as started in 2010
            # Fresh orphans are left alone (a start may be between its storage call and commit).
            assert uploads_sweep().orphans_aborted == 0
            assert _multipart_ids(backend, orphan_key) == [orphan_id]

        days = django_settings.PICPICK_UPLOAD_ORPHAN_DAYS
        later = timezone.now() + timedelta(days=days, minutes=1)
        Upload.objects.filter(id=known.id).update(expires_at=later + timedelta(hours=1))
        result = uploads_sweep(now=later)
        assert result.orphans_aborted >= 1
        assert _multipart_ids(backend, orphan_key) == []
        assert _multipart_ids(backend, known.key) == [known.multipart_upload_id]
        assert _multipart_ids(backend, outside_key) == [outside_id]
    finally:
        backend.abort_multipart(key=outside_key, upload_id=outside_id)


def test_the_task_runs_the_sweep_and_is_scheduled(alice_client, gallery_a):
    [file] = start(alice_client, gallery_a, [declare("a.jpg", size=100)]).json()["files"]
    _expire(file["upload_id"], timedelta(days=1))
    assert tasks.uploads_sweep.apply().get() == {
        "expired": 1,
        "orphans_aborted": 0,
        "storage_errors": 0,
    }
    schedule = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert "galleries.tasks.uploads_sweep" in schedule


def test_an_expired_upload_can_no_longer_be_completed(alice_client, gallery_a):
    data = jpeg_bytes(1000)
    [file] = start(alice_client, gallery_a, [declare("a.jpg", data)]).json()["files"]
    put(file["urls"][0], data)
    _expire(file["upload_id"], timedelta(days=1))
    uploads_sweep()
    response = complete(alice_client, file["upload_id"])
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "upload_expired"
