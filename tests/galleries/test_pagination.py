"""Keyset pagination of photos: exact walks with ties, and constant cost on deep pages."""

from __future__ import annotations

import pytest
from django.db import connection

from galleries.models import Photo
from tests.queries import QueryCount

pytestmark = pytest.mark.django_db


def photos_bulk(gallery, count: int, *, position=None, batch: int = 2000) -> None:
    """Rows straight into the table (the counters are not the point here)."""
    for start in range(0, count, batch):
        Photo.objects.bulk_create(
            [
                Photo(
                    studio=gallery.studio,
                    gallery=gallery,
                    filename=f"IMG_{n:05d}.jpg",
                    size=1000 + n % 7,
                    content_type="image/jpeg",
                    position=n if position is None else position,
                )
                for n in range(start, min(start + batch, count))
            ]
        )


def walk(client, url: str, *, cursor: str | None = None, key: str = "next"):
    """Every page from ``cursor`` on, following ``key``; returns the pages in walking order."""
    pages = []
    while True:
        response = client.get(url + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.content
        pages.append(response.json())
        cursor = pages[-1][key]
        if cursor is None:
            return pages


@pytest.mark.parametrize("ordering", ["position", "-position", "size", "-created_at", "filename"])
def test_walk_250_tied_photos_forward_and_back(alice_client, gallery_a, ordering):
    photos_bulk(gallery_a, 250, position=7)  # every position equal: only the id breaks ties
    url = f"/api/v1/galleries/{gallery_a.id}/photos/?ordering={ordering}&page_size=40"
    forward = walk(alice_client, url)
    ids = [row["id"] for page in forward for row in page["results"]]
    assert len(ids) == len(set(ids)) == 250
    assert [len(page["results"]) for page in forward] == [40] * 6 + [10]
    assert forward[0]["previous"] is None and forward[-1]["next"] is None

    backward = walk(alice_client, url, cursor=forward[-1]["previous"], key="previous")
    back_ids = [row["id"] for page in reversed(backward) for row in page["results"]]
    assert back_ids + [row["id"] for row in forward[-1]["results"]] == ids
    assert [page["results"] for page in reversed(backward)] == [p["results"] for p in forward[:-1]]


def test_page_size_defaults_to_50(alice_client, gallery_a):
    photos_bulk(gallery_a, 60)
    body = alice_client.get(f"/api/v1/galleries/{gallery_a.id}/photos/").json()
    assert len(body["results"]) == 50
    assert body["next"] is not None


def _queries_for(client, url: str) -> tuple[int, dict]:
    with QueryCount(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response.json()


def test_10k_photos_first_and_deep_pages_cost_the_same_few_queries(alice_client, gallery_a):
    photos_bulk(gallery_a, 10_000)
    url = f"/api/v1/galleries/{gallery_a.id}/photos/?page_size=100"
    first_count, first = _queries_for(alice_client, url)
    # user, membership + studio, gallery, the page itself
    assert first_count <= 4
    assert len(first["results"]) == 100

    # A cursor just after row 9,900, reached the way a client would (from the page before).
    row_9899 = Photo.objects.filter(gallery=gallery_a).order_by("position", "id")[9899]
    page_before = alice_client.get(
        f"{url}&cursor={_cursor_after_position(alice_client, url, row_9899.position)}"
    ).json()
    deep_count, deep = _queries_for(alice_client, f"{url}&cursor={page_before['next']}")
    assert deep_count == first_count
    assert deep["results"][0]["filename"] == "IMG_09900.jpg"
    assert len(deep["results"]) == 100
    assert deep["next"] is None


def _cursor_after_position(client, url: str, position: int) -> str:
    """A genuine cursor pointing before the page that ends at ``position``."""
    body = client.get(url).json()
    while body["results"][-1]["position"] < position - 100:
        body = client.get(f"{url}&cursor={body['next']}").json()
    return body["next"]
