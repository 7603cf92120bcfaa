"""The studio People API: every endpoint × owner / other studio / anonymous / missing permission,
and each bad input answered with a clear code and nothing written."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

from accounts.models import Role
from accounts.permissions import ROLE_PERMISSIONS, Perm
from faces import tasks
from faces.models import Face, FaceRejection, GalleryFaceIndex, Person
from faces.services import clustering as service
from picpick.testing.factories import GalleryFactory, PhotoFactory
from picpick.testing.scenes import faces_dir
from tests.faces_people.conftest import add_faces, person_vectors

pytestmark = pytest.mark.django_db


def _code(response) -> str:
    return response.json()["error"]["code"]


@pytest.fixture(autouse=True)
def _no_queue(monkeypatch):
    monkeypatch.setattr(tasks.gallery_cluster_run, "apply_async", lambda *a, **kw: None)


@pytest.fixture
def world(gallery_a):
    """Alice's gallery: three people of 4 faces; photos 0–3 hold person 0 AND person 1."""
    photos = [
        PhotoFactory(
            gallery=gallery_a,
            width=4000,
            height=3000,
            derivatives={"thumb": {"key": f"t/{n}.jpg"}, "preview": {"key": f"p/{n}.jpg"}},
        )
        for n in range(8)
    ]
    pairs = person_vectors(20, people=3, per_person=4)
    faces = add_faces(
        gallery_a, [v for _, v in pairs], photos=photos[:4] + photos[:4] + photos[4:8]
    )
    service.gallery_cluster(gallery=gallery_a)
    people = [Face.objects.get(id=faces[n].id).person_id for n in (0, 4, 8)]
    return {"gallery": gallery_a, "photos": photos, "faces": faces, "people": people}


def _rows() -> tuple:
    return (
        Person.objects.count(),
        Face.objects.count(),
        FaceRejection.objects.count(),
        list(Face.objects.order_by("id").values_list("person_id", "assignment")),
        list(Person.objects.order_by("id").values_list("name", "hidden")),
    )


@dataclass(frozen=True)
class Endpoint:
    method: str
    url: str
    perm: Perm
    ok: int
    body: dict | None = None

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.url}"

    def call(self, client, w):
        url = self.url.format(
            g=w["gallery"].id,
            p0=w["people"][0],
            p1=w["people"][1],
            f0=w["faces"][0].id,
            f8=w["faces"][8].id,
        )
        body = self.body
        if body is not None:
            body = {
                k: (str(v).format(p1=w["people"][1], f0=w["faces"][0].id, ph=w["photos"][0].id)
                    if isinstance(v, str) else v)
                for k, v in body.items()
            }  # fmt: skip
            if "face_ids" in body:
                body["face_ids"] = [str(w["faces"][0].id)]
        return getattr(client, self.method)(url, body, format="json")


V, E = Perm.GALLERY_VIEW, Perm.GALLERY_EDIT
ENDPOINTS = [
    Endpoint("get", "/api/v1/galleries/{g}/people/", V, 200),
    Endpoint("post", "/api/v1/galleries/{g}/people/recluster/", E, 202),
    Endpoint("get", "/api/v1/galleries/{g}/people/photos/?people={p0},{p1}", V, 200),
    Endpoint("get", "/api/v1/galleries/{g}/faces/", V, 200),
    Endpoint("get", "/api/v1/galleries/{g}/faces/review/", V, 200),
    Endpoint("get", "/api/v1/people/{p0}/", V, 200),
    Endpoint("patch", "/api/v1/people/{p0}/", E, 200, {"name": "Ana"}),
    Endpoint("get", "/api/v1/people/{p0}/photos/", V, 200),
    Endpoint("post", "/api/v1/people/{p0}/merge/", E, 200, {"into": "{p1}"}),
    Endpoint("post", "/api/v1/people/{p0}/split/", E, 201, {"face_ids": []}),
    Endpoint("post", "/api/v1/faces/{f0}/assign/", E, 200, {"person_id": "{p1}"}),
    Endpoint("post", "/api/v1/faces/{f0}/remove/", E, 200),
    Endpoint("post", "/api/v1/faces/{f0}/confirm/", E, 200),
    Endpoint("post", "/api/v1/faces/{f0}/reject/", E, 200),
]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_owner_may_call_every_endpoint(endpoint, world, alice_client):
    response = endpoint.call(alice_client, world)
    assert response.status_code == endpoint.ok, response.content


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_other_studio_gets_404(endpoint, world, bob_client):
    before = _rows()
    response = endpoint.call(bob_client, world)
    assert response.status_code == 404, response.content
    assert _code(response) == "not_found"
    assert _rows() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_anonymous_gets_401(endpoint, world, anon_client):
    before = _rows()
    response = endpoint.call(anon_client, world)
    assert response.status_code == 401
    assert _rows() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_role_without_the_permission_gets_403(endpoint, world, member_of_a, monkeypatch):
    # Every real role may view and edit galleries; take the permission away to test the gate.
    monkeypatch.setitem(ROLE_PERMISSIONS, Role.ASSISTANT, frozenset(set(Perm) - {endpoint.perm}))
    _, client = member_of_a(Role.ASSISTANT)
    before = _rows()
    response = endpoint.call(client, world)
    assert response.status_code == 403
    assert _code(response) == "permission_denied"
    assert _rows() == before


def test_people_list_has_counts_and_a_signed_cover(world, alice_client):
    response = alice_client.get(f"/api/v1/galleries/{world['gallery'].id}/people/")
    results = response.json()["results"]
    assert len(results) == 3
    assert {r["face_count"] for r in results} == {4}
    cover = results[0]["cover"]
    assert cover["thumb_url"] and len(cover["box"]) == 4 and cover["photo_width"] == 4000


def test_photos_with_a_and_b_are_the_shared_ones(world, alice_client):
    p = world["people"]
    url = f"/api/v1/galleries/{world['gallery'].id}/people/photos/?people={p[0]},{p[1]}"
    ids = {r["id"] for r in alice_client.get(url).json()["results"]}
    assert ids == {str(photo.id) for photo in world["photos"][:4]}
    url = f"/api/v1/galleries/{world['gallery'].id}/people/photos/?people={p[0]},{p[2]}"
    assert alice_client.get(url).json()["results"] == []


def test_photos_with_bad_people_param_is_422(world, alice_client):
    url = f"/api/v1/galleries/{world['gallery'].id}/people/photos/?people=nope"
    response = alice_client.get(url)
    assert response.status_code == 422 and _code(response) == "invalid_people"


def test_person_photos_are_keyset_paginated(world, alice_client):
    url = f"/api/v1/people/{world['people'][0]}/photos/?page_size=3"
    first = alice_client.get(url).json()
    second = alice_client.get(url + f"&cursor={first['next']}").json()
    assert len(first["results"]) == 3 and len(second["results"]) == 1
    assert second["results"][0]["thumb_url"]


def test_merge_across_galleries_is_422(world, alice_client, studio_a):
    other = GalleryFactory(studio=studio_a)
    add_faces(other, [v for _, v in person_vectors(21, people=1, per_person=3)])
    service.gallery_cluster(gallery=other)
    stranger = Person.objects.get(gallery=other)
    before = _rows()
    response = alice_client.post(
        f"/api/v1/people/{world['people'][0]}/merge/", {"into": str(stranger.id)}, format="json"
    )
    assert response.status_code == 422 and _code(response) == "different_galleries"
    assert _rows() == before


def test_merge_into_a_person_of_another_studio_is_404(world, alice_client, studio_b):
    theirs = GalleryFactory(studio=studio_b)
    add_faces(theirs, [v for _, v in person_vectors(22, people=1, per_person=3)])
    service.gallery_cluster(gallery=theirs)
    stranger = Person.objects.get(gallery=theirs)
    response = alice_client.post(
        f"/api/v1/people/{world['people'][0]}/merge/", {"into": str(stranger.id)}, format="json"
    )
    assert response.status_code == 404


def test_split_with_a_face_of_another_studio_is_404(world, alice_client, studio_b):
    theirs = GalleryFactory(studio=studio_b)
    face = add_faces(theirs, [np.zeros(128, dtype=np.float32)])[0]
    before = _rows()
    response = alice_client.post(
        f"/api/v1/people/{world['people'][0]}/split/", {"face_ids": [str(face.id)]}, format="json"
    )
    assert response.status_code == 404
    assert _rows() == before


def test_split_with_a_face_of_another_person_is_422(world, alice_client):
    response = alice_client.post(
        f"/api/v1/people/{world['people'][0]}/split/",
        {"face_ids": [str(world["faces"][8].id)]},
        format="json",
    )
    assert response.status_code == 422 and _code(response) == "face_not_in_person"


def test_assign_to_hidden_person_is_409(world, alice_client):
    hidden = world["people"][1]
    alice_client.patch(f"/api/v1/people/{hidden}/", {"hidden": True}, format="json")
    before = _rows()
    response = alice_client.post(
        f"/api/v1/faces/{world['faces'][0].id}/assign/", {"person_id": str(hidden)}, format="json"
    )
    assert response.status_code == 409 and _code(response) == "person_hidden"
    assert _rows() == before


def test_hide_and_unhide_and_filter(world, alice_client):
    person = world["people"][2]
    alice_client.patch(f"/api/v1/people/{person}/", {"hidden": True}, format="json")
    url = f"/api/v1/galleries/{world['gallery'].id}/people/"
    assert [r["id"] for r in alice_client.get(url + "?hidden=true").json()["results"]] == [
        str(person)
    ]
    response = alice_client.patch(f"/api/v1/people/{person}/", {"hidden": False}, format="json")
    assert response.json()["hidden"] is False


def test_unknown_fields_are_refused(world, alice_client):
    response = alice_client.patch(
        f"/api/v1/people/{world['people'][0]}/", {"nmae": "x"}, format="json"
    )
    assert response.status_code == 400 and "nmae" in response.json()["error"]["fields"]


def test_every_correction_bumps_the_index_version(world, alice_client):
    def version():
        return GalleryFaceIndex.objects.get(gallery=world["gallery"]).version

    before = version()
    alice_client.patch(f"/api/v1/people/{world['people'][0]}/", {"name": "Ana"}, format="json")
    alice_client.post(f"/api/v1/faces/{world['faces'][1].id}/remove/")
    assert version() == before + 2


def test_remove_twice_is_422(world, alice_client):
    url = f"/api/v1/faces/{world['faces'][0].id}/remove/"
    assert alice_client.post(url).status_code == 200
    response = alice_client.post(url)
    assert response.status_code == 422 and _code(response) == "face_not_assigned"


def test_review_queue_lists_auto_faces_near_the_threshold(world, alice_client):
    face = world["faces"][0]
    Face.objects.filter(id=face.id).update(distance=0.52)
    Face.objects.filter(id=world["faces"][1].id).update(distance=0.47)
    url = f"/api/v1/galleries/{world['gallery'].id}/faces/review/"
    ids = [r["id"] for r in alice_client.get(url).json()["results"]]
    assert ids == [str(face.id), str(world["faces"][1].id)]
    alice_client.post(f"/api/v1/faces/{face.id}/confirm/")
    assert str(face.id) not in [r["id"] for r in alice_client.get(url).json()["results"]]


def test_unassigned_faces_list(world, alice_client):
    alice_client.post(f"/api/v1/faces/{world['faces'][0].id}/remove/")
    url = f"/api/v1/galleries/{world['gallery'].id}/faces/"
    ids = [r["id"] for r in alice_client.get(url).json()["results"]]
    assert ids == [str(world["faces"][0].id)]


# --- Add a missed face -----------------------------------------------------------------------
@pytest.fixture
def real_photo(gallery_a, tmp_storage):
    """A processed photo whose preview (half size) is the shared obama1.jpg portrait."""
    source = Image.open(faces_dir() / "obama" / "obama1.jpg").convert("RGB")
    out = io.BytesIO()
    source.save(out, "JPEG", quality=90)
    tmp_storage.put_object(key="prev/obama.jpg", body=out.getvalue(), content_type="image/jpeg")
    return PhotoFactory(
        gallery=gallery_a,
        width=source.width * 2,
        height=source.height * 2,
        derivatives={"preview": {"key": "prev/obama.jpg"}, "thumb": {"key": "prev/obama.jpg"}},
    )


def _obama_box() -> list[int]:
    import json

    from picpick.testing.scenes import SOURCES_JSON

    item = next(i for i in json.loads(SOURCES_JSON.read_text()) if i["file"] == "obama/obama1.jpg")
    return [v * 2 for v in item["box"]]  # the photo is twice the preview's size


def test_add_missed_face_encodes_the_box_and_survives_recluster(world, real_photo, alice_client):
    person = world["people"][2]
    response = alice_client.post(
        f"/api/v1/galleries/{world['gallery'].id}/faces/",
        {"photo_id": str(real_photo.id), "box": _obama_box(), "person_id": str(person)},
        format="json",
    )
    assert response.status_code == 201, response.content
    face = Face.objects.get(id=response.json()["id"])
    assert face.added_manually and face.assignment == Face.Assignment.MANUAL
    assert len(bytes(face.embedding)) == 512
    service.gallery_cluster(gallery=world["gallery"])
    face.refresh_from_db()
    assert face.person_id == person


def test_add_missed_face_outside_the_photo_is_422(world, real_photo, alice_client):
    before = _rows()
    response = alice_client.post(
        f"/api/v1/galleries/{world['gallery'].id}/faces/",
        {"photo_id": str(real_photo.id), "box": [10, 10, real_photo.width + 5, 40]},
        format="json",
    )
    assert response.status_code == 422 and _code(response) == "box_outside_photo"
    assert _rows() == before


def test_add_missed_face_to_hidden_person_is_409(world, real_photo, alice_client):
    Person.objects.filter(id=world["people"][2]).update(hidden=True)
    response = alice_client.post(
        f"/api/v1/galleries/{world['gallery'].id}/faces/",
        {"photo_id": str(real_photo.id), "box": _obama_box(), "person_id": str(world["people"][2])},
        format="json",
    )
    assert response.status_code == 409 and _code(response) == "person_hidden"


def test_add_missed_face_on_a_photo_of_another_studio_is_404(world, alice_client, studio_b):
    theirs = PhotoFactory(gallery=GalleryFactory(studio=studio_b), width=100, height=100)
    response = alice_client.post(
        f"/api/v1/galleries/{world['gallery'].id}/faces/",
        {"photo_id": str(theirs.id), "box": [1, 1, 50, 50]},
        format="json",
    )
    assert response.status_code == 404


def test_add_missed_face_for_bob_is_404(world, real_photo, bob_client):
    response = bob_client.post(
        f"/api/v1/galleries/{world['gallery'].id}/faces/",
        {"photo_id": str(real_photo.id), "box": _obama_box()},
        format="json",
    )
    assert response.status_code == 404


def test_add_missed_face_bad_box_shape_is_400(world, real_photo, alice_client):
    response = alice_client.post(
        f"/api/v1/galleries/{world['gallery'].id}/faces/",
        {"photo_id": str(real_photo.id), "box": [1, 2, 3]},
        format="json",
    )
    assert response.status_code == 400 and "box" in response.json()["error"]["fields"]


def test_add_missed_face_anonymous_401_and_role_without_edit_403(
    world, real_photo, anon_client, member_of_a, monkeypatch
):
    url = f"/api/v1/galleries/{world['gallery'].id}/faces/"
    body = {"photo_id": str(real_photo.id), "box": _obama_box()}
    assert anon_client.post(url, body, format="json").status_code == 401
    monkeypatch.setitem(
        ROLE_PERMISSIONS, Role.ASSISTANT, frozenset(set(Perm) - {Perm.GALLERY_EDIT})
    )
    _, client = member_of_a(Role.ASSISTANT)
    response = client.post(url, body, format="json")
    assert response.status_code == 403 and _code(response) == "permission_denied"
    assert not Face.objects.filter(added_manually=True).exists()
