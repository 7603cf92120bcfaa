"""Every endpoint against: its owner, a role without the permission, another studio, nobody.

The permission each endpoint needs is checked by taking exactly that permission away from a
role (the real table gives every role some permissions, such as gallery.view, so no real role
lacks them); the real roles that lack a permission are tested too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from accounts.models import Role
from accounts.permissions import ROLE_PERMISSIONS, Perm
from galleries.models import Album, Gallery, Photo
from tests.galleries.conftest import error_code


@dataclass(frozen=True)
class Endpoint:
    method: str
    url: str
    perm: Perm
    ok: int
    body: Any = None

    def __str__(self) -> str:
        return f"{self.method} {self.url} {self.body or ''}".strip()

    def call(self, client, objects: dict):
        url = self.url.format(**{key: obj.id for key, obj in objects.items()})
        body = self.body(objects) if callable(self.body) else self.body
        return getattr(client, self.method.lower())(url, body, format="json")


ENDPOINTS = [
    Endpoint("GET", "/api/v1/galleries/", Perm.GALLERY_VIEW, 200),
    Endpoint("POST", "/api/v1/galleries/", Perm.GALLERY_CREATE, 201, {"name": "New"}),
    Endpoint("GET", "/api/v1/galleries/{gallery}/", Perm.GALLERY_VIEW, 200),
    Endpoint("PATCH", "/api/v1/galleries/{gallery}/", Perm.GALLERY_EDIT, 200, {"notes": "x"}),
    Endpoint("DELETE", "/api/v1/galleries/{gallery}/", Perm.GALLERY_DELETE, 204),
    Endpoint("POST", "/api/v1/galleries/{gallery}/publish/", Perm.GALLERY_PUBLISH, 200),
    Endpoint("POST", "/api/v1/galleries/{gallery}/archive/", Perm.GALLERY_PUBLISH, 200),
    Endpoint("POST", "/api/v1/galleries/{archived}/unarchive/", Perm.GALLERY_PUBLISH, 200),
    Endpoint("GET", "/api/v1/galleries/{gallery}/albums/", Perm.GALLERY_VIEW, 200),
    Endpoint("POST", "/api/v1/galleries/{gallery}/albums/", Perm.GALLERY_EDIT, 201, {"name": "A"}),
    Endpoint(
        "POST",
        "/api/v1/galleries/{gallery}/albums/reorder/",
        Perm.GALLERY_EDIT,
        200,
        lambda o: {"album_ids": [str(o["album"].id)]},
    ),
    Endpoint("GET", "/api/v1/albums/{album}/", Perm.GALLERY_VIEW, 200),
    Endpoint("PATCH", "/api/v1/albums/{album}/", Perm.GALLERY_EDIT, 200, {"name": "B"}),
    Endpoint("DELETE", "/api/v1/albums/{album}/", Perm.GALLERY_EDIT, 204),
    Endpoint("GET", "/api/v1/galleries/{gallery}/photos/", Perm.GALLERY_VIEW, 200),
    Endpoint(
        "POST",
        "/api/v1/galleries/{gallery}/photos/",
        Perm.PHOTO_UPLOAD,
        201,
        {"filename": "x.jpg", "size": 5, "content_type": "image/jpeg"},
    ),
    Endpoint(
        "POST",
        "/api/v1/galleries/{gallery}/photos/reorder/",
        Perm.PHOTO_EDIT,
        200,
        lambda o: {"photo_ids": [str(o["photo"].id)], "after_id": str(o["photo2"].id)},
    ),
    Endpoint(
        "POST",
        "/api/v1/galleries/{gallery}/photos/bulk/",
        Perm.PHOTO_EDIT,
        200,
        lambda o: {"action": "hide", "photo_ids": [str(o["photo"].id)]},
    ),
    Endpoint(
        "POST",
        "/api/v1/galleries/{gallery}/photos/bulk/",
        Perm.PHOTO_EDIT,
        200,
        lambda o: {"action": "move", "photo_ids": [str(o["photo"].id)], "album_id": None},
    ),
    Endpoint(
        "POST",
        "/api/v1/galleries/{gallery}/photos/bulk/",
        Perm.PHOTO_DELETE,
        200,
        lambda o: {"action": "delete", "photo_ids": [str(o["photo"].id)]},
    ),
    Endpoint("GET", "/api/v1/photos/{photo}/", Perm.GALLERY_VIEW, 200),
    Endpoint("PATCH", "/api/v1/photos/{photo}/", Perm.PHOTO_EDIT, 200, {"hidden": True}),
    Endpoint("DELETE", "/api/v1/photos/{photo}/", Perm.PHOTO_DELETE, 204),
]
OBJECT_ENDPOINTS = [endpoint for endpoint in ENDPOINTS if "{" in endpoint.url]


@pytest.fixture
def objects(gallery_a, album_a, photos_a, studio_a, alice) -> dict:
    from galleries import services

    archived = services.gallery_create(studio=studio_a, by=alice, name="Old")
    services.gallery_archive(gallery=archived, by=alice)
    return {
        "gallery": gallery_a,
        "archived": archived,
        "album": album_a,
        "photo": photos_a[0],
        "photo2": photos_a[2],
    }


def _row_counts() -> tuple[int, int, int]:
    return Gallery.objects.count(), Album.objects.count(), Photo.objects.count()


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_owner_may_call_every_endpoint(endpoint, objects, alice_client):
    response = endpoint.call(alice_client, objects)
    assert response.status_code == endpoint.ok, response.content


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_anonymous_gets_401(endpoint, objects, anon_client):
    before = _row_counts()
    response = endpoint.call(anon_client, objects)
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"
    assert _row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_role_without_the_permission_gets_403(endpoint, objects, member_of_a, monkeypatch):
    monkeypatch.setitem(ROLE_PERMISSIONS, Role.ASSISTANT, frozenset(set(Perm) - {endpoint.perm}))
    _, client = member_of_a(Role.ASSISTANT)
    before = _row_counts()
    response = endpoint.call(client, objects)
    assert response.status_code == 403
    assert error_code(response) == "permission_denied"
    assert response.json()["error"]["permission"] == endpoint.perm
    assert _row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", OBJECT_ENDPOINTS, ids=str)
def test_other_studio_gets_404_for_alices_objects(endpoint, objects, bob_client, gallery_b):
    before = _row_counts()
    response = endpoint.call(bob_client, objects)
    assert response.status_code == 404
    assert error_code(response) == "not_found"
    assert "Smith" not in response.content.decode()
    assert _row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "method", "url", "body"),
    [
        (Role.ASSISTANT, "post", "/api/v1/galleries/", {"name": "x"}),
        (Role.ASSISTANT, "post", "/api/v1/galleries/{gallery}/publish/", None),
        (Role.ASSISTANT, "delete", "/api/v1/photos/{photo}/", None),
        (Role.PHOTOGRAPHER, "delete", "/api/v1/galleries/{gallery}/", None),
        (Role.ASSISTANT, "delete", "/api/v1/galleries/{gallery}/", None),
    ],
)
def test_real_roles_without_the_permission_get_403(role, method, url, body, objects, member_of_a):
    _, client = member_of_a(role)
    url = url.format(gallery=objects["gallery"].id, photo=objects["photo"].id)
    response = getattr(client, method)(url, body, format="json")
    assert response.status_code == 403
    assert error_code(response) == "permission_denied"


@pytest.mark.django_db
def test_assistant_may_hide_but_not_bulk_delete(objects, member_of_a):
    _, client = member_of_a(Role.ASSISTANT)
    url = f"/api/v1/galleries/{objects['gallery'].id}/photos/bulk/"
    ids = [str(objects["photo"].id)]
    assert client.post(url, {"action": "hide", "photo_ids": ids}).status_code == 200
    response = client.post(url, {"action": "delete", "photo_ids": ids})
    assert response.status_code == 403
    assert response.json()["error"]["permission"] == Perm.PHOTO_DELETE
    assert Photo.objects.filter(id=objects["photo"].id).exists()


@pytest.mark.django_db
def test_bobs_lists_never_show_alices_rows(objects, bob_client, gallery_b):
    response = bob_client.get("/api/v1/galleries/")
    assert [row["id"] for row in response.json()["results"]] == [str(gallery_b.id)]
    response = bob_client.get("/api/v1/galleries/?q=Smith")
    assert response.json()["results"] == []
    response = bob_client.get(f"/api/v1/galleries/{gallery_b.id}/photos/")
    assert response.json()["results"] == []
    response = bob_client.get(f"/api/v1/galleries/{gallery_b.id}/albums/")
    assert response.json()["results"] == []
