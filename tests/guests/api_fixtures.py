"""Fixtures of the guest API tests, loaded by ``test_api_*.py`` as a plugin: published
galleries of studio A and B and photos whose files really exist in the local storage.

Host routing answers and the password/PIN attempt counters live in the cache (Redis on CI):
``fresh_cache`` empties it around each test, so a studio host never routes to the studio of an
earlier test and no test inherits another's attempts.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache

from galleries import services as gallery_services
from galleries.models import Gallery
from tests.delivery.conftest import stored_photo
from tests.guests.api_support import publish


@pytest.fixture
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def guest_storage(local_storage):
    """The app's storage: the local backend behind a real HTTP server (signed URLs work)."""
    return local_storage


@pytest.fixture
def gallery_a(studio_a, alice) -> Gallery:
    gallery = gallery_services.gallery_create(
        studio=studio_a, by=alice, name="Smith Wedding", slug="smith-wedding"
    )
    return publish(gallery, alice)


@pytest.fixture
def gallery_a2(studio_a, alice) -> Gallery:
    gallery = gallery_services.gallery_create(
        studio=studio_a, by=alice, name="Jones Party", slug="jones-party"
    )
    return publish(gallery, alice)


@pytest.fixture
def gallery_b(studio_b, bob) -> Gallery:
    gallery = gallery_services.gallery_create(
        studio=studio_b, by=bob, name="Bob's wedding", slug="bobs-wedding"
    )
    return publish(gallery, bob)


@pytest.fixture
def photos_a(gallery_a, alice, guest_storage) -> list:
    """Three ready photos with thumb and preview in storage, in gallery order."""
    return [
        stored_photo(guest_storage, gallery_a, alice, filename=name)
        for name in ("IMG_0001.CR3", "IMG_0002.jpg", "IMG_0003.jpg")
    ]


@pytest.fixture
def photo_b(gallery_b, bob, guest_storage):
    return stored_photo(guest_storage, gallery_b, bob, filename="BOB_0001.jpg")
