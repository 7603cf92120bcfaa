"""The ``fake_stripe`` fixture: the fake Stripe server, and the settings pointing at it.

One server per test session; each test starts from an empty Stripe (no objects, requests,
events, faults) with ``STRIPE_*`` settings naming the fake, so ``payment_provider()`` talks to it
through the real SDK. Use it from any test module under ``tests/billing`` (its conftest loads
this module) by naming ``fake_stripe``.
"""

from __future__ import annotations

import pytest

from billing.payments import payment_provider_cache_clear
from tests.fake_stripe.server import (
    FAKE_PUBLISHABLE_KEY,
    FAKE_SECRET_KEY,
    FAKE_WEBHOOK_SECRET,
    FakeStripe,
)


@pytest.fixture(scope="session")
def fake_stripe_server():
    server = FakeStripe(api_key=FAKE_SECRET_KEY).start()
    yield server
    server.stop()


@pytest.fixture
def fake_stripe(fake_stripe_server, settings, monkeypatch) -> FakeStripe:
    fake_stripe_server.reset()
    # An HTTP(S)_PROXY in the environment must not carry loopback requests away.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    settings.STRIPE_SECRET_KEY = FAKE_SECRET_KEY
    settings.STRIPE_PUBLISHABLE_KEY = FAKE_PUBLISHABLE_KEY
    settings.STRIPE_WEBHOOK_SECRET = FAKE_WEBHOOK_SECRET
    settings.STRIPE_API_BASE = fake_stripe_server.url
    settings.STRIPE_TIMEOUT_S = 5
    payment_provider_cache_clear()
    yield fake_stripe_server
    payment_provider_cache_clear()
    fake_stripe_server.reset()
