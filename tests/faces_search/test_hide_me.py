"""Hide me: a guest's selfie hides every matching face from search; the request is recorded."""

from __future__ import annotations

import pytest

from faces.models import Face, GalleryFaceIndex, HideRequest
from faces.services import client_hash
from tests.faces_search.conftest import selfie_bytes
from tests.faces_search.test_selfie_api import guest_url, post_selfie

pytestmark = pytest.mark.django_db


def hide_url(gallery_id) -> str:
    return f"/api/v1/public/galleries/{gallery_id}/hide-me/"


def test_hide_me_hides_every_matching_face_then_search_finds_nothing(
    anon_client, shared_gallery, shared_faces
):
    gallery = shared_gallery.gallery
    version = GalleryFaceIndex.objects.get(gallery=gallery).version
    # The index is cached before the request: the version bump must invalidate it.
    assert (
        post_selfie(anon_client, guest_url(gallery.id), selfie_bytes("obama/obama1.jpg")).json()[
            "count"
        ]
        > 0
    )
    response = post_selfie(
        anon_client,
        hide_url(gallery.id),
        selfie_bytes("obama/obama2.jpg"),
        fields={"email": "guest@example.com"},
        REMOTE_ADDR="192.0.2.44",
    )
    assert response.status_code == 200, response.json()
    obama_faces = sum(face.person == "obama" for face in shared_faces)
    assert response.json()["faces_hidden"] == obama_faces
    hidden = Face.objects.filter(gallery=gallery, hidden=True)
    assert set(hidden.values_list("person__name", flat=True)) == {"Obama"}
    assert hidden.count() == obama_faces

    request = HideRequest.objects.get(id=response.json()["id"])
    assert request.gallery_id == gallery.id and request.studio_id == gallery.studio_id
    assert request.faces_hidden == obama_faces and request.email == "guest@example.com"
    assert request.client_hash == client_hash("192.0.2.44") and "192.0.2.44" not in str(
        request.__dict__
    )
    state = GalleryFaceIndex.objects.get(gallery=gallery)
    assert state.version == version + 1 and state.dirty and state.dirty_since is not None

    after = post_selfie(anon_client, guest_url(gallery.id), selfie_bytes("obama/obama1.jpg"))
    assert after.status_code == 200
    assert after.json()["count"] == 0 and after.json()["matched_person"] is None

    # Other people are still found.
    biden = post_selfie(anon_client, guest_url(gallery.id), selfie_bytes("biden/biden1.jpg"))
    assert biden.json()["count"] == len(shared_gallery.photo_ids_of("biden", shared_faces))


def test_hide_me_stores_only_the_hide_request(anon_client, shared_gallery):
    from tests.faces_search.test_selfie_api import _row_counts

    before = _row_counts()
    response = post_selfie(
        anon_client,
        hide_url(shared_gallery.gallery.id),
        selfie_bytes("lin_manuel_miranda/lin1.png"),
    )
    assert response.status_code == 200 and response.json()["faces_hidden"] == 1
    after = _row_counts()
    assert after.pop("HideRequest") == before.pop("HideRequest") + 1
    assert after == before


def test_hide_me_with_no_face_changes_nothing(anon_client, shared_gallery):
    from PIL import Image

    from tests.faces_search.test_selfie_api import png

    blank = png(Image.new("RGB", (300, 300), (10, 200, 10)))
    response = post_selfie(anon_client, hide_url(shared_gallery.gallery.id), blank, "a.png")
    assert response.status_code == 422 and response.json()["error"]["code"] == "no_face"
    assert not HideRequest.objects.exists()
    assert not Face.objects.filter(hidden=True).exists()


def test_hide_me_rejects_a_bad_email_and_unpublished_galleries(anon_client, shared_gallery):
    url = hide_url(shared_gallery.gallery.id)
    bad = post_selfie(anon_client, url, b"x", fields={"email": "not-an-email"})
    assert bad.status_code == 400 and "email" in bad.json()["error"]["fields"]
    gallery = shared_gallery.gallery
    gallery.status = "draft"
    gallery.save(update_fields=["status"])
    assert post_selfie(anon_client, url, b"x").status_code == 404


def test_hide_me_is_rate_limited_with_search(anon_client, shared_gallery, settings):
    settings.PICPICK_SELFIE_RATE_PER_ADDRESS = 1
    gallery_id = shared_gallery.gallery.id
    assert post_selfie(anon_client, guest_url(gallery_id), b"x").status_code == 400
    response = post_selfie(anon_client, hide_url(gallery_id), b"x")
    assert response.status_code == 429 and "Retry-After" in response


def test_hide_me_when_face_search_is_off_is_409(anon_client, shared_gallery):
    gallery = shared_gallery.gallery
    gallery.face_recognition_enabled = False
    gallery.save(update_fields=["face_recognition_enabled"])
    response = post_selfie(anon_client, hide_url(gallery.id), selfie_bytes("obama/obama1.jpg"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "face_search_off"
