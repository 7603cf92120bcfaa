"""Counters stay exact: after every kind of write, after errors, and under concurrency."""

from __future__ import annotations

import random
import threading

import pytest
from django.db import DatabaseError, connection

from accounts.models import StudioUsage
from galleries import services
from galleries.models import Album, Gallery, Photo
from galleries.services import photos as photo_services
from picpick.testing.factories import GalleryFactory, PhotoFactory
from tests.galleries.conftest import photo_add


def snapshot(studio) -> dict:
    usage = StudioUsage.objects.get(studio=studio)
    return {
        "usage": (usage.gallery_count, usage.photo_count, usage.storage_bytes),
        "galleries": sorted(
            Gallery.objects.filter(studio=studio).values_list("id", "photo_count", "storage_bytes")
        ),
        "albums": sorted(Album.objects.filter(studio=studio).values_list("id", "photo_count")),
    }


def assert_counters_exact(studio) -> None:
    before = snapshot(studio)
    services.studio_usage_recompute(studio=studio)
    assert snapshot(studio) == before


@pytest.mark.django_db
def test_counters_follow_every_kind_of_write(studio_a, alice):
    gallery = services.gallery_create(studio=studio_a, by=alice, name="G")
    album = services.album_create(gallery=gallery, by=alice, name="A")
    photos = [photo_add(gallery, alice, album=album, size=n * 10) for n in range(1, 6)]
    services.photo_update(photo=photos[0], by=alice, changes={"album_id": None})
    services.photos_bulk_action(
        gallery=gallery, by=alice, action="move", photo_ids=[str(photos[0].id)], album_id=album.id
    )
    services.photo_delete(photo=photos[1], by=alice)
    services.album_delete(album=album, by=alice)
    assert_counters_exact(studio_a)
    assert snapshot(studio_a)["usage"] == (1, 4, 130)


@pytest.mark.django_db
def test_recompute_repairs_drifted_counters_and_creates_missing_usage(studio_a):
    gallery = GalleryFactory(studio=studio_a)  # factories bypass the services: no usage row
    for _ in range(3):
        PhotoFactory(gallery=gallery, size=10)
    usage = services.studio_usage_recompute(studio=studio_a)
    assert (usage.gallery_count, usage.photo_count, usage.storage_bytes) == (1, 3, 30)
    gallery.refresh_from_db()
    assert (gallery.photo_count, gallery.storage_bytes) == (3, 30)


@pytest.mark.django_db
def test_usage_row_is_created_on_demand(studio_a, alice):
    assert not StudioUsage.objects.filter(studio=studio_a).exists()
    gallery = services.gallery_create(studio=studio_a, by=alice, name="G")
    photo_add(gallery, alice, size=7)
    assert snapshot(studio_a)["usage"] == (1, 1, 7)


@pytest.mark.django_db
def test_db_error_in_the_middle_of_a_bulk_delete_leaves_everything_intact(
    studio_a, alice, gallery_a, album_a, photos_a, monkeypatch
):
    before = snapshot(studio_a)

    def explode(**kwargs):
        raise DatabaseError("disk full")  # after the counters were already decremented

    monkeypatch.setattr(photo_services, "photo_rows_delete", explode)
    with pytest.raises(DatabaseError):
        services.photos_bulk_action(
            gallery=gallery_a, by=alice, action="delete", photo_ids=[str(p.id) for p in photos_a]
        )
    assert snapshot(studio_a) == before
    assert Photo.objects.filter(gallery=gallery_a).count() == 3


@pytest.mark.django_db
def test_a_rejected_request_leaves_no_rows_and_no_counter_change(
    alice_client, studio_a, gallery_a, photos_a, gallery_b, bob
):
    before = snapshot(studio_a)
    bobs_album = services.album_create(gallery=gallery_b, by=bob, name="B")
    response = alice_client.post(
        f"/api/v1/galleries/{gallery_a.id}/photos/",
        {
            "filename": "x.jpg",
            "size": 5,
            "content_type": "image/jpeg",
            "album_id": str(bobs_album.id),
        },
    )
    assert response.status_code == 422
    assert snapshot(studio_a) == before
    assert Photo.objects.filter(gallery=gallery_a).count() == 3


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="SQLite serialises all writers with one database lock; the row-lock protocol and "
    "its races only exist on MariaDB/MySQL (run with DATABASE_URL=mysql://...)",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_deletes_and_moves_keep_counters_exact(studio_a, alice):
    # No StudioUsage row yet: the threads also race to create it on demand.
    gallery = GalleryFactory(studio=studio_a)
    albums = [services.album_create(gallery=gallery, by=alice, name=f"A{n}") for n in range(2)]
    workers, rounds = 8, 12
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def work(seed: int) -> None:
        rng = random.Random(seed)
        mine: list[Photo] = []
        try:
            start.wait()
            for _ in range(rounds):
                album = rng.choice([None, *albums])
                mine.append(photo_add(gallery, alice, album=album, size=rng.randint(1, 10_000)))
                if rng.random() < 0.5:
                    victim = mine.pop(rng.randrange(len(mine)))
                    services.photo_delete(photo=victim, by=alice)
                if mine and rng.random() < 0.5:
                    target = rng.choice([None, *albums])
                    services.photos_bulk_action(
                        gallery=gallery,
                        by=alice,
                        action="move",
                        photo_ids=[str(p.id) for p in mine],
                        album_id=target.id if target else None,
                    )
            if mine:
                services.photos_bulk_action(
                    gallery=gallery, by=alice, action="delete", photo_ids=[str(mine[0].id)]
                )
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    gallery.refresh_from_db()
    assert gallery.photo_count == Photo.objects.filter(gallery=gallery).count() > 0
    before = snapshot(studio_a)
    services.studio_usage_recompute(studio=studio_a)
    after = snapshot(studio_a)
    assert (before["galleries"], before["albums"]) == (after["galleries"], after["albums"])
    assert before["usage"][1:] == after["usage"][1:]  # photo_count, storage_bytes
    # The gallery came from a factory, which bypasses the services: only the repair counts it.
    assert (before["usage"][0], after["usage"][0]) == (0, 1)
    positions = list(Photo.objects.filter(gallery=gallery).values_list("position", flat=True))
    assert len(positions) == len(set(positions))  # the gallery lock made every position unique
