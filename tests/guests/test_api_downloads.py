"""Guest downloads: the sizes the studio offers, single photos as signed attachment URLs, whole
gallery or album ZIPs through the ZIP job flow, and the optional download PIN."""

from __future__ import annotations

import io
import uuid
import zipfile

import pytest

from galleries import services as gallery_services
from galleries.models import DownloadJob, Gallery
from guests import access
from tests.delivery.conftest import derivative_bytes, original_bytes, stored_photo
from tests.guests.api_support import (
    PIN,
    error_code,
    guest,
    protect,
    public_url,
    register,
    unlock,
)
from tests.storage_fixtures import send

pytest_plugins = ["tests.guests.api_fixtures"]
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

DOWNLOAD_PIN = "8642"


def download(client, gallery, photo, **query):
    return client.get(public_url(gallery, f"photos/{getattr(photo, 'id', photo)}/download/"), query)


@pytest.fixture
def marked(gallery_a, alice, guest_storage):
    """A photo whose gallery has a watermark: a watermarked preview next to the clean one."""
    return stored_photo(
        guest_storage,
        gallery_a,
        alice,
        filename="DSC_0042.NEF",
        derivatives=("thumb", "preview", "preview_wm"),
    )


# --- Single photos ------------------------------------------------------------------------------
def test_the_web_size_is_offered_by_default(gallery_a, photos_a):
    response = download(guest(), gallery_a, photos_a[0])
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"url", "expires_at"}
    fetched = send("GET", body["url"])
    assert fetched.status == 200
    assert fetched.body == derivative_bytes(photos_a[0], "preview")  # no watermark here
    assert fetched.headers["Content-Disposition"] == 'attachment; filename="IMG_0001.jpg"'


@pytest.mark.parametrize(
    ("size", "source", "filename"),
    [
        ("original", "original", "DSC_0042.NEF"),
        ("high", "preview", "DSC_0042.jpg"),
        ("web", "preview_wm", "DSC_0042.jpg"),
    ],
)
def test_each_size_is_its_file(gallery_a, marked, size, source, filename):
    protect(gallery_a, "public", download_sizes=["original", "high", "web"])
    response = download(guest(), gallery_a, marked, size=size)
    assert response.status_code == 200, response.json()
    fetched = send("GET", response.json()["url"])
    expected = (
        original_bytes("DSC_0042.NEF") if source == "original" else derivative_bytes(marked, source)
    )
    assert fetched.body == expected
    assert fetched.headers["Content-Disposition"] == f'attachment; filename="{filename}"'


def test_redirect_true_answers_302_to_the_file(gallery_a, photos_a):
    response = download(guest(), gallery_a, photos_a[1], redirect="true")
    assert response.status_code == 302
    fetched = send("GET", response["Location"])
    assert fetched.status == 200 and fetched.body == derivative_bytes(photos_a[1], "preview")


@pytest.mark.parametrize(
    ("offered", "asked"), [(["web"], "original"), (["web"], "high"), ([], "web")]
)
def test_a_size_the_studio_does_not_offer_is_403(gallery_a, photos_a, offered, asked):
    protect(gallery_a, "public", download_sizes=offered)
    response = download(guest(), gallery_a, photos_a[0], size=asked)
    assert (response.status_code, error_code(response)) == (403, "download_not_allowed")
    assert response.json()["error"]["allowed"] == offered


@pytest.mark.parametrize(
    "query", [{"size": "thumb"}, {"size": ""}, {"redirect": "maybe"}, {"sizes": "web"}]
)
def test_bad_download_queries_are_400(gallery_a, photos_a, query):
    response = download(guest(), gallery_a, photos_a[0], **query)
    assert (response.status_code, error_code(response)) == (400, "validation_error")


def test_only_ready_visible_photos_of_this_gallery_download(
    gallery_a, gallery_a2, alice, photos_a, photo_b, guest_storage
):
    protect(gallery_a, "public", download_sizes=["original", "web"])
    hidden = stored_photo(guest_storage, gallery_a, alice, filename="h.jpg", hidden=True)
    uploaded = stored_photo(
        guest_storage, gallery_a, alice, filename="u.jpg", state="uploaded", derivatives=()
    )
    elsewhere = stored_photo(guest_storage, gallery_a2, alice, filename="e.jpg")
    for photo in (hidden, uploaded, elsewhere, photo_b, uuid.uuid4(), "not-a-uuid"):
        for size in ("original", "web"):
            response = download(guest(), gallery_a, photo, size=size)
            assert (response.status_code, error_code(response)) == (404, "not_found"), photo


# --- The download PIN ---------------------------------------------------------------------------
def test_the_download_pin_unlocks_downloads(gallery_a, photos_a):
    protect(gallery_a, "public", download_sizes=["web"], download_pin=DOWNLOAD_PIN)
    client = guest()
    assert client.get(public_url(gallery_a)).json()["download_pin_required"] is True
    for response in (
        download(client, gallery_a, photos_a[0]),
        client.post(public_url(gallery_a, "downloads/"), {"size": "web"}),
    ):
        assert (response.status_code, error_code(response)) == (403, "download_pin_required")
    assert DownloadJob.objects.count() == 0

    wrong = client.post(public_url(gallery_a, "downloads/unlock/"), {"pin": "1111"})
    assert (wrong.status_code, error_code(wrong)) == (403, "wrong_download_pin")
    assert "token" not in wrong.json()

    right = client.post(public_url(gallery_a, "downloads/unlock/"), {"pin": DOWNLOAD_PIN})
    assert right.status_code == 200
    assert right.json()["gallery"]["downloads_unlocked"] is True
    assert access.load(right.json()["token"]).downloads_unlocked
    unlocked = guest(right.json()["token"])
    assert download(unlocked, gallery_a, photos_a[0]).status_code == 200
    assert unlocked.post(public_url(gallery_a, "downloads/"), {"size": "web"}).status_code == 202
    # The size limit still applies after the PIN.
    response = download(unlocked, gallery_a, photos_a[0], size="original")
    assert (response.status_code, error_code(response)) == (403, "download_not_allowed")


def test_the_download_pin_of_a_pin_gallery_keeps_the_guest_s_grant(gallery_a, photos_a):
    protect(gallery_a, Gallery.Access.PIN, download_pin=DOWNLOAD_PIN)
    token = unlock(guest(), gallery_a, PIN)
    registered = register(guest(), gallery_a, "anna@example.com", token=token).json()["token"]
    response = guest(registered).post(
        public_url(gallery_a, "downloads/unlock/"), {"pin": DOWNLOAD_PIN}
    )
    assert response.status_code == 200
    grant = access.load(response.json()["token"])
    assert grant.downloads_unlocked and grant.visitor_id is not None
    assert grant.gallery_id == gallery_a.id and grant.access_version == 2
    # A download PIN needs the gallery open first.
    locked = guest().post(public_url(gallery_a, "downloads/unlock/"), {"pin": DOWNLOAD_PIN})
    assert (locked.status_code, error_code(locked)) == (403, "gallery_locked")


def test_an_unlocked_download_pin_is_for_its_gallery_only(
    gallery_a, gallery_a2, photos_a, alice, guest_storage
):
    for gallery in (gallery_a, gallery_a2):
        protect(gallery, "public", download_pin=DOWNLOAD_PIN)
    other = stored_photo(guest_storage, gallery_a2, alice, filename="other.jpg")
    token = (
        guest()
        .post(public_url(gallery_a, "downloads/unlock/"), {"pin": DOWNLOAD_PIN})
        .json()["token"]
    )
    response = download(guest(token), gallery_a2, other)
    assert (response.status_code, error_code(response)) == (403, "download_pin_required")


def test_without_a_download_pin_unlocking_downloads_is_a_no_op(gallery_a, photos_a):
    response = guest().post(public_url(gallery_a, "downloads/unlock/"), {"pin": "anything"})
    assert response.status_code == 200
    assert response.json()["gallery"]["downloads_unlocked"] is True


@pytest.mark.parametrize("body", [{}, {"pin": ""}, {"pin": "1" * 17}, {"secret": "8642"}])
def test_bad_download_pin_input_is_400(gallery_a, body):
    response = guest().post(public_url(gallery_a, "downloads/unlock/"), body, format="json")
    assert (response.status_code, error_code(response)) == (400, "validation_error")


# --- ZIPs -------------------------------------------------------------------------------------
def request_zip(client, gallery, captured, **body):
    with captured(execute=True):
        return client.post(public_url(gallery, "downloads/"), body, format="json")


def poll(client, gallery, job_id):
    return client.get(public_url(gallery, f"downloads/{job_id}/"))


def test_a_gallery_zip_is_built_and_polled_to_its_url(
    gallery_a, alice, photos_a, guest_storage, django_capture_on_commit_callbacks
):
    stored_photo(guest_storage, gallery_a, alice, filename="hidden.jpg", hidden=True)
    client = guest()
    response = request_zip(client, gallery_a, django_capture_on_commit_callbacks, size="web")
    assert response.status_code == 202, response.json()
    job = response.json()
    assert job["state"] == "queued" and job["size"] == "web" and job["album_id"] is None
    assert (job["file_count"], job["files_skipped"], job["url"]) == (3, 0, None)

    polled = poll(client, gallery_a, job["id"])
    assert polled.status_code == 200
    body = polled.json()
    assert body["state"] == "ready" and body["files_done"] == 3
    fetched = send("GET", body["url"])
    assert fetched.status == 200
    assert fetched.headers["Content-Disposition"] == 'attachment; filename="smith-wedding.zip"'
    archive = zipfile.ZipFile(io.BytesIO(fetched.body))
    assert archive.namelist() == ["IMG_0001.jpg", "IMG_0002.jpg", "IMG_0003.jpg"]
    assert archive.read("IMG_0002.jpg") == derivative_bytes(photos_a[1], "preview")
    stored = DownloadJob.objects.get(id=job["id"])
    assert stored.requested_by is None and stored.requested_by_email == ""


def test_an_album_zip_and_the_registered_guest_s_email(
    gallery_a, alice, guest_storage, django_capture_on_commit_callbacks
):
    album = gallery_services.album_create(gallery=gallery_a, by=alice, name="Party")
    inside = stored_photo(guest_storage, gallery_a, alice, filename="in.jpg", album=album)
    stored_photo(guest_storage, gallery_a, alice, filename="out.jpg")
    protect(gallery_a, "public", download_sizes=["original"])
    token = register(guest(), gallery_a, "anna@example.com").json()["token"]
    client = guest(token)
    response = request_zip(
        client,
        gallery_a,
        django_capture_on_commit_callbacks,
        size="original",
        album_id=str(album.id),
    )
    assert response.status_code == 202, response.json()
    assert response.json()["album_id"] == str(album.id) and response.json()["file_count"] == 1
    body = poll(client, gallery_a, response.json()["id"]).json()
    fetched = send("GET", body["url"])
    archive = zipfile.ZipFile(io.BytesIO(fetched.body))
    assert archive.namelist() == ["in.jpg"]
    assert archive.read("in.jpg") == original_bytes("in.jpg")
    assert inside.album_id == album.id
    assert DownloadJob.objects.get(id=body["id"]).requested_by_email == "anna@example.com"


def test_the_same_zip_asked_twice_is_one_job(gallery_a, photos_a):
    first = guest().post(public_url(gallery_a, "downloads/"), {"size": "web"})
    second = guest().post(public_url(gallery_a, "downloads/"), {"size": "web"})
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert DownloadJob.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"size": "original"}, 403, "download_not_allowed"),
        ({"size": "huge"}, 400, "validation_error"),
        ({}, 400, "validation_error"),
        ({"size": "web", "album_id": "nope"}, 400, "validation_error"),
        ({"size": "web", "album_id": str(uuid.uuid4())}, 422, "invalid_album"),
    ],
)
def test_bad_zip_requests(gallery_a, photos_a, body, status, code):
    response = guest().post(public_url(gallery_a, "downloads/"), body, format="json")
    assert (response.status_code, error_code(response)) == (status, code)
    assert DownloadJob.objects.count() == 0


def test_an_album_of_another_gallery_is_refused(gallery_a, gallery_a2, alice, photos_a):
    other = gallery_services.album_create(gallery=gallery_a2, by=alice, name="Elsewhere")
    response = guest().post(
        public_url(gallery_a, "downloads/"), {"size": "web", "album_id": str(other.id)}
    )
    assert (response.status_code, error_code(response)) == (422, "invalid_album")


def test_nothing_to_download_is_409(gallery_a, alice, guest_storage):
    stored_photo(guest_storage, gallery_a, alice, filename="h.jpg", hidden=True)
    response = guest().post(public_url(gallery_a, "downloads/"), {"size": "web"})
    assert (response.status_code, error_code(response)) == (409, "nothing_to_download")
    assert DownloadJob.objects.count() == 0


def test_a_job_of_another_gallery_or_studio_is_404(
    gallery_a, gallery_a2, gallery_b, alice, bob, guest_storage
):
    stored_photo(guest_storage, gallery_a2, alice, filename="a2.jpg")
    stored_photo(guest_storage, gallery_b, bob, filename="b.jpg")
    of_a2 = guest().post(public_url(gallery_a2, "downloads/"), {"size": "web"}).json()["id"]
    of_b = guest().post(public_url(gallery_b, "downloads/"), {"size": "web"}).json()["id"]
    for job_id in (of_a2, of_b, str(uuid.uuid4()), "not-a-uuid"):
        response = poll(guest(), gallery_a, job_id)
        assert (response.status_code, error_code(response)) == (404, "not_found"), job_id
    assert poll(guest(), gallery_b, of_b).status_code == 200


def test_a_studio_member_s_job_is_invisible_to_guests(gallery_a, photos_a, alice_client):
    member_job = alice_client.post(
        f"/api/v1/galleries/{gallery_a.id}/downloads/", {"size": "original"}, format="json"
    )
    assert member_job.status_code == 202, member_job.json()
    response = poll(guest(), gallery_a, member_job.json()["id"])
    assert (response.status_code, error_code(response)) == (404, "not_found")


def test_a_guest_asking_for_the_zip_a_member_asked_for_gets_a_job_they_can_poll(
    gallery_a, photos_a, alice_client, django_capture_on_commit_callbacks
):
    member_job = alice_client.post(
        f"/api/v1/galleries/{gallery_a.id}/downloads/", {"size": "web"}, format="json"
    ).json()
    response = request_zip(guest(), gallery_a, django_capture_on_commit_callbacks, size="web")
    assert response.status_code == 202
    job_id = response.json()["id"]
    assert job_id != member_job["id"]
    assert response.json()["file_count"] == member_job["file_count"] == 3
    polled = poll(guest(), gallery_a, job_id).json()
    assert polled["state"] == "ready"
    archive = zipfile.ZipFile(io.BytesIO(send("GET", polled["url"]).body))
    assert archive.namelist() == ["IMG_0001.jpg", "IMG_0002.jpg", "IMG_0003.jpg"]
    # Guests then share their own job; the member's stays theirs.
    again = guest().post(public_url(gallery_a, "downloads/"), {"size": "web"})
    assert again.json()["id"] == job_id
    response = poll(guest(), gallery_a, member_job["id"])
    assert (response.status_code, error_code(response)) == (404, "not_found")


def test_a_shared_job_id_does_not_get_round_the_download_pin_or_a_withdrawn_size(
    gallery_a, photos_a, alice_client
):
    protect(gallery_a, "public", download_sizes=["web", "original"], download_pin=DOWNLOAD_PIN)
    token = (
        guest()
        .post(public_url(gallery_a, "downloads/unlock/"), {"pin": DOWNLOAD_PIN})
        .json()["token"]
    )
    job_id = (
        guest(token).post(public_url(gallery_a, "downloads/"), {"size": "original"}).json()["id"]
    )
    assert poll(guest(token), gallery_a, job_id).status_code == 200
    response = poll(guest(), gallery_a, job_id)  # another guest, without the download PIN
    assert (response.status_code, error_code(response)) == (403, "download_pin_required")

    alice_client.patch(
        f"/api/v1/galleries/{gallery_a.id}/guest-access/", {"download_sizes": ["web"]}
    )
    response = poll(guest(token), gallery_a, job_id)
    assert (response.status_code, error_code(response)) == (403, "download_not_allowed")
