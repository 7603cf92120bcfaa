"""The logo on the studio's site: uploaded by the studio, shown to guests in every header."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from PIL import Image

from accounts.models import Role
from picpick.core.storage import get_storage
from tests.guests.api_support import STUDIO_A_HOST, STUDIO_B_HOST, error_code

pytest_plugins = ["tests.guests.api_fixtures"]
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache", "guest_storage")]

URL = "/api/v1/studio/logo/"


def _png(size=(300, 120)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (20, 40, 60, 255)).save(out, "PNG")
    return out.getvalue()


def _upload(client, data: bytes, name: str = "logo.png"):
    return client.post(URL, {"file": _file(data, name)}, format="multipart")


def _file(data: bytes, name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="image/png")


def test_the_logo_is_stored_and_shown_on_the_studios_pages_only(alice_client, studio_a, studio_b):
    assert alice_client.get(URL).json() == {"logo_url": None}
    response = _upload(alice_client, _png())
    assert response.status_code == 200, response.json()
    assert response.json()["logo_url"]
    studio_a.refresh_from_db()
    assert get_storage().head(key=studio_a.logo_key) is not None

    home = Client().get("/", HTTP_HOST=STUDIO_A_HOST)
    assert home.status_code == 200
    assert b'class="logo"' in home.content
    other = Client().get("/", HTTP_HOST=STUDIO_B_HOST)
    assert b'class="logo"' not in other.content


def test_removing_the_logo_brings_back_the_name(alice_client, studio_a):
    _upload(alice_client, _png())
    response = alice_client.delete(URL)
    assert response.json() == {"logo_url": None}
    home = Client().get("/", HTTP_HOST=STUDIO_A_HOST)
    assert b'class="logo"' not in home.content
    assert b"Anna Smith Photography" in home.content


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"GIF89a not a png", 400, "invalid_logo"),
        (b"", 400, "validation_error"),
    ],
)
def test_a_file_that_is_not_a_png_is_refused_and_nothing_changes(
    alice_client, studio_a, data, status, code
):
    response = _upload(alice_client, data)
    assert (response.status_code, error_code(response)) == (status, code)
    studio_a.refresh_from_db()
    assert studio_a.logo_key == ""


def test_a_logo_over_2_mib_is_413(alice_client):
    response = _upload(alice_client, b"\x89PNG\r\n\x1a\n" + b"\0" * (2 * 1024 * 1024 + 10))
    assert response.status_code == 413


def test_only_owners_and_admins_change_the_logo(member_of_a, anon_client):
    for role, expected in ((Role.PHOTOGRAPHER, 403), (Role.ASSISTANT, 403), (Role.ADMIN, 200)):
        _user, client = member_of_a(role)
        assert _upload(client, _png()).status_code == expected, role
    assert _upload(anon_client, _png()).status_code == 401


def test_each_studio_changes_only_its_own_logo(alice_client, bob_client, studio_a, studio_b):
    _upload(alice_client, _png())
    bob_client.delete(URL)
    studio_a.refresh_from_db()
    studio_b.refresh_from_db()
    assert studio_a.logo_key and not studio_b.logo_key
