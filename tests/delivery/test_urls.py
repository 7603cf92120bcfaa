"""Photo and gallery outputs carry short-lived URLs of the derivatives that exist."""

from __future__ import annotations

import pytest
from django.db import connection

from galleries import services
from galleries.models import Photo
from tests.delivery.conftest import derivative_bytes, stored_photo
from tests.queries import QueryCount
from tests.storage_fixtures import send

pytestmark = pytest.mark.django_db


def test_photo_list_urls_fetch_the_derivatives_bytes(alice_client, alice, gallery_a, app_storage):
    done = stored_photo(app_storage, gallery_a, alice, filename="done.jpg")
    waiting = stored_photo(
        app_storage, gallery_a, alice, filename="new.jpg", state="uploaded", derivatives=()
    )
    body = alice_client.get(f"/api/v1/galleries/{gallery_a.id}/photos/").json()
    by_id = {row["id"]: row for row in body["results"]}

    assert by_id[str(waiting.id)]["urls"] == {"thumb": None, "preview": None}
    urls = by_id[str(done.id)]["urls"]
    for kind in ("thumb", "preview"):
        response = send("GET", urls[kind])
        assert response.status == 200
        assert response.body == derivative_bytes(done, kind)


def test_photo_detail_has_urls_and_failure_fields(alice_client, alice, gallery_a, app_storage):
    photo = stored_photo(app_storage, gallery_a, alice, derivatives=("thumb",))
    Photo.objects.filter(id=photo.id).update(
        state="failed", failure_code="truncated", failure_message="The file ends early."
    )
    body = alice_client.get(f"/api/v1/photos/{photo.id}/").json()
    assert body["failure_code"] == "truncated"
    assert body["failure_message"] == "The file ends early."
    assert body["urls"]["preview"] is None
    assert send("GET", body["urls"]["thumb"]).body == derivative_bytes(photo, "thumb")


def test_a_page_of_100_is_signed_with_one_call_per_kind_and_no_extra_query(
    alice_client, alice, gallery_a, s3_settings, monkeypatch
):
    for number in range(100):
        stored_photo(s3_settings, gallery_a, alice, filename=f"IMG_{number:04d}.jpg")
    calls: list[list[str]] = []
    original = type(s3_settings).presign_get_many

    def counting(self, *, keys, expires_in):
        calls.append(list(keys))
        return original(self, keys=keys, expires_in=expires_in)

    monkeypatch.setattr(type(s3_settings), "presign_get_many", counting)
    monkeypatch.setattr(type(s3_settings), "presign_get", None)  # any single signing would fail
    with QueryCount(connection) as queries:
        response = alice_client.get(f"/api/v1/galleries/{gallery_a.id}/photos/?page_size=100")
    assert response.status_code == 200
    assert len(queries) <= 4  # user, membership + studio, gallery, the page
    assert len(calls) == 2  # thumbs, previews
    assert [len(keys) for keys in calls] == [100, 100]
    # Each call's keys share one folder: what a CloudFront wildcard policy signs once.
    for keys in calls:
        assert len({key.rsplit("/", 1)[0] for key in keys}) == 1
    results = response.json()["results"]
    assert all(row["urls"]["thumb"] and row["urls"]["preview"] for row in results)


def test_url_expiry_comes_from_the_setting(alice_client, alice, gallery_a, s3_settings, settings):
    settings.PICPICK_STORAGE_GET_EXPIRES = 120
    stored_photo(s3_settings, gallery_a, alice)
    row = alice_client.get(f"/api/v1/galleries/{gallery_a.id}/photos/").json()["results"][0]
    assert "X-Amz-Expires=120" in row["urls"]["thumb"]


def test_gallery_output_has_the_cover_thumb_url(alice_client, alice, gallery_a, app_storage):
    cover = stored_photo(app_storage, gallery_a, alice)
    services.gallery_update(gallery=gallery_a, by=alice, changes={"cover_photo_id": cover.id})
    detail = alice_client.get(f"/api/v1/galleries/{gallery_a.id}/").json()
    assert send("GET", detail["cover_thumb_url"]).body == derivative_bytes(cover, "thumb")
    listed = alice_client.get("/api/v1/galleries/").json()["results"]
    assert send("GET", listed[0]["cover_thumb_url"]).body == derivative_bytes(cover, "thumb")


def test_gallery_without_a_processed_cover_has_no_cover_url(alice_client, alice, gallery_a):
    assert alice_client.get(f"/api/v1/galleries/{gallery_a.id}/").json()["cover_thumb_url"] is None
    pending = services.photo_create(
        gallery=gallery_a, by=alice, filename="x.jpg", size=1, content_type="image/jpeg"
    )
    services.gallery_update(gallery=gallery_a, by=alice, changes={"cover_photo_id": pending.id})
    assert alice_client.get(f"/api/v1/galleries/{gallery_a.id}/").json()["cover_thumb_url"] is None


def test_gallery_list_with_covers_costs_one_query_more(
    alice_client, alice, studio_a, gallery_a, local_storage, django_assert_max_num_queries
):
    for number in range(10):
        gallery = services.gallery_create(studio=studio_a, by=alice, name=f"G{number}")
        cover = stored_photo(local_storage, gallery, alice)
        services.gallery_update(gallery=gallery, by=alice, changes={"cover_photo_id": cover.id})
    with django_assert_max_num_queries(5):  # + the covers' derivatives, once for the page
        results = alice_client.get("/api/v1/galleries/").json()["results"]
    assert sum(row["cover_thumb_url"] is not None for row in results) == 10
