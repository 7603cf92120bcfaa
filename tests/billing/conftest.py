"""Billing's fixtures: the fake Stripe server (``fake_stripe``, ``fake_stripe_server``).

Imported rather than listed in ``pytest_plugins``: pytest takes that list only from the
top-level conftest, and these fixtures are billing's.
"""

from tests.fake_stripe.fixtures import fake_stripe, fake_stripe_server

__all__ = ["fake_stripe", "fake_stripe_server"]
