"""Members of the current studio: listing, roles, removal, leaving, and the last-owner rule."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection, connections

from accounts import services
from accounts.models import Membership, Role
from picpick.core.errors import ApplicationError
from picpick.testing.factories import MembershipFactory, StudioFactory, UserFactory
from tests.accounts.helpers import assert_error
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

MEMBERS = "/api/v1/studio/members/"
LEAVE = "/api/v1/studio/leave/"


def member_url(membership: Membership) -> str:
    return f"{MEMBERS}{membership.id}/"


def membership(user, studio) -> Membership:
    return Membership.objects.get(user=user, studio=studio)


# --- listing -------------------------------------------------------------------------------


def test_every_role_lists_the_members_of_its_studio(
    request, alice, admin_of_a, photographer_of_a, assistant_of_a, bob, studio_a
):
    for name in ["alice_client", "studio_admin_client", "photographer_client", "assistant_client"]:
        response = request.getfixturevalue(name).get(MEMBERS)
        assert response.status_code == 200, response.content
        body = response.json()
        # Ordered by joining; bob (of studio B) never appears.
        assert [(m["user"]["email"], m["role"]) for m in body["results"]] == [
            ("alice@example.com", "owner"),
            ("adam@example.com", "admin"),
            ("pat@example.com", "photographer"),
            ("sam@example.com", "assistant"),
        ]
        assert body["next"] is None
    first = request.getfixturevalue("alice_client").get(MEMBERS).json()["results"][0]
    assert first["id"] == str(membership(alice, studio_a).id)
    assert set(first) == {"id", "user", "role", "created_at"}


def test_member_list_pages(alice_client, admin_of_a, photographer_of_a):
    page = alice_client.get(MEMBERS, {"page_size": 2}).json()
    assert len(page["results"]) == 2
    rest = alice_client.get(MEMBERS, {"page_size": 2, "cursor": page["next"]}).json()
    assert [m["user"]["email"] for m in rest["results"]] == ["pat@example.com"]
    assert rest["next"] is None


@pytest.mark.parametrize("query", [{"page_size": 0}, {"page_size": "many"}, {"cursor": "forged"}])
def test_member_list_bad_query(alice_client, query):
    response = alice_client.get(MEMBERS, query)
    assert response.status_code == 400


def test_bob_lists_only_his_members(bob_client, alice):
    emails = [m["user"]["email"] for m in bob_client.get(MEMBERS).json()["results"]]
    assert emails == ["bob@example.com"]


def test_members_need_authentication(anon_client, alice, studio_a):
    target = member_url(membership(alice, studio_a))
    assert_error(anon_client.get(MEMBERS), 401, "not_authenticated")
    assert_error(anon_client.patch(target, {"role": "admin"}), 401, "not_authenticated")
    assert_error(anon_client.delete(target), 401, "not_authenticated")
    assert_error(anon_client.post(LEAVE), 401, "not_authenticated")


# --- changing roles ------------------------------------------------------------------------


def test_owner_changes_a_role(alice_client, admin_of_a, studio_a):
    target = membership(admin_of_a, studio_a)
    response = alice_client.patch(member_url(target), {"role": "photographer"})
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "photographer"
    assert response.json()["user"]["email"] == "adam@example.com"
    target.refresh_from_db()
    assert target.role == Role.PHOTOGRAPHER


def test_admin_changes_a_non_owner_role(studio_admin_client, photographer_of_a, studio_a):
    target = membership(photographer_of_a, studio_a)
    assert studio_admin_client.patch(member_url(target), {"role": "assistant"}).status_code == 200
    target.refresh_from_db()
    assert target.role == Role.ASSISTANT


def test_admin_cannot_change_an_owner(studio_admin_client, alice, studio_a):
    target = membership(alice, studio_a)
    response = studio_admin_client.patch(member_url(target), {"role": "assistant"})
    assert_error(response, 403, "owner_required")
    target.refresh_from_db()
    assert target.role == Role.OWNER


def test_admin_cannot_promote_anyone_to_owner(
    studio_admin_client, admin_of_a, photographer_of_a, studio_a
):
    for user in (photographer_of_a, admin_of_a):
        target = membership(user, studio_a)
        assert_error(
            studio_admin_client.patch(member_url(target), {"role": "owner"}), 403, "owner_required"
        )
        target.refresh_from_db()
        assert target.role != Role.OWNER


def test_owner_promotes_to_owner_and_can_then_step_down(alice_client, alice, admin_of_a, studio_a):
    target = membership(admin_of_a, studio_a)
    assert alice_client.patch(member_url(target), {"role": "owner"}).status_code == 200
    mine = membership(alice, studio_a)
    assert alice_client.patch(member_url(mine), {"role": "admin"}).status_code == 200
    mine.refresh_from_db()
    assert mine.role == Role.ADMIN


def test_the_last_owner_cannot_be_demoted(alice_client, alice, studio_a):
    mine = membership(alice, studio_a)
    assert_error(alice_client.patch(member_url(mine), {"role": "admin"}), 409, "last_owner")
    mine.refresh_from_db()
    assert mine.role == Role.OWNER


def test_setting_the_same_role_is_a_no_op(alice_client, alice, studio_a):
    mine = membership(alice, studio_a)
    assert alice_client.patch(member_url(mine), {"role": "owner"}).status_code == 200


@pytest.mark.parametrize("role_client", ["photographer_client", "assistant_client"])
def test_lesser_roles_cannot_manage_members(request, role_client, admin_of_a, studio_a):
    client = request.getfixturevalue(role_client)
    target = membership(admin_of_a, studio_a)
    assert_error(client.patch(member_url(target), {"role": "assistant"}), 403, "permission_denied")
    assert_error(client.delete(member_url(target)), 403, "permission_denied")
    target.refresh_from_db()
    assert target.role == Role.ADMIN


def test_another_studios_member_is_404(bob_client, alice, admin_of_a, studio_a):
    for user in (alice, admin_of_a):
        target = membership(user, studio_a)
        assert_error(bob_client.patch(member_url(target), {"role": "assistant"}), 404, "not_found")
        assert_error(bob_client.delete(member_url(target)), 404, "not_found")
        target.refresh_from_db()
    assert membership(admin_of_a, studio_a).role == Role.ADMIN


def test_unknown_member_id_is_404(alice_client):
    assert_error(
        alice_client.patch(f"{MEMBERS}{uuid.uuid4()}/", {"role": "admin"}), 404, "not_found"
    )
    assert alice_client.delete(f"{MEMBERS}not-a-uuid/").status_code == 404


@pytest.mark.parametrize(
    "body", [{}, {"role": "superuser"}, {"role": "admin", "user": "x"}, {"role": None}]
)
def test_role_change_bad_input(alice_client, admin_of_a, studio_a, body):
    target = membership(admin_of_a, studio_a)
    assert_error(alice_client.patch(member_url(target), body), 400, "validation_error")
    target.refresh_from_db()
    assert target.role == Role.ADMIN


# --- removing members ----------------------------------------------------------------------


def test_owner_removes_a_member(alice_client, admin_of_a, studio_a):
    target = membership(admin_of_a, studio_a)
    assert alice_client.delete(member_url(target)).status_code == 204
    assert not Membership.objects.filter(pk=target.pk).exists()
    # Their token for the studio stops working at once.
    assert_error(client_for(admin_of_a, studio_a).get("/api/v1/studio/"), 403, "not_a_member")


def test_admin_removes_a_photographer_but_not_an_owner(
    studio_admin_client, alice, photographer_of_a, studio_a
):
    assert (
        studio_admin_client.delete(member_url(membership(photographer_of_a, studio_a))).status_code
        == 204
    )
    owner = membership(alice, studio_a)
    assert_error(studio_admin_client.delete(member_url(owner)), 403, "owner_required")
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_the_last_owner_cannot_be_removed(alice_client, alice, studio_a):
    mine = membership(alice, studio_a)
    assert_error(alice_client.delete(member_url(mine)), 409, "last_owner")
    assert Membership.objects.filter(pk=mine.pk).exists()


def test_an_owner_removes_another_owner(alice_client, studio_a):
    other = MembershipFactory(studio=studio_a, role=Role.OWNER)
    assert alice_client.delete(member_url(other)).status_code == 204


# --- leaving -------------------------------------------------------------------------------


def test_a_member_leaves(photographer_client, photographer_of_a, studio_a):
    photographer_of_a.last_studio = studio_a
    photographer_of_a.save()
    assert photographer_client.post(LEAVE).status_code == 204
    assert not Membership.objects.filter(user=photographer_of_a, studio=studio_a).exists()
    photographer_of_a.refresh_from_db()
    assert photographer_of_a.last_studio_id is None
    assert_error(photographer_client.get("/api/v1/studio/"), 403, "not_a_member")


def test_the_last_owner_cannot_leave(alice_client, alice, studio_a):
    assert_error(alice_client.post(LEAVE), 409, "last_owner")
    assert Membership.objects.filter(user=alice, studio=studio_a).exists()


def test_an_owner_with_a_co_owner_can_leave(alice_client, alice, studio_a):
    MembershipFactory(studio=studio_a, role=Role.OWNER)
    assert alice_client.post(LEAVE).status_code == 204


def test_leaving_one_studio_keeps_the_others(bob_client, bob, studio_a, studio_b, alice):
    MembershipFactory(studio=studio_a, user=bob, role=Role.ASSISTANT)
    MembershipFactory(studio=studio_b, role=Role.OWNER)
    assert bob_client.post(LEAVE).status_code == 204
    assert list(bob.memberships.values_list("studio_id", flat=True)) == [studio_a.id]


def test_leave_ignores_a_body(alice_client, studio_a):
    MembershipFactory(studio=studio_a, role=Role.OWNER)
    # No input is expected, and none is read: an unexpected body does not change the outcome.
    assert alice_client.post(LEAVE, {"anything": 1}).status_code == 204


# --- the race ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_themselves_at_once_leave_exactly_one_owner():
    if connection.vendor != "mysql":
        pytest.skip(
            "SQLite has no row locks (select_for_update is a no-op there) and serialises "
            "writers with a database lock instead; this race is meaningful on MariaDB only."
        )
    studio = StudioFactory()
    owners = [UserFactory(), UserFactory()]
    rows = [MembershipFactory(studio=studio, user=user, role=Role.OWNER) for user in owners]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(user, row) -> None:
        try:
            barrier.wait()
            services.member_role_change(
                studio=studio, actor=user, member_id=row.id, role=Role.ADMIN
            )
            outcomes.append("ok")
        except ApplicationError as exc:
            outcomes.append(exc.code)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=demote, args=pair) for pair in zip(owners, rows, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["last_owner", "ok"]
    assert Membership.objects.filter(studio=studio, role=Role.OWNER).count() == 1
