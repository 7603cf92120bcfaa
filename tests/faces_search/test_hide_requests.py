"""The studio side of "hide me": the gallery's recorded hide requests, newest first."""

from __future__ import annotations

import pytest

from accounts.models import Role
from accounts.permissions import ROLE_PERMISSIONS, Perm
from faces.models import HideRequest
from picpick.testing.factories import GalleryFactory

pytestmark = pytest.mark.django_db


def url(gallery_id) -> str:
    return f"/api/v1/galleries/{gallery_id}/hide-requests/"


@pytest.fixture
def requests_of_a(studio_a):
    gallery = GalleryFactory(studio=studio_a)
    made = [
        HideRequest.objects.create(
            studio=studio_a,
            gallery=gallery,
            faces_hidden=n,
            email=f"guest{n}@example.com" if n % 2 else "",
            client_hash="h" * 64,
        )
        for n in range(5)
    ]
    # Another gallery of the same studio: never listed under the first.
    HideRequest.objects.create(
        studio=studio_a, gallery=GalleryFactory(studio=studio_a), faces_hidden=9
    )
    return gallery, made


def test_owner_sees_the_requests_newest_first_without_the_client_hash(alice_client, requests_of_a):
    gallery, made = requests_of_a
    response = alice_client.get(url(gallery.id))
    assert response.status_code == 200
    body = response.json()
    assert [row["id"] for row in body["results"]] == [str(r.id) for r in reversed(made)]
    assert body["next"] is None
    first = body["results"][0]
    assert set(first) == {"id", "created_at", "faces_hidden", "email"}
    assert first["faces_hidden"] == 4 and first["email"] == ""
    assert body["results"][1]["email"] == "guest3@example.com"


def test_pages_walk_every_request_once(alice_client, requests_of_a):
    gallery, made = requests_of_a
    seen, cursor = [], None
    while True:
        params = {"page_size": 2, **({"cursor": cursor} if cursor else {})}
        body = alice_client.get(url(gallery.id), params).json()
        assert len(body["results"]) <= 2
        seen += [row["id"] for row in body["results"]]
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == [str(r.id) for r in reversed(made)]


def test_empty_gallery_lists_nothing(alice_client, studio_a):
    response = alice_client.get(url(GalleryFactory(studio=studio_a).id))
    assert response.status_code == 200 and response.json()["results"] == []


def test_bad_cursor_and_page_size_are_400(alice_client, requests_of_a):
    gallery, _ = requests_of_a
    bad_cursor = alice_client.get(url(gallery.id), {"cursor": "forged"})
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["error"]["code"] == "invalid_cursor"
    for size in ("0", "201", "x"):
        response = alice_client.get(url(gallery.id), {"page_size": size})
        assert response.status_code == 400
        assert "page_size" in response.json()["error"]["fields"]


def test_another_studio_gets_404(bob_client, requests_of_a):
    gallery, _ = requests_of_a
    response = bob_client.get(url(gallery.id))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "results" not in response.json()


def test_unknown_gallery_is_404(alice_client):
    assert alice_client.get(url("0190c8a4-0000-7000-8000-000000000000")).status_code == 404


def test_anonymous_is_401(anon_client, requests_of_a):
    gallery, _ = requests_of_a
    assert anon_client.get(url(gallery.id)).status_code == 401


def test_role_without_gallery_view_is_403(requests_of_a, member_of_a, monkeypatch):
    # Every real role may view galleries; take the permission away to test the gate.
    monkeypatch.setitem(
        ROLE_PERMISSIONS, Role.ASSISTANT, frozenset(set(Perm) - {Perm.GALLERY_VIEW})
    )
    _, client = member_of_a(Role.ASSISTANT)
    gallery, _ = requests_of_a
    response = client.get(url(gallery.id))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
