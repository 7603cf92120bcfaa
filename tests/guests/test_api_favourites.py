"""Visitors and favourites: a guest gives an email (the studio sees the visit), keeps favourite
lists with comments under it, and the studio reads and exports them."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Role
from galleries.models import Gallery
from guests import access, services
from guests.models import Favourite, FavouriteList, Visitor
from picpick.core.pagination import DEFAULT_PAGE_SIZE
from tests.delivery.conftest import stored_photo
from tests.guests.api_support import (
    PIN,
    error_code,
    guest,
    protect,
    public_url,
    register,
    unlock,
)
from tests.races import race

pytest_plugins = ["tests.guests.api_fixtures"]
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


def registered(gallery, email: str = "anna@example.com", token: str | None = None):
    response = register(guest(), gallery, email, token=token)
    assert response.status_code == 200, response.json()
    return guest(response.json()["token"])


def fav_url(gallery, photo, query: str = "") -> str:
    photo_id = getattr(photo, "id", photo)
    return public_url(gallery, f"favourites/photos/{photo_id}/{query}")


def lists_of(client, gallery) -> list[dict]:
    response = client.get(public_url(gallery, "favourites/"))
    assert response.status_code == 200
    return response.json()


def assert_counts_exact() -> None:
    for favourite_list in FavouriteList.objects.all():
        assert favourite_list.item_count == favourite_list.items.count(), favourite_list.name


# --- Visitors ---------------------------------------------------------------------------------
def test_registering_records_the_visit_and_a_return_counts_one_more(gallery_a, alice_client):
    first = register(guest(), gallery_a, "Anna@Example.com")
    assert first.status_code == 200
    assert access.load(first.json()["token"]).visitor_id is not None
    visitor = Visitor.objects.get()
    assert (visitor.email, visitor.name, visitor.visits) == ("anna@example.com", "Guest", 1)
    assert visitor.studio_id == gallery_a.studio_id and visitor.gallery_id == gallery_a.id
    seen_first = visitor.last_seen_at

    again = guest().post(
        public_url(gallery_a, "register/"), {"email": "ANNA@example.com ", "name": "Anna"}
    )
    assert again.status_code == 200
    visitor.refresh_from_db()
    assert (visitor.visits, visitor.name) == (2, "Anna")
    assert visitor.last_seen_at >= seen_first
    assert Visitor.objects.count() == 1
    assert access.load(again.json()["token"]).visitor_id == visitor.id

    register(guest(), gallery_a, "bert@example.com")
    response = alice_client.get(f"/api/v1/galleries/{gallery_a.id}/visitors/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(v["email"], v["visits"]) for v in results] == [
        ("bert@example.com", 1),
        ("anna@example.com", 2),
    ]  # most recent first
    assert set(results[0]) == {"id", "email", "name", "visits", "created_at", "last_seen_at"}


def test_the_visitor_list_is_per_gallery_and_per_studio(
    gallery_a, gallery_a2, gallery_b, alice_client, bob_client, member_of_a
):
    register(guest(), gallery_a, "anna@example.com")
    register(guest(), gallery_a2, "other@example.com")
    register(guest(), gallery_b, "bobs-guest@example.com")
    emails = [
        v["email"]
        for v in alice_client.get(f"/api/v1/galleries/{gallery_a.id}/visitors/").json()["results"]
    ]
    assert emails == ["anna@example.com"]
    response = bob_client.get(f"/api/v1/galleries/{gallery_a.id}/visitors/")
    assert (response.status_code, error_code(response)) == (404, "not_found")
    _user, assistant = member_of_a(Role.ASSISTANT)
    assert assistant.get(f"/api/v1/galleries/{gallery_a.id}/visitors/").status_code == 200
    assert guest().get(f"/api/v1/galleries/{gallery_a.id}/visitors/").status_code == 401


def test_the_visitor_list_pages(gallery_a, alice_client):
    now = timezone.now()
    Visitor.objects.bulk_create(
        Visitor(
            studio_id=gallery_a.studio_id,
            gallery=gallery_a,
            email=f"guest{n:02d}@example.com",
            last_seen_at=now - dt.timedelta(minutes=n),
        )
        for n in range(DEFAULT_PAGE_SIZE + 5)
    )
    url = f"/api/v1/galleries/{gallery_a.id}/visitors/"
    first = alice_client.get(url).json()
    second = alice_client.get(url, {"cursor": first["next"]}).json()
    assert (len(first["results"]), len(second["results"])) == (DEFAULT_PAGE_SIZE, 5)
    emails = [v["email"] for v in first["results"] + second["results"]]
    assert emails == [f"guest{n:02d}@example.com" for n in range(DEFAULT_PAGE_SIZE + 5)]
    assert second["next"] is None
    bad = alice_client.get(url, {"cursor": "garbage"})
    assert (bad.status_code, error_code(bad)) == (400, "invalid_cursor")
    unknown = alice_client.get(url, {"page": 2})
    assert (unknown.status_code, error_code(unknown)) == (400, "validation_error")


# --- Favourites: the guest's side -------------------------------------------------------------
def test_favourites_need_an_email(gallery_a, photos_a):
    client = guest()  # a public gallery opened without registering
    for response in (
        client.put(fav_url(gallery_a, photos_a[0]), {"comment": "yes"}),
        client.delete(fav_url(gallery_a, photos_a[0])),
        client.post(public_url(gallery_a, "favourites/"), {"name": "Best"}),
    ):
        assert (response.status_code, error_code(response)) == (403, "email_required")
    assert lists_of(client, gallery_a) == []
    assert FavouriteList.objects.count() == 0 and Favourite.objects.count() == 0


def test_add_comment_and_remove_a_favourite(gallery_a, photos_a):
    client = registered(gallery_a)
    added = client.put(fav_url(gallery_a, photos_a[1]), {"comment": "Love it"})
    assert added.status_code == 200, added.json()
    assert added.json()["photo_id"] == str(photos_a[1].id)
    assert added.json()["comment"] == "Love it"
    client.put(fav_url(gallery_a, photos_a[0]), {})
    [favourites] = lists_of(client, gallery_a)
    assert favourites["name"] == "Favourites" and favourites["item_count"] == 2
    assert [(i["photo_id"], i["comment"]) for i in favourites["items"]] == [
        (str(photos_a[1].id), "Love it"),
        (str(photos_a[0].id), ""),
    ]  # in the order they were picked

    changed = client.put(fav_url(gallery_a, photos_a[1]), {"comment": "Print this one"})
    assert changed.status_code == 200
    [favourites] = lists_of(client, gallery_a)
    assert favourites["item_count"] == 2
    assert favourites["items"][0]["comment"] == "Print this one"
    assert Favourite.objects.count() == 2

    assert client.delete(fav_url(gallery_a, photos_a[1])).status_code == 204
    assert client.delete(fav_url(gallery_a, photos_a[1])).status_code == 204  # already gone
    [favourites] = lists_of(client, gallery_a)
    assert favourites["item_count"] == 1
    assert [i["photo_id"] for i in favourites["items"]] == [str(photos_a[0].id)]
    assert_counts_exact()


def test_a_second_list_and_removing_from_one_list_or_all(gallery_a, photos_a):
    client = registered(gallery_a)
    client.put(fav_url(gallery_a, photos_a[0]), {"comment": "for the album"})
    created = client.post(public_url(gallery_a, "favourites/"), {"name": "Prints"})
    assert created.status_code == 201, created.json()
    prints = created.json()
    assert (prints["name"], prints["item_count"], prints["items"]) == ("Prints", 0, [])
    for photo in photos_a[:2]:
        response = client.put(fav_url(gallery_a, photo), {"list_id": prints["id"]})
        assert response.status_code == 200

    lists = lists_of(client, gallery_a)
    assert [(li["name"], li["item_count"]) for li in lists] == [("Favourites", 1), ("Prints", 2)]

    # From one list only...
    response = client.delete(fav_url(gallery_a, photos_a[1], f"?list_id={prints['id']}"))
    assert response.status_code == 204
    assert [li["item_count"] for li in lists_of(client, gallery_a)] == [1, 1]
    # ... or from every list.
    assert client.delete(fav_url(gallery_a, photos_a[0])).status_code == 204
    assert [li["item_count"] for li in lists_of(client, gallery_a)] == [0, 0]
    assert_counts_exact()


def test_a_list_name_is_unique_per_guest(gallery_a, photos_a):
    anna = registered(gallery_a)
    assert anna.post(public_url(gallery_a, "favourites/"), {"name": "Prints"}).status_code == 201
    response = anna.post(public_url(gallery_a, "favourites/"), {"name": " Prints "})
    assert (response.status_code, error_code(response)) == (409, "list_exists")
    anna.put(fav_url(gallery_a, photos_a[0]), {})  # into the first list: "Prints"
    assert [li["name"] for li in lists_of(anna, gallery_a)] == ["Prints"]
    # Another guest may use the same name.
    bert = registered(gallery_a, "bert@example.com")
    assert bert.post(public_url(gallery_a, "favourites/"), {"name": "Prints"}).status_code == 201
    assert FavouriteList.objects.count() == 2


def test_too_many_lists_and_a_full_list_are_422(gallery_a, photos_a, settings):
    settings.PICPICK_GUEST_MAX_LISTS = 2
    settings.PICPICK_GUEST_MAX_FAVOURITES = 2
    client = registered(gallery_a)
    for name in ("One", "Two"):
        assert client.post(public_url(gallery_a, "favourites/"), {"name": name}).status_code == 201
    response = client.post(public_url(gallery_a, "favourites/"), {"name": "Three"})
    assert (response.status_code, error_code(response)) == (422, "too_many_lists")

    for photo in photos_a[:2]:
        assert client.put(fav_url(gallery_a, photo), {}).status_code == 200
    response = client.put(fav_url(gallery_a, photos_a[2]), {})
    assert (response.status_code, error_code(response)) == (422, "list_full")
    # A comment on a photo already in the full list is still a change, not an addition.
    assert client.put(fav_url(gallery_a, photos_a[0]), {"comment": "x"}).status_code == 200
    assert FavouriteList.objects.get(name="One").item_count == 2
    assert_counts_exact()


@pytest.mark.parametrize(
    "body",
    [
        {"comment": "x" * 1001},
        {"list_id": "not-a-uuid"},
        {"comment": 5, "extra": True},
        {"comment": None},
    ],
)
def test_bad_favourite_input_is_400(gallery_a, photos_a, body):
    client = registered(gallery_a)
    response = client.put(fav_url(gallery_a, photos_a[0]), body, format="json")
    assert (response.status_code, error_code(response)) == (400, "validation_error")
    assert Favourite.objects.count() == 0


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 81}])
def test_a_list_needs_a_name(gallery_a, body):
    client = registered(gallery_a)
    response = client.post(public_url(gallery_a, "favourites/"), body, format="json")
    assert (response.status_code, error_code(response)) == (400, "validation_error")
    assert FavouriteList.objects.count() == 0


def test_only_ready_visible_photos_of_this_gallery_can_be_favourites(
    gallery_a, gallery_a2, alice, photos_a, photo_b, guest_storage
):
    hidden = stored_photo(guest_storage, gallery_a, alice, filename="h.jpg", hidden=True)
    unprocessed = stored_photo(
        guest_storage, gallery_a, alice, filename="u.jpg", state="uploaded", derivatives=()
    )
    elsewhere = stored_photo(guest_storage, gallery_a2, alice, filename="e.jpg")
    client = registered(gallery_a)
    for photo_id in (hidden.id, unprocessed.id, elsewhere.id, photo_b.id, uuid.uuid4(), "nope"):
        response = client.put(fav_url(gallery_a, photo_id), {"comment": "x"})
        assert (response.status_code, error_code(response)) == (404, "not_found"), photo_id
    assert Favourite.objects.count() == 0
    assert FavouriteList.objects.count() == 0  # no empty default list left behind


def test_a_list_of_another_guest_is_404(gallery_a, photos_a):
    anna = registered(gallery_a)
    annas = anna.post(public_url(gallery_a, "favourites/"), {"name": "Anna's"}).json()
    bert = registered(gallery_a, "bert@example.com")
    response = bert.put(fav_url(gallery_a, photos_a[0]), {"list_id": annas["id"]})
    assert (response.status_code, error_code(response)) == (404, "not_found")
    response = bert.delete(fav_url(gallery_a, photos_a[0], f"?list_id={annas['id']}"))
    assert (response.status_code, error_code(response)) == (404, "not_found")
    response = bert.put(fav_url(gallery_a, photos_a[0]), {"list_id": str(uuid.uuid4())})
    assert (response.status_code, error_code(response)) == (404, "not_found")
    assert lists_of(bert, gallery_a) == []
    assert Favourite.objects.count() == 0


def test_favourites_are_kept_under_the_email_across_devices(gallery_a, photos_a):
    registered(gallery_a).put(fav_url(gallery_a, photos_a[2]), {"comment": "phone"})
    laptop = registered(gallery_a, "ANNA@example.com")  # the same guest, another device
    [favourites] = lists_of(laptop, gallery_a)
    assert [i["comment"] for i in favourites["items"]] == ["phone"]


def test_a_visitor_of_another_gallery_in_a_token_is_no_visitor_here(
    gallery_a, gallery_a2, photos_a
):
    other = register(guest(), gallery_a2, "anna@example.com").json()["token"]
    visitor_id = access.load(other).visitor_id
    forged = access.dump(
        access.Grant(gallery_id=gallery_a.id, access_version=1, visitor_id=visitor_id)
    )
    response = guest(forged).put(fav_url(gallery_a, photos_a[0]), {})
    assert (response.status_code, error_code(response)) == (403, "email_required")


def test_favourites_on_a_pin_gallery_need_the_pin_and_the_email(gallery_a, photos_a):
    protect(gallery_a, Gallery.Access.PIN)
    token = unlock(guest(), gallery_a, PIN)
    client = registered(gallery_a, token=token)
    assert client.put(fav_url(gallery_a, photos_a[0]), {}).status_code == 200
    # A new PIN logs the guest out; the favourites stay, under the email.
    protect(gallery_a, Gallery.Access.PIN, secret="97531")
    response = client.put(fav_url(gallery_a, photos_a[1]), {})
    assert (response.status_code, error_code(response)) == (403, "gallery_locked")
    again = registered(gallery_a, token=unlock(guest(), gallery_a, "97531"))
    assert lists_of(again, gallery_a)[0]["item_count"] == 1


# --- Favourites: the studio's side -----------------------------------------------------------
@pytest.fixture
def picked(gallery_a, alice, photos_a, guest_storage) -> dict:
    """Anna picked the third and the first photo (in that order), Bert made a "Prints" list."""
    raw = stored_photo(guest_storage, gallery_a, alice, filename="DSC.0042.NEF")
    anna = registered(gallery_a)
    anna.put(fav_url(gallery_a, photos_a[2]), {"comment": "Lovely light"})
    anna.put(fav_url(gallery_a, photos_a[0]), {"comment": "Mum's favourite"})
    anna.put(fav_url(gallery_a, raw), {})
    bert = registered(gallery_a, "bert@example.com")
    prints = bert.post(public_url(gallery_a, "favourites/"), {"name": "Prints / 30x40"}).json()
    bert.put(fav_url(gallery_a, photos_a[1]), {"list_id": prints["id"]})
    return {
        "anna": FavouriteList.objects.get(visitor__email="anna@example.com"),
        "bert": FavouriteList.objects.get(id=prints["id"]),
        "raw": raw,
    }


def test_the_studio_sees_every_guest_s_lists(gallery_a, photos_a, picked, alice_client):
    response = alice_client.get(f"/api/v1/galleries/{gallery_a.id}/favourites/")
    assert response.status_code == 200
    anna, bert = response.json()
    assert (anna["visitor_email"], anna["visitor_name"], anna["name"]) == (
        "anna@example.com",
        "Guest",
        "Favourites",
    )
    assert anna["item_count"] == 3
    assert [(i["filename"], i["comment"]) for i in anna["items"]] == [
        ("IMG_0003.jpg", "Lovely light"),
        ("IMG_0001.CR3", "Mum's favourite"),
        ("DSC.0042.NEF", ""),
    ]
    assert (bert["visitor_email"], bert["name"], bert["item_count"]) == (
        "bert@example.com",
        "Prints / 30x40",
        1,
    )


def test_the_lightroom_export_lists_file_stems_in_gallery_order(picked, alice_client):
    response = alice_client.get(f"/api/v1/favourite-lists/{picked['anna'].id}/export/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="favourites-Favourites.txt"'
    assert response.content.decode() == "IMG_0001, IMG_0003, DSC.0042\n"


def test_the_text_export_lists_original_filenames(picked, alice_client):
    response = alice_client.get(
        f"/api/v1/favourite-lists/{picked['anna'].id}/export/", {"format": "txt"}
    )
    assert response.status_code == 200
    assert response.content.decode() == "IMG_0001.CR3\nIMG_0003.jpg\nDSC.0042.NEF\n"
    bert = alice_client.get(f"/api/v1/favourite-lists/{picked['bert'].id}/export/")
    assert bert["Content-Disposition"] == 'attachment; filename="favourites-Prints---30x40.txt"'
    assert bert.content.decode() == "IMG_0002\n"


def test_an_empty_list_exports_an_empty_line(gallery_a, alice_client):
    client = registered(gallery_a)
    created = client.post(public_url(gallery_a, "favourites/"), {"name": "Later"}).json()
    response = alice_client.get(f"/api/v1/favourite-lists/{created['id']}/export/")
    assert response.status_code == 200 and response.content == b"\n"


@pytest.mark.parametrize("query", [{"format": "csv"}, {"format": ""}, {"fmt": "txt"}])
def test_a_bad_export_format_is_400(picked, alice_client, query):
    response = alice_client.get(f"/api/v1/favourite-lists/{picked['anna'].id}/export/", query)
    assert (response.status_code, error_code(response)) == (400, "validation_error")


def test_another_studio_sees_no_favourites_and_anonymous_is_401(
    gallery_a, picked, bob_client, member_of_a
):
    for url in (
        f"/api/v1/galleries/{gallery_a.id}/favourites/",
        f"/api/v1/favourite-lists/{picked['anna'].id}/export/",
        f"/api/v1/favourite-lists/{uuid.uuid4()}/export/",
    ):
        response = bob_client.get(url)
        assert (response.status_code, error_code(response)) == (404, "not_found"), url
        assert guest().get(url).status_code == 401
    _user, assistant = member_of_a(Role.ASSISTANT)
    assert assistant.get(f"/api/v1/galleries/{gallery_a.id}/favourites/").status_code == 200
    export = assistant.get(f"/api/v1/favourite-lists/{picked['anna'].id}/export/")
    assert export.status_code == 200


def test_the_guest_api_does_not_serve_the_studio_s_views_of_guests(gallery_a, picked):
    # A gallery token is no studio credential.
    token = register(guest(), gallery_a, "anna@example.com").json()["token"]
    for url in (
        f"/api/v1/galleries/{gallery_a.id}/favourites/",
        f"/api/v1/galleries/{gallery_a.id}/visitors/",
        f"/api/v1/favourite-lists/{picked['anna'].id}/export/",
    ):
        assert guest(token).get(url).status_code == 401


# --- Races (a real database server) ------------------------------------------------------------
needs_row_locks = pytest.mark.skipif(
    connection.vendor == "sqlite", reason="SQLite serialises all writers; needs MariaDB"
)


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_the_same_email_registering_at_once_makes_one_visitor(gallery_a):
    grant = services.grant_current(gallery=gallery_a, grant=None)

    def visit(_index: int):
        return services.visitor_register(gallery=gallery_a, grant=grant, email="anna@example.com")

    results = race(16, visit)
    assert not any(isinstance(r, Exception) for r in results), results
    visitor = Visitor.objects.get()
    assert visitor.visits == 16
    assert {r.visitor_id for r in results} == {visitor.id}


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_photos_added_to_one_list_at_once_keep_the_count_exact(gallery_a, alice, guest_storage):
    photos = [
        stored_photo(guest_storage, gallery_a, alice, filename=f"IMG_{n}.jpg") for n in range(8)
    ]
    grant = services.grant_current(gallery=gallery_a, grant=None)
    grant = services.visitor_register(gallery=gallery_a, grant=grant, email="anna@example.com")

    def add(index: int):
        return services.favourite_set(gallery=gallery_a, grant=grant, photo_id=photos[index].id)

    results = race(8, add)
    assert not any(isinstance(r, Exception) for r in results), results
    favourite_list = FavouriteList.objects.get()  # one default list, however the adds raced
    assert favourite_list.item_count == 8 == favourite_list.items.count()

    def remove(index: int):
        return services.favourite_remove(gallery=gallery_a, grant=grant, photo_id=photos[index].id)

    results = race(8, lambda i: remove(i // 2))  # each photo removed twice at once
    assert not any(isinstance(r, Exception) for r in results), results
    favourite_list.refresh_from_db()
    assert favourite_list.item_count == 4 == favourite_list.items.count()


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_the_same_list_created_twice_at_once_is_one_list_and_a_409(gallery_a):
    grant = services.grant_current(gallery=gallery_a, grant=None)
    grant = services.visitor_register(gallery=gallery_a, grant=grant, email="anna@example.com")

    def create(_index: int):
        return services.favourite_list_create(gallery=gallery_a, grant=grant, name="Prints")

    results = race(4, create)
    created = [r for r in results if isinstance(r, FavouriteList)]
    refused = [r for r in results if not isinstance(r, FavouriteList)]
    assert len(created) == 1, results
    assert [getattr(r, "code", r) for r in refused] == ["list_exists"] * 3
    assert FavouriteList.objects.count() == 1


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_a_list_filled_at_once_stops_exactly_at_its_limit(
    gallery_a, alice, guest_storage, settings
):
    settings.PICPICK_GUEST_MAX_FAVOURITES = 3
    photos = [
        stored_photo(guest_storage, gallery_a, alice, filename=f"IMG_{n}.jpg") for n in range(8)
    ]
    grant = services.grant_current(gallery=gallery_a, grant=None)
    grant = services.visitor_register(gallery=gallery_a, grant=grant, email="anna@example.com")
    services.favourite_list_create(gallery=gallery_a, grant=grant, name="Favourites")

    def add(index: int):
        return services.favourite_set(gallery=gallery_a, grant=grant, photo_id=photos[index].id)

    results = race(8, add)
    refused = [r for r in results if isinstance(r, Exception)]
    assert [getattr(r, "code", r) for r in refused] == ["list_full"] * 5, results
    favourite_list = FavouriteList.objects.get()
    assert favourite_list.item_count == 3 == favourite_list.items.count()
