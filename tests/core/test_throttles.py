"""The API's throttles: DRF's interface, counted with picpick.core.ratelimit's atomic increment
and keyed on the real client address (or the user)."""

from __future__ import annotations

import types

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from picpick.core.ratelimit import parse_rate
from picpick.core.throttles import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle
from tests.accounts.helpers import throttle_rates
from tests.races import race


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _request(address: str = "198.51.100.7", user=None, **meta):
    request = RequestFactory().post("/", REMOTE_ADDR=address, **meta)
    request.user = user or AnonymousUser()
    return request


def _user(pk: int):
    return types.SimpleNamespace(pk=pk, is_authenticated=True)


VIEW = types.SimpleNamespace(throttle_scope="auth")


def test_django_settings_name_the_throttles_of_this_module(settings):
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] == [
        "picpick.core.throttles.AnonRateThrottle",
        "picpick.core.throttles.UserRateThrottle",
        "picpick.core.throttles.ScopedRateThrottle",
    ]


def test_100_simultaneous_requests_pass_exactly_the_rate(settings):
    """DRF's throttle reads its history and writes it back: requests at the same moment all
    read the same history and all pass. An atomic increment lets exactly the rate through."""
    throttle_rates(settings, auth="10/hour")

    def attempt(index: int) -> bool:
        return ScopedRateThrottle().allow_request(_request(), VIEW)

    assert sorted(race(100, attempt)) == [False] * 90 + [True] * 10


def test_a_refusal_says_how_long_to_wait(settings):
    throttle_rates(settings, auth="1/min")
    assert ScopedRateThrottle().allow_request(_request(), VIEW)
    throttle = ScopedRateThrottle()
    assert not throttle.allow_request(_request(), VIEW)
    assert 1 <= throttle.wait() <= 61


def test_the_client_writes_nothing_that_decides_its_bucket(settings):
    throttle_rates(settings, auth="2/min")
    results = [
        ScopedRateThrottle().allow_request(
            _request(HTTP_X_FORWARDED_FOR=f"203.0.113.{n}", HTTP_X_REAL_IP=f"192.0.2.{n}"), VIEW
        )
        for n in range(4)
    ]
    assert results == [True, True, False, False]
    assert ScopedRateThrottle().allow_request(_request("198.51.100.8"), VIEW)


def test_users_are_counted_by_user_not_address(settings):
    throttle_rates(settings, auth="1/min")
    alice, bob = _user(1), _user(2)
    assert ScopedRateThrottle().allow_request(_request("192.0.2.1", user=alice), VIEW)
    # The same user from another address is the same bucket; another user is not.
    assert not ScopedRateThrottle().allow_request(_request("192.0.2.2", user=alice), VIEW)
    assert ScopedRateThrottle().allow_request(_request("192.0.2.1", user=bob), VIEW)


def test_anon_and_user_rates_apply_to_their_own_kind(settings):
    throttle_rates(settings, anon="1/min", user="1/min")
    anonymous, member = _request(), _request(user=_user(7))
    view = types.SimpleNamespace()
    assert AnonRateThrottle().allow_request(anonymous, view)
    assert not AnonRateThrottle().allow_request(anonymous, view)
    assert AnonRateThrottle().allow_request(member, view)  # not counted: a user
    assert UserRateThrottle().allow_request(anonymous, view)  # not counted: anonymous
    assert UserRateThrottle().allow_request(member, view)
    assert not UserRateThrottle().allow_request(member, view)


def test_a_view_without_a_scope_is_not_counted_and_a_scope_without_a_rate_is_an_error():
    assert ScopedRateThrottle().allow_request(_request(), types.SimpleNamespace())
    with pytest.raises(ImproperlyConfigured, match="No rate for throttle scope 'atuh'"):
        ScopedRateThrottle().allow_request(_request(), types.SimpleNamespace(throttle_scope="atuh"))


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [("20/min", (20, 60)), ("5/hour", (5, 3600)), ("1000/day", (1000, 86400)), ("3/s", (3, 1))],
)
def test_rates_are_read_in_drfs_notation(rate, parsed):
    assert parse_rate(rate) == parsed


@pytest.mark.parametrize("rate", ["20", "20/fortnight", "/min", "-1/min", "0/min", "x/min"])
def test_a_malformed_rate_is_refused(rate):
    with pytest.raises(ImproperlyConfigured, match="is not a rate"):
        parse_rate(rate)
