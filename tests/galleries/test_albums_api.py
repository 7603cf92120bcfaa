"""Albums: create (placed last), read, rename, delete (photos stay), reorder."""

from __future__ import annotations

import pytest

from galleries import services
from galleries.models import Album, Photo
from tests.galleries.conftest import error_code

pytestmark = pytest.mark.django_db


def albums_url(gallery) -> str:
    return f"/api/v1/galleries/{gallery.id}/albums/"


def test_new_albums_go_last(alice_client, gallery_a):
    names = ["Ready", "Ceremony", "Party"]
    for name in names:
        response = alice_client.post(albums_url(gallery_a), {"name": name})
        assert response.status_code == 201
    body = alice_client.get(albums_url(gallery_a)).json()["results"]
    assert [row["name"] for row in body] == names
    assert [row["position"] for row in body] == [0, 1, 2]
    assert body[0]["gallery_id"] == str(gallery_a.id)
    assert body[0]["photo_count"] == 0


def test_get_and_patch_album(alice_client, album_a, photos_a):
    url = f"/api/v1/albums/{album_a.id}/"
    body = alice_client.get(url).json()
    assert (body["id"], body["name"], body["photo_count"]) == (str(album_a.id), "Ceremony", 2)
    response = alice_client.patch(url, {"name": "Vows", "description": "At noon"})
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["description"]) == ("Vows", "At noon")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "a", "x": 1}, "x"),
    ],
)
def test_create_album_rejects_bad_input(alice_client, gallery_a, body, field):
    response = alice_client.post(albums_url(gallery_a), body)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Album.objects.exists()


def test_patch_album_rejects_bad_input(alice_client, album_a):
    response = alice_client.patch(f"/api/v1/albums/{album_a.id}/", {"name": ""})
    assert response.status_code == 400
    assert "name" in response.json()["error"]["fields"]
    album_a.refresh_from_db()
    assert album_a.name == "Ceremony"


def test_deleting_an_album_keeps_its_photos(alice_client, gallery_a, album_a, photos_a):
    response = alice_client.delete(f"/api/v1/albums/{album_a.id}/")
    assert response.status_code == 204
    assert not Album.objects.filter(id=album_a.id).exists()
    assert Photo.objects.filter(gallery=gallery_a).count() == 3
    assert Photo.objects.filter(gallery=gallery_a, album__isnull=True).count() == 3
    gallery_a.refresh_from_db()
    assert gallery_a.photo_count == 3


def test_reorder_albums(alice_client, gallery_a, alice):
    albums = [services.album_create(gallery=gallery_a, by=alice, name=n) for n in "ABC"]
    new_order = [albums[2].id, albums[0].id, albums[1].id]
    response = alice_client.post(
        f"{albums_url(gallery_a)}reorder/", {"album_ids": [str(i) for i in new_order]}
    )
    assert response.status_code == 200
    assert [row["name"] for row in response.json()["results"]] == ["C", "A", "B"]
    listed = alice_client.get(albums_url(gallery_a)).json()["results"]
    assert [row["name"] for row in listed] == ["C", "A", "B"]


@pytest.fixture
def three_albums(gallery_a, alice):
    return [services.album_create(gallery=gallery_a, by=alice, name=n) for n in "ABC"]


@pytest.mark.parametrize(
    "pick",
    [
        lambda a, other: [a[0], a[1]],  # one missing
        lambda a, other: [a[0], a[1], a[2], a[2]],  # duplicate
        lambda a, other: [a[0], a[1], a[2], other],  # another gallery's album
        lambda a, other: [],
    ],
    ids=["missing", "duplicate", "foreign", "empty"],
)
def test_reorder_must_list_exactly_the_gallerys_albums(
    alice_client, gallery_a, three_albums, studio_a, alice, pick
):
    other_gallery = services.gallery_create(studio=studio_a, by=alice, name="Other")
    other = services.album_create(gallery=other_gallery, by=alice, name="X")
    ids = [str(album.id) for album in pick(three_albums, other)]
    response = alice_client.post(f"{albums_url(gallery_a)}reorder/", {"album_ids": ids})
    assert response.status_code == 422
    assert error_code(response) == "album_set_mismatch"
    positions = list(
        Album.objects.filter(gallery=gallery_a).order_by("name").values_list("position", flat=True)
    )
    assert positions == [0, 1, 2]


@pytest.mark.parametrize("body", [{}, {"album_ids": "A"}, {"album_ids": ["nope"]}])
def test_reorder_albums_rejects_malformed_input(alice_client, gallery_a, body):
    response = alice_client.post(f"{albums_url(gallery_a)}reorder/", body)
    assert response.status_code == 400
    assert "album_ids" in str(response.json()["error"]["fields"])
