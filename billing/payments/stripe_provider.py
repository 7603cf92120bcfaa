"""The payment provider on Stripe's official SDK (``stripe.StripeClient``).

Every response is turned into a dict at once (``to_dict``) and read into the plain values of
``billing.payments.provider``; nothing of the SDK leaves this module. Every SDK error becomes
one of the provider's errors, logged once here with what identifies the call (operation,
account, object id, Stripe's code and request id) and never with keys, client secrets or the
request body.

Amounts go through ``billing.payments.units`` both ways. Intents are read with their latest
charge and its balance transaction expanded, so a succeeded intent carries its fee.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import stripe

from billing.payments.provider import (
    CardDeclined,
    CardMethod,
    ConnectAccount,
    Customer,
    Event,
    Intent,
    PaymentsNotConfigured,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    RefundReason,
    RefundResult,
    SetupResult,
    WebhookSignatureError,
)
from billing.payments.units import from_stripe, to_stripe

logger = logging.getLogger("billing.payments")

WEBHOOK_TOLERANCE_SECONDS = 300
# Read on every intent answer: the fee is on the charge's balance transaction.
INTENT_EXPAND = ["latest_charge.balance_transaction"]
MAX_IDEMPOTENCY_KEY = 255


class StripeProvider:
    """``PaymentProvider`` on Stripe. Built by ``billing.payments.payment_provider()`` from the
    settings; tests build one on the fake Stripe server with a short timeout."""

    def __init__(
        self,
        *,
        secret_key: str,
        webhook_secret: str = "",
        api_base: str = "https://api.stripe.com",
        timeout: float = 10,
        max_network_retries: int = 2,
        http_client: stripe.HTTPClient | None = None,
    ) -> None:
        if not secret_key:
            raise PaymentsNotConfigured("Payments are not configured (no Stripe secret key).")
        self.api_base = api_base.rstrip("/")
        self._webhook_secret = webhook_secret
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": self.api_base},
            max_network_retries=max_network_retries,
            http_client=http_client or stripe.RequestsClient(timeout=timeout),
        )

    def __repr__(self) -> str:
        return f"<StripeProvider {self.api_base}>"

    # --- payment intents -------------------------------------------------------------------

    def payment_intent_create(
        self,
        *,
        amount: int,
        currency: str,
        account: str | None,
        idempotency_key: str,
        customer: str | None = None,
        payment_method: str | None = None,
        confirm: bool = False,
        off_session: bool = False,
        save_method: bool = False,
        return_url: str | None = None,
        description: str = "",
        metadata: dict[str, str] | None = None,
        application_fee: int | None = None,
    ) -> Intent:
        if amount <= 0:
            raise ValueError("A payment's amount must be positive.")
        if off_session and not confirm:
            raise ValueError("off_session charges are confirmed at once (confirm=True).")
        params: dict[str, Any] = {
            "amount": to_stripe(amount, currency),
            "currency": _currency_out(currency),
            # Cards only (wallets such as Apple Pay and Google Pay are cards): a server-side
            # confirmation then never needs a redirect-based method's return_url.
            "payment_method_types": ["card"],
            "expand": INTENT_EXPAND,
        }
        if customer:
            params["customer"] = customer
        if payment_method:
            params["payment_method"] = payment_method
        if confirm:
            params["confirm"] = True
        if off_session:
            params["off_session"] = True
        if save_method:
            params["setup_future_usage"] = "off_session"
        if return_url:
            params["return_url"] = return_url
        if description:
            params["description"] = description
        if metadata:
            params["metadata"] = _metadata_out(metadata)
        if application_fee is not None:
            if not 0 <= application_fee <= amount:
                raise ValueError("An application fee is between 0 and the amount.")
            params["application_fee_amount"] = to_stripe(application_fee, currency)
        with self._calling("payment_intent_create", account=account):
            data = self._client.v1.payment_intents.create(
                params, self._options(account, idempotency_key)
            )
        return _intent(data.to_dict(), account)

    def payment_intent_confirm(
        self,
        *,
        intent_id: str,
        account: str | None,
        idempotency_key: str,
        payment_method: str | None = None,
        return_url: str | None = None,
    ) -> Intent:
        params: dict[str, Any] = {"expand": INTENT_EXPAND}
        if payment_method:
            params["payment_method"] = payment_method
        if return_url:
            params["return_url"] = return_url
        with self._calling("payment_intent_confirm", account=account, object_id=intent_id):
            data = self._client.v1.payment_intents.confirm(
                intent_id, params, self._options(account, idempotency_key)
            )
        return _intent(data.to_dict(), account)

    def payment_intent_get(self, *, intent_id: str, account: str | None) -> Intent:
        with self._calling("payment_intent_get", account=account, object_id=intent_id):
            data = self._client.v1.payment_intents.retrieve(
                intent_id, {"expand": INTENT_EXPAND}, self._options(account)
            )
        return _intent(data.to_dict(), account)

    def payment_intent_cancel(
        self, *, intent_id: str, account: str | None, idempotency_key: str
    ) -> Intent:
        with self._calling("payment_intent_cancel", account=account, object_id=intent_id):
            data = self._client.v1.payment_intents.cancel(
                intent_id, {"expand": INTENT_EXPAND}, self._options(account, idempotency_key)
            )
        return _intent(data.to_dict(), account)

    # --- refunds ---------------------------------------------------------------------------

    def refund_create(
        self,
        *,
        intent_id: str,
        account: str | None,
        idempotency_key: str,
        amount: int | None = None,
        reason: str | None = None,
        metadata: dict[str, str] | None = None,
        currency: str | None = None,
    ) -> RefundResult:
        params: dict[str, Any] = {"payment_intent": intent_id}
        if amount is not None:
            if amount <= 0:
                raise ValueError("A refund's amount must be positive.")
            # Stripe's units depend on the intent's currency: read it unless the caller says.
            currency = currency or self._intent_currency(intent_id, account)
            params["amount"] = to_stripe(amount, currency)
        if reason is not None:
            params["reason"] = RefundReason(reason).value
        if metadata:
            params["metadata"] = _metadata_out(metadata)
        with self._calling("refund_create", account=account, object_id=intent_id):
            data = self._client.v1.refunds.create(params, self._options(account, idempotency_key))
        return _refund(data.to_dict())

    def refund_get(self, *, refund_id: str, account: str | None) -> RefundResult:
        with self._calling("refund_get", account=account, object_id=refund_id):
            data = self._client.v1.refunds.retrieve(refund_id, None, self._options(account))
        return _refund(data.to_dict())

    def _intent_currency(self, intent_id: str, account: str | None) -> str:
        with self._calling("payment_intent_get", account=account, object_id=intent_id):
            data = self._client.v1.payment_intents.retrieve(intent_id, None, self._options(account))
        return str(data.to_dict()["currency"])

    # --- customers and saved cards ---------------------------------------------------------

    def customer_create(
        self,
        *,
        email: str,
        name: str,
        account: str | None,
        idempotency_key: str,
        metadata: dict[str, str] | None = None,
    ) -> Customer:
        params: dict[str, Any] = {"email": email, "name": name}
        if metadata:
            params["metadata"] = _metadata_out(metadata)
        with self._calling("customer_create", account=account):
            data = self._client.v1.customers.create(params, self._options(account, idempotency_key))
        body = data.to_dict()
        return Customer(id=body["id"], email=body.get("email"))

    def setup_intent_create(
        self,
        *,
        customer: str,
        account: str | None,
        idempotency_key: str,
        metadata: dict[str, str] | None = None,
    ) -> SetupResult:
        params: dict[str, Any] = {
            "customer": customer,
            "payment_method_types": ["card"],
            "usage": "off_session",
        }
        if metadata:
            params["metadata"] = _metadata_out(metadata)
        with self._calling("setup_intent_create", account=account, object_id=customer):
            data = self._client.v1.setup_intents.create(
                params, self._options(account, idempotency_key)
            )
        return _setup(data.to_dict())

    def setup_intent_get(self, *, setup_id: str, account: str | None) -> SetupResult:
        with self._calling("setup_intent_get", account=account, object_id=setup_id):
            data = self._client.v1.setup_intents.retrieve(setup_id, None, self._options(account))
        return _setup(data.to_dict())

    def payment_methods_list(self, *, customer: str, account: str | None) -> list[CardMethod]:
        params = {"customer": customer, "type": "card", "limit": 100}
        with self._calling("payment_methods_list", account=account, object_id=customer):
            page = self._client.v1.payment_methods.list(params, self._options(account))
            methods = [method.to_dict() for method in page.auto_paging_iter()]
        return [_card(method) for method in methods if method.get("card")]

    # --- Connect ---------------------------------------------------------------------------

    def account_create(self, *, email: str, country: str, idempotency_key: str) -> ConnectAccount:
        # Standard accounts: direct charges make the studio the merchant of record, with its
        # own Stripe dashboard, disputes and refunds (Stripe's recommended pairing).
        params = {"type": "standard", "email": email, "country": country.upper()}
        with self._calling("account_create", account=None):
            data = self._client.v1.accounts.create(params, self._options(None, idempotency_key))
        return _account(data.to_dict())

    def account_get(self, *, account: str) -> ConnectAccount:
        # Read by the platform: the account is the path's, not a Stripe-Account header.
        with self._calling("account_get", account=None, object_id=account):
            data = self._client.v1.accounts.retrieve(account, None, self._options(None))
        return _account(data.to_dict())

    def account_link_create(self, *, account: str, refresh_url: str, return_url: str) -> str:
        params = {
            "account": account,
            "refresh_url": refresh_url,
            "return_url": return_url,
            "type": "account_onboarding",
        }
        with self._calling("account_link_create", account=None, object_id=account):
            data = self._client.v1.account_links.create(params, self._options(None))
        return str(data.to_dict()["url"])

    # --- webhooks --------------------------------------------------------------------------

    def event_from_webhook(self, *, payload: bytes, signature: str) -> Event:
        if not self._webhook_secret:
            logger.error("stripe webhook received but STRIPE_WEBHOOK_SECRET is not set")
            raise PaymentsNotConfigured(
                "Stripe webhooks are not configured (no webhook secret).",
                code="webhooks_not_configured",
            )
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature, self._webhook_secret, WEBHOOK_TOLERANCE_SECONDS
            )
        except (stripe.SignatureVerificationError, ValueError) as exc:
            logger.warning("stripe webhook refused: %s", _first_line(exc))
            raise WebhookSignatureError("The webhook's signature does not verify.") from exc
        try:
            body = json.loads(payload)
            if body.get("object") != "event":
                raise ValueError("not an event")
            return Event(
                id=str(body["id"]),
                type=str(body["type"]),
                created=datetime.fromtimestamp(int(body["created"]), tz=UTC),
                account=body.get("account"),
                data_object=dict(body["data"]["object"]),
                livemode=bool(body.get("livemode", False)),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # Signed by the secret, but not an event we can read.
            logger.error("stripe webhook signed but unreadable: %s", _first_line(exc))
            raise WebhookSignatureError(
                "The webhook's body is not a Stripe event.", code="webhook_payload_invalid"
            ) from exc

    # --- plumbing --------------------------------------------------------------------------

    @staticmethod
    def _options(account: str | None, idempotency_key: str | None = None) -> dict[str, str]:
        options: dict[str, str] = {}
        if account:
            options["stripe_account"] = account
        if idempotency_key is not None:
            if not idempotency_key or len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
                raise ValueError("An idempotency key is 1 to 255 characters.")
            options["idempotency_key"] = idempotency_key
        return options

    @contextmanager
    def _calling(
        self, operation: str, *, account: str | None, object_id: str | None = None
    ) -> Iterator[None]:
        """Turn the SDK's errors into the provider's, logged once with the call's context."""
        try:
            yield
        except stripe.StripeError as exc:
            error = _translate(exc, account)
            if object_id is None and isinstance(error, CardDeclined) and error.intent:
                object_id = error.intent.id
            level = logging.INFO if isinstance(error, CardDeclined) else logging.WARNING
            if isinstance(error, ProviderRejected) and error.code not in _EXPECTED_REJECTIONS:
                level = logging.ERROR  # most likely our bug
            logger.log(
                level,
                "stripe %s failed: %s (%s) account=%s object=%s decline=%s status=%s request=%s",
                operation,
                type(error).__name__,
                error.code,
                account or "platform",
                object_id or "-",
                getattr(error, "decline_code", None) or "-",
                error.http_status or "-",
                error.request_id or "-",
            )
            raise error from exc


# Refusals a caller is expected to meet and handle; any other means a call was malformed.
_EXPECTED_REJECTIONS = frozenset(
    {
        "amount_too_large",
        "charge_already_refunded",
        "idempotency_error",
        "payment_intent_unexpected_state",
        "resource_missing",
    }
)


def _translate(exc: stripe.StripeError, account: str | None) -> ProviderError:
    common: dict[str, Any] = {"http_status": exc.http_status, "request_id": exc.request_id}
    body = exc.json_body if isinstance(exc.json_body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    message = _first_line(exc)
    if isinstance(exc, stripe.CardError):
        intent_json = error.get("payment_intent")
        return CardDeclined(
            message,
            code=exc.code or "card_declined",
            decline_code=error.get("decline_code"),
            intent=_intent(intent_json, account) if isinstance(intent_json, dict) else None,
            param=error.get("param"),
            **common,
        )
    if isinstance(exc, stripe.RateLimitError):
        return ProviderUnavailable(message, code="provider_rate_limited", **common)
    if isinstance(exc, stripe.APIConnectionError):
        return ProviderUnavailable(message, code="provider_unreachable", **common)
    if isinstance(exc, stripe.IdempotencyError):
        return ProviderRejected(message, code="idempotency_error", **common)
    if isinstance(exc, stripe.InvalidRequestError):
        return ProviderRejected(
            message, code=exc.code or "provider_rejected", param=error.get("param"), **common
        )
    if isinstance(exc, stripe.AuthenticationError):
        return ProviderRejected(message, code="provider_authentication_failed", **common)
    if isinstance(exc, stripe.PermissionError):
        return ProviderRejected(message, code="provider_permission_denied", **common)
    status = exc.http_status
    if status is None or status == 409 or status >= 500:
        # 409: the same key is still being worked on (a concurrent retry): try again.
        return ProviderUnavailable(message, code="provider_server_error", **common)
    return ProviderRejected(message, code=exc.code or "provider_rejected", **common)


def _first_line(exc: BaseException) -> str:
    """The error's own message, without the SDK's multi-line hints."""
    message = getattr(exc, "user_message", None) or str(exc)
    return message.strip().splitlines()[0] if message.strip() else type(exc).__name__


# --- reading Stripe's JSON -------------------------------------------------------------------


def _currency_out(currency: str) -> str:
    code = currency.strip()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ValueError(f"{currency!r} is not an ISO 4217 currency code.")
    return code.lower()


def _metadata_out(metadata: Mapping[str, object]) -> dict[str, str]:
    return {str(key): str(value) for key, value in metadata.items()}


def _id(value: object) -> str | None:
    """An expandable field: an id, or the expanded object (its id), or nothing."""
    if isinstance(value, dict):
        return value.get("id")
    return value if isinstance(value, str) else None


def _intent(data: Mapping[str, Any], account: str | None) -> Intent:
    currency = str(data["currency"])
    charge = data.get("latest_charge")
    fee = fee_currency = None
    amount_refunded = 0
    if isinstance(charge, dict):
        amount_refunded = from_stripe(int(charge.get("amount_refunded") or 0), currency)
        transaction = charge.get("balance_transaction")
        if data.get("status") == "succeeded" and isinstance(transaction, dict):
            fee, fee_currency = _provider_fee(transaction)
    next_action = data.get("next_action") or {}
    next_type = next_action.get("type")
    next_url = None
    if next_type == "redirect_to_url":
        next_url = (next_action.get("redirect_to_url") or {}).get("url")
    error = data.get("last_payment_error") or {}
    application_fee = data.get("application_fee_amount")
    return Intent(
        id=str(data["id"]),
        status=str(data["status"]),
        amount=from_stripe(int(data["amount"]), currency),
        currency=currency.upper(),
        client_secret=data.get("client_secret"),
        customer=_id(data.get("customer")),
        payment_method=_id(data.get("payment_method")),
        next_action_type=next_type,
        next_action_url=next_url,
        last_error_code=error.get("code"),
        last_decline_code=error.get("decline_code"),
        latest_charge=_id(charge),
        fee=fee,
        fee_currency=fee_currency,
        application_fee=(
            from_stripe(int(application_fee), currency) if application_fee is not None else None
        ),
        amount_refunded=amount_refunded,
        metadata=dict(data.get("metadata") or {}),
        account=account,
    )


def _provider_fee(transaction: Mapping[str, Any]) -> tuple[int, str]:
    """Stripe's fee on a charge: the balance transaction's fee less PicPick's application fee
    (on a direct charge the connected account's transaction lists both)."""
    currency = str(transaction["currency"])
    details = transaction.get("fee_details") or []
    application = sum(
        int(item["amount"]) for item in details if item.get("type") == "application_fee"
    )
    fee = int(transaction["fee"]) - application
    return from_stripe(fee, currency, exact=False), currency.upper()


def _refund(data: Mapping[str, Any]) -> RefundResult:
    currency = str(data["currency"])
    return RefundResult(
        id=str(data["id"]),
        status=str(data["status"]),
        amount=from_stripe(int(data["amount"]), currency),
        currency=currency.upper(),
        payment_intent=_id(data.get("payment_intent")),
        reason=data.get("reason"),
        failure_reason=data.get("failure_reason"),
    )


def _setup(data: Mapping[str, Any]) -> SetupResult:
    return SetupResult(
        id=str(data["id"]),
        status=str(data["status"]),
        client_secret=data.get("client_secret"),
        customer=_id(data.get("customer")),
        payment_method=_id(data.get("payment_method")),
    )


def _card(data: Mapping[str, Any]) -> CardMethod:
    card = data["card"]
    return CardMethod(
        id=str(data["id"]),
        brand=str(card.get("brand") or "unknown"),
        last4=str(card.get("last4") or ""),
        exp_month=int(card.get("exp_month") or 0),
        exp_year=int(card.get("exp_year") or 0),
    )


def _account(data: Mapping[str, Any]) -> ConnectAccount:
    currency = data.get("default_currency")
    return ConnectAccount(
        id=str(data["id"]),
        charges_enabled=bool(data.get("charges_enabled")),
        payouts_enabled=bool(data.get("payouts_enabled")),
        details_submitted=bool(data.get("details_submitted")),
        default_currency=currency.upper() if currency else None,
    )
