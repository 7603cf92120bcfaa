"""Galleries: create/read/edit/delete, slugs, tags, covers, status actions, list filters."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.models import StudioUsage
from galleries import services
from galleries.models import Album, Gallery, Photo, Tag
from tests.galleries.conftest import error_code, photo_add

pytestmark = pytest.mark.django_db
LIST = "/api/v1/galleries/"


def detail(gallery) -> str:
    return f"/api/v1/galleries/{gallery.id}/"


def test_create_gallery_derives_slug_and_counts_it(alice_client, studio_a):
    response = alice_client.post(
        LIST,
        {
            "name": "Smith & Jones Wedding",
            "event_date": "2025-06-14",
            "tags": ["Wedding", " wedding ", "Outdoor"],
            "notes": "Barn venue",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "smith-jones-wedding"
    assert body["status"] == "draft"
    assert body["tags"] == ["outdoor", "wedding"]
    assert body["photo_count"] == 0
    assert body["cover_photo_id"] is None
    assert set(body) >= {"id", "created_at", "updated_at", "storage_bytes", "expires_at"}
    assert StudioUsage.objects.get(studio=studio_a).gallery_count == 1
    assert Tag.objects.filter(studio=studio_a).count() == 2


def test_derived_slug_is_made_unique(alice_client):
    first = alice_client.post(LIST, {"name": "Wedding"}).json()
    second = alice_client.post(LIST, {"name": "Wedding"}).json()
    assert (first["slug"], second["slug"]) == ("wedding", "wedding-2")


def test_name_without_latin_letters_still_gets_a_slug(alice_client):
    assert alice_client.post(LIST, {"name": "Свадьба"}).json()["slug"] == "gallery"


def test_explicit_slug_taken_is_409(alice_client, gallery_a, studio_a):
    response = alice_client.post(LIST, {"name": "Other", "slug": gallery_a.slug})
    assert response.status_code == 409
    assert error_code(response) == "slug_taken"
    assert "slug" in response.json()["error"]["fields"]
    assert Gallery.objects.filter(studio=studio_a).count() == 1
    assert StudioUsage.objects.get(studio=studio_a).gallery_count == 1


def test_same_slug_is_fine_in_another_studio(bob_client, gallery_a):
    response = bob_client.post(LIST, {"name": "Mine", "slug": gallery_a.slug})
    assert response.status_code == 201


def test_patch_slug_to_another_gallerys_is_409(alice_client, gallery_a, studio_a, alice):
    other = services.gallery_create(studio=studio_a, by=alice, name="Other")
    response = alice_client.patch(detail(other), {"slug": gallery_a.slug, "name": "Renamed"})
    assert response.status_code == 409
    assert error_code(response) == "slug_taken"
    other.refresh_from_db()
    assert other.name == "Other"  # nothing half-written


def test_patch_keeps_own_slug_and_changes_fields(alice_client, gallery_a):
    response = alice_client.patch(
        detail(gallery_a),
        {"slug": gallery_a.slug, "name": "Renamed", "tags": ["a", "b"], "event_date": None},
    )
    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"
    assert response.json()["tags"] == ["a", "b"]
    response = alice_client.patch(detail(gallery_a), {"tags": []})
    assert response.json()["tags"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "x", "slug": "not a slug!"}, "slug"),
        ({"name": "x", "event_date": "14/06/2025"}, "event_date"),
        ({"name": "x", "expires_at": "tomorrow"}, "expires_at"),
        ({"name": "x", "tags": "wedding"}, "tags"),
        ({"name": "x", "tags": ["x" * 51]}, "tags.0"),
        ({"name": "x", "tags": [str(n) for n in range(51)]}, "tags"),
        ({"name": "x", "cover_photo_id": "nope"}, "cover_photo_id"),
        ({"name": "x", "status": "published"}, "status"),
        ({"name": "x", "photo_count": 5}, "photo_count"),
    ],
)
def test_create_rejects_bad_input(alice_client, studio_a, body, field):
    response = alice_client.post(LIST, body)
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert field in response.json()["error"]["fields"]
    assert not Gallery.objects.filter(studio=studio_a).exists()
    assert not Tag.objects.exists()


def test_create_with_any_cover_is_invalid_cover(alice_client, photos_a, studio_a):
    response = alice_client.post(LIST, {"name": "x", "cover_photo_id": str(photos_a[0].id)})
    assert response.status_code == 422
    assert error_code(response) == "invalid_cover"
    assert Gallery.objects.filter(studio=studio_a).count() == 1


def test_cover_must_be_a_photo_of_this_gallery(
    alice_client, gallery_a, photos_a, studio_a, alice, gallery_b, bob
):
    other = services.gallery_create(studio=studio_a, by=alice, name="Other")
    foreign = photo_add(other, alice)
    bobs = photo_add(gallery_b, bob)
    for photo_id in (foreign.id, bobs.id, "0190d5a0-0000-7000-8000-000000000000"):
        response = alice_client.patch(detail(gallery_a), {"cover_photo_id": str(photo_id)})
        assert response.status_code == 422, photo_id
        assert error_code(response) == "invalid_cover"
    response = alice_client.patch(detail(gallery_a), {"cover_photo_id": str(photos_a[1].id)})
    assert response.status_code == 200
    assert response.json()["cover_photo_id"] == str(photos_a[1].id)
    assert alice_client.patch(detail(gallery_a), {"cover_photo_id": None}).status_code == 200


def test_deleting_the_cover_photo_clears_the_cover(alice_client, gallery_a, photos_a):
    alice_client.patch(detail(gallery_a), {"cover_photo_id": str(photos_a[0].id)})
    assert alice_client.delete(f"/api/v1/photos/{photos_a[0].id}/").status_code == 204
    assert alice_client.get(detail(gallery_a)).json()["cover_photo_id"] is None


def test_get_gallery_shows_counters(alice_client, gallery_a, photos_a):
    body = alice_client.get(detail(gallery_a)).json()
    assert body["id"] == str(gallery_a.id)
    assert (body["photo_count"], body["storage_bytes"]) == (3, 600)


def test_delete_gallery_removes_everything_and_adjusts_usage(
    alice_client, gallery_a, photos_a, studio_a, alice
):
    keep = services.gallery_create(studio=studio_a, by=alice, name="Keep")
    photo_add(keep, alice, size=50)
    response = alice_client.delete(detail(gallery_a))
    assert response.status_code == 204
    assert not Gallery.objects.filter(id=gallery_a.id).exists()
    assert not Album.objects.filter(gallery_id=gallery_a.id).exists()
    assert not Photo.objects.filter(gallery_id=gallery_a.id).exists()
    usage = StudioUsage.objects.get(studio=studio_a)
    assert (usage.gallery_count, usage.photo_count, usage.storage_bytes) == (1, 1, 50)
    assert alice_client.get(detail(gallery_a)).status_code == 404


def test_malformed_gallery_id_is_404(alice_client):
    assert alice_client.get("/api/v1/galleries/not-a-uuid/").status_code == 404


# --- Status actions -------------------------------------------------------------------------


def test_publish_sets_published_at_and_twice_is_409(alice_client, gallery_a):
    response = alice_client.post(f"{detail(gallery_a)}publish/")
    assert response.status_code == 200
    assert response.json()["status"] == "published"
    assert response.json()["published_at"] is not None
    again = alice_client.post(f"{detail(gallery_a)}publish/")
    assert again.status_code == 409
    assert error_code(again) == "invalid_transition"


def test_archive_twice_is_409(alice_client, gallery_a):
    assert alice_client.post(f"{detail(gallery_a)}archive/").json()["status"] == "archived"
    response = alice_client.post(f"{detail(gallery_a)}archive/")
    assert response.status_code == 409
    assert error_code(response) == "invalid_transition"


def test_unarchive_returns_a_draft_to_draft(alice_client, gallery_a):
    alice_client.post(f"{detail(gallery_a)}archive/")
    body = alice_client.post(f"{detail(gallery_a)}unarchive/").json()
    assert (body["status"], body["archived_at"]) == ("draft", None)


def test_unarchive_returns_a_published_gallery_to_published(alice_client, gallery_a):
    alice_client.post(f"{detail(gallery_a)}publish/")
    alice_client.post(f"{detail(gallery_a)}archive/")
    assert alice_client.post(f"{detail(gallery_a)}unarchive/").json()["status"] == "published"


def test_unarchive_of_a_live_gallery_and_publish_of_archived_are_409(alice_client, gallery_a):
    response = alice_client.post(f"{detail(gallery_a)}unarchive/")
    assert (response.status_code, error_code(response)) == (409, "invalid_transition")
    alice_client.post(f"{detail(gallery_a)}archive/")
    response = alice_client.post(f"{detail(gallery_a)}publish/")
    assert (response.status_code, error_code(response)) == (409, "invalid_transition")


def test_archived_gallery_refuses_photo_and_album_edits(alice_client, gallery_a, album_a, photos_a):
    alice_client.post(f"{detail(gallery_a)}archive/")
    g = detail(gallery_a)
    attempts = [
        ("post", f"{g}photos/", {"filename": "x.jpg", "size": 1, "content_type": "image/jpeg"}),
        ("patch", f"/api/v1/photos/{photos_a[0].id}/", {"hidden": True}),
        ("delete", f"/api/v1/photos/{photos_a[0].id}/", None),
        ("post", f"{g}photos/bulk/", {"action": "hide", "photo_ids": [str(photos_a[0].id)]}),
        (
            "post",
            f"{g}photos/reorder/",
            {"photo_ids": [str(photos_a[0].id)], "after_id": str(photos_a[2].id)},
        ),
        ("post", f"{g}albums/", {"name": "New"}),
        ("patch", f"/api/v1/albums/{album_a.id}/", {"name": "New"}),
        ("delete", f"/api/v1/albums/{album_a.id}/", None),
        ("post", f"{g}albums/reorder/", {"album_ids": [str(album_a.id)]}),
    ]
    for method, url, body in attempts:
        response = getattr(alice_client, method)(url, body, format="json")
        assert response.status_code == 409, (method, url)
        assert error_code(response) == "gallery_archived"
    assert Photo.objects.filter(gallery=gallery_a, hidden=False).count() == 3
    assert Album.objects.filter(gallery=gallery_a).count() == 1
    # The gallery itself stays editable (notes, expiry), and viewable.
    assert alice_client.patch(g, {"notes": "archived in 2026"}).status_code == 200
    assert alice_client.get(f"{g}photos/").status_code == 200


# --- List filters, ordering and pagination -----------------------------------------------


@pytest.fixture
def several(studio_a, alice):
    make = services.gallery_create
    made = {
        "june": make(
            studio=studio_a,
            by=alice,
            name="June Wedding",
            event_date=dt.date(2025, 6, 1),
            tags=["wedding"],
        ),
        "july": make(
            studio=studio_a,
            by=alice,
            name="July Portraits",
            event_date=dt.date(2025, 7, 1),
            notes="family session",
            tags=["portrait"],
        ),
        "undated": make(studio=studio_a, by=alice, name="Archive box"),
    }
    services.gallery_publish(gallery=made["june"], by=alice)
    return made


def _names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["results"]]


def test_list_defaults_to_newest_first(alice_client, several):
    assert _names(alice_client.get(LIST)) == ["Archive box", "July Portraits", "June Wedding"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=published", ["June Wedding"]),
        ("status=draft&ordering=name", ["Archive box", "July Portraits"]),
        ("event_date_from=2025-06-15", ["July Portraits"]),
        ("event_date_to=2025-06-15", ["June Wedding"]),
        (
            "event_date_from=2025-06-01&event_date_to=2025-07-01&ordering=event_date",
            ["June Wedding", "July Portraits"],
        ),
        ("tag=Wedding", ["June Wedding"]),
        ("tag=nothing", []),
        ("q=family", ["July Portraits"]),
        ("q=wedd", ["June Wedding"]),
        ("q=", ["Archive box", "July Portraits", "June Wedding"]),
        ("ordering=name", ["Archive box", "July Portraits", "June Wedding"]),
        ("ordering=-name", ["June Wedding", "July Portraits", "Archive box"]),
        ("ordering=event_date", ["June Wedding", "July Portraits", "Archive box"]),
        ("ordering=-event_date", ["Archive box", "July Portraits", "June Wedding"]),
        ("ordering=created_at", ["June Wedding", "July Portraits", "Archive box"]),
    ],
)
def test_list_filters_and_orderings(alice_client, several, query, expected):
    assert _names(alice_client.get(f"{LIST}?{query}")) == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=live", "status"),
        ("event_date_from=2025-13-01", "event_date_from"),
        ("event_date_to=yesterday", "event_date_to"),
        ("event_date_from=2025-07-01&event_date_to=2025-06-01", "event_date_to"),
        ("ordering=price", "ordering"),
        ("page_size=ten", "page_size"),
        ("page_size=201", "page_size"),
        ("page_size=0", "page_size"),
        ("cursor=garbage", "cursor"),
    ],
)
def test_bad_list_parameters_are_400_with_fields(alice_client, several, query, field):
    response = alice_client.get(f"{LIST}?{query}")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


@pytest.mark.parametrize("ordering", ["-created_at", "name", "event_date", "-event_date"])
def test_gallery_pages_walk_forward_and_back(alice_client, studio_a, alice, ordering):
    for number in range(7):
        services.gallery_create(
            studio=studio_a,
            by=alice,
            name=f"G{number % 3}",
            event_date=dt.date(2025, 1, 1 + number % 2) if number % 3 else None,
        )
    seen, cursor, pages = [], None, []
    while True:
        url = f"{LIST}?ordering={ordering}&page_size=2" + (f"&cursor={cursor}" if cursor else "")
        body = alice_client.get(url).json()
        pages.append(body)
        seen += [row["id"] for row in body["results"]]
        cursor = body["next"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 7
    everything = [
        row["id"] for row in alice_client.get(f"{LIST}?ordering={ordering}").json()["results"]
    ]
    assert seen == everything
    back, cursor = [], pages[-1]["previous"]
    while cursor:
        body = alice_client.get(f"{LIST}?ordering={ordering}&page_size=2&cursor={cursor}").json()
        back = [row["id"] for row in body["results"]] + back
        cursor = body["previous"]
    assert back + [row["id"] for row in pages[-1]["results"]] == seen


def test_cursor_of_one_ordering_is_refused_by_another(alice_client, several):
    cursor = alice_client.get(f"{LIST}?page_size=1").json()["next"]
    response = alice_client.get(f"{LIST}?page_size=1&ordering=name&cursor={cursor}")
    assert response.status_code == 400
    assert error_code(response) == "invalid_cursor"


def test_list_costs_a_fixed_number_of_queries(
    alice_client, studio_a, alice, django_assert_max_num_queries
):
    for number in range(30):
        services.gallery_create(studio=studio_a, by=alice, name=f"G{number}", tags=["a", "b"])
    # user, membership+studio, page, tags prefetch, covers (each gallery's first photo)
    with django_assert_max_num_queries(5):
        response = alice_client.get(f"{LIST}?page_size=30")
    assert len(response.json()["results"]) == 30
    assert response.json()["results"][0]["tags"] == ["a", "b"]
