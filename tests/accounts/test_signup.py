"""Sign-up: a user, a studio they own, its usage row and a token pair, or nothing at all."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import Membership, Role, Studio, StudioUsage, User
from tests.accounts.helpers import STRONG_PASSWORD, assert_error, bearer

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/signup/"


def signup_body(**overrides) -> dict:
    body = {
        "email": "carol@example.com",
        "password": STRONG_PASSWORD,
        "full_name": "Carol Creator",
        "studio_name": "Carol's Portraits",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def test_signup_creates_user_studio_owner_membership_and_usage(anon_client):
    response = anon_client.post(URL, signup_body(timezone="Europe/Paris", default_currency="eur"))
    assert response.status_code == 201, response.content
    body = response.json()
    user = User.objects.get(email="carol@example.com")
    studio = Studio.objects.get(id=body["studio"]["id"])
    assert body["user"] == {
        "id": str(user.id),
        "email": "carol@example.com",
        "full_name": "Carol Creator",
        "created_at": body["user"]["created_at"],
    }
    assert body["studio"] == {
        "id": str(studio.id),
        "name": "Carol's Portraits",
        "slug": "carols-portraits",
        "role": "owner",
    }
    assert (studio.timezone, studio.default_currency) == ("Europe/Paris", "EUR")
    assert Membership.objects.get(studio=studio, user=user).role == Role.OWNER
    assert StudioUsage.objects.filter(studio=studio).exists()
    user.refresh_from_db()
    assert user.last_studio_id == studio.id
    assert user.check_password(STRONG_PASSWORD)
    # The pair works straight away, for the new studio.
    me = bearer(APIClient(), body["access"]).get("/api/v1/me/").json()
    assert me["active_studio_id"] == str(studio.id)


def test_signup_defaults_timezone_and_currency(anon_client):
    response = anon_client.post(URL, signup_body())
    studio = Studio.objects.get(id=response.json()["studio"]["id"])
    assert (studio.timezone, studio.default_currency) == ("UTC", "USD")


def test_signup_derives_a_unique_slug(anon_client, studio_a):
    # studio_a already holds "annasmith".
    first = anon_client.post(URL, signup_body(studio_name="Anna Smith"))
    second = anon_client.post(
        URL, signup_body(email="other@example.com", studio_name="Anna  Smith!")
    )
    assert first.json()["studio"]["slug"] == "anna-smith"
    assert second.json()["studio"]["slug"] == "anna-smith-2"


def test_signup_slug_of_a_name_without_letters_is_still_valid(anon_client):
    response = anon_client.post(URL, signup_body(studio_name="!!!"))
    assert response.status_code == 201
    assert response.json()["studio"]["slug"] == "studio"


def test_signup_with_explicit_slug(anon_client):
    response = anon_client.post(URL, signup_body(studio_slug="carol"))
    assert response.json()["studio"]["slug"] == "carol"


def test_signup_slug_taken_is_409_and_creates_nothing(anon_client, studio_a):
    response = anon_client.post(URL, signup_body(studio_slug="annasmith"))
    assert_error(response, 409, "slug_taken")
    assert not User.objects.filter(email="carol@example.com").exists()
    assert Studio.objects.count() == 1


@pytest.mark.parametrize("slug", ["ab", "-carol", "carol-", "Carol Studio", "a--b", "admin"])
def test_signup_refuses_bad_or_reserved_slugs(anon_client, slug):
    error = assert_error(
        anon_client.post(URL, signup_body(studio_slug=slug)), 400, "validation_error"
    )
    assert "studio_slug" in error["fields"]
    assert not User.objects.exists()


def test_signup_email_is_case_insensitive_unique(anon_client, alice):
    response = anon_client.post(URL, signup_body(email="ALICE@Example.com"))
    assert_error(response, 409, "email_taken")
    assert User.objects.count() == 1
    assert Studio.objects.filter(name="Carol's Portraits").count() == 0


def test_signup_stores_the_email_lower_case(anon_client):
    anon_client.post(URL, signup_body(email="Carol@Example.COM"))
    assert User.objects.filter(email="carol@example.com").exists()


@pytest.mark.parametrize(
    "password", ["short", "password123", "12345678901234", "carol@example.com"]
)
def test_signup_validates_the_password_with_django_validators(anon_client, password):
    error = assert_error(
        anon_client.post(URL, signup_body(password=password)), 400, "validation_error"
    )
    assert list(error["fields"]) == ["password"]
    assert not User.objects.exists()


def test_signup_refuses_unknown_timezone(anon_client):
    error = assert_error(
        anon_client.post(URL, signup_body(timezone="Mars/Olympus")), 400, "validation_error"
    )
    assert list(error["fields"]) == ["timezone"]
    assert not User.objects.exists()


@pytest.mark.parametrize("currency", ["ABC", "US", "12$", "EURO"])
def test_signup_refuses_unknown_currency(anon_client, currency):
    error = assert_error(
        anon_client.post(URL, signup_body(default_currency=currency)), 400, "validation_error"
    )
    assert list(error["fields"]) == ["default_currency"]
    assert not User.objects.exists()


def test_signup_needs_a_studio_name_without_invitation(anon_client):
    error = assert_error(
        anon_client.post(URL, signup_body(studio_name=None)), 400, "validation_error"
    )
    assert list(error["fields"]) == ["studio_name"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"email", "password", "full_name"}),
        (
            {"email": "not-an-email", "password": True, "full_name": ["x"], "studio_name": "S"},
            {"email", "password", "full_name"},
        ),
        ({**signup_body(), "plan": "business"}, {"plan"}),
        ({**signup_body(), "studio_name": "x" * 121}, {"studio_name"}),
    ],
    ids=["missing", "wrong-types", "unknown-field", "too-long"],
)
def test_signup_bad_input_is_400_with_fields(anon_client, body, fields):
    error = assert_error(anon_client.post(URL, body), 400, "validation_error")
    assert set(error["fields"]) == fields
    assert not User.objects.exists()


def test_signup_body_over_the_limit_is_413(anon_client, settings):
    body = signup_body(full_name="x" * (settings.PICPICK_API_MAX_BODY_BYTES + 1))
    assert_error(anon_client.post(URL, body), 413, "payload_too_large")
    assert not User.objects.exists()


def test_signup_ignores_a_stale_authorization_header(anon_client):
    bearer(anon_client, "expired.or.garbage")
    assert anon_client.post(URL, signup_body()).status_code == 201
