"""The fake's Stripe, by endpoint group (``state.StripeState`` puts them together)."""

from tests.fake_stripe.api.base import API_VERSION, Context, StripeApiError, new_id, stripe_fee
from tests.fake_stripe.api.state import StripeState

__all__ = ["API_VERSION", "Context", "StripeApiError", "StripeState", "new_id", "stripe_fee"]
