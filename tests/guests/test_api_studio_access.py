"""The studio's guest-access settings of a gallery: who gets in (public, password, PIN, an email
first), what they may download, and who may change it."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import check_password

from accounts.models import Role
from galleries.models import Gallery
from tests.guests.api_support import error_code, guest, public_url

pytest_plugins = ["tests.guests.api_fixtures"]
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


def url(gallery) -> str:
    return f"/api/v1/galleries/{gallery.id}/guest-access/"


def snapshot(gallery) -> tuple:
    gallery.refresh_from_db()
    return (
        gallery.access,
        gallery.access_secret,
        gallery.access_version,
        gallery.listed,
        gallery.require_registration,
        gallery.download_sizes,
        gallery.download_pin,
    )


def test_the_defaults(gallery_a, alice_client):
    response = alice_client.get(url(gallery_a))
    assert response.status_code == 200
    assert response.json() == {
        "access": "public",
        "listed": True,
        "require_registration": False,
        "download_sizes": ["web"],
        "download_pin_set": False,
        "guest_url": "https://annasmith.localhost/g/smith-wedding",
    }


@pytest.mark.parametrize(
    ("access", "secret"), [("pin", "4321"), ("pin", "00001234"), ("password", "a long one!")]
)
def test_protecting_a_gallery_stores_only_a_hash(gallery_a, alice_client, access, secret):
    response = alice_client.patch(url(gallery_a), {"access": access, "secret": secret})
    assert response.status_code == 200, response.json()
    assert response.json()["access"] == access
    gallery_a.refresh_from_db()
    assert gallery_a.access == access and gallery_a.access_version == 2
    assert secret not in gallery_a.access_secret
    assert check_password(secret, gallery_a.access_secret)
    assert secret not in response.content.decode()


def test_back_to_public_forgets_the_secret(gallery_a, alice_client):
    alice_client.patch(url(gallery_a), {"access": "pin", "secret": "4321"})
    response = alice_client.patch(url(gallery_a), {"access": "public"})
    assert response.status_code == 200
    gallery_a.refresh_from_db()
    assert (gallery_a.access, gallery_a.access_secret, gallery_a.access_version) == (
        "public",
        "",
        3,
    )
    assert guest().get(public_url(gallery_a)).status_code == 200


def test_a_secret_for_a_public_gallery_is_ignored(gallery_a, alice_client):
    response = alice_client.patch(url(gallery_a), {"access": "public", "secret": "4321"})
    assert response.status_code == 200
    assert snapshot(gallery_a)[:3] == ("public", "", 1)


@pytest.mark.parametrize(
    ("start", "body"),
    [
        ("public", {"access": "pin"}),
        ("public", {"access": "password"}),
        ("pin", {"access": "password"}),  # a PIN is no password
        ("password", {"access": "pin"}),
    ],
)
def test_a_protected_access_needs_its_secret(gallery_a, alice_client, start, body):
    if start != "public":
        secret = "4321" if start == "pin" else "a long one!"
        alice_client.patch(url(gallery_a), {"access": start, "secret": secret})
    before = snapshot(gallery_a)
    response = alice_client.patch(url(gallery_a), {**body, "listed": False})
    assert response.status_code == 422
    assert error_code(response) == "secret_required"
    assert response.json()["error"]["fields"] == {"secret": ["Required for this access."]}
    assert snapshot(gallery_a) == before  # nothing half-written, "listed" included


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"access": "pin", "secret": "123"}, "invalid_pin"),
        ({"access": "pin", "secret": "123456789"}, "invalid_pin"),
        ({"access": "pin", "secret": "12a4"}, "invalid_pin"),
        ({"access": "pin", "secret": "12 34"}, "invalid_pin"),
        ({"access": "pin", "secret": "²³⁴⁵"}, "invalid_pin"),  # digits, but not 0-9
        ({"access": "pin", "secret": "١٢٣٤"}, "invalid_pin"),  # Arabic-Indic digits
        ({"access": "password", "secret": "short"}, "invalid_password"),
        ({"download_pin": "12"}, "invalid_pin"),
        ({"download_pin": "12ab"}, "invalid_pin"),
        ({"download_pin": "１２３４"}, "invalid_pin"),  # full-width digits
    ],
)
def test_a_bad_secret_is_422_and_changes_nothing(gallery_a, alice_client, body, code):
    before = snapshot(gallery_a)
    response = alice_client.patch(url(gallery_a), {**body, "require_registration": True})
    assert response.status_code == 422, response.json()
    assert error_code(response) == code
    field = "download_pin" if "download_pin" in body else "secret"
    assert list(response.json()["error"]["fields"]) == [field]
    assert snapshot(gallery_a) == before


@pytest.mark.parametrize(
    "body",
    [
        {"access": "secret-handshake", "secret": "1234"},
        {"secret": ""},
        {"secret": "x" * 129},
        {"download_pin": "123456789"},
        {"download_sizes": ["thumb"]},
        {"download_sizes": "web"},
        {"download_sizes": ["web", "web", "high", "original"]},
        {"listed": "sometimes"},
        {"expires_at": None},
        {"access_version": 7},
    ],
)
def test_bad_input_is_400_and_changes_nothing(gallery_a, alice_client, body):
    before = snapshot(gallery_a)
    response = alice_client.patch(url(gallery_a), body, format="json")
    assert (response.status_code, error_code(response)) == (400, "validation_error")
    fields = response.json()["error"]["fields"]
    assert fields and {name.split(".")[0] for name in fields} <= set(body)
    assert snapshot(gallery_a) == before


@pytest.mark.parametrize(
    ("sizes", "stored"),
    [
        (["web", "original"], ["original", "web"]),
        (["high", "web", "high"], ["high", "web"]),
        (["original", "high", "web"], ["original", "high", "web"]),
        ([], []),
    ],
)
def test_download_sizes_are_kept_in_one_order_without_repeats(
    gallery_a, alice_client, sizes, stored
):
    response = alice_client.patch(url(gallery_a), {"download_sizes": sizes}, format="json")
    assert response.status_code == 200
    assert response.json()["download_sizes"] == stored
    gallery_a.refresh_from_db()
    assert gallery_a.download_sizes == stored
    assert guest().get(public_url(gallery_a)).json()["download_sizes"] == stored


def test_the_download_pin_is_set_hashed_and_cleared(gallery_a, alice_client):
    response = alice_client.patch(url(gallery_a), {"download_pin": "8642"})
    assert response.status_code == 200 and response.json()["download_pin_set"] is True
    gallery_a.refresh_from_db()
    assert gallery_a.download_pin != "8642" and check_password("8642", gallery_a.download_pin)
    assert gallery_a.access_version == 1  # guests keep their access to the gallery
    response = alice_client.patch(url(gallery_a), {"download_pin": ""})
    assert response.json()["download_pin_set"] is False
    gallery_a.refresh_from_db()
    assert gallery_a.download_pin == ""


def test_listing_and_registration_switches(gallery_a, alice_client):
    response = alice_client.patch(url(gallery_a), {"listed": False, "require_registration": True})
    assert response.status_code == 200
    assert (response.json()["listed"], response.json()["require_registration"]) == (False, True)
    assert snapshot(gallery_a)[3:5] == (False, True)
    response = guest().get(public_url(gallery_a))
    assert (response.status_code, error_code(response)) == (403, "registration_required")


def test_an_empty_patch_changes_nothing(gallery_a, alice_client):
    before = snapshot(gallery_a)
    response = alice_client.patch(url(gallery_a), {}, format="json")
    assert response.status_code == 200
    assert snapshot(gallery_a) == before


# --- Who may ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("role", "may_change"),
    [
        (Role.OWNER, True),
        (Role.ADMIN, True),
        (Role.PHOTOGRAPHER, True),
        (Role.ASSISTANT, False),
    ],
)
def test_changing_guest_access_needs_gallery_publish(gallery_a, member_of_a, role, may_change):
    _user, client = member_of_a(role)
    assert client.get(url(gallery_a)).status_code == 200  # everyone may look
    before = snapshot(gallery_a)
    response = client.patch(url(gallery_a), {"access": "pin", "secret": "4321"})
    if may_change:
        assert response.status_code == 200
        assert snapshot(gallery_a)[0] == "pin"
    else:
        assert (response.status_code, error_code(response)) == (403, "permission_denied")
        assert response.json()["error"]["permission"] == "gallery.publish"
        assert snapshot(gallery_a) == before


def test_another_studio_gets_404_and_anonymous_401(gallery_a, bob_client):
    before = snapshot(gallery_a)
    for response in (
        bob_client.get(url(gallery_a)),
        bob_client.patch(url(gallery_a), {"access": "pin", "secret": "4321"}),
    ):
        assert (response.status_code, error_code(response)) == (404, "not_found")
    assert guest().get(url(gallery_a)).status_code == 401
    assert guest().patch(url(gallery_a), {"access": "public"}).status_code == 401
    assert snapshot(gallery_a) == before


def test_guest_access_of_a_draft_gallery_can_be_prepared(studio_a, alice, alice_client):
    from galleries import services as gallery_services

    draft = gallery_services.gallery_create(studio=studio_a, by=alice, name="Later")
    response = alice_client.patch(url(draft), {"access": "pin", "secret": "4321"})
    assert response.status_code == 200
    draft.refresh_from_db()
    assert draft.status == Gallery.Status.DRAFT and draft.access == "pin"
    assert guest().get(public_url(draft)).status_code == 404  # still not out
