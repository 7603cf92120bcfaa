"""Selfie-search limits count the real client behind the proxy, not the proxy."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from galleries.models import Gallery
from picpick.testing.factories import GalleryFactory

pytestmark = pytest.mark.django_db
CADDY = "172.31.250.3"


def _search(client, gallery, forwarded_for: str):
    upload = SimpleUploadedFile("selfie.jpg", b"not an image", "application/octet-stream")
    return client.post(
        f"/api/v1/public/galleries/{gallery.id}/selfie-search/",
        {"selfie": upload},
        format="multipart",
        REMOTE_ADDR=CADDY,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


def test_behind_the_proxy_each_guest_has_its_own_selfie_budget(anon_client, studio_a, settings):
    settings.PICPICK_TRUSTED_PROXIES = ["172.31.250.0/24"]
    settings.PICPICK_SELFIE_RATE_PER_ADDRESS = 3
    gallery = GalleryFactory(studio=studio_a, status=Gallery.Status.PUBLISHED)
    # The limit is taken before the selfie is read: an unreadable one counts like any other.
    codes = [
        _search(anon_client, gallery, f"10.9.9.{n}, 203.0.113.5").status_code for n in range(4)
    ]
    assert codes == [400, 400, 400, 429]
    # The guest next to them, behind the same proxy, searches on.
    assert _search(anon_client, gallery, "203.0.113.6").status_code == 400
