"""A finished upload stays the file that was verified: on the S3 API (moto server) and on the
local backend, with real HTTP PUTs to the presigned URLs.

Every file declares its SHA-256, a single PUT is signed with it and with ``If-None-Match: *``,
processing checks the original again before rendering it, and the orphan sweep deletes what
a late PUT can still create on S3 (the key of a deleted photo is empty again there).
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.utils import timezone
from PIL import Image

from galleries import keys, tasks
from galleries.apis.uploads import UploadFileInputSerializer
from galleries.models import Photo, Upload
from galleries.services import processing
from galleries.services.storage_lifecycle import ORPHANS_CURSOR_KEY, originals_orphans_sweep
from picpick.core.ids import uuid7
from picpick.core.storage.local import LocalStorage
from tests.uploads.conftest import (
    complete,
    declare,
    error_code,
    put,
    sha256_b64,
    start,
)

pytestmark = pytest.mark.django_db

HTML = b"<html><script>alert('not a photo')</script></html>"


def photo_jpeg(seed: int = 1) -> bytes:
    """A decodable photo, followed by filler (bytes a swap can change without a size change)."""
    image = Image.new("RGB", (800, 600), (seed * 40 % 256, 120, 200))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue() + bytes(4096)


def read(storage, key: str) -> bytes:
    with storage.open(key=key) as stream:
        return stream.read()


def uploaded(client, gallery, data: bytes, capture, name: str = "IMG_0001.jpg") -> dict:
    """Start, PUT and complete one file; its start entry (with the PUT URL) and its photo."""
    [file] = start(client, gallery, [declare(name, data)]).json()["files"]
    assert put(file["urls"][0], data).status == 200
    with capture(execute=True):
        response = complete(client, file["upload_id"])
    assert response.status_code == 200, response.content
    return file


def sweep_later(**kwargs):
    """The orphan sweep as it runs a day and an hour from now (past the 24 h grace)."""
    return originals_orphans_sweep(
        now=timezone.now() + timedelta(hours=25), from_start=True, **kwargs
    )


# --- Declaring -------------------------------------------------------------------------------
def test_a_file_declared_without_its_sha256_is_a_400_with_its_code(alice_client, gallery_a):
    files = [declare("a.jpg", photo_jpeg()), declare("b.jpg", size=1000, checksum_sha256=None)]

    response = start(alice_client, gallery_a, files)

    assert response.status_code == 400, response.content
    assert error_code(response) == "checksum_required"
    assert list(response.json()["error"]["fields"]) == ["files.1.checksum_sha256"]
    assert Photo.objects.count() == 0
    assert Upload.objects.count() == 0


def test_the_schema_says_the_sha256_is_required():
    assert UploadFileInputSerializer().fields["checksum_sha256"].required


# --- PUT after completion --------------------------------------------------------------------
def test_a_put_after_completion_cannot_change_the_original(
    backend, alice_client, gallery_a, django_capture_on_commit_callbacks
):
    data = photo_jpeg()
    file = uploaded(alice_client, gallery_a, data, django_capture_on_commit_callbacks)
    [url] = file["urls"]
    assert url["headers"]["If-None-Match"] == "*"
    key = Photo.objects.get(id=file["photo_id"]).original_key
    stored = backend.head(key=key)
    page = HTML.ljust(len(data))

    again = put(url, data)  # the same bytes: a retried PUT
    swapped = put(url, page)  # other bytes under the signed checksum
    unsigned = put(url, page, **{"x-amz-checksum-sha256": sha256_b64(page)})
    unconditional = put(url, data, **{"If-None-Match": "W/x"})

    assert again.status == 412, again.body
    assert swapped.status >= 400 and unsigned.status == 403 and unconditional.status == 403
    assert backend.head(key=key) == stored
    assert read(backend, key) == data
    renewed = alice_client.post(f"/api/v1/uploads/{file['upload_id']}/renew/")
    assert renewed.status_code == 409
    assert error_code(renewed) == "upload_completed"


def test_a_put_after_the_photo_was_deleted_leaves_nothing_behind(
    backend, alice_client, gallery_a, django_capture_on_commit_callbacks
):
    data = photo_jpeg()
    file = uploaded(alice_client, gallery_a, data, django_capture_on_commit_callbacks)
    key = Photo.objects.get(id=file["photo_id"]).original_key
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_client.delete(f"/api/v1/photos/{file['photo_id']}/").status_code == 204
    assert backend.head(key=key) is None

    response = put(file["urls"][0], data)

    if isinstance(backend, LocalStorage):
        assert response.status == 412, response.body  # the key keeps its tombstone
        assert backend.head(key=key) is None
    else:
        # S3 cannot refuse: the key is empty again. The object is nobody's until swept.
        assert response.status == 200, response.body
    sweep_later()
    assert backend.head(key=key) is None


# --- Processing ------------------------------------------------------------------------------
def test_a_verified_upload_is_processed(
    backend, alice_client, gallery_a, django_capture_on_commit_callbacks
):
    file = uploaded(alice_client, gallery_a, photo_jpeg(), django_capture_on_commit_callbacks)

    assert processing.photo_process_ensure(photo_id=file["photo_id"]) == "processed"
    assert Photo.objects.get(id=file["photo_id"]).state == Photo.State.READY


@pytest.mark.parametrize("swap", ["other-size", "same-size"])
def test_processing_fails_a_swapped_original_with_original_changed(
    backend, alice_client, gallery_a, django_capture_on_commit_callbacks, swap
):
    data = photo_jpeg()
    file = uploaded(alice_client, gallery_a, data, django_capture_on_commit_callbacks)
    photo = Photo.objects.get(id=file["photo_id"])
    # Written past the presigned URLs (someone with the bucket's keys, an old URL of the time
    # before checksums were required): the same size defeats every check but the SHA-256.
    other = data + b"\0" if swap == "other-size" else data[:-1] + b"\x01"
    backend.put_object(key=photo.original_key, body=other, content_type="image/jpeg")

    outcome = processing.photo_process_ensure(photo_id=photo.id)

    photo.refresh_from_db()
    assert outcome == "failed"
    assert (photo.state, photo.failure_code) == (Photo.State.FAILED, "original_changed")
    assert photo.derivatives == {}
    prefix = keys.gallery_prefix(photo.studio_id, photo.gallery_id)
    assert backend.list_keys(prefix=f"{prefix}d/") == []


def test_a_multipart_file_that_is_not_what_was_declared_fails_processing(
    backend, alice_client, gallery_a, settings, django_capture_on_commit_callbacks
):
    # Completion cannot hash a multipart file; processing does, before anything is rendered.
    settings.PICPICK_UPLOAD_SINGLE_PUT_MAX_BYTES = 5 * 1024 * 1024
    data = photo_jpeg().ljust(6 * 1024 * 1024, b"\0")
    declared = data[:-1] + b"\x01"
    [file] = start(alice_client, gallery_a, [declare("big.jpg", declared)]).json()["files"]
    assert file["method"] == "multipart"
    for url in file["urls"]:
        first = (url["part_number"] - 1) * file["part_size"]
        assert put(url, data[first : first + file["part_size"]]).status == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert complete(alice_client, file["upload_id"]).status_code == 200

    assert processing.photo_process_ensure(photo_id=file["photo_id"]) == "failed"
    assert Photo.objects.get(id=file["photo_id"]).failure_code == "original_changed"


# --- The orphan sweep ------------------------------------------------------------------------
def test_the_orphan_sweep_deletes_only_old_originals_no_photo_references(
    backend, alice_client, gallery_a, django_capture_on_commit_callbacks
):
    studio_id, gallery_id = gallery_a.studio_id, gallery_a.id
    capture = django_capture_on_commit_callbacks
    kept = Photo.objects.get(
        id=uploaded(alice_client, gallery_a, photo_jpeg(1), capture, "kept.jpg")["photo_id"]
    ).original_key
    # Stored but not completed yet: its photo row references it.
    data = photo_jpeg(3)
    [file] = start(alice_client, gallery_a, [declare("pending.jpg", data)]).json()["files"]
    assert put(file["urls"][0], data).status == 200
    pending = Photo.objects.get(id=file["photo_id"]).original_key
    # Refused at completion (not a JPEG): its object was deleted, a copy back is nobody's.
    [bad] = start(alice_client, gallery_a, [declare("bad.jpg", HTML)]).json()["files"]
    assert put(bad["urls"][0], HTML).status == 200
    assert error_code(complete(alice_client, bad["upload_id"])) == "type_mismatch"
    refused = Photo.objects.get(id=bad["photo_id"]).original_key
    orphan = keys.original_key(studio_id, gallery_id, uuid7(), "lost.jpg")
    derivative = keys.derivative_key(studio_id, gallery_id, uuid7(), "thumb")
    for key in (refused, orphan, derivative):
        backend.put_object(key=key, body=HTML, content_type="image/jpeg")

    today = originals_orphans_sweep(from_start=True)
    assert all(backend.head(key=key) for key in (kept, pending, refused, orphan, derivative))
    assert today.deleted == 0 and today.recent >= 2

    later = sweep_later()

    assert later.deleted >= 2 and later.errors == 0 and later.cursor is None
    assert backend.head(key=orphan) is None
    assert backend.head(key=refused) is None
    assert all(backend.head(key=key) for key in (kept, pending, derivative))
    assert read(backend, kept) == photo_jpeg(1)


def test_the_orphan_sweep_resumes_where_its_last_run_stopped(local_storage, gallery_a):
    orphans = [
        keys.original_key(gallery_a.studio_id, gallery_a.id, uuid7(), f"{n}.jpg") for n in range(5)
    ]
    for key in orphans:
        local_storage.put_object(key=key, body=b"x", content_type="image/jpeg")

    runs = [sweep_later(max_keys=2)]
    while runs[-1].cursor is not None:
        runs.append(originals_orphans_sweep(now=timezone.now() + timedelta(hours=25), max_keys=2))

    assert [run.listed for run in runs] == [2, 2, 1]
    assert [run.deleted for run in runs] == [2, 2, 1]
    assert all(local_storage.head(key=key) is None for key in orphans)


def test_the_orphan_sweep_task_runs_and_is_scheduled(local_storage, gallery_a):
    orphan = keys.original_key(gallery_a.studio_id, gallery_a.id, uuid7(), "lost.jpg")
    local_storage.put_object(key=orphan, body=b"x", content_type="image/jpeg")
    cache.delete(ORPHANS_CURSOR_KEY)  # a scan left half-way by another test

    assert tasks.originals_orphans_sweep.apply().get() == {
        "listed": 1,
        "originals": 1,
        "deleted": 0,
        "recent": 1,
        "errors": 0,
    }
    beat = django_settings.CELERY_BEAT_SCHEDULE["originals-orphans-sweep"]
    assert beat["task"] == "galleries.tasks.originals_orphans_sweep"
    assert beat["options"] == {"queue": "default"}
