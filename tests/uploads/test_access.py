"""Every upload endpoint against: its owner, a role without photo.upload, another studio, nobody."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from accounts.models import Role
from accounts.permissions import ROLE_PERMISSIONS, Perm
from galleries.models import Photo, Upload, UploadBatch
from tests.uploads.conftest import MiB, declare, error_code, jpeg_bytes, put, start

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Endpoint:
    method: str
    url: str
    ok: int
    body: Any = None

    def __str__(self) -> str:
        return f"{self.method} {self.url}"

    def call(self, client, objects: dict):
        url = self.url.format(**objects)
        body = self.body(objects) if callable(self.body) else self.body
        return getattr(client, self.method.lower())(url, body, format="json")


ENDPOINTS = [
    Endpoint(
        "POST", "/api/v1/galleries/{gallery}/uploads/", 201, {"files": [declare("x.jpg", size=9)]}
    ),
    Endpoint("GET", "/api/v1/uploads/{upload}/", 200),
    Endpoint("POST", "/api/v1/uploads/{multipart}/parts/", 200, {"part_numbers": [2]}),
    Endpoint("POST", "/api/v1/uploads/{upload}/renew/", 200),
    Endpoint("POST", "/api/v1/uploads/{uploaded}/complete/", 200, {}),
    Endpoint("DELETE", "/api/v1/uploads/{upload}/", 204),
    Endpoint("GET", "/api/v1/upload-batches/{batch}/", 200),
    Endpoint("GET", "/api/v1/upload-batches/{batch}/files/", 200),
    Endpoint(
        "POST",
        "/api/v1/upload-batches/{batch}/complete/",
        200,
        lambda o: {"uploads": [{"upload_id": o["uploaded"]}]},
    ),
]


@pytest.fixture
def objects(alice_client, gallery_a) -> dict:
    data = jpeg_bytes(1000)
    response = start(
        alice_client,
        gallery_a,
        [
            declare("pending.jpg", size=100),
            declare("multi.jpg", size=11 * MiB),
            declare("uploaded.jpg", data),
        ],
    )
    pending, multi, uploaded = response.json()["files"]
    assert put(uploaded["urls"][0], data).status == 200
    return {
        "gallery": gallery_a.id,
        "batch": response.json()["id"],
        "upload": pending["upload_id"],
        "multipart": multi["upload_id"],
        "uploaded": uploaded["upload_id"],
    }


def _state() -> list:
    return [
        Photo.objects.count(),
        UploadBatch.objects.count(),
        sorted(Upload.objects.values_list("state", flat=True)),
        sorted(Photo.objects.values_list("state", flat=True)),
    ]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_owner_may_call_every_endpoint(endpoint, objects, alice_client):
    response = endpoint.call(alice_client, objects)
    assert response.status_code == endpoint.ok, response.content


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_anonymous_gets_401(endpoint, objects, anon_client):
    before = _state()
    response = endpoint.call(anon_client, objects)
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"
    assert _state() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_role_without_photo_upload_gets_403(endpoint, objects, member_of_a, monkeypatch):
    # Every real role may upload; take exactly that permission away from one.
    monkeypatch.setitem(
        ROLE_PERMISSIONS, Role.ASSISTANT, frozenset(set(Perm) - {Perm.PHOTO_UPLOAD})
    )
    _, client = member_of_a(Role.ASSISTANT)
    before = _state()
    response = endpoint.call(client, objects)
    assert response.status_code == 403
    assert error_code(response) == "permission_denied"
    assert response.json()["error"]["permission"] == Perm.PHOTO_UPLOAD
    assert _state() == before


@pytest.mark.parametrize("role", [Role.ASSISTANT, Role.PHOTOGRAPHER, Role.ADMIN])
def test_every_real_role_may_upload(role, member_of_a, gallery_a):
    _, client = member_of_a(role)
    assert start(client, gallery_a, [declare("x.jpg", size=9)]).status_code == 201


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_other_studio_gets_404_for_alices_objects(endpoint, objects, bob_client, gallery_b):
    before = _state()
    response = endpoint.call(bob_client, objects)
    assert response.status_code == 404
    assert error_code(response) == "not_found"
    assert "pending.jpg" not in response.content.decode()
    assert _state() == before


def test_bobs_batch_cannot_complete_alices_upload(objects, bob_client, gallery_b):
    response = start(bob_client, gallery_b, [declare("b.jpg", size=10)])
    response = bob_client.post(
        f"/api/v1/upload-batches/{response.json()['id']}/complete/",
        {"uploads": [{"upload_id": objects["uploaded"]}]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["completed"] == []
    assert response.json()["failed"][0]["code"] == "not_found"
    assert Upload.objects.get(id=objects["uploaded"]).state == Upload.State.PENDING


def test_alices_idempotency_keys_do_not_collide_with_bobs(
    alice_client, bob_client, gallery_a, gallery_b
):
    files = [declare("a.jpg", size=10, idempotency_key="same-key")]
    first = start(alice_client, gallery_a, files).json()["files"][0]
    response = start(bob_client, gallery_b, files)
    assert response.status_code == 201
    assert response.json()["files"][0]["upload_id"] != first["upload_id"]
