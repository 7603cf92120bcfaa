"""The server-rendered guest pages: the cover, the photo count, and HEAD like GET."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.test import Client

from galleries import services as gallery_services
from galleries.models import Photo
from tests.delivery.conftest import derivative_bytes, stored_photo
from tests.guests.api_support import STUDIO_A_HOST, guest, public_url
from tests.storage_fixtures import send

pytest_plugins = ["tests.guests.api_fixtures"]
pytestmark = pytest.mark.django_db


def page(path: str, method: str = "get"):
    return getattr(Client(), method)(path, HTTP_HOST=STUDIO_A_HOST)


def image_sources(html: str, css_class: str) -> list[str]:
    return [unescape(url) for url in re.findall(rf'<img class="{css_class}" src="([^"]+)"', html)]


# --- Cover -------------------------------------------------------------------------------------
def test_a_gallery_without_a_chosen_cover_shows_its_first_photo_everywhere(
    gallery_a, photos_a, alice_client
):
    first = photos_a[0]
    expected = derivative_bytes(first, "thumb")
    html = page(f"/g/{gallery_a.slug}/").content.decode()
    assert [send("GET", url).body for url in image_sources(html, "cover")] == [expected]
    home = page("/").content.decode()
    (card,) = re.findall(r'<img src="([^"]+)" alt="" loading="lazy">', home)
    assert send("GET", unescape(card)).body == expected
    opened = guest().get(public_url(gallery_a), HTTP_HOST=STUDIO_A_HOST).json()
    assert send("GET", opened["cover_url"]).body == expected
    for body in (
        alice_client.get(f"/api/v1/galleries/{gallery_a.id}/").json(),
        alice_client.get("/api/v1/galleries/").json()["results"][0],
    ):
        assert body["cover_photo_id"] is None  # still no choice made
        assert send("GET", body["cover_thumb_url"]).body == expected


def test_the_first_photo_is_the_first_a_guest_sees(gallery_a, photos_a, alice, alice_client):
    hidden, unready, shown = photos_a
    Photo.objects.filter(id=hidden.id).update(hidden=True)
    Photo.objects.filter(id=unready.id).update(state=Photo.State.PROCESSING)
    body = alice_client.get(f"/api/v1/galleries/{gallery_a.id}/").json()
    assert send("GET", body["cover_thumb_url"]).body == derivative_bytes(shown, "thumb")


def test_a_chosen_cover_wins(gallery_a, photos_a, alice, alice_client):
    chosen = photos_a[2]
    gallery_services.gallery_update(
        gallery=gallery_a, by=alice, changes={"cover_photo_id": chosen.id}
    )
    body = alice_client.get(f"/api/v1/galleries/{gallery_a.id}/").json()
    assert send("GET", body["cover_thumb_url"]).body == derivative_bytes(chosen, "thumb")


def test_a_gallery_with_nothing_to_show_has_no_cover(gallery_a, alice_client):
    assert alice_client.get(f"/api/v1/galleries/{gallery_a.id}/").json()["cover_thumb_url"] is None
    assert image_sources(page(f"/g/{gallery_a.slug}/").content.decode(), "cover") == []


def test_covers_of_a_page_of_galleries_cost_one_query(
    studio_a, alice, alice_client, guest_storage, django_assert_max_num_queries
):
    for number in range(6):
        gallery = gallery_services.gallery_create(studio=studio_a, by=alice, name=f"G{number}")
        cover = stored_photo(guest_storage, gallery, alice)
        if number % 2:
            gallery_services.gallery_update(
                gallery=gallery, by=alice, changes={"cover_photo_id": cover.id}
            )
    with django_assert_max_num_queries(5):  # as with chosen covers only
        results = alice_client.get("/api/v1/galleries/").json()["results"]
    assert all(row["cover_thumb_url"] for row in results)


# --- Photo count -------------------------------------------------------------------------------
def test_the_page_shows_the_gallerys_photo_count_not_the_loaded_count(
    gallery_a, alice, guest_storage
):
    album = gallery_services.album_create(gallery=gallery_a, by=alice, name="Ceremony")
    for number in range(75):  # more than the grid's first page of 60
        stored_photo(
            guest_storage,
            gallery_a,
            alice,
            filename=f"IMG_{number:04d}.jpg",
            album=album if number < 5 else None,
            hidden=number == 74,
        )
    html = page(f"/g/{gallery_a.slug}/").content.decode()
    assert 'data-count="74"' in html  # what a guest sees: the hidden one is not counted
    assert re.search(r'<p id="status"[^>]*>74 photos</p>', html)
    assert re.search(rf'data-album="{album.id}" data-count="5"', html)


# --- HEAD --------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/g/smith-wedding/", "/g/no-such-gallery/"])
def test_head_answers_like_get(gallery_a, photos_a, path):
    got, head = page(path), page(path, "head")
    assert head.status_code == got.status_code
    assert head["Content-Type"] == got["Content-Type"]
    assert head["Content-Security-Policy"] == got["Content-Security-Policy"]
    assert head.content == b""
