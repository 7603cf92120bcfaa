"""What a guest sees of a gallery through the API: the gallery with its albums, and pages of
photos with signed thumbnail and (watermarked) preview URLs; and the API's documentation."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from galleries import services as gallery_services
from galleries.models import Photo
from tests.delivery.conftest import derivative_bytes, stored_photo
from tests.guests.api_support import (
    PIN,
    STUDIO_A_HOST,
    error_code,
    guest,
    protect,
    public_url,
    unlock,
)
from tests.storage_fixtures import send

pytest_plugins = ["tests.guests.api_fixtures"]
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


@pytest.fixture
def mixed(gallery_a, alice, guest_storage) -> dict[str, Photo]:
    """Photos in every state a guest must not see, around ready ones (one watermarked)."""
    album = gallery_services.album_create(gallery=gallery_a, by=alice, name="Ceremony")
    photos = {
        "plain": stored_photo(guest_storage, gallery_a, alice, filename="plain.jpg"),
        "hidden": stored_photo(guest_storage, gallery_a, alice, filename="hidden.jpg", hidden=True),
        "uploaded": stored_photo(
            guest_storage,
            gallery_a,
            alice,
            filename="uploaded.jpg",
            state="uploaded",
            derivatives=(),
        ),
        "processing": stored_photo(
            guest_storage,
            gallery_a,
            alice,
            filename="processing.jpg",
            state="processing",
            derivatives=(),
        ),
        "failed": stored_photo(
            guest_storage, gallery_a, alice, filename="failed.jpg", state="failed", derivatives=()
        ),
        "pending": stored_photo(
            guest_storage, gallery_a, alice, filename="pending.jpg", state="pending", derivatives=()
        ),
        "marked": stored_photo(
            guest_storage,
            gallery_a,
            alice,
            filename="marked.jpg",
            album=album,
            derivatives=("thumb", "preview", "preview_wm"),
        ),
        "in_album": stored_photo(
            guest_storage, gallery_a, alice, filename="album.jpg", album=album
        ),
    }
    photos["album"] = album
    return photos


def _ids(response) -> list[str]:
    return [item["id"] for item in response.json()["results"]]


def test_the_photo_list_has_only_ready_visible_photos_in_the_studio_s_order(gallery_a, mixed):
    # The studio moved the last photo to the front: position order, not upload order.
    gallery_services.photo_reorder(
        gallery=gallery_a,
        by=None,
        photo_ids=[mixed["in_album"].id],
        before_id=mixed["plain"].id,
    )
    response = guest().get(public_url(gallery_a, "photos/"))
    assert response.status_code == 200
    assert _ids(response) == [str(mixed[n].id) for n in ("in_album", "plain", "marked")]
    first = response.json()["results"][1]
    assert set(first) == {
        "id",
        "filename",
        "width",
        "height",
        "album_id",
        "thumb_url",
        "preview_url",
    }
    assert first["filename"] == "plain.jpg" and first["album_id"] is None


def test_thumb_and_preview_urls_are_signed_and_the_preview_is_watermarked_when_made(
    gallery_a, mixed
):
    results = {
        r["filename"]: r for r in guest().get(public_url(gallery_a, "photos/")).json()["results"]
    }
    for name, key in (("plain.jpg", "plain"), ("marked.jpg", "marked")):
        photo = mixed[key]
        thumb = send("GET", results[name]["thumb_url"])
        assert thumb.status == 200 and thumb.body == derivative_bytes(photo, "thumb")
        preview = send("GET", results[name]["preview_url"])
        expected = "preview_wm" if key == "marked" else "preview"
        assert preview.status == 200 and preview.body == derivative_bytes(photo, expected)
    # Signed: the same URL with its signature changed is refused by the storage.
    tampered = re.sub(r"([?&]s=)", r"\1x", results["plain.jpg"]["thumb_url"])
    assert tampered != results["plain.jpg"]["thumb_url"]
    assert send("GET", tampered).status == 403


def test_pages_walk_every_photo_once_and_back(gallery_a, alice, guest_storage):
    photos = [
        stored_photo(guest_storage, gallery_a, alice, filename=f"IMG_{n:02d}.jpg") for n in range(7)
    ]
    client = guest()
    seen, cursor, pages = [], None, []
    while True:
        query = {"page_size": 3, **({"cursor": cursor} if cursor else {})}
        body = client.get(public_url(gallery_a, "photos/"), query).json()
        pages.append(body)
        seen += [item["id"] for item in body["results"]]
        cursor = body["next"]
        if not cursor:
            break
    assert seen == [str(p.id) for p in photos]
    assert [len(p["results"]) for p in pages] == [3, 3, 1]
    assert pages[0]["previous"] is None
    back = client.get(
        public_url(gallery_a, "photos/"), {"page_size": 3, "cursor": pages[2]["previous"]}
    ).json()
    assert [item["id"] for item in back["results"]] == [str(p.id) for p in photos[3:6]]


def test_the_album_filter(gallery_a, gallery_a2, alice, mixed):
    response = guest().get(public_url(gallery_a, "photos/"), {"album": str(mixed["album"].id)})
    assert _ids(response) == [str(mixed["marked"].id), str(mixed["in_album"].id)]
    other = gallery_services.album_create(gallery=gallery_a2, by=alice, name="Elsewhere")
    response = guest().get(public_url(gallery_a, "photos/"), {"album": str(other.id)})
    assert response.status_code == 200 and _ids(response) == []


@pytest.mark.parametrize(
    "query",
    [
        {"page_size": 0},
        {"page_size": 201},
        {"page_size": "many"},
        {"cursor": "not-a-cursor"},
        {"album": "not-a-uuid"},
        {"sort": "filename"},
    ],
)
def test_bad_list_queries_are_400(gallery_a, photos_a, query):
    response = guest().get(public_url(gallery_a, "photos/"), query)
    assert response.status_code == 400
    assert error_code(response) in {"validation_error", "invalid_cursor"}


def test_a_page_costs_a_bounded_number_of_queries(
    gallery_a, alice, guest_storage, django_assert_max_num_queries
):
    protect(gallery_a, "pin")
    Photo.objects.bulk_create(
        Photo(
            studio=gallery_a.studio,
            gallery=gallery_a,
            filename=f"IMG_{n:04d}.jpg",
            content_type="image/jpeg",
            state=Photo.State.READY,
            position=n,
            derivatives={
                kind: {"key": f"s/{gallery_a.id}/d/{kind}/{n}.jpg"}
                for kind in ("thumb", "preview", "preview_wm")
            },
        )
        for n in range(250)
    )
    client = guest(unlock(guest(), gallery_a, PIN))
    first = client.get(
        public_url(gallery_a, "photos/"), {"page_size": 100}, HTTP_HOST=STUDIO_A_HOST
    )
    # The host answer is cached now; a deep page costs the gallery and the page, no more.
    with django_assert_max_num_queries(2):
        deep = client.get(
            public_url(gallery_a, "photos/"),
            {"page_size": 100, "cursor": first.json()["next"]},
            HTTP_HOST=STUDIO_A_HOST,
        )
    assert deep.status_code == 200
    assert len(deep.json()["results"]) == 100
    assert all(r["thumb_url"] and r["preview_url"] for r in deep.json()["results"])


# --- The gallery ------------------------------------------------------------------------------
def test_the_gallery_as_its_guest_sees_it(gallery_a, alice, mixed):
    empty = gallery_services.album_create(gallery=gallery_a, by=alice, name="Empty")
    assert empty.photo_count == 0
    gallery_services.gallery_update(
        gallery=gallery_a,
        by=alice,
        changes={
            "cover_photo_id": mixed["plain"].id,
            "event_date": dt.date(2025, 6, 14),
            "expires_at": timezone.now() + dt.timedelta(days=10),
        },
    )
    protect(gallery_a, "public", download_sizes=["original", "web"], download_pin="8642")
    body = guest().get(public_url(gallery_a)).json()
    assert body["id"] == str(gallery_a.id)
    assert (body["name"], body["slug"], body["event_date"]) == (
        "Smith Wedding",
        "smith-wedding",
        "2025-06-14",
    )
    assert body["studio"] == {"name": "Anna Smith Photography"}
    assert send("GET", body["cover_url"]).body == derivative_bytes(mixed["plain"], "thumb")
    assert body["access"] == "public" and body["require_registration"] is False
    assert body["download_sizes"] == ["original", "web"]
    assert body["download_pin_required"] is True and body["downloads_unlocked"] is False
    assert body["face_search"] is True
    assert [a["name"] for a in body["albums"]] == ["Ceremony"]  # empty albums are left out
    assert body["albums"][0]["photo_count"] == 2
    assert body["visitor"] is None
    assert "notes" not in body and "access_secret" not in body and "download_pin" not in body


def test_face_search_is_off_when_the_studio_or_the_gallery_turns_it_off(gallery_a, studio_a):
    gallery_a.face_recognition_enabled = False
    gallery_a.save(update_fields=["face_recognition_enabled"])
    assert guest().get(public_url(gallery_a)).json()["face_search"] is False


def test_the_gallery_of_an_unknown_id_is_404(db):
    response = guest().get(public_url(uuid.uuid4()))
    assert (response.status_code, error_code(response)) == (404, "not_found")


# --- Documentation ------------------------------------------------------------------------------
GUEST_OPERATIONS = {
    "guest_gallery_open": ("post", "/api/v1/public/galleries/open/"),
    "guest_gallery_get": ("get", "/api/v1/public/galleries/{gallery_id}/"),
    "guest_gallery_unlock": ("post", "/api/v1/public/galleries/{gallery_id}/unlock/"),
    "guest_register": ("post", "/api/v1/public/galleries/{gallery_id}/register/"),
    "guest_photos_list": ("get", "/api/v1/public/galleries/{gallery_id}/photos/"),
    "guest_photo_download": (
        "get",
        "/api/v1/public/galleries/{gallery_id}/photos/{photo_id}/download/",
    ),
    "guest_favourites_list": ("get", "/api/v1/public/galleries/{gallery_id}/favourites/"),
    "guest_favourites_create_list": ("post", "/api/v1/public/galleries/{gallery_id}/favourites/"),
    "guest_favourite_set": (
        "put",
        "/api/v1/public/galleries/{gallery_id}/favourites/photos/{photo_id}/",
    ),
    "guest_favourite_remove": (
        "delete",
        "/api/v1/public/galleries/{gallery_id}/favourites/photos/{photo_id}/",
    ),
    "guest_downloads_unlock": ("post", "/api/v1/public/galleries/{gallery_id}/downloads/unlock/"),
    "guest_zip_request": ("post", "/api/v1/public/galleries/{gallery_id}/downloads/"),
    "guest_zip_get": ("get", "/api/v1/public/galleries/{gallery_id}/downloads/{job_id}/"),
    "public_selfie_search": ("post", "/api/v1/public/galleries/{gallery_id}/selfie-search/"),
    "public_hide_me": ("post", "/api/v1/public/galleries/{gallery_id}/hide-me/"),
}
STUDIO_OPERATIONS = {
    "galleries_guest_access_get": ("get", "/api/v1/galleries/{gallery_id}/guest-access/"),
    "galleries_guest_access_update": ("patch", "/api/v1/galleries/{gallery_id}/guest-access/"),
    "galleries_visitors_list": ("get", "/api/v1/galleries/{gallery_id}/visitors/"),
    "galleries_favourites_list": ("get", "/api/v1/galleries/{gallery_id}/favourites/"),
    "favourite_lists_export": ("get", "/api/v1/favourite-lists/{list_id}/export/"),
}


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _operation(schema: dict, method: str, path: str) -> dict:
    return schema["paths"][path][method]


def test_every_guest_operation_is_documented_without_studio_auth(schema):
    for operation_id, (method, path) in GUEST_OPERATIONS.items():
        operation = _operation(schema, method, path)
        assert operation["operationId"] == operation_id
        assert operation.get("security") in (None, [], [{}]), operation_id
        for status in ("403", "404", "410"):
            assert status in operation["responses"], (operation_id, status)
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        if operation_id not in ("guest_gallery_open", "guest_gallery_unlock"):
            assert "X-Gallery-Token" in headers, operation_id
    for operation_id in ("guest_gallery_open", "guest_gallery_unlock", "guest_downloads_unlock"):
        method, path = GUEST_OPERATIONS[operation_id]
        responses = _operation(schema, method, path)["responses"]
        assert "too_many_attempts" in responses["429"]["description"], operation_id
    open_body = _operation(schema, "post", "/api/v1/public/galleries/open/")["responses"]["200"]
    token = open_body["content"]["application/json"]["schema"]
    assert token == {"$ref": "#/components/schemas/GuestTokenResponse"}


def test_the_studio_side_of_guests_is_documented_with_auth(schema):
    for operation_id, (method, path) in STUDIO_OPERATIONS.items():
        operation = _operation(schema, method, path)
        assert operation["operationId"] == operation_id
        assert operation.get("security"), operation_id
        assert "401" in operation["responses"] and "404" in operation["responses"]
    export = _operation(schema, "get", "/api/v1/favourite-lists/{list_id}/export/")
    assert "text/plain" in export["responses"]["200"]["content"]
    update = _operation(schema, "patch", "/api/v1/galleries/{gallery_id}/guest-access/")
    assert "secret_required" in update["responses"]["422"]["description"]


def test_the_public_api_is_not_on_the_api_host_only(gallery_a):
    # The same guest API answers on a studio's site (same paths), for that studio's galleries.
    assert guest().get(public_url(gallery_a), HTTP_HOST=STUDIO_A_HOST).status_code == 200
    assert guest().get(public_url(gallery_a)).status_code == 200
