"""Fixtures for the accounts tests: one user of studio A per role, with API clients."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from accounts.models import Role
from picpick.testing.factories import MembershipFactory, UserFactory
from tests.conftest import client_for


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    # Throttle counters live in the cache (Redis on CI): start every test from zero.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def admin_of_a(studio_a, alice):
    user = UserFactory(email="adam@example.com", full_name="Adam Admin")
    MembershipFactory(studio=studio_a, user=user, role=Role.ADMIN)
    return user


@pytest.fixture
def studio_admin_client(admin_of_a, studio_a):
    return client_for(admin_of_a, studio_a)


@pytest.fixture
def photographer_of_a(studio_a, alice):
    user = UserFactory(email="pat@example.com", full_name="Pat Photographer")
    MembershipFactory(studio=studio_a, user=user, role=Role.PHOTOGRAPHER)
    return user


@pytest.fixture
def photographer_client(photographer_of_a, studio_a):
    return client_for(photographer_of_a, studio_a)


@pytest.fixture
def assistant_of_a(studio_a, alice):
    user = UserFactory(email="sam@example.com", full_name="Sam Assistant")
    MembershipFactory(studio=studio_a, user=user, role=Role.ASSISTANT)
    return user


@pytest.fixture
def assistant_client(assistant_of_a, studio_a):
    return client_for(assistant_of_a, studio_a)
