"""Login, refresh rotation, logout, "log out everywhere" and every way a token is refused."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import Role
from accounts.tokens import token_pair_for, token_refresh
from picpick.core.errors import ApplicationError
from picpick.testing.factories import MembershipFactory, StudioFactory, UserFactory
from tests.accounts.helpers import assert_error, bearer, throttle_rates
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login/"
REFRESH = "/api/v1/auth/refresh/"
LOGOUT = "/api/v1/auth/logout/"
LOGOUT_ALL = "/api/v1/auth/logout-all/"
ME = "/api/v1/me/"
STUDIO = "/api/v1/studio/"


def claims(token: str) -> dict:
    return dict(AccessToken(token).payload)


# --- login ---------------------------------------------------------------------------------


def test_login_gives_a_pair_for_the_last_studio(anon_client, alice, studio_a):
    other = StudioFactory()
    MembershipFactory(studio=other, user=alice, role=Role.ADMIN)
    alice.last_studio = studio_a
    alice.save()
    response = anon_client.post(LOGIN, {"email": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["studio"] == {
        "id": str(studio_a.id),
        "name": studio_a.name,
        "slug": "annasmith",
        "role": "owner",
    }
    assert body["user"]["email"] == "alice@example.com"
    assert claims(body["access"])["studio"] == str(studio_a.id)
    assert claims(body["access"])["ver"] == 0
    alice.refresh_from_db()
    assert alice.last_login is not None
    assert bearer(APIClient(), body["access"]).get(STUDIO).json()["id"] == str(studio_a.id)


def test_login_email_is_case_insensitive(anon_client, alice):
    response = anon_client.post(LOGIN, {"email": " Alice@EXAMPLE.com", "password": PASSWORD})
    assert response.status_code == 200


def test_login_into_a_chosen_studio_remembers_it(anon_client, alice, studio_a):
    other = StudioFactory()
    MembershipFactory(studio=other, user=alice, role=Role.PHOTOGRAPHER)
    response = anon_client.post(
        LOGIN, {"email": "alice@example.com", "password": PASSWORD, "studio_id": str(other.id)}
    )
    assert response.json()["studio"]["role"] == "photographer"
    assert claims(response.json()["access"])["studio"] == str(other.id)
    alice.refresh_from_db()
    assert alice.last_studio_id == other.id


def test_login_without_last_studio_uses_the_first_membership(anon_client, alice, studio_a):
    later = StudioFactory(name="AAA first by name, later by date")
    MembershipFactory(studio=later, user=alice)
    response = anon_client.post(LOGIN, {"email": "alice@example.com", "password": PASSWORD})
    assert response.json()["studio"]["id"] == str(studio_a.id)


def test_login_skips_a_deleted_last_studio(anon_client, alice, studio_a):
    gone = StudioFactory(deleted_at=timezone.now())
    MembershipFactory(studio=gone, user=alice)
    alice.last_studio = gone
    alice.save()
    response = anon_client.post(LOGIN, {"email": "alice@example.com", "password": PASSWORD})
    assert response.json()["studio"]["id"] == str(studio_a.id)


def test_login_of_a_user_without_studio_gives_a_studio_less_pair(anon_client):
    UserFactory(email="lonely@example.com")
    response = anon_client.post(LOGIN, {"email": "lonely@example.com", "password": PASSWORD})
    assert response.status_code == 200
    assert response.json()["studio"] is None
    access = response.json()["access"]
    assert claims(access)["studio"] is None
    assert_error(bearer(APIClient(), access).get(STUDIO), 403, "not_a_member")
    assert bearer(APIClient(), access).get(ME).status_code == 200


@pytest.mark.parametrize("which", ["bobs", "random", "deleted"])
def test_login_into_a_studio_one_is_not_member_of_is_403(anon_client, alice, studio_b, which):
    studio_id = {
        "bobs": studio_b.id,
        "random": uuid.uuid4(),
        "deleted": MembershipFactory(
            user=alice, studio=StudioFactory(deleted_at=timezone.now())
        ).studio_id,
    }[which]
    response = anon_client.post(
        LOGIN, {"email": "alice@example.com", "password": PASSWORD, "studio_id": str(studio_id)}
    )
    assert_error(response, 403, "not_a_member")


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("alice@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
        ("inactive@example.com", PASSWORD),
    ],
    ids=["wrong-password", "unknown-email", "inactive"],
)
def test_wrong_credentials_give_one_answer(anon_client, alice, email, password):
    UserFactory(email="inactive@example.com", is_active=False)
    error = assert_error(
        anon_client.post(LOGIN, {"email": email, "password": password}),
        401,
        "invalid_credentials",
    )
    assert error["message"] == "The email or password is incorrect."


def test_wrong_password_with_a_studio_id_does_not_reveal_membership(anon_client, alice, studio_b):
    response = anon_client.post(
        LOGIN,
        {"email": "alice@example.com", "password": "nope", "studio_id": str(studio_b.id)},
    )
    assert_error(response, 401, "invalid_credentials")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"email", "password"}),
        ({"email": "alice@example.com", "password": "x", "studio_id": "nope"}, {"studio_id"}),
        ({"email": "alice@example.com", "password": "x", "remember": True}, {"remember"}),
    ],
    ids=["missing", "bad-uuid", "unknown-field"],
)
def test_login_bad_input(anon_client, alice, body, fields):
    error = assert_error(anon_client.post(LOGIN, body), 400, "validation_error")
    assert set(error["fields"]) == fields


def test_login_is_throttled_with_retry_after(anon_client, alice, settings):
    throttle_rates(settings, auth="3/min", password_reset="3/min")
    body = {"email": "alice@example.com", "password": "wrong"}
    for _ in range(3):
        assert anon_client.post(LOGIN, body).status_code == 401
    response = anon_client.post(LOGIN, body)
    error = assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1
    assert error["retry_after"] == int(response["Retry-After"])
    # Even the right password waits: the limit is per client, not per failure.
    right = anon_client.post(LOGIN, {"email": "alice@example.com", "password": PASSWORD})
    assert right.status_code == 429


# --- access tokens -------------------------------------------------------------------------


def test_expired_access_token_is_401_token_invalid(alice, studio_a):
    access = RefreshToken.for_user(alice).access_token
    access["ver"] = alice.token_version
    access["studio"] = str(studio_a.id)
    access.set_exp(from_time=timezone.now() - timedelta(hours=1))
    response = bearer(APIClient(), str(access)).get(STUDIO)
    assert_error(response, 401, "token_invalid")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_tampered_access_token_is_401(alice, studio_a, studio_b):
    access = token_pair_for(user=alice, studio=studio_a)["access"]
    header, _, signature = access.split(".")
    forged = AccessToken(access)
    forged["studio"] = str(studio_b.id)
    _, forged_payload, _ = str(forged).split(".")
    response = bearer(APIClient(), f"{header}.{forged_payload}.{signature}").get(STUDIO)
    assert_error(response, 401, "token_invalid")


def test_refresh_token_is_not_an_access_token(alice, studio_a):
    refresh = token_pair_for(user=alice, studio=studio_a)["refresh"]
    assert_error(bearer(APIClient(), refresh).get(STUDIO), 401, "token_invalid")


def test_token_of_a_deleted_user_is_401(alice, studio_a):
    access = token_pair_for(user=alice, studio=studio_a)["access"]
    alice.delete()
    assert bearer(APIClient(), access).get(ME).status_code == 401


# --- refresh -------------------------------------------------------------------------------


def test_refresh_rotates_and_keeps_the_studio(anon_client, alice_client, studio_a):
    old = alice_client.tokens["refresh"]
    response = anon_client.post(REFRESH, {"refresh": old})
    assert response.status_code == 200, response.content
    pair = response.json()
    assert set(pair) == {"access", "refresh"}
    assert pair["refresh"] != old
    assert claims(pair["access"])["studio"] == str(studio_a.id)
    assert bearer(APIClient(), pair["access"]).get(STUDIO).status_code == 200
    # The new refresh token works once more.
    assert anon_client.post(REFRESH, {"refresh": pair["refresh"]}).status_code == 200


def test_reusing_a_rotated_refresh_token_is_401(anon_client, alice_client):
    old = alice_client.tokens["refresh"]
    assert anon_client.post(REFRESH, {"refresh": old}).status_code == 200
    assert_error(anon_client.post(REFRESH, {"refresh": old}), 401, "token_invalid")


def test_refresh_after_logout_all_is_token_revoked(anon_client, alice_client):
    old = alice_client.tokens["refresh"]
    assert alice_client.post(LOGOUT_ALL).status_code == 204
    assert_error(anon_client.post(REFRESH, {"refresh": old}), 401, "token_revoked")


def test_refresh_of_an_inactive_user_is_401(anon_client, alice, alice_client):
    alice.is_active = False
    alice.save()
    refresh = alice_client.tokens["refresh"]
    assert_error(anon_client.post(REFRESH, {"refresh": refresh}), 401, "token_invalid")


@pytest.mark.parametrize("kind", ["garbage", "access", "tampered", "expired"])
def test_refresh_refuses_anything_but_a_valid_refresh_token(anon_client, alice, studio_a, kind):
    pair = token_pair_for(user=alice, studio=studio_a)
    if kind == "garbage":
        token = "not.a.token"
    elif kind == "access":
        token = pair["access"]
    elif kind == "tampered":
        header, payload, signature = pair["refresh"].split(".")
        token = f"{header}.{payload}x.{signature}"
    else:
        refresh = RefreshToken(pair["refresh"])
        refresh.set_exp(from_time=timezone.now() - timedelta(days=60))
        token = str(refresh)
    assert_error(anon_client.post(REFRESH, {"refresh": token}), 401, "token_invalid")


@pytest.mark.parametrize(
    "body", [{}, {"refresh": 12.5, "extra": 1}, {"refresh": ""}], ids=["missing", "bad", "blank"]
)
def test_refresh_bad_input_is_400(anon_client, body):
    assert_error(anon_client.post(REFRESH, body), 400, "validation_error")


# --- logout --------------------------------------------------------------------------------


def test_logout_blacklists_the_refresh_token(anon_client, alice_client):
    refresh = alice_client.tokens["refresh"]
    response = anon_client.post(LOGOUT, {"refresh": refresh})
    assert response.status_code == 204
    assert_error(anon_client.post(REFRESH, {"refresh": refresh}), 401, "token_invalid")
    # Logging out twice is harmless.
    assert anon_client.post(LOGOUT, {"refresh": refresh}).status_code == 204


def test_logout_refuses_a_forged_token(anon_client):
    assert_error(anon_client.post(LOGOUT, {"refresh": "x.y.z"}), 401, "token_invalid")


def test_logout_bad_input(anon_client):
    error = assert_error(anon_client.post(LOGOUT, {}), 400, "validation_error")
    assert set(error["fields"]) == {"refresh"}
    error = assert_error(anon_client.post(LOGOUT, {"token": "x"}), 400, "validation_error")
    assert error["fields"] == {"token": ["Unknown field."]}


def test_logout_all_revokes_every_access_and_refresh_token(alice, studio_a, anon_client):
    phone = token_pair_for(user=alice, studio=studio_a)
    laptop = token_pair_for(user=alice, studio=studio_a)
    response = bearer(APIClient(), laptop["access"]).post(LOGOUT_ALL)
    assert response.status_code == 204
    alice.refresh_from_db()
    assert alice.token_version == 1
    for pair in (phone, laptop):
        assert_error(bearer(APIClient(), pair["access"]).get(ME), 401, "token_revoked")
        assert_error(anon_client.post(REFRESH, {"refresh": pair["refresh"]}), 401, "token_revoked")
    # A fresh login works again.
    fresh = anon_client.post(LOGIN, {"email": "alice@example.com", "password": PASSWORD})
    assert bearer(APIClient(), fresh.json()["access"]).get(ME).status_code == 200


def test_logout_all_needs_authentication(anon_client):
    assert_error(anon_client.post(LOGOUT_ALL), 401, "not_authenticated")


def test_logout_all_is_per_user(alice_client, bob_client):
    assert alice_client.post(LOGOUT_ALL).status_code == 204
    assert bob_client.get(ME).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_refreshes_of_one_token_let_exactly_one_through():
    if connection.vendor != "mysql":
        pytest.skip(
            "SQLite has no row locks (select_for_update is a no-op there) and serialises "
            "writers with a database lock instead; this race is meaningful on MariaDB only."
        )
    user = UserFactory()
    raw = token_pair_for(user=user, studio=None)["refresh"]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def refresh() -> None:
        try:
            barrier.wait()
            token_refresh(raw_refresh=raw)
            outcomes.append("ok")
        except ApplicationError as exc:
            outcomes.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "token_invalid"]


def test_a_studio_request_reads_the_user_and_membership_in_one_query(alice_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert alice_client.get("/api/v1/studio/").status_code == 200
    auth = [q["sql"] for q in queries if "accounts_membership" in q["sql"]]
    users = [
        q["sql"]
        for q in queries
        if 'FROM "accounts_user"' in q["sql"] or "FROM `accounts_user`" in q["sql"]
    ]
    assert len(auth) == 1 and "accounts_user" in auth[0]
    assert users == []
