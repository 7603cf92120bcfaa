"""The role permission table, checked as data and through the real endpoints."""

from __future__ import annotations

import pytest

from accounts.models import Invitation, Membership, Role
from accounts.permissions import ROLE_PERMISSIONS, Perm, role_has
from picpick.testing.factories import MembershipFactory, UserFactory
from tests.conftest import client_for

# A copy of the table in accounts/permissions.py, written out by hand on purpose: a change to
# who may do what must be made twice, here and there, never by accident.
OW, AD, PH, AS = Role.OWNER, Role.ADMIN, Role.PHOTOGRAPHER, Role.ASSISTANT
EXPECTED: dict[str, set[str]] = {
    "studio.view": {OW, AD, PH, AS},
    "studio.edit": {OW, AD},
    "studio.delete": {OW},
    "member.view": {OW, AD, PH, AS},
    "member.invite": {OW, AD},
    "member.manage": {OW, AD},
    "gallery.view": {OW, AD, PH, AS},
    "gallery.create": {OW, AD, PH},
    "gallery.edit": {OW, AD, PH, AS},
    "gallery.publish": {OW, AD, PH},
    "gallery.delete": {OW, AD},
    "photo.upload": {OW, AD, PH, AS},
    "photo.edit": {OW, AD, PH, AS},
    "photo.delete": {OW, AD, PH},
    "crm.view": {OW, AD, PH},
    "crm.edit": {OW, AD},
    "billing.view": {OW, AD},
    "billing.manage": {OW},
    "domain.view": {OW, AD, PH, AS},
    "domain.manage": {OW, AD},
}
ROLES = [OW, AD, PH, AS]


def test_the_table_lists_every_permission_and_every_role():
    assert set(EXPECTED) == {perm.value for perm in Perm}
    assert set(ROLE_PERMISSIONS) == set(Role.values)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("perm", sorted(EXPECTED))
def test_permission_table(role, perm):
    assert role_has(role, perm) is (role in EXPECTED[perm])


def test_an_unknown_role_has_no_permission():
    assert not any(role_has("superhero", perm) for perm in Perm)


# --- through the endpoints -----------------------------------------------------------------


def _request(client, studio, case: str):
    """One request per studio/member endpoint; each acts on objects made for it."""
    target = MembershipFactory(studio=studio, role=Role.ASSISTANT)
    invitation = Invitation.objects.create(
        studio=studio,
        email="x@example.com",
        role=Role.ASSISTANT,
        token_hash=f"{target.id.hex:0<64}",
        expires_at="2999-01-01T00:00:00Z",
    )
    return {
        "studio.view": lambda: client.get("/api/v1/studio/"),
        "studio.edit": lambda: client.patch("/api/v1/studio/", {"name": "Renamed"}),
        "studio.delete": lambda: client.delete("/api/v1/studio/", {"confirm_slug": studio.slug}),
        "member.view": lambda: client.get("/api/v1/studio/members/"),
        "member.view (invitations)": lambda: client.get("/api/v1/studio/invitations/"),
        "member.manage (role)": lambda: client.patch(
            f"/api/v1/studio/members/{target.id}/", {"role": "photographer"}
        ),
        "member.manage (remove)": lambda: client.delete(f"/api/v1/studio/members/{target.id}/"),
        "member.invite": lambda: client.post(
            "/api/v1/studio/invitations/", {"email": "new@example.com", "role": "assistant"}
        ),
        "member.invite (revoke)": lambda: client.delete(
            f"/api/v1/studio/invitations/{invitation.id}/"
        ),
    }[case]()


CASES = [
    "studio.view",
    "studio.edit",
    "studio.delete",
    "member.view",
    "member.view (invitations)",
    "member.manage (role)",
    "member.manage (remove)",
    "member.invite",
    "member.invite (revoke)",
]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES)
def test_endpoints_follow_the_table(studio_a, alice, role, case):
    user = alice if role == OW else UserFactory()
    if role != OW:
        MembershipFactory(studio=studio_a, user=user, role=role)
    response = _request(client_for(user, studio_a), studio_a, case)
    allowed = role in EXPECTED[case.split(" ")[0]]
    if allowed:
        assert response.status_code in (200, 201, 204), response.content
    else:
        assert response.status_code == 403, response.content
        assert response.json()["error"]["code"] == "permission_denied"
        assert Membership.objects.filter(studio=studio_a).count() == 3  # alice, user, target
