"""Customers, payment methods (made from Stripe's test cards) and setup intents."""

from __future__ import annotations

import contextlib
import copy

from tests.fake_stripe.api.base import (
    CONFIRMABLE,
    Context,
    Store,
    StripeApiError,
    allowed,
    missing,
    new_id,
    no_such,
    now,
    param_bool,
    param_enum,
    param_int,
    param_metadata,
    param_str,
)
from tests.fake_stripe.cards import TEST_CARDS, TestCard


class Customers(Store):
    """Customers, setup intents, and payment methods: made from a test card's name on first
    use, attached to a customer by a setup intent or a charge that saves its card."""

    def customer_create(self, params: dict, context: Context) -> dict:
        allowed(params, "email name metadata description phone expand")
        customer = {
            "id": new_id("cus_", 14),
            "object": "customer",
            "balance": 0,
            "created": now(),
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": param_str(params, "description"),
            "email": param_str(params, "email"),
            "invoice_settings": {"default_payment_method": None},
            "livemode": False,
            "metadata": param_metadata(params),
            "name": param_str(params, "name"),
            "phone": param_str(params, "phone"),
        }
        self._store(customer, context.account)
        self._event("customer.created", customer, context)
        return self._expanded(customer, params, context.account)

    def customer_get(self, params: dict, context: Context, id: str) -> dict:
        allowed(params, "expand")
        customer = self._get(id, "customer", context.account, param="customer")
        return self._expanded(customer, params, context.account)

    def setup_intent_create(self, params: dict, context: Context) -> dict:
        allowed(
            params,
            "customer payment_method_types usage metadata payment_method confirm return_url "
            "description expand",
        )
        account = context.account
        customer = param_str(params, "customer")
        if customer is not None:
            self._get(customer, "customer", account, param="customer")
        setup = {
            "id": new_id("seti_"),
            "object": "setup_intent",
            "cancellation_reason": None,
            "client_secret": None,
            "created": now(),
            "customer": customer,
            "description": param_str(params, "description"),
            "last_setup_error": None,
            "latest_attempt": None,
            "livemode": False,
            "metadata": param_metadata(params),
            "next_action": None,
            "payment_method": None,
            "payment_method_types": params.get("payment_method_types", ["card"]),
            "status": "requires_payment_method",
            "usage": param_enum(params, "usage", ("on_session", "off_session")) or "off_session",
        }
        setup["client_secret"] = f"{setup['id']}_secret_{new_id('', 25)}"
        self._store(setup, account)
        self._event("setup_intent.created", setup, context)
        payment_method = param_str(params, "payment_method")
        if payment_method is not None:
            setup["payment_method"] = self._payment_method(payment_method, account)["id"]
            setup["status"] = "requires_confirmation"
        if param_bool(params, "confirm"):
            self._setup_confirm(setup, context, return_url=param_str(params, "return_url"))
        return self._expanded(setup, params, account)

    def setup_intent_get(self, params: dict, context: Context, id: str) -> dict:
        allowed(params, "expand client_secret")
        setup = self._get(id, "setup_intent", context.account, param="intent")
        return self._expanded(setup, params, context.account)

    def confirm_setup(self, setup_id: str, payment_method: str = "pm_card_visa") -> dict:
        """What Stripe.js does in the customer's browser: confirm with a card."""
        with self.lock:
            setup = self.objects[setup_id]
            self._check_state(setup, CONFIRMABLE, "confirm", kind="SetupIntent")
            account = self.owner[setup_id]
            setup["payment_method"] = self._payment_method(payment_method, account)["id"]
            # A declined card raises; the setup intent says so (last_setup_error).
            with contextlib.suppress(StripeApiError):
                self._setup_confirm(setup, Context(account=account), return_url=None)
            return copy.deepcopy(setup)

    def _setup_confirm(self, setup: dict, context: Context, *, return_url: str | None) -> None:
        if setup["payment_method"] is None:
            raise missing("payment_method")
        card: TestCard = self.notes[setup["payment_method"]]["card"]
        if card.outcome == "succeed":
            self._setup_authenticated(setup, True, context)
        elif card.outcome == "authenticate":
            setup.update(status="requires_action", next_action=self._action(setup, return_url))
            self._event("setup_intent.requires_action", setup, context)
        else:
            method = self.objects[setup["payment_method"]]
            setup.update(
                status="requires_payment_method",
                payment_method=None,
                last_setup_error={
                    "type": "card_error",
                    "code": card.code,
                    "decline_code": card.decline_code,
                    "message": card.message,
                    "payment_method": copy.deepcopy(method),
                },
            )
            self._event("setup_intent.setup_failed", setup, context)
            raise StripeApiError(
                402,
                card.message or "Your card was declined.",
                type="card_error",
                code=card.code,
                decline_code=card.decline_code,
                setup_intent=copy.deepcopy(setup),
            )

    def _setup_authenticated(self, setup: dict, succeed: bool, context: Context) -> None:
        if succeed:
            setup.update(status="succeeded", next_action=None, last_setup_error=None)
            if setup["customer"]:
                self._attach(setup["payment_method"], setup["customer"], context)
            self._event("setup_intent.succeeded", setup, context)
        else:
            setup.update(
                status="requires_payment_method",
                payment_method=None,
                next_action=None,
                last_setup_error={
                    "type": "invalid_request_error",
                    "code": "setup_intent_authentication_failure",
                    "message": "We are unable to authenticate your payment method.",
                },
            )
            self._event("setup_intent.setup_failed", setup, context)

    def _attach(self, payment_method: str, customer: str, context: Context) -> None:
        method = self.objects[payment_method]
        if method["customer"] != customer:
            method["customer"] = customer
            self._event("payment_method.attached", method, context)

    def payment_method_list(self, params: dict, context: Context) -> dict:
        allowed(params, "customer type limit starting_after ending_before expand")
        customer = param_str(params, "customer")
        if customer is None:
            raise missing("customer")
        self._get(customer, "customer", context.account, param="customer")
        kind = param_enum(params, "type", ("card",))
        limit = param_int(params, "limit") or 10
        if not 1 <= limit <= 100:
            raise StripeApiError(400, "limit must be between 1 and 100", param="limit")
        methods = [
            method
            for object_id, method in self.objects.items()
            if method["object"] == "payment_method"
            and self.owner[object_id] == context.account
            and method["customer"] == customer
            and (kind is None or method["type"] == kind)
        ]
        methods.reverse()  # newest first (stored in creation order)
        after = param_str(params, "starting_after")
        if after is not None:
            ids = [method["id"] for method in methods]
            if after not in ids:
                raise no_such("payment_method", after, "starting_after")
            methods = methods[ids.index(after) + 1 :]
        page = methods[:limit]
        return {
            "object": "list",
            "data": [copy.deepcopy(method) for method in page],
            "has_more": len(methods) > limit,
            "url": "/v1/payment_methods",
        }

    def _payment_method(self, payment_method: str, account: str | None) -> dict:
        """A stored method, or a new one from a test card's name (as Stripe makes them)."""
        card = TEST_CARDS.get(payment_method)
        if card is None:
            return self._get(payment_method, "payment_method", account, param="payment_method")
        method = {
            "id": new_id("pm_"),
            "object": "payment_method",
            "allow_redisplay": "unspecified",
            "billing_details": {"address": None, "email": None, "name": None, "phone": None},
            "card": {
                "brand": card.brand,
                "country": card.country,
                "display_brand": card.brand,
                "exp_month": card.exp_month,
                "exp_year": card.exp_year,
                "fingerprint": new_id("", 16),
                "funding": card.funding,
                "last4": card.last4,
            },
            "created": now(),
            "customer": None,
            "livemode": False,
            "metadata": {},
            "type": "card",
        }
        self._store(method, account, card=card)
        return method
