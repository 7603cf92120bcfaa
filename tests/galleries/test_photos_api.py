"""Photos (metadata): register, read, edit, delete, list filters, reorder, bulk actions."""

from __future__ import annotations

import uuid

import pytest

from accounts.models import StudioUsage
from galleries import services
from galleries.models import Album, Gallery, Photo
from tests.galleries.conftest import error_code, photo_add

pytestmark = pytest.mark.django_db


def photos_url(gallery) -> str:
    return f"/api/v1/galleries/{gallery.id}/photos/"


def counters(gallery, *albums) -> tuple:
    gallery = Gallery.objects.get(id=gallery.id)
    usage = StudioUsage.objects.get(studio_id=gallery.studio_id)
    return (
        (gallery.photo_count, gallery.storage_bytes),
        (usage.photo_count, usage.storage_bytes),
        tuple(Album.objects.get(id=album.id).photo_count for album in albums),
    )


# --- Register --------------------------------------------------------------------------------


def test_register_photo_is_pending_and_last(alice_client, gallery_a, album_a, photos_a):
    response = alice_client.post(
        photos_url(gallery_a),
        {
            "filename": "DSC_0042.jpg",
            "size": 12_345,
            "content_type": "image/jpeg",
            "width": 6000,
            "height": 4000,
            "captured_at": "2025-06-14T15:04:05Z",
            "camera": "Canon EOS R5",
            "checksum": "sha256:abc",
            "album_id": str(album_a.id),
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "pending"
    assert body["position"] == max(p.position for p in photos_a) + 1
    assert body["album_id"] == str(album_a.id)
    assert body["gallery_id"] == str(gallery_a.id)
    uuid.UUID(body["id"])
    assert counters(gallery_a, album_a) == ((4, 12_945), (4, 12_945), (3,))


def test_first_photo_of_a_gallery_gets_position_zero(alice_client, gallery_a):
    body = alice_client.post(
        photos_url(gallery_a), {"filename": "a.jpg", "size": 1, "content_type": "image/png"}
    ).json()
    assert body["position"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"size": 1, "content_type": "image/jpeg"}, "filename"),
        ({"filename": "a.jpg", "content_type": "image/jpeg"}, "size"),
        ({"filename": "a.jpg", "size": -1, "content_type": "image/jpeg"}, "size"),
        ({"filename": "a.jpg", "size": "big", "content_type": "image/jpeg"}, "size"),
        ({"filename": "a.jpg", "size": 1}, "content_type"),
        ({"filename": "a.pdf", "size": 1, "content_type": "application/pdf"}, "content_type"),
        ({"filename": "a.jpg", "size": 1, "content_type": "image/jpeg", "width": 0}, "width"),
        (
            {"filename": "a.jpg", "size": 1, "content_type": "image/jpeg", "captured_at": "x"},
            "captured_at",
        ),
        (
            {"filename": "a.jpg", "size": 1, "content_type": "image/jpeg", "album_id": "x"},
            "album_id",
        ),
        ({"filename": "a.jpg", "size": 1, "content_type": "image/jpeg", "state": "ready"}, "state"),
        ({"filename": "x" * 256, "size": 1, "content_type": "image/jpeg"}, "filename"),
    ],
)
def test_register_rejects_bad_input(alice_client, gallery_a, studio_a, body, field):
    response = alice_client.post(photos_url(gallery_a), body)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Photo.objects.exists()
    assert counters(gallery_a) == ((0, 0), (0, 0), ())


def test_register_into_another_gallerys_album_is_422(
    alice_client, gallery_a, studio_a, alice, gallery_b, bob
):
    other = services.gallery_create(studio=studio_a, by=alice, name="Other")
    for album in (
        services.album_create(gallery=other, by=alice, name="X"),
        services.album_create(gallery=gallery_b, by=bob, name="Bob's"),
    ):
        response = alice_client.post(
            photos_url(gallery_a),
            {
                "filename": "a.jpg",
                "size": 1,
                "content_type": "image/jpeg",
                "album_id": str(album.id),
            },
        )
        assert response.status_code == 422
        assert error_code(response) == "invalid_album"
    assert not Photo.objects.filter(gallery=gallery_a).exists()
    assert counters(gallery_a) == ((0, 0), (0, 0), ())


# --- Read, edit, delete ----------------------------------------------------------------------


def test_get_photo(alice_client, photos_a):
    body = alice_client.get(f"/api/v1/photos/{photos_a[0].id}/").json()
    assert (body["id"], body["filename"], body["size"]) == (str(photos_a[0].id), "a.jpg", 100)


def test_patch_photo_fields_and_album(alice_client, gallery_a, album_a, photos_a, alice):
    second = services.album_create(gallery=gallery_a, by=alice, name="Party")
    response = alice_client.patch(
        f"/api/v1/photos/{photos_a[0].id}/",
        {
            "filename": "renamed.jpg",
            "hidden": True,
            "album_id": str(second.id),
            "position": 99,
            "captured_at": None,
            "camera": "Leica Q3",
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["filename"], body["hidden"], body["position"]) == ("renamed.jpg", True, 99)
    assert body["album_id"] == str(second.id)
    assert counters(gallery_a, album_a, second)[2] == (1, 1)
    response = alice_client.patch(f"/api/v1/photos/{photos_a[0].id}/", {"album_id": None})
    assert response.json()["album_id"] is None
    assert counters(gallery_a, album_a, second)[2] == (1, 0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filename": ""}, "filename"),
        ({"hidden": "maybe"}, "hidden"),
        ({"position": -1}, "position"),
        ({"size": 5}, "size"),
        ({"state": "ready"}, "state"),
        ({"album_id": "nope"}, "album_id"),
    ],
)
def test_patch_photo_rejects_bad_input(alice_client, photos_a, body, field):
    response = alice_client.patch(f"/api/v1/photos/{photos_a[0].id}/", body)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_patch_photo_into_foreign_album_is_422_and_changes_nothing(
    alice_client, photos_a, album_a, gallery_b, bob
):
    bobs = services.album_create(gallery=gallery_b, by=bob, name="Bob's")
    response = alice_client.patch(
        f"/api/v1/photos/{photos_a[0].id}/", {"album_id": str(bobs.id), "filename": "z.jpg"}
    )
    assert response.status_code == 422
    assert error_code(response) == "invalid_album"
    photos_a[0].refresh_from_db()
    assert (photos_a[0].album_id, photos_a[0].filename) == (album_a.id, "a.jpg")
    assert Album.objects.get(id=album_a.id).photo_count == 2
    assert Album.objects.get(id=bobs.id).photo_count == 0


def test_delete_photo_adjusts_counters(alice_client, gallery_a, album_a, photos_a):
    assert alice_client.delete(f"/api/v1/photos/{photos_a[1].id}/").status_code == 204
    assert counters(gallery_a, album_a) == ((2, 400), (2, 400), (1,))
    assert alice_client.get(f"/api/v1/photos/{photos_a[1].id}/").status_code == 404


# --- List ------------------------------------------------------------------------------------


@pytest.fixture
def listed(gallery_a, album_a, alice):
    photo_add(gallery_a, alice, album=album_a, filename="b_ceremony.jpg", size=300)
    photo_add(gallery_a, alice, filename="a_party.jpg", size=100)
    hidden = photo_add(gallery_a, alice, filename="c_party.jpg", size=200)
    services.photos_bulk_action(
        gallery=gallery_a, by=alice, action="hide", photo_ids=[str(hidden.id)]
    )
    Photo.objects.filter(id=hidden.id).update(state=Photo.State.READY)


def _files(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["filename"] for row in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["b_ceremony.jpg", "a_party.jpg", "c_party.jpg"]),
        ("ordering=-position", ["c_party.jpg", "a_party.jpg", "b_ceremony.jpg"]),
        ("ordering=filename", ["a_party.jpg", "b_ceremony.jpg", "c_party.jpg"]),
        ("ordering=-size", ["b_ceremony.jpg", "c_party.jpg", "a_party.jpg"]),
        ("ordering=size", ["a_party.jpg", "c_party.jpg", "b_ceremony.jpg"]),
        ("ordering=created_at", ["b_ceremony.jpg", "a_party.jpg", "c_party.jpg"]),
        ("album=none", ["a_party.jpg", "c_party.jpg"]),
        ("album=NONE&hidden=false", ["a_party.jpg"]),
        ("hidden=true", ["c_party.jpg"]),
        ("hidden=false", ["b_ceremony.jpg", "a_party.jpg"]),
        ("state=ready", ["c_party.jpg"]),
        ("state=pending&q=PARTY", ["a_party.jpg"]),
        ("q=ceremony", ["b_ceremony.jpg"]),
        (f"album={uuid.uuid4()}", []),
    ],
)
def test_photo_list_filters_and_orderings(alice_client, gallery_a, listed, query, expected):
    assert _files(alice_client.get(f"{photos_url(gallery_a)}?{query}")) == expected


def test_photo_list_album_filter(alice_client, gallery_a, album_a, listed):
    assert _files(alice_client.get(f"{photos_url(gallery_a)}?album={album_a.id}")) == [
        "b_ceremony.jpg"
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("album=first", "album"),
        ("state=done", "state"),
        ("hidden=maybe", "hidden"),
        ("ordering=width", "ordering"),
        ("page_size=1.5", "page_size"),
        ("page_size=201", "page_size"),
        ("cursor=abc", "cursor"),
    ],
)
def test_photo_list_bad_parameters_are_400(alice_client, gallery_a, listed, query, field):
    response = alice_client.get(f"{photos_url(gallery_a)}?{query}")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


# --- Reorder ---------------------------------------------------------------------------------


@pytest.fixture
def row(gallery_a, alice):
    """Photos p0..p5; p1..p3 share position 10 (ties are ordered by id)."""
    made = [photo_add(gallery_a, alice, filename=f"p{n}.jpg") for n in range(6)]
    for photo, position in zip(made, [0, 10, 10, 10, 20, 30], strict=True):
        Photo.objects.filter(id=photo.id).update(position=position)
    # Ties are ordered by id, as the database compares ids.
    return list(Photo.objects.filter(gallery=gallery_a).order_by("position", "id"))


def _order(gallery) -> list:
    return [p.id for p in Photo.objects.filter(gallery=gallery).order_by("position", "id")]


def _reorder(client, gallery, moved, **anchor):
    body = {"photo_ids": [str(p.id) for p in moved]}
    body.update({key: str(value.id) for key, value in anchor.items()})
    return client.post(f"{photos_url(gallery)}reorder/", body)


@pytest.mark.parametrize(
    ("moved", "anchor", "expected"),
    [
        # indexes into ``row``; anchor = ("before"|"after", index)
        ([5, 4], ("before", 0), [5, 4, 0, 1, 2, 3]),
        ([0], ("after", 5), [1, 2, 3, 4, 5, 0]),
        ([0, 5], ("before", 2), [1, 0, 5, 2, 3, 4]),  # anchor tied with its neighbours
        ([0, 5], ("after", 2), [1, 2, 0, 5, 3, 4]),
        ([3, 1], ("after", 4), [0, 2, 4, 3, 1, 5]),
        ([2], ("before", 1), [0, 2, 1, 3, 4, 5]),
    ],
)
def test_reorder_moves_a_block(alice_client, gallery_a, row, moved, anchor, expected):
    where, index = anchor
    response = _reorder(
        alice_client, gallery_a, [row[i] for i in moved], **{f"{where}_id": row[index]}
    )
    assert response.status_code == 200, response.content
    assert [r["id"] for r in response.json()["results"]] == [str(row[i].id) for i in moved]
    assert _order(gallery_a) == [row[i].id for i in expected]


def test_reorder_rejects_unknown_photos_and_bad_anchors(
    alice_client, gallery_a, row, gallery_b, bob
):
    bobs = photo_add(gallery_b, bob)
    before = _order(gallery_a)
    cases = [
        (_reorder(alice_client, gallery_a, [row[0], bobs], after_id=row[5]), 422, "unknown_photos"),
        (_reorder(alice_client, gallery_a, [row[0]], after_id=bobs), 422, "invalid_anchor"),
        (_reorder(alice_client, gallery_a, [row[0]], after_id=row[0]), 422, "invalid_anchor"),
        (_reorder(alice_client, gallery_a, [row[0]]), 400, "validation_error"),
        (
            _reorder(alice_client, gallery_a, [row[0]], after_id=row[1], before_id=row[2]),
            400,
            "validation_error",
        ),
        (
            _reorder(alice_client, gallery_a, [row[0], row[0]], after_id=row[1]),
            400,
            "validation_error",
        ),
        (_reorder(alice_client, gallery_a, [], after_id=row[1]), 400, "validation_error"),
    ]
    for response, status, code in cases:
        assert (response.status_code, error_code(response)) == (status, code)
    assert _order(gallery_a) == before


def test_reorder_touches_only_moved_and_shifted_rows(
    alice_client, gallery_a, row, django_assert_max_num_queries
):
    # user, membership, gallery, lock, ids check, anchor, shift UPDATE, bulk_update, read-back
    # (+ savepoint/transaction statements on some backends)
    with django_assert_max_num_queries(12):
        response = _reorder(alice_client, gallery_a, [row[0], row[1]], after_id=row[4])
    assert response.status_code == 200


# --- Bulk ------------------------------------------------------------------------------------


def bulk(client, gallery, **body):
    return client.post(f"{photos_url(gallery)}bulk/", body)


def test_bulk_hide_and_unhide_report_unknown_ids(
    alice_client, gallery_a, photos_a, studio_a, alice, gallery_b, bob
):
    other = photo_add(services.gallery_create(studio=studio_a, by=alice, name="O"), alice)
    bobs = photo_add(gallery_b, bob)
    ids = [str(photos_a[0].id), str(photos_a[1].id), str(other.id), str(bobs.id), "junk", 7]
    response = bulk(alice_client, gallery_a, action="hide", photo_ids=ids)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["succeeded"] == [str(photos_a[0].id), str(photos_a[1].id)]
    assert sorted(f["id"] for f in body["failed"]) == sorted(
        [str(other.id), str(bobs.id), "junk", "7"]
    )
    assert {f["code"] for f in body["failed"]} == {"not_found"}
    assert set(Photo.objects.filter(hidden=True).values_list("id", flat=True)) == {
        photos_a[0].id,
        photos_a[1].id,
    }
    response = bulk(alice_client, gallery_a, action="unhide", photo_ids=ids[:1])
    assert response.json() == {"succeeded": ids[:1], "failed": []}
    assert Photo.objects.filter(hidden=True).count() == 1


def test_bulk_move_keeps_album_counts(alice_client, gallery_a, album_a, photos_a, alice):
    party = services.album_create(gallery=gallery_a, by=alice, name="Party")
    ids = [str(p.id) for p in photos_a]
    response = bulk(alice_client, gallery_a, action="move", photo_ids=ids, album_id=str(party.id))
    assert response.json()["succeeded"] == ids
    assert counters(gallery_a, album_a, party)[2] == (0, 3)
    assert set(Photo.objects.values_list("album_id", flat=True)) == {party.id}
    response = bulk(alice_client, gallery_a, action="move", photo_ids=ids[:2], album_id=None)
    assert response.status_code == 200
    assert counters(gallery_a, album_a, party)[2] == (0, 1)


def test_bulk_move_to_a_foreign_album_is_422(alice_client, gallery_a, photos_a, gallery_b, bob):
    bobs = services.album_create(gallery=gallery_b, by=bob, name="Bob's")
    response = bulk(
        alice_client,
        gallery_a,
        action="move",
        photo_ids=[str(photos_a[2].id)],
        album_id=str(bobs.id),
    )
    assert (response.status_code, error_code(response)) == (422, "invalid_album")
    assert Photo.objects.get(id=photos_a[2].id).album_id is None


def test_bulk_delete_adjusts_every_counter(alice_client, gallery_a, album_a, photos_a):
    ids = [str(photos_a[0].id), str(photos_a[2].id), str(uuid.uuid4())]
    response = bulk(alice_client, gallery_a, action="delete", photo_ids=ids)
    assert response.json()["succeeded"] == ids[:2]
    assert [f["id"] for f in response.json()["failed"]] == ids[2:]
    assert list(Photo.objects.values_list("id", flat=True)) == [photos_a[1].id]
    assert counters(gallery_a, album_a) == ((1, 200), (1, 200), (1,))
    assert services.studio_usage_recompute(studio=gallery_a.studio).photo_count == 1


def test_bulk_of_only_unknown_ids_changes_nothing(alice_client, gallery_a, photos_a):
    response = bulk(alice_client, gallery_a, action="delete", photo_ids=["x", str(uuid.uuid4())])
    assert response.status_code == 200
    assert response.json()["succeeded"] == []
    assert Photo.objects.count() == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"photo_ids": ["x"]}, "action"),
        ({"action": "burn", "photo_ids": ["x"]}, "action"),
        ({"action": "hide"}, "photo_ids"),
        ({"action": "hide", "photo_ids": []}, "photo_ids"),
        ({"action": "hide", "photo_ids": "abc"}, "photo_ids"),
        ({"action": "hide", "photo_ids": ["x"] * 1001}, "photo_ids"),
        ({"action": "move", "photo_ids": ["x"]}, "album_id"),
        ({"action": "hide", "photo_ids": ["x"], "album_id": None}, "album_id"),
        ({"action": "move", "photo_ids": ["x"], "album_id": "nope"}, "album_id"),
        ({"action": "hide", "photo_ids": ["x"], "force": True}, "force"),
    ],
)
def test_bulk_rejects_bad_input(alice_client, gallery_a, photos_a, body, field):
    response = alice_client.post(f"{photos_url(gallery_a)}bulk/", body)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert Photo.objects.filter(hidden=False).count() == 3


def test_bulk_accepts_a_thousand_ids_in_a_bounded_number_of_queries(
    alice_client, gallery_a, django_assert_max_num_queries
):
    Photo.objects.bulk_create(
        [
            Photo(
                studio=gallery_a.studio,
                gallery=gallery_a,
                filename=f"{n}.jpg",
                size=10,
                content_type="image/jpeg",
                position=n,
            )
            for n in range(1000)
        ]
    )
    services.studio_usage_recompute(studio=gallery_a.studio)
    ids = [str(i) for i in Photo.objects.values_list("id", flat=True)]
    with django_assert_max_num_queries(20):
        response = bulk(alice_client, gallery_a, action="delete", photo_ids=ids)
    assert len(response.json()["succeeded"]) == 1000
    assert counters(gallery_a) == ((0, 0), (0, 0), ())
