"""DRF throttles counted by ``picpick.core.ratelimit`` and keyed on the real client address.

DRF's own throttles read a history list from the cache and write it back (two requests at once
both pass) and identify anonymous clients by their own ``X-Forwarded-For``. These keep DRF's
interface (``throttle_scope`` on a view, rates in ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``,
429 with Retry-After) and count in fixed windows with the cache's atomic increment.

A fixed window lets a client spend a window's rate at its end and again at the start of the
next one: at most twice the rate in a moment, never more over time.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from picpick.core import ratelimit
from picpick.core.clientaddr import client_address
from picpick.core.ratelimit import parse_rate


class _AtomicRateThrottle(BaseThrottle):
    scope: str | None = None

    def __init__(self) -> None:
        self.wait_seconds: int | None = None

    def scope_for(self, view) -> str | None:
        return self.scope

    def ident(self, request) -> str | None:
        """What is counted: None lets the request through uncounted."""
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        scope = self.scope_for(view)
        if scope is None:
            return True
        # Read per request, not at import: tests and deployments set rates in settings.
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(scope)
        if rate is None:  # a misspelt scope must not leave a view unlimited
            raise ImproperlyConfigured(f"No rate for throttle scope {scope!r}.")
        ident = self.ident(request)
        if ident is None:
            return True
        limit, window = parse_rate(rate)
        self.wait_seconds = ratelimit.take([(f"throttle:{scope}:{ident}", limit)], window=window)
        return self.wait_seconds is None

    def wait(self) -> float | None:
        return self.wait_seconds


def _user_or_address(request) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"addr:{ratelimit.client_hash(client_address(request), purpose='throttle')}"


class AnonRateThrottle(_AtomicRateThrottle):
    """Requests without a user, per client address (rate ``anon``)."""

    scope = "anon"

    def ident(self, request) -> str | None:
        user = getattr(request, "user", None)
        return None if user is not None and user.is_authenticated else _user_or_address(request)


class UserRateThrottle(_AtomicRateThrottle):
    """Requests with a user, per user (rate ``user``)."""

    scope = "user"

    def ident(self, request) -> str | None:
        user = getattr(request, "user", None)
        return _user_or_address(request) if user is not None and user.is_authenticated else None


class ScopedRateThrottle(_AtomicRateThrottle):
    """The view's ``throttle_scope`` (``auth``, ``password_reset``), per user or else per
    client address; views without a scope are not counted here."""

    def scope_for(self, view) -> str | None:
        return getattr(view, "throttle_scope", None)

    def ident(self, request) -> str | None:
        return _user_or_address(request)
