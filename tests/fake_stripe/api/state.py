"""The fake's Stripe: every endpoint group, routed by method and path."""

from __future__ import annotations

import re
from typing import Any

from tests.fake_stripe.api.base import Context, StripeApiError
from tests.fake_stripe.api.connect import Connect
from tests.fake_stripe.api.customers import Customers
from tests.fake_stripe.api.payments import Payments


class StripeState(Payments, Customers, Connect):
    """The endpoints the provider calls, and what tests do on the customer's or Stripe's side.
    Everything runs under one lock; the HTTP side (``server``) adds authentication,
    idempotency keys, faults and delays. The groups are mixins of one object: a charge saves
    its card through ``Customers``, a setup intent's 3-D Secure uses ``Payments``' page."""

    ROUTES: tuple[tuple[str, str, str], ...] = (
        ("POST", r"/v1/payment_intents", "payment_intent_create"),
        ("GET", r"/v1/payment_intents/(?P<id>[^/]+)", "payment_intent_get"),
        ("POST", r"/v1/payment_intents/(?P<id>[^/]+)/confirm", "payment_intent_confirm"),
        ("POST", r"/v1/payment_intents/(?P<id>[^/]+)/cancel", "payment_intent_cancel"),
        ("POST", r"/v1/refunds", "refund_create"),
        ("GET", r"/v1/refunds/(?P<id>[^/]+)", "refund_get"),
        ("POST", r"/v1/customers", "customer_create"),
        ("GET", r"/v1/customers/(?P<id>[^/]+)", "customer_get"),
        ("POST", r"/v1/setup_intents", "setup_intent_create"),
        ("GET", r"/v1/setup_intents/(?P<id>[^/]+)", "setup_intent_get"),
        ("GET", r"/v1/payment_methods", "payment_method_list"),
        ("POST", r"/v1/accounts", "account_create"),
        ("GET", r"/v1/accounts/(?P<id>[^/]+)", "account_get"),
        ("POST", r"/v1/account_links", "account_link_create"),
    )

    def handle(
        self, method: str, path: str, params: dict[str, Any], context: Context
    ) -> dict[str, Any]:
        for route_method, pattern, name in self.ROUTES:
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                with self.lock:
                    self._check_account(context)
                    return getattr(self, name)(params, context, **match.groupdict())
        raise StripeApiError(404, f"Unrecognized request URL ({method}: {path}).")
