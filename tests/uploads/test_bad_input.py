"""Every bad input of the upload protocol: a clear 4xx (or a per-file rejection) with a code,
and nothing half-written."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Studio, StudioUsage
from galleries import services
from galleries.models import Gallery, Photo, Upload, UploadBatch
from galleries.services.uploads import upload_plan
from picpick.core.storage import MAX_OBJECT_SIZE, MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE
from tests.storage_fixtures import sign_in_the_past
from tests.uploads.conftest import (
    MiB,
    complete,
    declare,
    error_code,
    jpeg_bytes,
    png_bytes,
    put,
    sha256_b64,
    start,
)

pytestmark = pytest.mark.django_db


def _usage(gallery: Gallery) -> int:
    return StudioUsage.objects.get(studio=gallery.studio).storage_bytes


def _counts() -> tuple[int, int, int]:
    return Photo.objects.count(), Upload.objects.count(), UploadBatch.objects.count()


def _rejected(response) -> dict[str, str]:
    return {r["name"]: r["code"] for r in response.json()["rejected"]}


# --- start: per-file rejections --------------------------------------------------------------
def test_wrong_types_are_rejected_while_the_valid_file_proceeds(alice_client, gallery_a):
    files = [
        declare("ok.jpg", jpeg_bytes(1000)),
        declare("virus.exe", size=1000, content_type="application/octet-stream"),
        declare("photo.jpg", size=1000, content_type="image/png"),  # type disagrees with name
        declare("noextension", size=1000),
        declare("video.mp4", size=1000, content_type="video/mp4"),
    ]
    response = start(alice_client, gallery_a, files)
    assert response.status_code == 201, response.content
    assert [f["name"] for f in response.json()["files"]] == ["ok.jpg"]
    assert _rejected(response) == {
        "virus.exe": "unsupported_type",
        "photo.jpg": "unsupported_type",
        "noextension": "unsupported_type",
        "video.mp4": "unsupported_type",
    }
    assert [r["index"] for r in response.json()["rejected"]] == [1, 2, 3, 4]
    assert Photo.objects.count() == 1


def test_empty_huge_and_badly_checksummed_files_are_rejected(alice_client, gallery_a, settings):
    settings.PICPICK_MAX_FILE_BYTES = 10 * MiB
    files = [
        declare("ok.jpg", jpeg_bytes(1000)),
        declare("empty.jpg", size=0),
        declare("huge.jpg", size=10 * MiB + 1),
        declare("badsha.jpg", size=1000, checksum_sha256="not base64!"),
        declare("shortsha.jpg", size=1000, checksum_sha256=base64.b64encode(b"x" * 31).decode()),
        declare("badcrc.jpg", size=1000, checksum_crc32c=base64.b64encode(b"12345").decode()),
    ]
    response = start(alice_client, gallery_a, files)
    assert response.status_code == 201, response.content
    assert _rejected(response) == {
        "empty.jpg": "empty_file",
        "huge.jpg": "file_too_large",
        "badsha.jpg": "invalid_checksum",
        "shortsha.jpg": "invalid_checksum",
        "badcrc.jpg": "invalid_checksum",
    }
    progress = alice_client.get(f"/api/v1/upload-batches/{response.json()['id']}/").json()
    assert progress["declared"] == 6
    assert progress["counts"]["rejected"] == 5
    assert progress["counts"]["pending"] == 1


def test_a_batch_whose_every_file_is_rejected_is_a_422_and_creates_nothing(alice_client, gallery_a):
    before = _counts()
    response = start(alice_client, gallery_a, [declare("empty.jpg", size=0)])
    assert response.status_code == 422
    assert error_code(response) == "no_files_accepted"
    assert response.json()["error"]["rejected"][0]["code"] == "empty_file"
    assert _counts() == before
    assert _usage(gallery_a) == 0


def test_quota_exceeded_mid_batch_accepts_what_fits_in_order(alice_client, gallery_a, settings):
    settings.PICPICK_QUOTA_FREE_BYTES = 10_000
    sizes = [4000, 4000, 4000, 1500, 3000]
    files = [declare(f"IMG_{n}.jpg", size=size) for n, size in enumerate(sizes)]
    response = start(alice_client, gallery_a, files)
    assert response.status_code == 201, response.content
    assert [f["name"] for f in response.json()["files"]] == ["IMG_0.jpg", "IMG_1.jpg", "IMG_3.jpg"]
    assert _rejected(response) == {"IMG_2.jpg": "quota_exceeded", "IMG_4.jpg": "quota_exceeded"}
    assert _usage(gallery_a) == 9500
    # Full: the next batch gets nothing.
    response = start(alice_client, gallery_a, [declare("more.jpg", size=600)])
    assert response.status_code == 422
    assert response.json()["error"]["rejected"][0]["code"] == "quota_exceeded"


def test_the_quota_follows_the_studios_plan(alice_client, gallery_a, settings, studio_a):
    settings.PICPICK_QUOTA_FREE_BYTES = 1000
    settings.PICPICK_QUOTA_PRO_BYTES = 100_000
    assert start(alice_client, gallery_a, [declare("a.jpg", size=5000)]).status_code == 422
    Studio.objects.filter(id=studio_a.id).update(plan=Studio.Plan.PRO)
    assert start(alice_client, gallery_a, [declare("a.jpg", size=5000)]).status_code == 201


def test_duplicates_are_reported_not_stored_unless_asked(alice_client, gallery_a, alice):
    data = jpeg_bytes(3000)
    first = start(alice_client, gallery_a, [declare("a.jpg", data)]).json()["files"][0]
    # Same content again, and twice within one request.
    response = start(
        alice_client,
        gallery_a,
        [declare("a-copy.jpg", data), declare("new.jpg", jpeg_bytes(3001))],
    )
    assert response.status_code == 201, response.content
    [rejection] = response.json()["rejected"]
    assert (rejection["code"], rejection["duplicate_of"]) == ("duplicate", first["photo_id"])
    assert Photo.objects.filter(gallery=gallery_a).count() == 2

    other = jpeg_bytes(4000)
    response = start(
        alice_client, gallery_a, [declare("x.jpg", other), declare("x-again.jpg", other)]
    )
    x = response.json()["files"][0]
    assert response.json()["rejected"][0]["duplicate_of"] == x["photo_id"]

    response = start(alice_client, gallery_a, [declare("a-2.jpg", data)], allow_duplicates=True)
    assert response.status_code == 201
    assert response.json()["files"][0]["duplicate_of"] == first["photo_id"]


def test_a_failed_photo_is_not_a_duplicate(alice_client, gallery_a):
    data = jpeg_bytes(3000)
    first = start(alice_client, gallery_a, [declare("a.jpg", data)]).json()["files"][0]
    Photo.objects.filter(id=first["photo_id"]).update(state=Photo.State.FAILED)
    response = start(alice_client, gallery_a, [declare("a.jpg", data)])
    assert response.status_code == 201
    assert response.json()["rejected"] == []


def test_idempotency_key_reuse_returns_the_same_upload(alice_client, gallery_a):
    data = jpeg_bytes(3000)
    files = [declare("a.jpg", data, idempotency_key="card1/a.jpg")]
    first = start(alice_client, gallery_a, files)
    assert first.status_code == 201
    again = start(alice_client, gallery_a, files)
    assert again.status_code == 200, again.content  # nothing new was created
    [a], [b] = first.json()["files"], again.json()["files"]
    assert again.json()["id"] == first.json()["id"]
    assert (b["upload_id"], b["photo_id"], b["replayed"]) == (a["upload_id"], a["photo_id"], True)
    assert b["urls"] and b["urls"][0]["url"]  # fresh URLs
    assert Photo.objects.count() == 1
    assert _usage(gallery_a) == 3000

    # The key of another file, and a key repeated within a request, are refused.
    response = start(
        alice_client,
        gallery_a,
        [
            declare("b.jpg", size=10, idempotency_key="card1/a.jpg"),
            declare("c.jpg", size=10, idempotency_key="k2"),
            declare("d.jpg", size=10, idempotency_key="k2"),
        ],
    )
    assert _rejected(response) == {
        "b.jpg": "idempotency_key_reused",
        "d.jpg": "duplicate_idempotency_key",
    }

    # Once completed, a replay reports the completed upload (no URLs, no new photo).
    put(a["urls"][0], data)
    complete(alice_client, a["upload_id"])
    replay = start(alice_client, gallery_a, files).json()["files"][0]
    assert (replay["state"], replay["urls"]) == ("completed", [])


def test_archived_gallery_is_a_409(alice_client, gallery_a, alice):
    services.gallery_archive(gallery=gallery_a, by=alice)
    before = _counts()
    response = start(alice_client, gallery_a, [declare("a.jpg", size=100)])
    assert response.status_code == 409
    assert error_code(response) == "gallery_archived"
    assert _counts() == before


def test_album_of_another_gallery_is_a_422(alice_client, gallery_a, studio_a, alice):
    other = services.gallery_create(studio=studio_a, by=alice, name="Other")
    album = services.album_create(gallery=other, by=alice, name="Elsewhere")
    response = start(alice_client, gallery_a, [declare("a.jpg", size=10)], album_id=str(album.id))
    assert response.status_code == 422
    assert error_code(response) == "invalid_album"
    assert Photo.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"files": [declare("a.jpg", size=1)], "albumid": None},
        {"files": [declare("a.jpg", size=1, sha="x")]},
        {"files": [declare("a.jpg")]},
        {"files": [declare("a.jpg", size=-1)]},
        {"files": []},
        {"files": "a.jpg"},
        [],
    ],
)
def test_malformed_start_requests_are_a_400(alice_client, gallery_a, body):
    response = alice_client.post(f"/api/v1/galleries/{gallery_a.id}/uploads/", body, format="json")
    assert response.status_code == 400, response.content
    assert error_code(response) == "validation_error"
    assert Photo.objects.count() == 0


def test_more_than_500_files_is_a_400(alice_client, gallery_a):
    files = [declare(f"{n}.jpg", size=1) for n in range(501)]
    response = start(alice_client, gallery_a, files)
    assert response.status_code == 400
    assert "files.__all__" in response.json()["error"]["fields"]


def test_500_files_fit_in_the_body_limit(alice_client, gallery_a, settings):
    settings.PICPICK_QUOTA_FREE_BYTES = 10**12
    files = [
        declare(
            f"DSC_{n:05d}.NEF",
            size=52_428_800,
            checksum_sha256=sha256_b64(str(n).encode()),
            idempotency_key=f"2024-06-01-card-A/DSC_{n:05d}.NEF",
            content_type="image/x-nikon-nef",
        )
        for n in range(500)
    ]
    response = start(alice_client, gallery_a, files)
    assert response.status_code == 201, response.content[:300]
    assert len(response.json()["files"]) == 500


# --- parts: the part bound ---------------------------------------------------------------------
def test_the_part_plan_never_exceeds_s3s_limits(settings):
    for size in (5 * MiB + 1, 2 * 1024**3, 50 * 1024**3, MAX_OBJECT_SIZE):
        part_size, count = upload_plan(size)
        assert count <= MAX_PARTS
        assert MIN_PART_SIZE <= part_size <= MAX_PART_SIZE
        assert (count - 1) * part_size < size <= count * part_size


def test_a_5_tib_file_fits_in_10000_parts_and_one_byte_more_is_too_large(
    alice_client, gallery_a, settings, studio_a
):
    settings.PICPICK_MAX_FILE_BYTES = MAX_OBJECT_SIZE + 1
    Studio.objects.filter(id=studio_a.id).update(plan=Studio.Plan.BUSINESS)
    response = start(
        alice_client,
        gallery_a,
        [
            declare("scan.tif", size=MAX_OBJECT_SIZE, content_type="image/tiff"),
            declare("big.tif", size=MAX_OBJECT_SIZE + 1, content_type="image/tiff"),
        ],
    )
    assert response.status_code == 201, response.content
    [file] = response.json()["files"]
    assert file["part_count"] <= MAX_PARTS
    assert len(file["urls"]) == 100  # the first batch of part URLs; more on demand
    assert _rejected(response) == {"big.tif": "file_too_large"}


@pytest.mark.parametrize(
    ("numbers", "code"),
    [
        ([4], "invalid_part_number"),  # the upload has 3 parts
        ([1, 1], "invalid_part_number"),
        ([MAX_PARTS + 1], "validation_error"),
        ([0], "validation_error"),
        ([], "validation_error"),
    ],
)
def test_part_urls_outside_the_upload_are_a_400(alice_client, gallery_a, numbers, code):
    [file] = start(alice_client, gallery_a, [declare("a.jpg", size=11 * MiB)]).json()["files"]
    response = alice_client.post(
        f"/api/v1/uploads/{file['upload_id']}/parts/", {"part_numbers": numbers}, format="json"
    )
    assert response.status_code == 400
    assert error_code(response) == code


def test_part_urls_of_a_single_put_upload_are_a_409(alice_client, gallery_a):
    [file] = start(alice_client, gallery_a, [declare("a.jpg", size=100)]).json()["files"]
    response = alice_client.post(
        f"/api/v1/uploads/{file['upload_id']}/parts/", {"part_numbers": [1]}, format="json"
    )
    assert response.status_code == 409
    assert error_code(response) == "not_multipart"


# --- complete: verification ------------------------------------------------------------------
def test_magic_bytes_that_do_not_match_fail_the_upload(
    backend, alice_client, gallery_a, queued, django_capture_on_commit_callbacks
):
    data = png_bytes(5000)  # a PNG declared as a JPEG
    [file] = start(alice_client, gallery_a, [declare("IMG_1.jpg", data)]).json()["files"]
    assert put(file["urls"][0], data).status == 200
    assert _usage(gallery_a) == 5000
    with django_capture_on_commit_callbacks(execute=True):
        response = complete(alice_client, file["upload_id"])
    assert response.status_code == 422
    assert error_code(response) == "type_mismatch"
    photo = Photo.objects.get(id=file["photo_id"])
    upload = Upload.objects.get(id=file["upload_id"])
    assert (photo.state, photo.failure_code) == (Photo.State.FAILED, "type_mismatch")
    assert (upload.state, upload.failure_code) == (Upload.State.ABORTED, "type_mismatch")
    assert backend.head(key=photo.original_key) is None  # the object was deleted
    assert _usage(gallery_a) == 0  # its bytes released
    assert queued == []
    again = complete(alice_client, file["upload_id"])  # the same answer, nothing more
    assert (again.status_code, error_code(again)) == (422, "type_mismatch")


def test_size_mismatch_at_completion_fails_the_upload(backend, alice_client, gallery_a):
    data = jpeg_bytes(11 * MiB)
    [file] = start(alice_client, gallery_a, [declare("a.jpg", data)]).json()["files"]
    # Part sizes are not signed: the client sends a shorter last part.
    assert put(file["urls"][0], data[: 5 * MiB]).status == 200
    assert put(file["urls"][1], data[5 * MiB : 10 * MiB]).status == 200
    assert put(file["urls"][2], data[10 * MiB : 10 * MiB + 100]).status == 200
    response = complete(alice_client, file["upload_id"])
    assert response.status_code == 422
    assert error_code(response) == "size_mismatch"
    photo = Photo.objects.get(id=file["photo_id"])
    assert photo.state == Photo.State.FAILED
    assert "were declared" in photo.failure_message
    assert backend.head(key=photo.original_key) is None


def test_checksum_mismatch_at_completion_fails_the_upload(local_storage, alice_client, gallery_a):
    # Storage refuses a PUT whose body does not hash to the signed checksum; an object written
    # some other way (same size, other bytes) is caught when completing.
    data = jpeg_bytes(5000)
    [file] = start(alice_client, gallery_a, [declare("a.jpg", data)]).json()["files"]
    photo = Photo.objects.get(id=file["photo_id"])
    other = data[:-1] + b"\x01"
    local_storage.put_object(key=photo.original_key, body=other, content_type="image/jpeg")
    response = complete(alice_client, file["upload_id"])
    assert response.status_code == 422
    assert error_code(response) == "checksum_mismatch"


def test_a_body_other_than_the_declared_checksum_is_refused_by_storage(
    backend, alice_client, gallery_a
):
    data = jpeg_bytes(5000)
    [file] = start(alice_client, gallery_a, [declare("a.jpg", data)]).json()["files"]
    assert put(file["urls"][0], data[:-1] + b"\x01").status in (400, 403)
    assert complete(alice_client, file["upload_id"]).status_code == 409  # nothing stored


def test_a_wrong_declared_type_cannot_be_sent_with_another(backend, alice_client, gallery_a):
    data = jpeg_bytes(5000)
    [file] = start(alice_client, gallery_a, [declare("a.jpg", data)]).json()["files"]
    assert put(file["urls"][0], data, **{"Content-Type": "text/html"}).status == 403


def test_completing_before_the_bytes_arrived_is_a_409_and_keeps_the_upload(
    backend, alice_client, gallery_a
):
    data = jpeg_bytes(11 * MiB)
    files = [declare("single.jpg", jpeg_bytes(1000)), declare("multi.jpg", data)]
    single, multi = start(alice_client, gallery_a, files).json()["files"]
    response = complete(alice_client, single["upload_id"])
    assert (response.status_code, error_code(response)) == (409, "upload_incomplete")
    put(multi["urls"][0], data[: 5 * MiB])
    response = complete(alice_client, multi["upload_id"])
    assert (response.status_code, error_code(response)) == (409, "upload_incomplete")
    assert response.json()["error"]["missing_parts"] == [2, 3]
    assert Upload.objects.filter(state=Upload.State.PENDING).count() == 2


def test_parts_with_a_wrong_etag_are_refused(backend, alice_client, gallery_a):
    data = jpeg_bytes(6 * MiB)
    [file] = start(alice_client, gallery_a, [declare("a.jpg", data)]).json()["files"]
    put(file["urls"][0], data[: 5 * MiB])
    put(file["urls"][1], data[5 * MiB :])
    parts = [{"part_number": 1, "etag": "0" * 32}, {"part_number": 2, "etag": "1" * 32}]
    response = complete(alice_client, file["upload_id"], parts=parts)
    assert (response.status_code, error_code(response)) == (422, "invalid_part")
    assert Upload.objects.get(id=file["upload_id"]).state == Upload.State.PENDING
    assert complete(alice_client, file["upload_id"]).status_code == 200  # fixed by the server


def test_double_complete_answers_the_same_and_queues_once(
    alice_client, gallery_a, queued, django_capture_on_commit_callbacks
):
    data = jpeg_bytes(1000)
    [file] = start(alice_client, gallery_a, [declare("a.jpg", data)]).json()["files"]
    put(file["urls"][0], data)
    with django_capture_on_commit_callbacks(execute=True):
        first = complete(alice_client, file["upload_id"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second = complete(alice_client, file["upload_id"])
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert callbacks == []
    assert queued == [file["photo_id"]]


def test_unknown_fields_of_complete_and_batch_complete_are_a_400(alice_client, gallery_a):
    response = start(alice_client, gallery_a, [declare("a.jpg", size=10)])
    upload_id, batch_id = response.json()["files"][0]["upload_id"], response.json()["id"]
    assert complete(alice_client, upload_id, force=True).status_code == 400
    bad_part = {"parts": [{"part_number": 1, "etag": "x", "size": 3}]}
    assert complete(alice_client, upload_id, **bad_part).status_code == 400
    response = alice_client.post(
        f"/api/v1/upload-batches/{batch_id}/complete/",
        {"uploads": [{"upload_id": upload_id, "id": 1}]},
        format="json",
    )
    assert response.status_code == 400
    assert error_code(response) == "validation_error"


# --- expiry ------------------------------------------------------------------------------------
def test_an_expired_url_is_refused_by_storage(backend, alice_client, gallery_a, monkeypatch):
    sign_in_the_past(monkeypatch, seconds=7200)  # URLs live 1 h: these died an hour ago
    data = jpeg_bytes(1000)
    [file] = start(alice_client, gallery_a, [declare("a.jpg", data)]).json()["files"]
    assert put(file["urls"][0], data).status == 403
    monkeypatch.undo()
    # The upload itself is still alive: a renewed URL works.
    [url] = alice_client.post(f"/api/v1/uploads/{file['upload_id']}/renew/").json()["urls"]
    assert put(url, data).status == 200


def test_resuming_an_expired_aborted_or_completed_upload_is_a_409(alice_client, gallery_a):
    data = jpeg_bytes(1000)
    files = [declare(f"{n}.jpg", size=11 * MiB) for n in range(2)] + [declare("c.jpg", data)]
    expired, aborted, done = start(alice_client, gallery_a, files).json()["files"]
    Upload.objects.filter(id=expired["upload_id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    alice_client.delete(f"/api/v1/uploads/{aborted['upload_id']}/")
    put(done["urls"][0], data)
    complete(alice_client, done["upload_id"])
    for file, code in (
        (expired, "upload_expired"),
        (aborted, "upload_aborted"),
        (done, "upload_completed"),
    ):
        response = alice_client.post(f"/api/v1/uploads/{file['upload_id']}/renew/")
        assert (response.status_code, error_code(response)) == (409, code)
    for file, code in ((expired, "upload_expired"), (aborted, "upload_aborted")):
        response = alice_client.post(
            f"/api/v1/uploads/{file['upload_id']}/parts/", {"part_numbers": [1]}, format="json"
        )
        assert (response.status_code, error_code(response)) == (409, code)
    # A pending upload past its deadline shows no URLs.
    assert alice_client.get(f"/api/v1/uploads/{expired['upload_id']}/").json()["urls"] == []


# --- abort -------------------------------------------------------------------------------------
def test_abort_removes_the_photo_releases_the_quota_and_aborts_in_storage(
    backend, alice_client, gallery_a, album_a
):
    data = jpeg_bytes(11 * MiB)
    response = start(alice_client, gallery_a, [declare("a.jpg", data)], album_id=str(album_a.id))
    [file] = response.json()["files"]
    put(file["urls"][0], data[: 5 * MiB])
    upload = Upload.objects.get(id=file["upload_id"])
    assert _usage(gallery_a) == len(data)

    response = alice_client.delete(f"/api/v1/uploads/{file['upload_id']}/")
    assert response.status_code == 204
    upload.refresh_from_db()
    assert (upload.state, upload.photo_id) == (Upload.State.ABORTED, None)
    assert not Photo.objects.filter(id=file["photo_id"]).exists()
    assert _usage(gallery_a) == 0
    album_a.refresh_from_db()
    assert album_a.photo_count == 0
    assert Gallery.objects.get(id=gallery_a.id).photo_count == 0
    initiated = backend.list_multipart_uploads(
        prefix=upload.key, initiated_before=timezone.now() + timedelta(days=1)
    )
    assert initiated == []

    assert alice_client.delete(f"/api/v1/uploads/{file['upload_id']}/").status_code == 204
    assert complete(alice_client, file["upload_id"]).status_code == 409


def test_a_completed_upload_cannot_be_aborted(alice_client, gallery_a):
    data = jpeg_bytes(1000)
    [file] = start(alice_client, gallery_a, [declare("a.jpg", data)]).json()["files"]
    put(file["urls"][0], data)
    complete(alice_client, file["upload_id"])
    response = alice_client.delete(f"/api/v1/uploads/{file['upload_id']}/")
    assert (response.status_code, error_code(response)) == (409, "upload_completed")
    assert Photo.objects.filter(id=file["photo_id"], state=Photo.State.UPLOADED).exists()


def test_completing_after_the_photo_was_deleted_discards_the_bytes(
    local_storage, alice_client, gallery_a
):
    data = jpeg_bytes(1000)
    [file] = start(alice_client, gallery_a, [declare("a.jpg", data)]).json()["files"]
    key = Photo.objects.get(id=file["photo_id"]).original_key
    assert alice_client.delete(f"/api/v1/photos/{file['photo_id']}/").status_code == 204
    put(file["urls"][0], data)
    response = complete(alice_client, file["upload_id"])
    assert (response.status_code, error_code(response)) == (409, "photo_deleted")
    assert local_storage.head(key=key) is None
    assert Upload.objects.get(id=file["upload_id"]).state == Upload.State.ABORTED


def test_multipart_uploads_are_aborted_when_the_start_transaction_fails(
    backend, alice_client, gallery_a, monkeypatch
):
    from galleries.services.uploads import start as upload_start

    def broken(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(upload_start, "counters_apply", broken)
    prefix = f"studios/{gallery_a.studio_id}/"
    with pytest.raises(RuntimeError):
        start(alice_client, gallery_a, [declare(f"{n}.jpg", size=11 * MiB) for n in range(3)])
    left = backend.list_multipart_uploads(
        prefix=prefix, initiated_before=timezone.now() + timedelta(days=1)
    )
    assert left == []
    assert _counts() == (0, 0, 0)
