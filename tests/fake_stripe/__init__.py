"""A fake Stripe API server on loopback for tests (see ``server`` and ``fixtures``)."""

from tests.fake_stripe.server import (
    FAKE_PUBLISHABLE_KEY,
    FAKE_SECRET_KEY,
    FAKE_WEBHOOK_SECRET,
    FakeStripe,
    RecordedRequest,
)
from tests.fake_stripe.signing import sign_payload

__all__ = [
    "FAKE_PUBLISHABLE_KEY",
    "FAKE_SECRET_KEY",
    "FAKE_WEBHOOK_SECRET",
    "FakeStripe",
    "RecordedRequest",
    "sign_payload",
]
