"""The whole upload protocol, on the S3 API (moto server) and on the local backend, with real
HTTP PUTs to the presigned URLs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import StudioUsage
from galleries.models import Gallery, Photo, Upload
from tests.uploads.conftest import MiB, complete, declare, jpeg_bytes, put, start

pytestmark = pytest.mark.django_db


def test_single_put_upload_start_put_complete(
    backend, alice_client, gallery_a, queued, django_capture_on_commit_callbacks
):
    data = jpeg_bytes(50_000)
    response = start(alice_client, gallery_a, [declare("IMG_0001.JPG", data)])
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["rejected"] == []
    [file] = body["files"]
    assert file["method"] == "single"
    assert file["state"] == "pending"
    assert file["content_type"] == "image/jpeg"
    photo = Photo.objects.get(id=file["photo_id"])
    assert photo.state == Photo.State.PENDING
    assert photo.original_key.endswith(f"originals/{photo.id}.jpg")  # never the client's name
    assert StudioUsage.objects.get(studio=gallery_a.studio).storage_bytes == len(data)

    [url] = file["urls"]
    assert url["part_number"] is None
    assert put(url, data).status == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = complete(alice_client, file["upload_id"])
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "completed"
    assert response.json()["photo_state"] == "uploaded"
    assert response.json()["urls"] == []
    photo.refresh_from_db()
    assert photo.state == Photo.State.UPLOADED
    assert queued == [str(photo.id)]
    assert backend.head(key=photo.original_key).size == len(data)


def test_multipart_upload_resumes_after_two_of_three_parts(
    backend, alice_client, gallery_a, queued, django_capture_on_commit_callbacks
):
    data = jpeg_bytes(11 * MiB)  # 5 + 5 + 1 MiB with the 5 MiB parts of these tests
    response = start(alice_client, gallery_a, [declare("DSC_0001.jpg", data)])
    assert response.status_code == 201, response.content
    [file] = response.json()["files"]
    assert (file["method"], file["part_size"], file["part_count"]) == ("multipart", 5 * MiB, 3)
    assert [url["part_number"] for url in file["urls"]] == [1, 2, 3]
    chunks = [data[n * 5 * MiB : (n + 1) * 5 * MiB] for n in range(3)]
    for url, chunk in zip(file["urls"][:2], chunks[:2], strict=True):
        assert put(url, chunk).status == 200

    # The uploader lost its state: the server says what storage has and what is missing.
    resumed = alice_client.get(f"/api/v1/uploads/{file['upload_id']}/").json()
    assert [p["part_number"] for p in resumed["uploaded_parts"]] == [1, 2]
    assert resumed["missing_parts"] == [3]
    [url3] = resumed["urls"]
    assert url3["part_number"] == 3
    assert put(url3, chunks[2]).status == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = complete(alice_client, file["upload_id"])  # parts taken from list_parts
    assert response.status_code == 200, response.content
    photo = Photo.objects.get(id=file["photo_id"])
    assert photo.state == Photo.State.UPLOADED
    assert queued == [str(photo.id)]
    assert backend.head(key=photo.original_key).size == len(data)
    assert backend.read_range(key=photo.original_key, start=0, length=3) == data[:3]


def test_multipart_complete_with_the_etags_the_client_collected(backend, alice_client, gallery_a):
    data = jpeg_bytes(6 * MiB)
    [file] = start(alice_client, gallery_a, [declare("DSC_0002.jpg", data)]).json()["files"]
    assert file["part_count"] == 2
    parts = []
    for url, chunk in zip(file["urls"], [data[: 5 * MiB], data[5 * MiB :]], strict=True):
        answer = put(url, chunk)
        assert answer.status == 200
        parts.append({"part_number": url["part_number"], "etag": answer.headers["ETag"]})
    response = complete(alice_client, file["upload_id"], parts=parts)
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "completed"


def test_part_urls_on_demand_for_the_next_parts(backend, alice_client, gallery_a):
    data = jpeg_bytes(11 * MiB)
    [file] = start(alice_client, gallery_a, [declare("DSC_0003.jpg", data)]).json()["files"]
    response = alice_client.post(
        f"/api/v1/uploads/{file['upload_id']}/parts/", {"part_numbers": [3, 1]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert [url["part_number"] for url in response.json()["urls"]] == [3, 1]
    assert put(response.json()["urls"][0], data[10 * MiB :]).status == 200


def test_batch_complete_finishes_many_files_in_one_request(
    backend, alice_client, gallery_a, queued, django_capture_on_commit_callbacks
):
    bodies = [jpeg_bytes(20_000 + n) for n in range(3)]
    response = start(
        alice_client, gallery_a, [declare(f"IMG_{n}.jpg", b) for n, b in enumerate(bodies)]
    )
    batch = response.json()
    for file, body in zip(batch["files"], bodies, strict=True):
        assert put(file["urls"][0], body).status == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            f"/api/v1/upload-batches/{batch['id']}/complete/",
            {"uploads": [{"upload_id": f["upload_id"]} for f in batch["files"]]},
            format="json",
        )
    assert response.status_code == 200, response.content
    assert response.json()["failed"] == []
    assert len(response.json()["completed"]) == 3
    assert sorted(queued) == sorted(f["photo_id"] for f in batch["files"])
    progress = alice_client.get(f"/api/v1/upload-batches/{batch['id']}/").json()
    assert progress["declared"] == 3
    assert progress["counts"]["uploaded"] == 3
    assert progress["completed_bytes"] == sum(map(len, bodies))


def test_photos_are_placed_after_the_last_and_into_the_album(
    alice_client, gallery_a, album_a, alice
):
    from tests.galleries.conftest import photo_add

    existing = photo_add(gallery_a, alice, filename="old.jpg")
    response = start(
        alice_client,
        gallery_a,
        [declare("a.jpg", jpeg_bytes(1000)), declare("b.jpg", jpeg_bytes(2000))],
        album_id=str(album_a.id),
    )
    assert response.status_code == 201, response.content
    photos = Photo.objects.filter(gallery=gallery_a).exclude(id=existing.id).order_by("position")
    assert [p.filename for p in photos] == ["a.jpg", "b.jpg"]
    assert [p.position for p in photos] == [existing.position + 1, existing.position + 2]
    assert {p.album_id for p in photos} == {album_a.id}
    album_a.refresh_from_db()
    gallery = Gallery.objects.get(id=gallery_a.id)
    assert album_a.photo_count == 2
    assert gallery.photo_count == 3
    assert gallery.storage_bytes == existing.size + 3000


def test_raw_files_and_generic_content_types_are_accepted(alice_client, gallery_a):
    files = [
        declare("DSC_0001.NEF", size=30 * MiB, content_type="application/octet-stream"),
        declare("IMG_0002.CR3", size=40 * MiB, content_type="image/x-canon-cr3"),
        declare("IMG_0003.HEIC", size=3 * MiB, content_type="image/heic"),
    ]
    response = start(alice_client, gallery_a, files)
    assert response.status_code == 201, response.content
    assert [f["content_type"] for f in response.json()["files"]] == [
        "image/x-nikon-nef",
        "image/x-canon-cr3",
        "image/heic",
    ]
    # The URL is signed for the canonical type: that is the header to send.
    assert response.json()["files"][2]["urls"][0]["headers"]["Content-Type"] == "image/heic"


def test_renew_gives_a_fresh_url_and_extends_the_deadline(alice_client, gallery_a):
    data = jpeg_bytes(1000)
    [file] = start(alice_client, gallery_a, [declare("a.jpg", data)]).json()["files"]
    soon = timezone.now() + timedelta(minutes=1)
    Upload.objects.filter(id=file["upload_id"]).update(expires_at=soon)
    response = alice_client.post(f"/api/v1/uploads/{file['upload_id']}/renew/")
    assert response.status_code == 200, response.content
    assert Upload.objects.get(id=file["upload_id"]).expires_at > soon + timedelta(hours=23)
    [url] = response.json()["urls"]
    assert put(url, data).status == 200
    assert complete(alice_client, file["upload_id"]).status_code == 200
