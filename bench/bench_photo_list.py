"""Listing a 10,000-photo gallery at random deep pages through the real API endpoint.

The contract measured: ``GET /api/v1/galleries/{id}/photos/?page_size=100&cursor=...`` answers
``{"results": [...], "next": cursor|null, "previous": cursor|null}`` in constant time and a
constant number of queries however deep the page (keyset pagination, no OFFSET).
"""

from __future__ import annotations

import random
import statistics
import time

from bench import Result, percentile
from bench.django_env import QueryCounter, fresh_database
from bench.seed import ready_photos, studio_with_owner

PHOTOS = 10_000
PAGE_SIZE = 100
REQUESTS = 200
WARMUP = 10
TARGET_MEDIAN_MS = 25
TARGET_P99_MS = 60
TARGET_QUERIES = 6


def _seed():
    from galleries.models import Photo
    from picpick.testing.factories import GalleryFactory, StudioUsageFactory

    studio, owner = studio_with_owner(slug="bench-studio")
    gallery = GalleryFactory(
        studio=studio, name="Big wedding", slug="big-wedding", photo_count=PHOTOS
    )
    StudioUsageFactory(studio=studio, gallery_count=1, photo_count=PHOTOS)
    Photo.objects.bulk_create(ready_photos(studio, gallery, PHOTOS), batch_size=1000)
    return studio, owner, gallery


def run() -> list[Result]:
    with fresh_database():
        from django.db import connection
        from django.test import Client

        from accounts.tokens import token_pair_for

        studio, owner, gallery = _seed()
        access = token_pair_for(user=owner, studio=studio)["access"]
        client = Client(HTTP_AUTHORIZATION=f"Bearer {access}")
        url = f"/api/v1/galleries/{gallery.id}/photos/"

        def get(cursor: str | None) -> dict:
            params = {"page_size": PAGE_SIZE}
            if cursor:
                params["cursor"] = cursor
            response = client.get(url, params)
            if response.status_code != 200:
                raise AssertionError(
                    f"GET {url} answered {response.status_code}: {response.content[:300]!r}"
                )
            return response.json()

        # Walk the whole gallery once to collect every page's cursor (cursors are opaque).
        cursors: list[str | None] = [None]
        seen = 0
        page = get(None)
        while True:
            seen += len(page["results"])
            if not page["next"]:
                break
            cursors.append(page["next"])
            page = get(page["next"])
        if seen != PHOTOS:
            raise AssertionError(f"walking every page returned {seen} photos, not {PHOTOS}")

        rng = random.Random(20_240_601)  # the same pages every run, so runs compare
        for cursor in rng.choices(cursors, k=WARMUP):
            get(cursor)

        timings_ms: list[float] = []
        queries: list[int] = []
        for cursor in rng.choices(cursors, k=REQUESTS):
            counter = QueryCounter()
            with connection.execute_wrapper(counter):
                started = time.perf_counter()
                body = get(cursor)
                timings_ms.append((time.perf_counter() - started) * 1000)
            queries.append(counter.count)
            if not body["results"]:
                raise AssertionError("a page from a valid cursor was empty")

    return [
        Result.at_most("photo_list.median", statistics.median(timings_ms), "ms", TARGET_MEDIAN_MS),
        Result.at_most("photo_list.p99", percentile(timings_ms, 0.99), "ms", TARGET_P99_MS),
        Result.at_most("photo_list.queries", max(queries), "queries/request", TARGET_QUERIES),
    ]
