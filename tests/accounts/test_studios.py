"""The caller's studios, switching between them, and the current studio itself."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Role, Studio, StudioUsage
from picpick.testing.factories import MembershipFactory, StudioFactory
from tests.accounts.helpers import assert_error, bearer
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

STUDIOS = "/api/v1/studios/"
SWITCH = "/api/v1/auth/switch-studio/"
STUDIO = "/api/v1/studio/"


# --- /studios/ and switching ---------------------------------------------------------------


def test_studios_lists_only_the_callers_live_studios(alice, alice_client, studio_a, studio_b):
    other = StudioFactory(name="Zed", slug="zed")
    MembershipFactory(studio=other, user=alice, role=Role.PHOTOGRAPHER)
    MembershipFactory(studio=StudioFactory(deleted_at=timezone.now()), user=alice)
    body = alice_client.get(STUDIOS).json()
    assert body == {
        "results": [
            {"id": str(studio_a.id), "name": studio_a.name, "slug": "annasmith", "role": "owner"},
            {"id": str(other.id), "name": "Zed", "slug": "zed", "role": "photographer"},
        ]
    }


def test_studios_works_for_any_authenticated_user(bob_client, assistant_client):
    assert [s["slug"] for s in bob_client.get(STUDIOS).json()["results"]] == ["bobsweddings"]
    assert [s["role"] for s in assistant_client.get(STUDIOS).json()["results"]] == ["assistant"]


def test_studios_needs_authentication(anon_client):
    assert_error(anon_client.get(STUDIOS), 401, "not_authenticated")


def test_switch_studio_gives_a_pair_for_that_studio(alice, alice_client):
    other = StudioFactory(name="Second", slug="second")
    MembershipFactory(studio=other, user=alice, role=Role.ADMIN)
    response = alice_client.post(SWITCH, {"studio_id": str(other.id)})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["studio"] == {
        "id": str(other.id),
        "name": "Second",
        "slug": "second",
        "role": "admin",
    }
    assert AccessToken(body["access"])["studio"] == str(other.id)
    assert bearer(APIClient(), body["access"]).get(STUDIO).json()["slug"] == "second"
    alice.refresh_from_db()
    assert alice.last_studio_id == other.id


# Not being a member answers 403 `not_a_member` whatever the id is (another user's studio, an
# unknown uuid, a deleted studio): the same answer for all, so nothing is revealed.
@pytest.mark.parametrize("which", ["bobs", "random", "deleted"])
def test_switch_to_a_studio_one_is_not_member_of_is_403(alice, alice_client, studio_b, which):
    studio_id = {
        "bobs": studio_b.id,
        "random": uuid.uuid4(),
        "deleted": MembershipFactory(
            user=alice, studio=StudioFactory(deleted_at=timezone.now())
        ).studio_id,
    }[which]
    assert_error(alice_client.post(SWITCH, {"studio_id": str(studio_id)}), 403, "not_a_member")
    alice.refresh_from_db()
    assert alice.last_studio_id != studio_id


@pytest.mark.parametrize("body", [{}, {"studio_id": "nope"}, {"studio_id": 3, "x": 1}])
def test_switch_studio_bad_input(alice_client, body):
    assert_error(alice_client.post(SWITCH, body), 400, "validation_error")


def test_switch_studio_needs_authentication(anon_client, studio_a):
    assert_error(
        anon_client.post(SWITCH, {"studio_id": str(studio_a.id)}), 401, "not_authenticated"
    )


# --- GET /studio/ ----------------------------------------------------------------------------


def test_studio_get_shows_settings_role_and_usage(alice_client, studio_a):
    StudioUsage.objects.create(studio=studio_a, gallery_count=3, photo_count=120, storage_bytes=9)
    body = alice_client.get(STUDIO).json()
    assert body == {
        "id": str(studio_a.id),
        "name": studio_a.name,
        "slug": "annasmith",
        "timezone": "UTC",
        "default_currency": "USD",
        "locale": "en",
        "plan": "free",
        "face_recognition_enabled": True,
        "created_at": body["created_at"],
        "role": "owner",
        "usage": {"gallery_count": 3, "photo_count": 120, "storage_bytes": 9},
    }


def test_studio_get_without_usage_row_shows_zeros(alice_client):
    usage = alice_client.get(STUDIO).json()["usage"]
    assert usage == {"gallery_count": 0, "photo_count": 0, "storage_bytes": 0}


def test_every_role_can_view_the_studio(assistant_client, photographer_client, studio_admin_client):
    for client, role in [
        (assistant_client, "assistant"),
        (photographer_client, "photographer"),
        (studio_admin_client, "admin"),
    ]:
        assert client.get(STUDIO).json()["role"] == role


def test_bob_sees_his_own_studio_never_alices(bob_client, studio_b):
    assert bob_client.get(STUDIO).json()["id"] == str(studio_b.id)


def test_a_token_for_another_users_studio_is_403(bob, studio_a):
    # bob is not a member of A: a token naming A (as a forged-but-signed claim would) is refused.
    assert_error(client_for(bob, studio_a).get(STUDIO), 403, "not_a_member")


def test_studio_needs_authentication(anon_client):
    assert_error(anon_client.get(STUDIO), 401, "not_authenticated")
    assert_error(anon_client.patch(STUDIO, {"name": "x"}), 401, "not_authenticated")
    assert_error(anon_client.delete(STUDIO, {"confirm_slug": "x"}), 401, "not_authenticated")


# --- PATCH /studio/ ------------------------------------------------------------------------


def test_owner_updates_the_studio(alice_client, studio_a):
    response = alice_client.patch(
        STUDIO,
        {
            "name": "Anna Smith Studio",
            "slug": "anna",
            "timezone": "America/New_York",
            "default_currency": "cad",
        },
    )
    assert response.status_code == 200, response.content
    studio_a.refresh_from_db()
    assert (studio_a.name, studio_a.slug, studio_a.timezone, studio_a.default_currency) == (
        "Anna Smith Studio",
        "anna",
        "America/New_York",
        "CAD",
    )
    assert response.json()["slug"] == "anna"


def test_admin_updates_the_studio(studio_admin_client, studio_a):
    assert studio_admin_client.patch(STUDIO, {"name": "By the admin"}).status_code == 200
    studio_a.refresh_from_db()
    assert studio_a.name == "By the admin"


@pytest.mark.parametrize("role_client", ["photographer_client", "assistant_client"])
def test_lesser_roles_cannot_update_the_studio(request, role_client, studio_a):
    client = request.getfixturevalue(role_client)
    assert_error(client.patch(STUDIO, {"name": "Nope"}), 403, "permission_denied")
    studio_a.refresh_from_db()
    assert studio_a.name == "Anna Smith Photography"


def test_slug_change_to_a_taken_slug_is_409(alice_client, studio_a, studio_b):
    assert_error(alice_client.patch(STUDIO, {"slug": "bobsweddings"}), 409, "slug_taken")
    studio_a.refresh_from_db()
    assert studio_a.slug == "annasmith"


def test_slug_change_to_its_own_slug_is_fine(alice_client):
    assert alice_client.patch(STUDIO, {"slug": "annasmith"}).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"default_currency": "XYZ"}, "default_currency"),
        ({"slug": "no spaces"}, "slug"),
        ({"slug": "www"}, "slug"),
        ({"name": ""}, "name"),
        ({"name": 12, "nmae": "typo"}, "nmae"),
        ({"plan": "business"}, "plan"),
    ],
)
def test_studio_update_bad_input_changes_nothing(alice_client, studio_a, body, field):
    error = assert_error(alice_client.patch(STUDIO, body), 400, "validation_error")
    assert field in error["fields"]
    fresh = Studio.objects.get(pk=studio_a.pk)
    assert (fresh.name, fresh.slug, fresh.timezone, fresh.plan) == (
        "Anna Smith Photography",
        "annasmith",
        "UTC",
        "free",
    )


def test_a_failed_field_does_not_half_apply_the_others(alice_client, studio_a):
    response = alice_client.patch(STUDIO, {"name": "New name", "timezone": "Nowhere/Land"})
    assert_error(response, 400, "validation_error")
    studio_a.refresh_from_db()
    assert studio_a.name == "Anna Smith Photography"


# --- DELETE /studio/ -----------------------------------------------------------------------


def test_owner_soft_deletes_the_studio(alice_client, studio_a):
    response = alice_client.delete(STUDIO, {"confirm_slug": "annasmith"})
    assert response.status_code == 204
    studio_a.refresh_from_db()
    assert studio_a.deleted_at is not None
    # Every studio-scoped endpoint now refuses, and the studio left the list.
    for method, url in [
        ("get", STUDIO),
        ("patch", STUDIO),
        ("get", "/api/v1/studio/members/"),
        ("get", "/api/v1/studio/invitations/"),
        ("post", "/api/v1/studio/leave/"),
    ]:
        assert_error(getattr(alice_client, method)(url, {}), 403, "studio_deleted")
    assert alice_client.get(STUDIOS).json() == {"results": []}
    assert alice_client.get("/api/v1/me/").json()["active_studio_id"] is None


def test_delete_needs_the_right_confirmation(alice_client, studio_a):
    error = assert_error(
        alice_client.delete(STUDIO, {"confirm_slug": "bobsweddings"}), 400, "confirmation_mismatch"
    )
    assert list(error["fields"]) == ["confirm_slug"]
    assert_error(alice_client.delete(STUDIO, {}), 400, "validation_error")
    assert_error(alice_client.delete(STUDIO), 400, "validation_error")
    studio_a.refresh_from_db()
    assert studio_a.deleted_at is None


@pytest.mark.parametrize(
    "role_client", ["studio_admin_client", "photographer_client", "assistant_client"]
)
def test_only_an_owner_deletes_the_studio(request, role_client, studio_a):
    client = request.getfixturevalue(role_client)
    response = client.delete(STUDIO, {"confirm_slug": "annasmith"})
    assert_error(response, 403, "permission_denied")
    studio_a.refresh_from_db()
    assert studio_a.deleted_at is None


def test_bob_deleting_deletes_only_his_own_studio(bob_client, studio_a, studio_b):
    assert_error(
        bob_client.delete(STUDIO, {"confirm_slug": "annasmith"}), 400, "confirmation_mismatch"
    )
    studio_a.refresh_from_db()
    assert studio_a.deleted_at is None
