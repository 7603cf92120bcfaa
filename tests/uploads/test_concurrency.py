"""Races on a real database server: two batches for the last quota, two sweepers at once.

SQLite serialises every writer (BEGIN IMMEDIATE), so these races only mean something on
MariaDB, where the row locks do the work.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import StudioUsage
from galleries import services
from galleries.models import Gallery, Photo, Upload
from galleries.services.uploads import FileDeclaration, upload_batch_start, uploads_sweep
from tests.races import race
from tests.uploads.conftest import sha256_b64

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="SQLite serialises all writers; the race needs MariaDB's row locks",
    ),
]

FILE = 1_000_000


def test_two_batches_racing_for_the_last_quota_reserve_exactly_the_quota(settings, studio_a, alice):
    settings.PICPICK_QUOTA_FREE_BYTES = 10 * FILE
    gallery = services.gallery_create(studio=studio_a, by=alice, name="Race")

    def start_batch(worker: int):
        files = [
            FileDeclaration(
                name=f"w{worker}-{n}.jpg",
                size=FILE,
                content_type="image/jpeg",
                checksum_sha256=sha256_b64(f"w{worker}-{n}".encode()),
            )
            for n in range(8)
        ]
        fresh = Gallery.objects.select_related("studio").get(id=gallery.id)
        return upload_batch_start(gallery=fresh, by=alice, files=files)

    results = race(2, start_batch)
    assert not any(isinstance(r, Exception) for r in results), results
    accepted = sum(len(r.files) for r in results)
    rejected = sum(len(r.rejected) for r in results)
    assert (accepted, rejected) == (10, 6)
    assert StudioUsage.objects.get(studio=studio_a).storage_bytes == 10 * FILE
    assert Photo.objects.filter(gallery=gallery).count() == 10
    gallery.refresh_from_db()
    assert (gallery.photo_count, gallery.storage_bytes) == (10, 10 * FILE)
    positions = list(Photo.objects.filter(gallery=gallery).values_list("position", flat=True))
    assert sorted(positions) == list(range(10))  # no two photos took the same place


def test_two_sweepers_at_once_clean_each_upload_once(settings, studio_a, alice):
    gallery = services.gallery_create(studio=studio_a, by=alice, name="Sweep race")
    files = [
        FileDeclaration(
            name=f"{n}.jpg",
            size=FILE,
            content_type="image/jpeg",
            checksum_sha256=sha256_b64(str(n).encode()),
        )
        for n in range(20)
    ]
    upload_batch_start(gallery=gallery, by=alice, files=files)
    Upload.objects.update(expires_at=timezone.now() - timedelta(days=1))

    results = race(2, lambda _: uploads_sweep())
    assert not any(isinstance(r, Exception) for r in results), results
    assert sum(r.expired for r in results) == 20
    assert Upload.objects.filter(state=Upload.State.EXPIRED).count() == 20
    assert Photo.objects.count() == 0
    usage = StudioUsage.objects.get(studio=studio_a)
    assert (usage.photo_count, usage.storage_bytes) == (0, 0)
