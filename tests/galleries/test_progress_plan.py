"""A gallery's progress snapshot is read from one covering index on MariaDB (the plan, asked of
the server with EXPLAIN): the counts and bytes per state never touch the photo rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Count, Sum

from galleries.models import Photo
from picpick.testing.factories import GalleryFactory, PhotoFactory

pytestmark = [
    # ANALYZE TABLE commits: the rows are flushed after each test instead of rolled back.
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "mysql", reason="the plan asked is MariaDB's (CI runs it)"
    ),
]


def test_the_counts_per_state_are_a_range_of_the_progress_index_alone():
    galleries = [GalleryFactory(), GalleryFactory()]
    states = [Photo.State.UPLOADED, Photo.State.PROCESSING, Photo.State.READY, Photo.State.FAILED]
    for gallery in galleries:
        for n in range(60):
            PhotoFactory(gallery=gallery, state=states[n % len(states)], size=1000 + n)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE TABLE galleries_photo")
        cursor.fetchall()
    # The selector's query (galleries.selectors.progress.gallery_progress).
    query = (
        Photo.objects.filter(gallery_id=galleries[0].id)
        .values("state")
        .annotate(n=Count("id"), size=Sum("size"))
        .order_by()
    )
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        names = [c[0] for c in cursor.description]
        [row] = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    assert row["key"] == "photo_progress_idx", row
    assert "Using index" in (row["Extra"] or ""), row  # covering: no photo row is read
