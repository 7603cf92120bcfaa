"""Selfie search over HTTP: guest and studio side, every bad input, rate limits, privacy."""

from __future__ import annotations

import datetime as dt
import io
import struct
import tempfile
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from faces.models import (
    Face,
    FaceDataDeletion,
    FaceRejection,
    GalleryFaceIndex,
    HideRequest,
    Person,
)
from galleries.models import Gallery, Photo
from galleries.services.access import gallery_guest_access_update
from picpick.testing.scenes import build_scene
from tests.faces_search.conftest import selfie_bytes

pytestmark = pytest.mark.django_db


def guest_url(gallery_id) -> str:
    return f"/api/v1/public/galleries/{gallery_id}/selfie-search/"


def studio_url(gallery_id) -> str:
    return f"/api/v1/galleries/{gallery_id}/selfie-search/"


def post_selfie(client, url, data: bytes, name="selfie.jpg", fields=None, **meta):
    upload = SimpleUploadedFile(name, data, content_type="application/octet-stream")
    return client.post(url, {"selfie": upload, **(fields or {})}, format="multipart", **meta)


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _error(response) -> str:
    return response.json()["error"]["code"]


# --- Finding the right photos -------------------------------------------------------------------
def test_guest_selfie_finds_exactly_that_persons_photos_ranked(
    anon_client, shared_gallery, shared_faces
):
    response = post_selfie(
        anon_client, guest_url(shared_gallery.gallery.id), selfie_bytes("obama/obama1.jpg")
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    found = [photo["id"] for photo in body["photos"]]
    expected = shared_gallery.photo_ids_of("obama", shared_faces)
    assert set(found) == {str(pid) for pid in expected}
    assert body["count"] == len(expected)
    distances = [photo["distance"] for photo in body["photos"]]
    assert distances == sorted(distances) and distances[0] < 0.15  # the selfie photo itself
    assert body["faces_in_selfie"] == 1
    obama = shared_gallery.people["obama"]
    assert body["matched_person"] == {"id": str(obama.id), "name": obama.name}
    first = body["photos"][0]
    assert first["thumb_url"] and "/d/thumb/" in first["thumb_url"]
    assert first["preview_url"] and "/d/preview/" in first["preview_url"]


def test_heic_selfie_is_accepted(anon_client, shared_gallery, shared_faces):
    from pillow_heif import register_heif_opener

    register_heif_opener()
    out = io.BytesIO()
    Image.open(io.BytesIO(selfie_bytes("obama/obama3.jpg"))).save(out, "HEIF")
    response = post_selfie(anon_client, guest_url(shared_gallery.gallery.id), out.getvalue())
    assert response.status_code == 200, response.json()
    found = {photo["id"] for photo in response.json()["photos"]}
    assert found == {str(pid) for pid in shared_gallery.photo_ids_of("obama", shared_faces)}


def test_selfie_of_another_person_finds_none_of_the_first(
    anon_client, shared_gallery, shared_faces
):
    response = post_selfie(
        anon_client, guest_url(shared_gallery.gallery.id), selfie_bytes("biden/biden2.jpg")
    )
    assert response.status_code == 200
    found = {photo["id"] for photo in response.json()["photos"]}
    assert found == {str(pid) for pid in shared_gallery.photo_ids_of("biden", shared_faces)}


def test_three_faces_in_the_selfie_search_the_largest(anon_client, shared_gallery, shared_faces):
    scene = build_scene(
        seed=3,
        face_heights=[110, 260, 120],
        persons=["lin_manuel_miranda", "biden", "alex_lacamoire"],
        size=(1600, 1100),
    )
    response = post_selfie(anon_client, guest_url(shared_gallery.gallery.id), scene.jpeg())
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["faces_in_selfie"] == 3
    assert {p["id"] for p in body["photos"]} == {
        str(pid) for pid in shared_gallery.photo_ids_of("biden", shared_faces)
    }


def test_studio_side_search_shows_the_clean_preview(alice_client, shared_gallery):
    response = post_selfie(
        alice_client, studio_url(shared_gallery.gallery.id), selfie_bytes("obama/obama2.jpg")
    )
    assert response.status_code == 200
    assert response.json()["count"] >= 1
    assert all("/d/preview/" in p["preview_url"] for p in response.json()["photos"])


def test_studio_side_search_of_another_studios_gallery_is_404(bob_client, shared_gallery):
    response = post_selfie(
        bob_client, studio_url(shared_gallery.gallery.id), selfie_bytes("obama/obama2.jpg")
    )
    assert response.status_code == 404


def test_studio_side_search_needs_a_login(anon_client, shared_gallery):
    response = post_selfie(anon_client, studio_url(shared_gallery.gallery.id), b"x")
    assert response.status_code == 401


# --- Bad input -------------------------------------------------------------------------------
def test_selfie_without_a_face_is_422_no_face(anon_client, shared_gallery):
    blank = Image.new("RGB", (400, 300), (120, 160, 200))
    response = post_selfie(anon_client, guest_url(shared_gallery.gallery.id), png(blank), "a.png")
    assert response.status_code == 422
    assert _error(response) == "no_face"


def test_one_pixel_image_is_422_image_too_small(anon_client, shared_gallery):
    tiny = png(Image.new("RGB", (1, 1)))
    response = post_selfie(anon_client, guest_url(shared_gallery.gallery.id), tiny, "a.png")
    assert response.status_code == 422
    assert _error(response) == "image_too_small"


def _png_bomb(width: int, height: int) -> bytes:
    """A PNG header claiming ``width``×``height`` pixels around a few bytes of data."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [9_000, 40_000])  # over the cap; over twice the cap
def test_decompression_bomb_is_422_too_many_pixels(anon_client, shared_gallery, side):
    response = post_selfie(
        anon_client, guest_url(shared_gallery.gallery.id), _png_bomb(side, side), "b.png"
    )
    assert response.status_code == 422
    assert _error(response) == "too_many_pixels"


@pytest.mark.parametrize(
    "data", [b"hello, this is not an image", b"\xff\xd8\xff" + b"\x00" * 200, b"GIF89a" + b"0" * 50]
)
def test_non_image_or_broken_image_is_400_unreadable_image(anon_client, shared_gallery, data):
    response = post_selfie(anon_client, guest_url(shared_gallery.gallery.id), data)
    assert response.status_code == 400
    assert _error(response) == "unreadable_image"


def test_missing_selfie_or_unknown_field_is_400(anon_client, shared_gallery):
    url = guest_url(shared_gallery.gallery.id)
    response = anon_client.post(url, {}, format="multipart")
    assert response.status_code == 400 and "selfie" in response.json()["error"]["fields"]
    response = post_selfie(anon_client, url, b"x", fields={"colour": "blue"})
    assert response.status_code == 400 and "colour" in response.json()["error"]["fields"]


def test_selfie_over_10_mb_is_413(anon_client, shared_gallery):
    data = selfie_bytes("obama/obama1.jpg")
    big = data + b"\x00" * (10 * 1024 * 1024 + 1 - len(data))
    response = post_selfie(anon_client, guest_url(shared_gallery.gallery.id), big)
    assert response.status_code == 413
    assert _error(response) == "payload_too_large"


def test_selfie_over_the_limit_inside_a_small_body_is_413(anon_client, shared_gallery, settings):
    settings.PICPICK_SELFIE_MAX_BYTES = 100_000
    # The body is within the limit plus the multipart allowance, so the upload handler is
    # what stops it, while streaming.
    data = selfie_bytes("obama/obama1.jpg")
    response = post_selfie(anon_client, guest_url(shared_gallery.gallery.id), data[:150_000])
    assert response.status_code == 413


# --- Gallery without face search ---------------------------------------------------------------
def test_gallery_with_face_recognition_off_is_409_face_search_off(anon_client, shared_gallery):
    gallery = shared_gallery.gallery
    gallery.face_recognition_enabled = False
    gallery.save(update_fields=["face_recognition_enabled"])
    response = post_selfie(anon_client, guest_url(gallery.id), selfie_bytes("obama/obama1.jpg"))
    assert response.status_code == 409
    assert _error(response) == "face_search_off"


def test_studio_with_face_recognition_off_is_409_on_both_sides(
    anon_client, alice_client, shared_gallery, studio_a
):
    studio_a.face_recognition_enabled = False
    studio_a.save(update_fields=["face_recognition_enabled"])
    for client, url in (
        (anon_client, guest_url(shared_gallery.gallery.id)),
        (alice_client, studio_url(shared_gallery.gallery.id)),
    ):
        response = post_selfie(client, url, selfie_bytes("obama/obama1.jpg"))
        assert response.status_code == 409
        assert _error(response) == "face_search_off"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ("draft", 404, "not_found"),
        ("archived", 404, "not_found"),
        ("expired", 410, "gallery_expired"),
    ],
)
def test_unpublished_or_expired_gallery_refuses_guests(
    anon_client, shared_gallery, change, status, code
):
    gallery = shared_gallery.gallery
    if change == "expired":
        gallery.expires_at = timezone.now() - dt.timedelta(minutes=1)
    else:
        gallery.status = change
    gallery.save()
    response = post_selfie(anon_client, guest_url(gallery.id), selfie_bytes("obama/obama1.jpg"))
    assert response.status_code == status
    assert _error(response) == code


def test_a_pin_gallery_needs_its_token_for_selfie_search(anon_client, shared_gallery):

    gallery = shared_gallery.gallery
    gallery_guest_access_update(gallery=gallery, changes={"access": "pin", "secret": "4321"})
    url = guest_url(gallery.id)
    response = post_selfie(anon_client, url, selfie_bytes("obama/obama1.jpg"))
    assert (response.status_code, _error(response)) == (403, "gallery_locked")
    token = anon_client.post(
        f"/api/v1/public/galleries/{gallery.id}/unlock/", {"secret": "4321"}, format="json"
    ).json()["token"]
    anon_client.credentials(HTTP_X_GALLERY_TOKEN=token)
    assert post_selfie(anon_client, url, selfie_bytes("obama/obama1.jpg")).status_code == 200


def test_unknown_gallery_is_404(anon_client, db):
    url = guest_url("0190a000-0000-7000-8000-000000000000")
    assert post_selfie(anon_client, url, b"x").status_code == 404


# --- Rate limits ----------------------------------------------------------------------------
def test_rate_limit_per_client_address(anon_client, shared_gallery, settings):
    settings.PICPICK_SELFIE_RATE_PER_ADDRESS = 3
    url = guest_url(shared_gallery.gallery.id)
    # The limit is taken before the selfie is read: cheap requests count the same.
    statuses = [post_selfie(anon_client, url, b"not an image").status_code for _ in range(3)]
    assert statuses == [400, 400, 400]
    response = post_selfie(anon_client, url, b"not an image")
    assert response.status_code == 429
    assert _error(response) == "rate_limited"
    assert int(response["Retry-After"]) >= 1
    other = post_selfie(anon_client, url, b"not an image", REMOTE_ADDR="203.0.113.9")
    assert other.status_code == 400  # another address has its own count


def test_rate_limit_per_gallery_across_addresses(anon_client, shared_gallery, settings):
    settings.PICPICK_SELFIE_RATE_PER_GALLERY = 2
    url = guest_url(shared_gallery.gallery.id)
    codes = [
        post_selfie(anon_client, url, b"x", REMOTE_ADDR=f"198.51.100.{i}").status_code
        for i in range(3)
    ]
    assert codes == [400, 400, 429]


# --- Privacy ------------------------------------------------------------------------------------
def _row_counts() -> dict:
    models = (Face, Person, GalleryFaceIndex, HideRequest, FaceRejection, FaceDataDeletion, Photo)
    return {model.__name__: model.objects.count() for model in models}


def _temp_files() -> set:
    return set(Path(tempfile.gettempdir()).iterdir())


def test_search_stores_nothing_and_leaves_no_temp_file(anon_client, shared_gallery):
    # Over Django's 2.5 MB in-memory limit: it would normally spool to a temp file.
    data = selfie_bytes("obama/obama1.jpg")
    data += b"\x00" * (3 * 1024 * 1024 - len(data))
    before, temp_before = _row_counts(), _temp_files()
    version = GalleryFaceIndex.objects.get(gallery=shared_gallery.gallery).version
    response = post_selfie(anon_client, guest_url(shared_gallery.gallery.id), data)
    assert response.status_code == 200 and response.json()["count"] > 0
    assert _row_counts() == before
    assert _temp_files() - temp_before == set()
    assert GalleryFaceIndex.objects.get(gallery=shared_gallery.gallery).version == version


def test_guest_sees_the_watermarked_preview_when_the_gallery_has_a_watermark(
    anon_client, shared_gallery
):
    from galleries.models import Watermark

    gallery = shared_gallery.gallery
    gallery.watermark = Watermark.objects.create(studio=gallery.studio, name="wm", text="(c)")
    gallery.save(update_fields=["watermark"])
    response = post_selfie(anon_client, guest_url(gallery.id), selfie_bytes("obama/obama1.jpg"))
    assert response.status_code == 200
    assert all("/d/preview_wm/" in p["preview_url"] for p in response.json()["photos"])


def test_photos_not_ready_are_left_out(anon_client, shared_gallery):
    photo = shared_gallery.photo_of_file["obama/obama2.jpg"]
    Photo.objects.filter(id=photo.id).update(state=Photo.State.PROCESSING)
    response = post_selfie(
        anon_client, guest_url(shared_gallery.gallery.id), selfie_bytes("obama/obama1.jpg")
    )
    assert str(photo.id) not in {p["id"] for p in response.json()["photos"]}
    assert Gallery.objects.filter(id=shared_gallery.gallery.id).exists()
