"""Helpers of the guest API tests: URLs, opening galleries as a guest, the studio's access
settings. The fixtures are in ``tests.guests.api_fixtures`` (loaded by ``test_api_*.py``)."""

from __future__ import annotations

from rest_framework.test import APIClient

from galleries import services as gallery_services
from galleries.models import Gallery
from galleries.services.access import gallery_guest_access_update

STUDIO_A_HOST = "annasmith.localhost"
STUDIO_B_HOST = "bobsweddings.localhost"
PIN = "2468"
PASSWORD = "open sesame"
OPEN_URL = "/api/v1/public/galleries/open/"


def public_url(gallery_or_id, suffix: str = "") -> str:
    gallery_id = getattr(gallery_or_id, "id", gallery_or_id)
    return f"/api/v1/public/galleries/{gallery_id}/{suffix}"


def error_code(response) -> str:
    return response.json()["error"]["code"]


def publish(gallery: Gallery, by) -> Gallery:
    return gallery_services.gallery_publish(gallery=gallery, by=by)


def secret_of(access: str) -> str:
    return PIN if access == Gallery.Access.PIN else PASSWORD


def protect(gallery: Gallery, access: str, secret: str | None = None, **changes) -> Gallery:
    """Set the gallery's guest access through the studio's service (hashes, version bump)."""
    if access != Gallery.Access.PUBLIC:
        changes["secret"] = secret or secret_of(access)
    updated = gallery_guest_access_update(gallery=gallery, changes={"access": access, **changes})
    gallery.refresh_from_db()
    return updated


def unlock(client: APIClient, gallery: Gallery, secret: str, **extra) -> str:
    response = client.post(public_url(gallery, "unlock/"), {"secret": secret}, **extra)
    assert response.status_code == 200, response.json()
    return response.json()["token"]


def register(client: APIClient, gallery: Gallery, email: str, token: str | None = None, **extra):
    headers = {"HTTP_X_GALLERY_TOKEN": token} if token else {}
    return client.post(
        public_url(gallery, "register/"), {"email": email, "name": "Guest"}, **headers, **extra
    )


def guest(token: str | None = None) -> APIClient:
    """A client of the mobile apps: the gallery token in the X-Gallery-Token header."""
    client = APIClient()
    if token:
        client.credentials(HTTP_X_GALLERY_TOKEN=token)
    return client
