"""Shared fixtures: two studios with named users, and API clients logged in as them.

alice owns studio A, bob owns studio B. Every object endpoint is tested against bob's client
to prove that studio A's objects answer 404 to studio B.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import partial

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.tokens import token_pair_for
from picpick.testing.factories import MembershipFactory, StudioFactory, UserFactory
from tests.queries import QueryCount

# The S3 (moto server) and local-storage fixtures are shared by every test package.
pytest_plugins = ["tests.storage_fixtures"]

# Fixtures that read the shared face photos (``../shared/faces``, beside the repository). On a
# machine without them, the tests that use one — or carry the ``shared_photos`` marker, for
# the few that read a photo directly — are skipped with a reason instead of erroring.
SHARED_PHOTO_FIXTURES = frozenset(
    {
        "bench_set",
        "chips",
        "manifest",
        "pin_gallery",
        "real_photo",
        "shared_faces",
        "shared_gallery",
        "shared_image",
        "small_scene",
    }
)


def pytest_collection_modifyitems(config, items):
    from galleries.demo_images import faces_dir

    if (faces_dir() / "manifest.json").is_file():
        return
    skip = pytest.mark.skip(reason="the shared face photos are not beside the repository")
    for item in items:
        needs = SHARED_PHOTO_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if needs or item.get_closest_marker("shared_photos"):
            item.add_marker(skip)


PASSWORD = "correct horse battery staple"


@pytest.fixture
def studio_a(db):
    return StudioFactory(name="Anna Smith Photography", slug="annasmith")


@pytest.fixture
def studio_b(db):
    return StudioFactory(name="Bob's Weddings", slug="bobsweddings")


@pytest.fixture
def alice(studio_a):
    user = UserFactory(email="alice@example.com", full_name="Alice Owner")
    MembershipFactory(studio=studio_a, user=user, role=Role.OWNER)
    return user


@pytest.fixture
def bob(studio_b):
    user = UserFactory(email="bob@example.com", full_name="Bob Owner")
    MembershipFactory(studio=studio_b, user=user, role=Role.OWNER)
    return user


def client_for(user, studio) -> APIClient:
    client = APIClient()
    tokens = token_pair_for(user=user, studio=studio)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    client.tokens = tokens
    return client


@pytest.fixture
def member_of_a(studio_a):
    """A factory: a user of studio A with the given role, and a client logged in as them."""

    def make(role: str):
        user = UserFactory()
        MembershipFactory(studio=studio_a, user=user, role=role)
        return user, client_for(user, studio_a)

    return make


@pytest.fixture
def alice_client(alice, studio_a) -> APIClient:
    return client_for(alice, studio_a)


@pytest.fixture
def bob_client(bob, studio_b) -> APIClient:
    return client_for(bob, studio_b)


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@contextmanager
def _assert_num_queries(config, num: int, exact: bool = True, info: str | None = None):
    with QueryCount(connection) as context:
        yield context
    performed = len(context)
    if (num != performed) if exact else (performed > num):
        sqls = "\n\n".join(q["sql"] for q in context.captured_queries)
        bound = "" if exact else "or less "
        pytest.fail(
            f"Expected to perform {num} queries {bound}but {performed} were done"
            f"{chr(10) + info if info else ''}\n\nQueries:\n{sqls}"
        )


@pytest.fixture
def django_assert_num_queries(pytestconfig):
    return partial(_assert_num_queries, pytestconfig)


@pytest.fixture
def django_assert_max_num_queries(pytestconfig):
    return partial(_assert_num_queries, pytestconfig, exact=False)
