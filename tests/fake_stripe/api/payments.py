"""Payment intents, their charges and 3-D Secure, refunds and disputes."""

from __future__ import annotations

import copy

from tests.fake_stripe.api.base import (
    CANCELABLE,
    CONFIRMABLE,
    MINIMUM_AMOUNT,
    REFUND_REASONS,
    Context,
    Store,
    StripeApiError,
    allowed,
    missing,
    new_id,
    now,
    param_bool,
    param_currency,
    param_enum,
    param_int,
    param_metadata,
    param_str,
    stripe_fee,
)
from tests.fake_stripe.cards import AUTHENTICATION_REQUIRED, TestCard


class Payments(Store):
    """Payment intents (``_succeed`` makes the charge and its balance transaction), refunds,
    disputes. Payment methods come from ``Customers``."""

    # --- payment intents -------------------------------------------------------------------

    def payment_intent_create(self, params: dict, context: Context) -> dict:
        allowed(
            params,
            "amount currency customer payment_method confirm off_session setup_future_usage "
            "return_url description metadata application_fee_amount payment_method_types "
            "expand automatic_payment_methods capture_method receipt_email",
        )
        account = context.account
        amount = param_int(params, "amount", required=True)
        currency = param_currency(params)
        if amount < MINIMUM_AMOUNT:
            raise StripeApiError(
                400,
                f"Amount must be at least {MINIMUM_AMOUNT} {currency}",
                code="amount_too_small",
                param="amount",
            )
        confirm = param_bool(params, "confirm")
        off_session = param_bool(params, "off_session")
        return_url = param_str(params, "return_url")
        if off_session and not confirm:
            raise StripeApiError(
                400, "off_session can only be passed with confirm=true", param="off_session"
            )
        if return_url and not confirm:
            raise StripeApiError(
                400, "return_url can only be passed with confirm=true", param="return_url"
            )
        fee = param_int(params, "application_fee_amount")
        if fee is not None:
            if account is None:
                raise StripeApiError(
                    400,
                    "Can only apply an application_fee_amount when the PaymentIntent is "
                    "attempting a direct payment (using an OAuth key or Stripe-Account header) "
                    "or destination payment (using `transfer_data[destination]`).",
                    param="application_fee_amount",
                )
            if fee > amount:
                raise StripeApiError(
                    400,
                    "application_fee_amount cannot be greater than amount",
                    param="application_fee_amount",
                )
        future = param_enum(params, "setup_future_usage", ("on_session", "off_session"))
        types = params.get("payment_method_types", ["card"])
        if types != ["card"]:
            raise StripeApiError(
                400,
                "The fake takes card payments only.",
                code="payment_method_type_invalid",
                param="payment_method_types",
            )
        customer = param_str(params, "customer")
        if customer is not None:
            self._get(customer, "customer", account, param="customer")
        intent = {
            "id": new_id("pi_"),
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "application": None,
            "application_fee_amount": fee,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic",
            "client_secret": None,
            "confirmation_method": "automatic",
            "created": now(),
            "currency": currency,
            "customer": customer,
            "description": param_str(params, "description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": param_metadata(params),
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": None,
            "payment_method_types": ["card"],
            "receipt_email": param_str(params, "receipt_email"),
            "setup_future_usage": future,
            "status": "requires_payment_method",
            "transfer_data": None,
        }
        intent["client_secret"] = f"{intent['id']}_secret_{new_id('', 25)}"
        payment_method = param_str(params, "payment_method")
        if payment_method is not None:
            self._use_payment_method(intent, payment_method, account)
        self._store(intent, account)
        self._event("payment_intent.created", intent, context)
        if confirm:
            self._confirm(intent, context, off_session=off_session, return_url=return_url)
        return self._expanded(intent, params, account)

    def payment_intent_get(self, params: dict, context: Context, id: str) -> dict:
        allowed(params, "expand client_secret")
        intent = self._get(id, "payment_intent", context.account, param="intent")
        return self._expanded(intent, params, context.account)

    def payment_intent_confirm(self, params: dict, context: Context, id: str) -> dict:
        allowed(params, "payment_method return_url off_session setup_future_usage expand")
        intent = self._get(id, "payment_intent", context.account, param="intent")
        self._check_state(intent, CONFIRMABLE, "confirm")
        future = param_enum(params, "setup_future_usage", ("on_session", "off_session"))
        if future:
            intent["setup_future_usage"] = future
        payment_method = param_str(params, "payment_method")
        if payment_method is not None:
            self._use_payment_method(intent, payment_method, context.account)
        self._confirm(
            intent,
            context,
            off_session=param_bool(params, "off_session"),
            return_url=param_str(params, "return_url"),
        )
        return self._expanded(intent, params, context.account)

    def payment_intent_cancel(self, params: dict, context: Context, id: str) -> dict:
        allowed(params, "cancellation_reason expand")
        intent = self._get(id, "payment_intent", context.account, param="intent")
        self._check_state(intent, CANCELABLE, "cancel")
        intent.update(
            status="canceled",
            canceled_at=now(),
            cancellation_reason=param_enum(
                params,
                "cancellation_reason",
                ("abandoned", "duplicate", "fraudulent", "requested_by_customer"),
            ),
            next_action=None,
        )
        self._event("payment_intent.canceled", intent, context)
        return self._expanded(intent, params, context.account)

    def _use_payment_method(self, intent: dict, payment_method: str, account: str | None) -> None:
        method = self._payment_method(payment_method, account)
        owner = method.get("customer")
        if owner is not None and owner != intent["customer"]:
            raise StripeApiError(
                400,
                f"The provided PaymentMethod {method['id']} belongs to a Customer other than "
                "the one on this PaymentIntent.",
                param="payment_method",
            )
        intent["payment_method"] = method["id"]
        if intent["status"] == "requires_payment_method":
            intent["status"] = "requires_confirmation"

    def _confirm(
        self, intent: dict, context: Context, *, off_session: bool, return_url: str | None
    ) -> None:
        if intent["payment_method"] is None:
            raise StripeApiError(
                400,
                "You cannot confirm this PaymentIntent because it's missing a payment method. "
                "To confirm the PaymentIntent with a payment method, pass `payment_method`.",
                code="payment_intent_unexpected_state",
                payment_intent=copy.deepcopy(intent),
            )
        card: TestCard = self.notes[intent["payment_method"]]["card"]
        if card.outcome == "authenticate" and off_session:
            card = AUTHENTICATION_REQUIRED
        if card.outcome == "succeed":
            self._succeed(intent, context)
        elif card.outcome == "decline":
            self._decline(intent, card, context)
        else:
            self.notes[intent["id"]]["return_url"] = return_url
            intent.update(status="requires_action", next_action=self._action(intent, return_url))
            self._event("payment_intent.requires_action", intent, context)

    def _action(self, intent_or_setup: dict, return_url: str | None) -> dict:
        url = f"{self._url()}/fake/3ds/{intent_or_setup['id']}"
        if return_url:
            return {
                "type": "redirect_to_url",
                "redirect_to_url": {"return_url": return_url, "url": url},
            }
        # Without a return URL Stripe.js handles the challenge in the page.
        return {
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": url},
        }

    def _succeed(self, intent: dict, context: Context) -> None:
        account = self.owner[intent["id"]]
        amount, currency = intent["amount"], intent["currency"]
        charge = self._charge(intent, paid=True)
        fee = stripe_fee(amount, currency)
        application_fee = intent["application_fee_amount"] or 0
        fee_details = [
            {
                "amount": fee,
                "application": None,
                "currency": currency,
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            }
        ]
        if application_fee:
            fee_details.append(
                {
                    "amount": application_fee,
                    "application": "ca_fakepicpick",
                    "currency": currency,
                    "description": "Application fee",
                    "type": "application_fee",
                }
            )
        transaction = {
            "id": new_id("txn_"),
            "object": "balance_transaction",
            "amount": amount,
            "available_on": now() + 2 * 86400,
            "created": now(),
            "currency": currency,
            "description": None,
            "exchange_rate": None,
            "fee": fee + application_fee,
            "fee_details": fee_details,
            "net": amount - fee - application_fee,
            "reporting_category": "charge",
            "source": charge["id"],
            "status": "pending",
            "type": "charge",
        }
        self._store(transaction, account)
        charge["balance_transaction"] = transaction["id"]
        self.charges.append(charge)
        intent.update(
            status="succeeded",
            amount_received=amount,
            latest_charge=charge["id"],
            last_payment_error=None,
            next_action=None,
        )
        if intent["setup_future_usage"] and intent["customer"]:
            self._attach(intent["payment_method"], intent["customer"], context)
        self._event("charge.succeeded", charge, context)
        self._event("payment_intent.succeeded", intent, context)

    def _decline(self, intent: dict, card: TestCard, context: Context) -> None:
        method = self.objects[intent["payment_method"]]
        charge_id = None
        if card.code != "authentication_required":  # no charge is attempted without it
            charge = self._charge(intent, paid=False, card=card)
            charge_id = charge["id"]
            intent["latest_charge"] = charge_id
            self._event("charge.failed", charge, context)
        error = {
            "type": "card_error",
            "code": card.code,
            "decline_code": card.decline_code,
            "message": card.message,
            "charge": charge_id,
            "payment_method": copy.deepcopy(method),
        }
        intent.update(
            status="requires_payment_method",
            payment_method=None,
            next_action=None,
            last_payment_error={k: v for k, v in error.items() if v is not None},
        )
        self._event("payment_intent.payment_failed", intent, context)
        raise StripeApiError(
            402,
            card.message or "Your card was declined.",
            type="card_error",
            code=card.code,
            decline_code=card.decline_code,
            charge=charge_id,
            payment_intent=copy.deepcopy(intent),
            payment_method=copy.deepcopy(method),
        )

    def _charge(self, intent: dict, *, paid: bool, card: TestCard | None = None) -> dict:
        method = self.objects[intent["payment_method"]]
        charge = {
            "id": new_id("ch_"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"] if paid else 0,
            "amount_refunded": 0,
            "application_fee_amount": intent["application_fee_amount"],
            "balance_transaction": None,
            "captured": paid,
            "created": now(),
            "currency": intent["currency"],
            "customer": intent["customer"],
            "description": intent["description"],
            "disputed": False,
            "failure_code": None if paid else card and card.code,
            "failure_message": None if paid else card and card.message,
            "livemode": False,
            "metadata": dict(intent["metadata"]),
            "outcome": {
                "network_status": "approved_by_network" if paid else "declined_by_network",
                "reason": None if paid else card and card.decline_code,
                "risk_level": "normal",
                "seller_message": "Payment complete." if paid else "The bank declined.",
                "type": "authorized" if paid else "issuer_declined",
            },
            "paid": paid,
            "payment_intent": intent["id"],
            "payment_method": method["id"],
            "payment_method_details": {
                "card": {
                    key: method["card"][key]
                    for key in ("brand", "country", "exp_month", "exp_year", "funding", "last4")
                },
                "type": "card",
            },
            "refunded": False,
            "status": "succeeded" if paid else "failed",
        }
        self._store(charge, self.owner[intent["id"]])
        return charge

    def authenticate(self, object_id: str, *, succeed: bool = True) -> dict:
        """The customer passes (or fails) 3-D Secure on an intent or a setup intent."""
        with self.lock:
            target = self.objects.get(object_id)
            if target is None or target.get("status") != "requires_action":
                raise ValueError(f"{object_id} is not waiting for authentication")
            context = Context(account=self.owner[object_id])
            if target["object"] == "setup_intent":
                self._setup_authenticated(target, succeed, context)
            elif succeed:
                self._succeed(target, context)
            else:
                method = self.objects[target["payment_method"]]
                target.update(
                    status="requires_payment_method",
                    payment_method=None,
                    next_action=None,
                    last_payment_error={
                        "type": "invalid_request_error",
                        "code": "payment_intent_authentication_failure",
                        "message": "We are unable to authenticate your payment method. Please "
                        "choose a different payment method and try again.",
                        "payment_method": copy.deepcopy(method),
                    },
                )
                self._event("payment_intent.payment_failed", target, context)
            return copy.deepcopy(target)

    # --- refunds ---------------------------------------------------------------------------

    def refund_create(self, params: dict, context: Context) -> dict:
        allowed(
            params, "payment_intent charge amount reason metadata expand refund_application_fee"
        )
        account = context.account
        intent_id, charge_id = param_str(params, "payment_intent"), param_str(params, "charge")
        if intent_id is None and charge_id is None:
            raise missing("payment_intent")
        if intent_id is not None:
            intent = self._get(intent_id, "payment_intent", account, param="payment_intent")
            if intent["status"] != "succeeded":
                raise StripeApiError(
                    400,
                    f"This PaymentIntent ({intent_id}) does not have a successful charge to "
                    "refund.",
                    code="charge_not_refundable",
                    param="payment_intent",
                )
            charge_id = intent["latest_charge"]
        charge = self._get(charge_id, "charge", account, param="charge")
        left = charge["amount"] - charge["amount_refunded"]
        if left == 0:
            raise StripeApiError(
                400,
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = param_int(params, "amount")
        if amount is None:
            amount = left
        if amount <= 0:
            raise StripeApiError(
                400, "Invalid positive integer", code="parameter_invalid_integer", param="amount"
            )
        if amount > left:
            raise StripeApiError(
                400,
                f"Refund amount ({amount} {charge['currency']}) is greater than unrefunded "
                f"amount on charge ({left} {charge['currency']})",
                code="amount_too_large",
                param="amount",
            )
        refund = {
            "id": new_id("re_"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": new_id("txn_"),
            "charge": charge["id"],
            "created": now(),
            "currency": charge["currency"],
            "destination_details": {"card": {"type": "refund"}, "type": "card"},
            "failure_reason": None,
            "metadata": param_metadata(params),
            "payment_intent": charge["payment_intent"],
            "reason": param_enum(params, "reason", REFUND_REASONS),
            "receipt_number": None,
            "status": "succeeded",
        }
        self._store(refund, account)
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        self._event("charge.refunded", charge, context)
        self._event("refund.created", refund, context)
        return self._expanded(refund, params, account)

    def refund_get(self, params: dict, context: Context, id: str) -> dict:
        allowed(params, "expand")
        refund = self._get(id, "refund", context.account, param="refund")
        return self._expanded(refund, params, context.account)

    def fail_refund(self, refund_id: str, failure_reason: str = "expired_or_canceled_card") -> dict:
        """A refund the card network gave back later (the money returns to the account)."""
        with self.lock:
            refund = self.objects[refund_id]
            if refund["status"] == "failed":
                raise ValueError(f"{refund_id} has already failed")
            previous = {"status": refund["status"], "failure_reason": None}
            refund.update(status="failed", failure_reason=failure_reason)
            charge = self.objects[refund["charge"]]
            charge["amount_refunded"] -= refund["amount"]
            charge["refunded"] = False
            context = Context(account=self.owner[refund_id])
            self._event("refund.updated", refund, context, previous=previous)
            self._event("refund.failed", refund, context)
            return copy.deepcopy(refund)

    def dispute(
        self, intent_id: str, amount: int | None = None, reason: str = "fraudulent"
    ) -> dict:
        """The cardholder disputes an intent's charge (``charge.dispute.created``)."""
        with self.lock:
            intent = self.objects[intent_id]
            charge = self.objects[intent["latest_charge"]]
            dispute = {
                "id": new_id("dp_"),
                "object": "dispute",
                "amount": charge["amount"] if amount is None else amount,
                "balance_transactions": [],
                "charge": charge["id"],
                "created": now(),
                "currency": charge["currency"],
                "evidence_details": {
                    "due_by": now() + 7 * 86400,
                    "has_evidence": False,
                    "past_due": False,
                    "submission_count": 0,
                },
                "is_charge_refundable": False,
                "livemode": False,
                "metadata": {},
                "payment_intent": intent_id,
                "reason": reason,
                "status": "needs_response",
            }
            account = self.owner[intent_id]
            self._store(dispute, account)
            charge["disputed"] = True
            self._event("charge.dispute.created", dispute, Context(account=account))
            return copy.deepcopy(dispute)

    def close_dispute(self, dispute_id: str, *, won: bool) -> dict:
        with self.lock:
            dispute = self.objects[dispute_id]
            dispute["status"] = "won" if won else "lost"
            context = Context(account=self.owner[dispute_id])
            self._event("charge.dispute.closed", dispute, context)
            return copy.deepcopy(dispute)
