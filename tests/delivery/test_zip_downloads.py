"""ZIPs of a gallery or album: requested through the API, built for real into storage."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.utils import timezone

from accounts.models import Membership, Role
from galleries import services
from galleries.models import DownloadJob
from galleries.services import downloads
from tests.delivery.conftest import (
    derivative_bytes,
    error_code,
    original_bytes,
    stored_photo,
)
from tests.storage_fixtures import send

pytestmark = pytest.mark.django_db


def request_zip(client, gallery, captured, **body):
    with captured(execute=True):
        return client.post(f"/api/v1/galleries/{gallery.id}/downloads/", body, format="json")


def fetch_zip(client, job_id) -> tuple[zipfile.ZipFile, dict, object]:
    body = client.get(f"/api/v1/downloads/{job_id}/").json()
    assert body["state"] == "ready", body
    fetched = send("GET", body["url"])
    assert fetched.status == 200
    archive = zipfile.ZipFile(io.BytesIO(fetched.body))
    assert archive.testzip() is None
    return archive, body, fetched


@pytest.fixture
def wedding(alice, gallery_a, app_storage):
    """Two albums with a duplicate name between them, a duplicate within the gallery root,
    a hidden photo, a failed and a pending one."""
    ceremony = services.album_create(gallery=gallery_a, by=alice, name="Ceremony")
    party = services.album_create(gallery=gallery_a, by=alice, name="Party/After ..")
    photos = {
        "c1": stored_photo(app_storage, gallery_a, alice, filename="IMG_1.jpg", album=ceremony),
        "c2": stored_photo(app_storage, gallery_a, alice, filename="IMG_2.CR3", album=ceremony),
        "p1": stored_photo(app_storage, gallery_a, alice, filename="IMG_1.jpg", album=party),
        "r1": stored_photo(app_storage, gallery_a, alice, filename="IMG_1.jpg", body=b"r1"),
        "r2": stored_photo(app_storage, gallery_a, alice, filename="img_1.JPG", body=b"r2"),
        "hidden": stored_photo(app_storage, gallery_a, alice, filename="secret.jpg", hidden=True),
        "failed": stored_photo(app_storage, gallery_a, alice, filename="bad.jpg", state="failed"),
        "pending": stored_photo(
            app_storage, gallery_a, alice, filename="late.jpg", state="pending", derivatives=()
        ),
    }
    return ceremony, party, photos


def test_zip_of_a_gallery_groups_albums_dedupes_names_and_leaves_out_hidden(
    alice_client, gallery_a, wedding, app_storage, django_capture_on_commit_callbacks
):
    _ceremony, _party, _photos = wedding
    response = request_zip(
        alice_client, gallery_a, django_capture_on_commit_callbacks, size="original"
    )
    assert response.status_code == 202, response.json()
    created = response.json()
    assert created["state"] == "queued"  # what the request saw; the worker ran after commit
    assert created["file_count"] == 5 and created["files_skipped"] == 2

    archive, body, fetched = fetch_zip(alice_client, created["id"])
    assert archive.namelist() == [
        "IMG_1.jpg",
        "img_1 (2).JPG",
        "Ceremony/IMG_1.jpg",
        "Ceremony/IMG_2.CR3",
        "Party_After ../IMG_1.jpg",
    ]
    assert archive.read("IMG_1.jpg") == b"r1"
    assert archive.read("img_1 (2).JPG") == b"r2"
    assert archive.read("Ceremony/IMG_2.CR3") == original_bytes("IMG_2.CR3")
    assert archive.read("Party_After ../IMG_1.jpg") == original_bytes("IMG_1.jpg")
    assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
    assert body["file_count"] == body["files_done"] == 5
    assert body["files_skipped"] == 2  # failed + pending; the hidden one is not counted
    assert body["bytes_done"] == sum(info.file_size for info in archive.infolist())
    assert body["result_size"] == len(fetched.body)
    assert body["filename"] == f"{gallery_a.slug}.zip"
    assert fetched.headers["Content-Disposition"] == f'attachment; filename="{gallery_a.slug}.zip"'
    job = DownloadJob.objects.get(id=created["id"])
    assert job.expires_at > timezone.now() and job.started_at and job.finished_at
    assert app_storage.head(key=job.result_key).size == len(fetched.body)


def test_zip_of_an_album_is_flat_and_named_after_it(
    alice_client, gallery_a, wedding, django_capture_on_commit_callbacks
):
    ceremony, _party, _photos = wedding
    response = request_zip(
        alice_client,
        gallery_a,
        django_capture_on_commit_callbacks,
        size="original",
        album_id=str(ceremony.id),
    )
    archive, body, fetched = fetch_zip(alice_client, response.json()["id"])
    assert archive.namelist() == ["IMG_1.jpg", "IMG_2.CR3"]
    assert body["album_id"] == str(ceremony.id)
    assert f'filename="{gallery_a.slug}-ceremony.zip"' in fetched.headers["Content-Disposition"]


def test_high_size_zips_the_previews_as_jpg(
    alice_client, gallery_a, wedding, django_capture_on_commit_callbacks
):
    ceremony, _party, photos = wedding
    response = request_zip(
        alice_client,
        gallery_a,
        django_capture_on_commit_callbacks,
        size="high",
        album_id=str(ceremony.id),
    )
    archive, _body, _fetched = fetch_zip(alice_client, response.json()["id"])
    assert archive.namelist() == ["IMG_1.jpg", "IMG_2.jpg"]
    assert archive.read("IMG_2.jpg") == derivative_bytes(photos["c2"], "preview")


def test_web_size_prefers_the_watermarked_preview(
    alice_client, alice, gallery_a, local_storage, django_capture_on_commit_callbacks
):
    marked = stored_photo(
        local_storage, gallery_a, alice, filename="a.jpg", derivatives=("preview", "preview_wm")
    )
    clean = stored_photo(local_storage, gallery_a, alice, filename="b.jpg")
    response = request_zip(alice_client, gallery_a, django_capture_on_commit_callbacks, size="web")
    archive, _body, _fetched = fetch_zip(alice_client, response.json()["id"])
    assert archive.read("a.jpg") == derivative_bytes(marked, "preview_wm")
    assert archive.read("b.jpg") == derivative_bytes(clean, "preview")


def test_an_identical_request_returns_the_same_job(
    alice_client, alice, gallery_a, wedding, app_storage, django_capture_on_commit_callbacks
):
    first = request_zip(
        alice_client, gallery_a, django_capture_on_commit_callbacks, size="original"
    )
    again = request_zip(
        alice_client, gallery_a, django_capture_on_commit_callbacks, size="original"
    )
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["state"] == "ready"
    other_size = request_zip(
        alice_client, gallery_a, django_capture_on_commit_callbacks, size="high"
    )
    assert other_size.status_code == 202
    # A photo changed since the ZIP was made: the old ZIP no longer answers the request.
    stored_photo(app_storage, gallery_a, alice, filename="new.jpg")
    fresh = request_zip(
        alice_client, gallery_a, django_capture_on_commit_callbacks, size="original"
    )
    assert fresh.status_code == 202
    assert fresh.json()["id"] != first.json()["id"]
    assert DownloadJob.objects.count() == 3


def test_a_queued_job_is_returned_without_building_twice(
    alice_client, alice, gallery_a, local_storage
):
    stored_photo(local_storage, gallery_a, alice)
    url = f"/api/v1/galleries/{gallery_a.id}/downloads/"
    first = alice_client.post(url, {"size": "original"}, format="json")  # not committed: queued
    again = alice_client.post(url, {"size": "original"}, format="json")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["state"] == "queued"


def test_the_list_shows_recent_jobs_newest_first(
    alice_client, gallery_a, wedding, django_capture_on_commit_callbacks
):
    a = request_zip(alice_client, gallery_a, django_capture_on_commit_callbacks, size="original")
    b = request_zip(alice_client, gallery_a, django_capture_on_commit_callbacks, size="high")
    body = alice_client.get(f"/api/v1/galleries/{gallery_a.id}/downloads/").json()
    assert [job["id"] for job in body["results"]] == [b.json()["id"], a.json()["id"]]
    assert all(job["url"] for job in body["results"])


def test_missing_objects_are_skipped_and_counted(
    alice_client, alice, gallery_a, app_storage, django_capture_on_commit_callbacks
):
    kept = stored_photo(app_storage, gallery_a, alice, filename="kept.jpg")
    lost = stored_photo(app_storage, gallery_a, alice, filename="lost.jpg")
    app_storage.delete_many(keys=[lost.original_key])
    response = request_zip(
        alice_client, gallery_a, django_capture_on_commit_callbacks, size="original"
    )
    archive, body, _ = fetch_zip(alice_client, response.json()["id"])
    assert archive.namelist() == ["kept.jpg"]
    assert archive.read("kept.jpg") == original_bytes(kept.filename)
    assert (body["files_done"], body["files_skipped"]) == (1, 1)


def test_a_large_zip_goes_up_in_several_parts_with_bounded_memory(
    alice, gallery_a, app_storage, monkeypatch
):
    part = 5 * 1024 * 1024  # S3's minimum part size
    monkeypatch.setattr(downloads, "PREFERRED_PART_SIZE", part)
    monkeypatch.setattr(downloads, "choose_part_size", lambda size: part)
    bodies = {f"big{n}.jpg": bytes([n]) * (3 * 1024 * 1024 + n) for n in range(4)}
    for name, body in bodies.items():
        stored_photo(app_storage, gallery_a, alice, filename=name, body=body, derivatives=())
    job, _ = downloads.download_job_request(gallery=gallery_a, by=alice, size="original")
    sinks = []
    real_sink = downloads.MultipartSink

    def recording_sink(*args, **kwargs):
        sinks.append(real_sink(*args, **kwargs))
        return sinks[-1]

    monkeypatch.setattr(downloads, "MultipartSink", recording_sink)
    done = downloads.download_build(job_id=job.id)
    assert done.state == "ready"
    assert len(sinks[0].parts) == 3  # 12 MiB of data in 5 MiB parts
    assert sinks[0].peak_buffer <= part + downloads.READ_CHUNK
    with app_storage.open(key=done.result_key) as stream:
        archive = zipfile.ZipFile(io.BytesIO(stream.read()))
    assert {name: archive.read(name) for name in archive.namelist()} == bodies


@pytest.mark.parametrize("force_zip64", [False, True])
def test_zip64_records_are_read_back(alice, gallery_a, app_storage, monkeypatch, force_zip64):
    stored_photo(app_storage, gallery_a, alice, filename="a.jpg")
    stored_photo(app_storage, gallery_a, alice, filename="b.jpg")
    job, _ = downloads.download_job_request(gallery=gallery_a, by=alice, size="original")
    # The ZIP format's 32-bit limit made small: the photos' sizes, the second one's offset and
    # the central directory's are all "past 4 GiB", as in a wedding of 50 GB.
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 100)
    done = downloads.download_build(job_id=job.id, force_zip64=force_zip64)
    monkeypatch.undo()
    with app_storage.open(key=done.result_key) as stream:
        data = stream.read()
    assert b"PK\x06\x06" in data  # the ZIP64 end of central directory record
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.read("a.jpg") == original_bytes("a.jpg")
    assert archive.read("b.jpg") == original_bytes("b.jpg")


def test_a_storage_failure_fails_the_job_and_aborts_the_upload(
    alice, gallery_a, app_storage, monkeypatch
):
    stored_photo(app_storage, gallery_a, alice, filename="a.jpg")
    job, _ = downloads.download_job_request(gallery=gallery_a, by=alice, size="original")
    from picpick.core.storage import StorageError

    def broken(*args, **kwargs):
        raise StorageError("S3 upload_part failed: connection reset")

    monkeypatch.setattr(app_storage, "upload_part", broken)
    done = downloads.download_build(job_id=job.id)
    assert done.state == "failed"
    assert "connection reset" in done.failure_message
    old = timezone.now() + timezone.timedelta(days=1)
    assert app_storage.list_multipart_uploads(prefix=done.result_key, initiated_before=old) == []
    assert app_storage.head(key=done.result_key) is None


def test_a_duplicate_delivery_of_the_task_builds_nothing(alice, gallery_a, local_storage):
    stored_photo(local_storage, gallery_a, alice)
    job, _ = downloads.download_job_request(gallery=gallery_a, by=alice, size="original")
    assert downloads.download_build(job_id=job.id).state == "ready"
    assert downloads.download_build(job_id=job.id) is None


def test_expired_zips_are_deleted_and_jobs_marked_expired(alice, gallery_a, app_storage):
    stored_photo(app_storage, gallery_a, alice)
    job, _ = downloads.download_job_request(gallery=gallery_a, by=alice, size="original")
    job = downloads.download_build(job_id=job.id)
    keep, _ = downloads.download_job_request(gallery=gallery_a, by=alice, size="high")
    keep = downloads.download_build(job_id=keep.id)
    DownloadJob.objects.filter(id=job.id).update(expires_at=timezone.now())
    from galleries.tasks import downloads_expire

    downloads_expire.delay()
    job.refresh_from_db()
    keep.refresh_from_db()
    assert job.state == "expired" and app_storage.head(key=job.result_key) is None
    assert keep.state == "ready" and app_storage.head(key=keep.result_key) is not None


def test_stuck_jobs_are_failed_by_the_sweep(alice, gallery_a, local_storage):
    stored_photo(local_storage, gallery_a, alice)
    job, _ = downloads.download_job_request(gallery=gallery_a, by=alice, size="original")
    long_ago = timezone.now() - timezone.timedelta(days=2)
    DownloadJob.objects.filter(id=job.id).update(state="running", started_at=long_ago)
    downloads.downloads_expire()
    job.refresh_from_db()
    assert job.state == "failed" and "interrupted" in job.failure_message


# --- Bad input and access ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"size": "huge"}, "size"),
        ({}, "size"),
        ({"size": "original", "album_id": "nope"}, "album_id"),
        ({"size": "original", "format": "tar"}, "format"),
    ],
)
def test_bad_requests_are_400(alice_client, alice, gallery_a, local_storage, body, field):
    stored_photo(local_storage, gallery_a, alice)
    response = alice_client.post(
        f"/api/v1/galleries/{gallery_a.id}/downloads/", body, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not DownloadJob.objects.exists()


def test_an_album_of_another_gallery_is_422(
    alice_client, alice, studio_a, gallery_a, local_storage
):
    stored_photo(local_storage, gallery_a, alice)
    other = services.gallery_create(studio=studio_a, by=alice, name="Other")
    album = services.album_create(gallery=other, by=alice, name="Elsewhere")
    response = alice_client.post(
        f"/api/v1/galleries/{gallery_a.id}/downloads/",
        {"size": "original", "album_id": str(album.id)},
        format="json",
    )
    assert response.status_code == 422
    assert error_code(response) == "invalid_album"
    assert not DownloadJob.objects.exists()


def test_nothing_to_download_is_409(alice_client, alice, gallery_a, local_storage):
    stored_photo(local_storage, gallery_a, alice, state="uploaded", derivatives=())
    response = alice_client.post(
        f"/api/v1/galleries/{gallery_a.id}/downloads/", {"size": "high"}, format="json"
    )
    assert response.status_code == 409
    assert error_code(response) == "nothing_to_download"


def test_another_studio_cannot_see_or_request_downloads(
    alice_client, bob_client, alice, gallery_a, gallery_b, local_storage
):
    stored_photo(local_storage, gallery_a, alice)
    job = alice_client.post(
        f"/api/v1/galleries/{gallery_a.id}/downloads/", {"size": "original"}, format="json"
    ).json()
    assert bob_client.get(f"/api/v1/downloads/{job['id']}/").status_code == 404
    assert bob_client.get(f"/api/v1/galleries/{gallery_a.id}/downloads/").status_code == 404
    response = bob_client.post(
        f"/api/v1/galleries/{gallery_a.id}/downloads/", {"size": "original"}, format="json"
    )
    assert response.status_code == 404
    assert DownloadJob.objects.filter(gallery=gallery_b).count() == 0
    assert bob_client.get("/api/v1/downloads/not-a-uuid/").status_code == 404


def test_anonymous_is_401_and_a_former_member_403(anon_client, member_of_a, alice, gallery_a):
    user, client = member_of_a(Role.ASSISTANT)
    Membership.objects.filter(user=user).delete()
    list_url = f"/api/v1/galleries/{gallery_a.id}/downloads/"
    for method, url in [
        ("get", list_url),
        ("post", list_url),
        ("get", f"/api/v1/downloads/{gallery_a.id}/"),
    ]:
        assert getattr(anon_client, method)(url).status_code == 401
        response = getattr(client, method)(url)
        assert response.status_code == 403 and error_code(response) == "not_a_member"


def test_every_role_may_request_a_zip(member_of_a, alice, gallery_a, local_storage):
    stored_photo(local_storage, gallery_a, alice)
    for role in (Role.ADMIN, Role.PHOTOGRAPHER, Role.ASSISTANT):
        _user, client = member_of_a(role)
        response = client.post(
            f"/api/v1/galleries/{gallery_a.id}/downloads/", {"size": "original"}, format="json"
        )
        assert response.status_code in (200, 202)
        assert client.get(f"/api/v1/downloads/{response.json()['id']}/").status_code == 200


def test_delivery_tasks_are_sent_to_the_default_queue(
    alice, gallery_a, local_storage, monkeypatch, django_capture_on_commit_callbacks, settings
):
    from picpick.celery import app

    sent = []
    task = app.tasks["galleries.tasks.download_build"]
    monkeypatch.setattr(task, "apply_async", lambda **options: sent.append(options))
    stored_photo(local_storage, gallery_a, alice)
    with django_capture_on_commit_callbacks(execute=True):
        downloads.download_job_request(gallery=gallery_a, by=alice, size="original")
    assert sent[0]["queue"] == "default"
    beat = settings.CELERY_BEAT_SCHEDULE["downloads-expire"]
    assert beat["task"] == "galleries.tasks.downloads_expire"
    assert beat["options"] == {"queue": "default"}
