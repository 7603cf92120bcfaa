"""Inviting people, listing and revoking invitations, and accepting them (logged in or not)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Invitation, Membership, Role, Studio, User
from picpick.testing.factories import MembershipFactory, UserFactory
from tests.accounts.helpers import STRONG_PASSWORD, assert_error, bearer, last_mail_match
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

INVITATIONS = "/api/v1/studio/invitations/"
ACCEPT = "/api/v1/invitations/accept/"
SIGNUP = "/api/v1/auth/signup/"
APP = "https://app.picpick.test"


@pytest.fixture(autouse=True)
def app_url(settings):
    settings.PICPICK_APP_URL = APP


@pytest.fixture
def invite(django_capture_on_commit_callbacks):
    """POST an invitation as ``client``; returns (response, raw token from the email)."""

    def make(client, email="dan@example.com", role="photographer"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(INVITATIONS, {"email": email, "role": role})
        if response.status_code != 201:
            return response, None
        token = last_mail_match(rf"{APP}/invitations/accept\?token=([\w-]+)").group(1)
        return response, token

    return make


def invitation_url(invitation_id) -> str:
    return f"{INVITATIONS}{invitation_id}/"


# --- creating ------------------------------------------------------------------------------


def test_owner_invites_and_only_a_hash_is_stored(alice_client, studio_a, invite, settings):
    before = timezone.now()
    response, token = invite(alice_client, email="Dan@Example.com")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == "dan@example.com"
    assert body["role"] == "photographer"
    assert body["invited_by"] == "alice@example.com"
    assert "token" not in body and "token_hash" not in body
    invitation = Invitation.objects.get(id=body["id"])
    assert invitation.studio_id == studio_a.id
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in invitation.token_hash
    ttl = timedelta(days=settings.INVITATION_TTL_DAYS)
    assert before + ttl <= invitation.expires_at <= timezone.now() + ttl
    assert mail.outbox[-1].to == ["dan@example.com"]
    assert studio_a.name in mail.outbox[-1].subject


def test_admin_invites_but_not_an_owner(studio_admin_client, invite):
    assert invite(studio_admin_client, role="admin")[0].status_code == 201
    response, _ = invite(studio_admin_client, email="boss@example.com", role="owner")
    assert_error(response, 403, "owner_required")
    assert not Invitation.objects.filter(email="boss@example.com").exists()


def test_owner_invites_an_owner(alice_client, invite):
    assert invite(alice_client, role="owner")[0].status_code == 201


@pytest.mark.parametrize("role_client", ["photographer_client", "assistant_client"])
def test_lesser_roles_cannot_invite(request, role_client, invite):
    response, _ = invite(request.getfixturevalue(role_client))
    assert_error(response, 403, "permission_denied")
    assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_inviting_an_existing_member_is_409(alice_client, admin_of_a, invite):
    response, _ = invite(alice_client, email="ADAM@example.com")
    assert_error(response, 409, "already_member")
    assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_a_new_invitation_replaces_the_pending_one(alice_client, invite):
    first, old_token = invite(alice_client, role="assistant")
    second, new_token = invite(alice_client, role="admin")
    old = Invitation.objects.get(id=first.json()["id"])
    assert old.revoked_at is not None
    pending = alice_client.get(INVITATIONS).json()["results"]
    assert [(i["id"], i["role"]) for i in pending] == [(second.json()["id"], "admin")]
    assert old_token != new_token


def test_invitations_need_authentication(anon_client, invite):
    assert_error(anon_client.get(INVITATIONS), 401, "not_authenticated")
    assert_error(invite(anon_client)[0], 401, "not_authenticated")
    assert_error(anon_client.delete(invitation_url(uuid.uuid4())), 401, "not_authenticated")
    assert_error(anon_client.post(ACCEPT, {"token": "x"}), 401, "not_authenticated")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "dan@example.com"},
        {"email": "not-an-email", "role": "admin"},
        {"email": "dan@example.com", "role": "emperor"},
        {"email": "dan@example.com", "role": "admin", "studio": "x"},
    ],
)
def test_invitation_bad_input(alice_client, body):
    assert_error(alice_client.post(INVITATIONS, body), 400, "validation_error")
    assert not Invitation.objects.exists()


# --- listing and revoking ------------------------------------------------------------------


def test_list_shows_pending_invitations_of_the_studio_only(
    alice_client, bob_client, assistant_client, invite
):
    dan, _ = invite(alice_client)
    expired, _ = invite(alice_client, email="old@example.com")
    Invitation.objects.filter(id=expired.json()["id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    invite(bob_client, email="eve@example.com")
    for client in (alice_client, assistant_client):  # member.view: every role
        results = client.get(INVITATIONS).json()["results"]
        assert [i["id"] for i in results] == [dan.json()["id"]]
    assert [i["email"] for i in bob_client.get(INVITATIONS).json()["results"]] == [
        "eve@example.com"
    ]


def test_admin_revokes_an_invitation(alice_client, studio_admin_client, invite):
    response, _ = invite(alice_client)
    invitation_id = response.json()["id"]
    assert studio_admin_client.delete(invitation_url(invitation_id)).status_code == 204
    assert Invitation.objects.get(id=invitation_id).revoked_at is not None
    assert alice_client.get(INVITATIONS).json()["results"] == []
    # Revoking twice is harmless.
    assert studio_admin_client.delete(invitation_url(invitation_id)).status_code == 204


def test_another_studios_invitation_is_404(alice_client, bob_client, invite):
    response, _ = invite(alice_client)
    invitation_id = response.json()["id"]
    assert_error(bob_client.delete(invitation_url(invitation_id)), 404, "not_found")
    assert Invitation.objects.get(id=invitation_id).revoked_at is None
    assert_error(alice_client.delete(invitation_url(uuid.uuid4())), 404, "not_found")


@pytest.mark.parametrize("role_client", ["photographer_client", "assistant_client"])
def test_lesser_roles_cannot_revoke(request, role_client, alice_client, invite):
    response, _ = invite(alice_client)
    client = request.getfixturevalue(role_client)
    assert_error(client.delete(invitation_url(response.json()["id"])), 403, "permission_denied")


def test_an_accepted_invitation_cannot_be_revoked(alice_client, invite):
    response, token = invite(alice_client)
    dan = UserFactory(email="dan@example.com")
    assert (
        bearer(APIClient(), client_for(dan, None).tokens["access"])
        .post(ACCEPT, {"token": token})
        .status_code
        == 200
    )
    assert_error(
        alice_client.delete(invitation_url(response.json()["id"])), 409, "invitation_accepted"
    )


# --- accepting (logged in) -----------------------------------------------------------------


def test_accept_creates_the_membership_and_a_pair_for_that_studio(
    alice_client, studio_a, studio_b, invite
):
    _, token = invite(alice_client, role="admin")
    dan = UserFactory(email="dan@example.com")
    MembershipFactory(studio=studio_b, user=dan, role=Role.ASSISTANT)
    response = client_for(dan, studio_b).post(ACCEPT, {"token": token})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["studio"]["id"] == str(studio_a.id)
    assert body["studio"]["role"] == "admin"
    assert AccessToken(body["access"])["studio"] == str(studio_a.id)
    assert Membership.objects.get(studio=studio_a, user=dan).role == Role.ADMIN
    invitation = Invitation.objects.get(studio=studio_a)
    assert invitation.accepted_by_id == dan.id and invitation.accepted_at is not None
    dan.refresh_from_db()
    assert dan.last_studio_id == studio_a.id
    assert bearer(APIClient(), body["access"]).get("/api/v1/studio/").json()["role"] == "admin"


def test_accept_with_another_email_is_403(alice_client, bob, studio_b, invite):
    _, token = invite(alice_client)
    response = client_for(bob, studio_b).post(ACCEPT, {"token": token})
    assert_error(response, 403, "email_mismatch")
    assert not Membership.objects.filter(user=bob, studio__slug="annasmith").exists()


def test_accepting_twice_is_refused_without_a_duplicate(alice_client, studio_a, invite):
    _, token = invite(alice_client)
    dan_client = client_for(UserFactory(email="dan@example.com"), None)
    assert dan_client.post(ACCEPT, {"token": token}).status_code == 200
    assert_error(dan_client.post(ACCEPT, {"token": token}), 400, "invalid_invitation")
    assert Membership.objects.filter(studio=studio_a, user__email="dan@example.com").count() == 1


def test_a_member_accepting_another_invitation_gets_409(alice_client, studio_a, invite):
    dan = UserFactory(email="dan@example.com")
    _, token = invite(alice_client)
    # dan joined some other way meanwhile (e.g. through an older invitation).
    MembershipFactory(studio=studio_a, user=dan, role=Role.ASSISTANT)
    assert_error(client_for(dan, None).post(ACCEPT, {"token": token}), 409, "already_member")
    assert Invitation.objects.get().accepted_at is None
    assert Membership.objects.get(studio=studio_a, user=dan).role == Role.ASSISTANT


@pytest.mark.parametrize("state", ["expired", "revoked", "unknown", "studio_deleted"])
def test_unusable_invitations_are_400(alice_client, studio_a, invite, state):
    _, token = invite(alice_client)
    invitation = Invitation.objects.get()
    if state == "expired":
        invitation.expires_at = timezone.now() - timedelta(seconds=1)
        invitation.save()
    elif state == "revoked":
        alice_client.delete(invitation_url(invitation.id))
    elif state == "unknown":
        token = "x" * 43
    else:
        studio_a.deleted_at = timezone.now()
        studio_a.save()
    dan_client = client_for(UserFactory(email="dan@example.com"), None)
    error = assert_error(dan_client.post(ACCEPT, {"token": token}), 400, "invalid_invitation")
    assert list(error["fields"]) == ["token"]
    assert not Membership.objects.filter(studio=studio_a, user__email="dan@example.com").exists()


@pytest.mark.parametrize("body", [{}, {"token": ""}, {"token": "x", "studio_id": "y"}])
def test_accept_bad_input(bob_client, body):
    assert_error(bob_client.post(ACCEPT, body), 400, "validation_error")


# --- accepting by signing up ---------------------------------------------------------------


def test_signup_with_an_invitation_joins_the_studio(anon_client, alice_client, studio_a, invite):
    _, token = invite(alice_client, email="dan@example.com", role="assistant")
    response = anon_client.post(
        SIGNUP,
        {
            "email": "dan@example.com",
            "password": STRONG_PASSWORD,
            "full_name": "Dan",
            "invitation_token": token,
        },
    )
    assert response.status_code == 201, response.content
    assert response.json()["studio"] == {
        "id": str(studio_a.id),
        "name": studio_a.name,
        "slug": "annasmith",
        "role": "assistant",
    }
    dan = User.objects.get(email="dan@example.com")
    assert list(dan.memberships.values_list("studio_id", "role")) == [(studio_a.id, "assistant")]
    assert Invitation.objects.get().accepted_by_id == dan.id
    # No studio of his own was created.
    assert not Membership.objects.filter(user=dan, role=Role.OWNER).exists()


def test_signup_with_an_invitation_for_another_email_is_403(anon_client, alice_client, invite):
    _, token = invite(alice_client)
    response = anon_client.post(
        SIGNUP,
        {
            "email": "mallory@example.com",
            "password": STRONG_PASSWORD,
            "full_name": "Mallory",
            "invitation_token": token,
        },
    )
    assert_error(response, 403, "email_mismatch")
    assert not User.objects.filter(email="mallory@example.com").exists()


def test_signup_with_a_bad_invitation_creates_nothing(anon_client):
    response = anon_client.post(
        SIGNUP,
        {
            "email": "dan@example.com",
            "password": STRONG_PASSWORD,
            "full_name": "Dan",
            "invitation_token": "nope",
        },
    )
    error = assert_error(response, 400, "invalid_invitation")
    assert list(error["fields"]) == ["invitation_token"]
    assert not User.objects.filter(email="dan@example.com").exists()


def test_signup_with_an_invitation_refuses_studio_fields(anon_client, alice_client, invite):
    _, token = invite(alice_client)
    response = anon_client.post(
        SIGNUP,
        {
            "email": "dan@example.com",
            "password": STRONG_PASSWORD,
            "full_name": "Dan",
            "invitation_token": token,
            "studio_name": "Dan's",
        },
    )
    error = assert_error(response, 400, "validation_error")
    assert list(error["fields"]) == ["studio_name"]
    assert not User.objects.filter(email="dan@example.com").exists()
    assert Studio.objects.filter(name="Dan's").count() == 0
