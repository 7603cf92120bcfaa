"""Fixtures for the galleries tests: alice's gallery with an album and photos made through the
services (so every counter is right), and a helper to make more."""

from __future__ import annotations

import pytest

from galleries import services
from galleries.models import Album, Gallery, Photo


def photo_add(gallery: Gallery, by, *, album: Album | None = None, **fields) -> Photo:
    data = {"filename": "IMG_0001.jpg", "size": 1000, "content_type": "image/jpeg", **fields}
    return services.photo_create(
        gallery=gallery, by=by, album_id=album.id if album else None, **data
    )


@pytest.fixture
def gallery_a(studio_a, alice) -> Gallery:
    return services.gallery_create(studio=studio_a, by=alice, name="Smith Wedding")


@pytest.fixture
def album_a(gallery_a, alice) -> Album:
    return services.album_create(gallery=gallery_a, by=alice, name="Ceremony")


@pytest.fixture
def photos_a(gallery_a, album_a, alice) -> list[Photo]:
    """Three photos: two in the album, one outside any album."""
    return [
        photo_add(gallery_a, alice, album=album_a, filename="a.jpg", size=100),
        photo_add(gallery_a, alice, album=album_a, filename="b.jpg", size=200),
        photo_add(gallery_a, alice, filename="c.jpg", size=300),
    ]


@pytest.fixture
def gallery_b(studio_b, bob) -> Gallery:
    return services.gallery_create(studio=studio_b, by=bob, name="Bob's gallery")


def error_code(response) -> str:
    return response.json()["error"]["code"]
