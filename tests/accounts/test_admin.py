"""The admin site for support staff: every studio visible, list pages cheap as tables grow."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from accounts.models import Invitation, Membership, Role, User
from picpick.testing.factories import MembershipFactory, StudioFactory, UserFactory
from tests.queries import QueryCount

pytestmark = pytest.mark.django_db

CHANGELISTS = [
    "/admin/accounts/user/",
    "/admin/accounts/studio/",
    "/admin/accounts/membership/",
    "/admin/accounts/invitation/",
]


@pytest.fixture
def staff_client() -> Client:
    staff = UserFactory(email="support@picpick.test", is_staff=True)
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def superuser_client() -> Client:
    root = User.objects.create_superuser("root@picpick.test", "irrelevant passphrase 99")
    client = Client()
    client.force_login(root)
    return client


def make_rows(count: int) -> None:
    for _ in range(count):
        membership = MembershipFactory(studio=StudioFactory(), role=Role.ADMIN)
        Invitation.objects.create(
            studio=membership.studio,
            email=f"{membership.id.hex}@example.com",
            role=Role.ASSISTANT,
            invited_by=membership.user,
            token_hash=membership.id.hex * 2,
            expires_at="2999-01-01T00:00:00Z",
        )


@pytest.mark.parametrize("url", CHANGELISTS)
def test_staff_see_every_studios_rows(staff_client, alice, bob, url):
    response = staff_client.get(url)
    assert response.status_code == 200
    if "user" in url or "membership" in url:
        content = response.content.decode()
        assert "alice@example.com" in content and "bob@example.com" in content


@pytest.mark.parametrize("url", CHANGELISTS)
def test_list_pages_do_not_query_per_row(superuser_client, url):
    make_rows(2)
    with QueryCount(connection) as few:
        assert superuser_client.get(url).status_code == 200
    make_rows(10)
    with QueryCount(connection) as many:
        assert superuser_client.get(url).status_code == 200
    assert len(many) == len(few)


def test_user_search_by_email(staff_client, alice, bob):
    content = staff_client.get("/admin/accounts/user/", {"q": "alice@"}).content.decode()
    assert "alice@example.com" in content and "bob@example.com" not in content


def test_studio_filters(staff_client, studio_a, studio_b):
    studio_b.deleted_at = "2020-01-01T00:00:00Z"
    studio_b.save()
    content = staff_client.get("/admin/accounts/studio/", {"deleted": "yes"}).content.decode()
    assert "bobsweddings" in content and "annasmith" not in content
    assert staff_client.get("/admin/accounts/studio/", {"plan__exact": "pro"}).status_code == 200


def test_staff_without_permissions_can_view_but_not_change(staff_client, alice):
    response = staff_client.post(
        f"/admin/accounts/user/{alice.pk}/change/", {"email": "evil@example.com"}
    )
    assert response.status_code == 403
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"


def test_non_staff_cannot_open_the_admin(alice):
    client = Client()
    client.force_login(alice)
    assert client.get("/admin/accounts/user/").status_code == 302


def test_adding_a_user_stores_the_email_lower_case(superuser_client, alice):
    response = superuser_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "New.Person@Example.com",
            "full_name": "New Person",
            "usable_password": "true",
            "password1": "a long admin chosen passphrase",
            "password2": "a long admin chosen passphrase",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert User.objects.filter(email="new.person@example.com").exists()
    duplicate = superuser_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "ALICE@example.com",
            "usable_password": "true",
            "password1": "a long admin chosen passphrase",
            "password2": "a long admin chosen passphrase",
        },
    )
    assert duplicate.status_code == 200  # the form again, with the error
    assert User.objects.filter(email__iexact="alice@example.com").count() == 1


def test_revoke_sessions_action_bumps_token_version(superuser_client, alice):
    response = superuser_client.post(
        "/admin/accounts/user/", {"action": "revoke_sessions", "_selected_action": [alice.pk]}
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.token_version == 1


def test_membership_and_invitation_pages_open(superuser_client, alice, studio_a):
    make_rows(1)
    membership = Membership.objects.get(user=alice)
    invitation = Invitation.objects.first()
    assert (
        superuser_client.get(f"/admin/accounts/membership/{membership.pk}/change/").status_code
        == 200
    )
    assert (
        superuser_client.get(f"/admin/accounts/invitation/{invitation.pk}/change/").status_code
        == 200
    )
    assert superuser_client.get("/admin/accounts/invitation/add/").status_code == 403
