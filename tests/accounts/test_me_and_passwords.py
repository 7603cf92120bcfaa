"""The caller (/me/), changing a password, and resetting a forgotten one."""

from __future__ import annotations

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient

from accounts.models import Role
from picpick.testing.factories import MembershipFactory, StudioFactory, UserFactory
from tests.accounts.helpers import (
    STRONG_PASSWORD,
    assert_error,
    bearer,
    last_mail_match,
    throttle_rates,
)
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"
PASSWORD_URL = "/api/v1/me/password/"
RESET = "/api/v1/auth/password-reset/"
CONFIRM = "/api/v1/auth/password-reset/confirm/"
LOGIN = "/api/v1/auth/login/"
APP = "https://app.picpick.test"


# --- /me/ ----------------------------------------------------------------------------------


def test_me_lists_the_user_their_live_studios_and_the_active_one(alice, alice_client, studio_a):
    other = StudioFactory(name="Zed Studio", slug="zed")
    MembershipFactory(studio=other, user=alice, role=Role.ASSISTANT)
    MembershipFactory(studio=StudioFactory(deleted_at=timezone.now()), user=alice)
    body = alice_client.get(ME).json()
    assert body["user"]["email"] == "alice@example.com"
    assert body["user"]["full_name"] == "Alice Owner"
    assert body["studios"] == [
        {"id": str(studio_a.id), "name": studio_a.name, "slug": "annasmith", "role": "owner"},
        {"id": str(other.id), "name": "Zed Studio", "slug": "zed", "role": "assistant"},
    ]
    assert body["active_studio_id"] == str(studio_a.id)


def test_me_active_studio_is_null_once_the_user_left_it(alice_client, alice, studio_a):
    alice.memberships.all().delete()
    body = alice_client.get(ME).json()
    assert body["studios"] == []
    assert body["active_studio_id"] is None


def test_me_shows_only_the_callers_data(bob_client):
    body = bob_client.get(ME).json()
    assert body["user"]["email"] == "bob@example.com"
    assert [s["slug"] for s in body["studios"]] == ["bobsweddings"]


def test_me_needs_authentication(anon_client):
    assert_error(anon_client.get(ME), 401, "not_authenticated")
    assert_error(anon_client.patch(ME, {"full_name": "X"}), 401, "not_authenticated")


def test_me_patch_changes_the_full_name(alice, alice_client):
    response = alice_client.patch(ME, {"full_name": "Alice A. Owner"})
    assert response.status_code == 200
    assert response.json()["user"]["full_name"] == "Alice A. Owner"
    alice.refresh_from_db()
    assert alice.full_name == "Alice A. Owner"


@pytest.mark.parametrize(
    "body",
    [{"email": "new@example.com"}, {"full_name": ["x"]}, {"full_name": "x" * 151}],
    ids=["email-not-editable", "wrong-type", "too-long"],
)
def test_me_patch_bad_input(alice, alice_client, body):
    assert_error(alice_client.patch(ME, body), 400, "validation_error")
    alice.refresh_from_db()
    assert (alice.email, alice.full_name) == ("alice@example.com", "Alice Owner")


# --- changing the password ------------------------------------------------------------------


def test_password_change_revokes_old_tokens_and_returns_a_fresh_pair(
    alice, alice_client, studio_a, anon_client
):
    old = alice_client.tokens
    response = alice_client.post(
        PASSWORD_URL, {"current_password": PASSWORD, "new_password": STRONG_PASSWORD}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["studio"]["id"] == str(studio_a.id)
    alice.refresh_from_db()
    assert alice.check_password(STRONG_PASSWORD)
    assert alice.token_version == 1
    assert_error(bearer(APIClient(), old["access"]).get(ME), 401, "token_revoked")
    refresh = anon_client.post("/api/v1/auth/refresh/", {"refresh": old["refresh"]})
    assert_error(refresh, 401, "token_revoked")
    assert bearer(APIClient(), body["access"]).get("/api/v1/studio/").status_code == 200


def test_password_change_with_wrong_current_password_is_400(alice, alice_client):
    error = assert_error(
        alice_client.post(
            PASSWORD_URL, {"current_password": "nope", "new_password": STRONG_PASSWORD}
        ),
        400,
        "wrong_password",
    )
    assert list(error["fields"]) == ["current_password"]
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
    assert alice.token_version == 0


def test_password_change_validates_the_new_password(alice, alice_client):
    error = assert_error(
        alice_client.post(PASSWORD_URL, {"current_password": PASSWORD, "new_password": "123"}),
        400,
        "validation_error",
    )
    assert list(error["fields"]) == ["new_password"]
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


@pytest.mark.parametrize(
    "body",
    [{}, {"current_password": PASSWORD}, {"current_password": PASSWORD, "new": "x"}],
    ids=["empty", "missing-new", "unknown-field"],
)
def test_password_change_bad_input(alice_client, body):
    assert_error(alice_client.post(PASSWORD_URL, body), 400, "validation_error")


def test_password_change_needs_authentication(anon_client):
    response = anon_client.post(
        PASSWORD_URL, {"current_password": PASSWORD, "new_password": STRONG_PASSWORD}
    )
    assert_error(response, 401, "not_authenticated")


# --- password reset ------------------------------------------------------------------------


def reset_link_parts() -> tuple[str, str]:
    match = last_mail_match(r"https://app\.picpick\.test/reset-password\?uid=([^&\s]+)&token=(\S+)")
    return match.group(1), match.group(2)


@pytest.fixture
def app_url(settings):
    settings.PICPICK_APP_URL = APP


def test_password_reset_emails_a_link_built_from_the_app_url(anon_client, alice, app_url, settings):
    # Even if a forged Host got past the host check (an API host), the link must not be built
    # from it.
    settings.PICPICK_API_HOSTS = [*settings.PICPICK_API_HOSTS, "evil.example"]
    response = anon_client.post(RESET, {"email": "ALICE@example.com"}, HTTP_HOST="evil.example")
    assert response.status_code == 202
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    assert "evil.example" not in mail.outbox[0].body
    uid, token = reset_link_parts()
    assert uid == urlsafe_base64_encode(force_bytes(alice.pk))
    assert default_token_generator.check_token(alice, token)


@pytest.mark.parametrize("email", ["nobody@example.com", "inactive@example.com"])
def test_password_reset_of_unknown_or_inactive_email_is_also_202(anon_client, email, app_url):
    UserFactory(email="inactive@example.com", is_active=False)
    assert anon_client.post(RESET, {"email": email}).status_code == 202
    assert mail.outbox == []


def test_password_reset_confirm_sets_the_password_and_revokes_tokens(
    anon_client, alice, alice_client, app_url
):
    anon_client.post(RESET, {"email": "alice@example.com"})
    uid, token = reset_link_parts()
    response = anon_client.post(
        CONFIRM, {"uid": uid, "token": token, "new_password": STRONG_PASSWORD}
    )
    assert response.status_code == 204
    alice.refresh_from_db()
    assert alice.check_password(STRONG_PASSWORD)
    assert_error(alice_client.get(ME), 401, "token_revoked")
    login = anon_client.post(LOGIN, {"email": "alice@example.com", "password": STRONG_PASSWORD})
    assert login.status_code == 200
    # The link works once.
    again = anon_client.post(
        CONFIRM, {"uid": uid, "token": token, "new_password": "yet another long passphrase 7"}
    )
    assert_error(again, 400, "invalid_token")


def test_password_reset_confirm_refuses_bad_links(anon_client, alice, bob):
    alice_uid = urlsafe_base64_encode(force_bytes(alice.pk))
    bob_token = default_token_generator.make_token(bob)
    for uid, token in [
        (alice_uid, bob_token),  # somebody else's token
        (alice_uid, "garbage-token"),
        ("not-base64!", bob_token),
        (urlsafe_base64_encode(b"not-a-uuid"), bob_token),
    ]:
        response = anon_client.post(
            CONFIRM, {"uid": uid, "token": token, "new_password": STRONG_PASSWORD}
        )
        assert_error(response, 400, "invalid_token")
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_password_reset_link_expires(anon_client, alice, settings):
    token = default_token_generator.make_token(alice)
    uid = urlsafe_base64_encode(force_bytes(alice.pk))
    settings.PASSWORD_RESET_TIMEOUT = -1  # every token is already too old
    response = anon_client.post(
        CONFIRM, {"uid": uid, "token": token, "new_password": STRONG_PASSWORD}
    )
    assert_error(response, 400, "invalid_token")


def test_password_reset_confirm_validates_the_new_password(anon_client, alice):
    token = default_token_generator.make_token(alice)
    uid = urlsafe_base64_encode(force_bytes(alice.pk))
    error = assert_error(
        anon_client.post(CONFIRM, {"uid": uid, "token": token, "new_password": "alice"}),
        400,
        "validation_error",
    )
    assert list(error["fields"]) == ["new_password"]
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (RESET, {}),
        (RESET, {"email": "not-an-email"}),
        (RESET, {"email": "alice@example.com", "next": "/"}),
        (CONFIRM, {"uid": "x"}),
        (CONFIRM, {"uid": "x", "token": "y", "new_password": STRONG_PASSWORD, "extra": 1}),
    ],
)
def test_password_reset_bad_input(anon_client, url, body):
    assert_error(anon_client.post(url, body), 400, "validation_error")
    assert mail.outbox == []


def test_password_reset_is_throttled(anon_client, alice, settings):
    throttle_rates(settings, auth="100/min", password_reset="2/hour")
    for _ in range(2):
        assert anon_client.post(RESET, {"email": "alice@example.com"}).status_code == 202
    response = anon_client.post(RESET, {"email": "alice@example.com"})
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) > 0
    assert len(mail.outbox) == 2
