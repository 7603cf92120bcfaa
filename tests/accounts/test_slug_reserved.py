"""Studio slugs are subdomains too: names our own hosts use can never be a studio's."""

from __future__ import annotations

import pytest

from accounts.slugs import RESERVED_SUBDOMAINS
from tests.accounts.helpers import assert_error

pytestmark = pytest.mark.django_db

SIGNUP = "/api/v1/auth/signup/"


def _signup(client, slug: str):
    return client.post(
        SIGNUP,
        {
            "email": f"owner-{slug}@example.com",
            "password": "a fresh, long and unusual passphrase 42",
            "full_name": "New Owner",
            "studio_name": "New Studio",
            "studio_slug": slug,
        },
    )


@pytest.mark.parametrize("slug", ["www", "api", "cdn", "internal", "edge", "mail", "static", "web"])
def test_signup_refuses_reserved_subdomains(anon_client, slug):
    error = assert_error(_signup(anon_client, slug), 400, "validation_error")
    assert error["fields"] == {"studio_slug": ["This address is reserved."]}


@pytest.mark.parametrize("slug", ["cdn", "internal", "WWW"])
def test_a_studio_cannot_rename_itself_to_a_reserved_subdomain(alice_client, studio_a, slug):
    error = assert_error(
        alice_client.patch("/api/v1/studio/", {"slug": slug}), 400, "validation_error"
    )
    assert list(error["fields"]) == ["slug"]
    studio_a.refresh_from_db()
    assert studio_a.slug == "annasmith"


def test_the_reserved_list_holds_the_names_of_our_hosts():
    assert {
        "www",
        "api",
        "admin",
        "app",
        "mail",
        "static",
        "cdn",
        "internal",
    } <= RESERVED_SUBDOMAINS


def test_an_ordinary_slug_is_still_fine(anon_client):
    assert _signup(anon_client, "carol").status_code == 201


def test_a_derived_slug_never_takes_a_reserved_subdomain(db):
    from accounts.services.studios import _derive_slug

    assert _derive_slug("CDN") == "studio-cdn"
    assert _derive_slug("Static") == "studio-static"


def test_a_deleted_studios_site_stops_answering_at_once(db, studio_a, alice):
    from django.test import Client

    from accounts.services import studio_delete

    client = Client()
    assert client.get("/healthz", HTTP_HOST="annasmith.localhost").status_code == 200  # cached
    studio_delete(studio=studio_a, confirm_slug="annasmith")
    assert client.get("/healthz", HTTP_HOST="annasmith.localhost").status_code == 400
