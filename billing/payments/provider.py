"""The card-payment provider as the rest of billing sees it: plain values, errors, a protocol.

Nothing outside ``billing.payments`` touches the Stripe SDK or its objects. Callers get frozen
dataclasses with integer amounts in our minor units (the ledger's: the currency's ISO/CLDR
exponent, ``billing.payments.units``) and upper-case ISO 4217 currencies.

Connect, direct charges
    Each studio takes payments on its own connected Stripe account: every call takes
    ``account``, the studio's ``acct_...`` id, and is made ON that account (the
    ``Stripe-Account`` header), so the studio is the merchant of record and its payments,
    customers, cards and refunds live there. ``account=None`` is PicPick's own platform account.
    PicPick's cut is ``application_fee`` (see ``billing.payments.configured.application_fee``).

Idempotency
    Every call that creates or moves money takes ``idempotency_key``. The same key on the same
    account with the same parameters returns the first answer again and does nothing twice;
    the same key with different parameters is ``ProviderRejected(code="idempotency_error")``.
    Derive the key from the row the call is made for (``f"payment:{payment.id}:confirm"``) and
    keep it, so a retry after a crash or a timeout re-sends the same key. Stripe forgets keys
    after 24 hours.

Outcomes
    ``ProviderUnavailable`` (network error, timeout, 5xx, 429) means the outcome is UNKNOWN:
    the charge may have happened. Retry with the same key, or read the object back
    (``payment_intent_get``); never charge again with a new key. ``CardDeclined`` and
    ``ProviderRejected`` are final for that request. An intent is paid only when its status is
    ``succeeded`` (``Intent.paid``); ``requires_action`` means the customer must authenticate
    (3-D Secure) with ``client_secret`` in the browser, or at ``next_action_url``. Webhooks
    (``event_from_webhook``) report what happens later.

Secrets
    ``client_secret`` lets a browser confirm one intent: hand it to that customer's page only,
    never log it (it is left out of the dataclasses' repr).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from rest_framework import status as http

from picpick.core.errors import ApplicationError


class IntentStatus(StrEnum):
    """Stripe's PaymentIntent statuses (``Intent.status`` is a plain str: Stripe may add more)."""

    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    REQUIRES_CAPTURE = "requires_capture"
    CANCELED = "canceled"
    SUCCEEDED = "succeeded"


class RefundReason(StrEnum):
    DUPLICATE = "duplicate"
    FRAUDULENT = "fraudulent"
    REQUESTED_BY_CUSTOMER = "requested_by_customer"


# --- values ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Intent:
    """A PaymentIntent: one attempt to collect ``amount`` from a customer."""

    id: str
    status: str
    amount: int
    currency: str
    client_secret: str | None = field(repr=False)
    customer: str | None
    payment_method: str | None
    # "redirect_to_url" (open next_action_url), "use_stripe_sdk" (Stripe.js handles it with the
    # client secret), or None when the customer has nothing to do.
    next_action_type: str | None
    next_action_url: str | None
    last_error_code: str | None
    last_decline_code: str | None
    latest_charge: str | None
    # The provider's own fee (its processing fees and their taxes, not PicPick's application
    # fee) in minor units of fee_currency, the account's settlement currency; known once the
    # intent succeeded.
    fee: int | None
    fee_currency: str | None
    application_fee: int | None
    amount_refunded: int
    metadata: dict[str, str]
    account: str | None

    @property
    def paid(self) -> bool:
        return self.status == IntentStatus.SUCCEEDED

    @property
    def needs_customer_action(self) -> bool:
        return self.status == IntentStatus.REQUIRES_ACTION


@dataclass(frozen=True)
class RefundResult:
    id: str
    # pending, requires_action, succeeded, failed or canceled
    status: str
    amount: int
    currency: str
    payment_intent: str | None
    reason: str | None
    failure_reason: str | None = None


@dataclass(frozen=True)
class Customer:
    id: str
    email: str | None


@dataclass(frozen=True)
class SetupResult:
    """A SetupIntent: saving a card for later (off-session) charges, confirmed in the browser."""

    id: str
    status: str
    client_secret: str | None = field(repr=False)
    customer: str | None
    payment_method: str | None


@dataclass(frozen=True)
class CardMethod:
    id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class ConnectAccount:
    id: str
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    default_currency: str | None


@dataclass(frozen=True)
class Event:
    """A verified webhook event. ``data_object`` is the object's JSON as Stripe sent it (Stripe's
    units and lower-case currencies: read it through the provider's getters when amounts
    matter). ``account`` is the connected account it happened on (None: the platform)."""

    id: str
    type: str
    created: datetime
    account: str | None
    data_object: dict[str, Any]
    livemode: bool


# --- errors ----------------------------------------------------------------------------------


class ProviderError(Exception):
    """The provider answered with an error, or did not answer. ``code`` is machine-readable
    (Stripe's own code where it gave one); ``retryable`` says whether the same request, with
    the same idempotency key, may succeed later."""

    default_code = "provider_error"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retryable: bool | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        if retryable is not None:
            self.retryable = retryable
        self.http_status = http_status
        self.request_id = request_id
        self.param = param


class CardDeclined(ProviderError):
    """The card was declined (or needs authentication it cannot get off-session).

    ``code`` is Stripe's (``card_declined``, ``expired_card``, ``authentication_required``...),
    ``decline_code`` the issuer's reason (``insufficient_funds``, ``generic_decline``...);
    ``intent`` is the intent after the decline (back to ``requires_payment_method``), when the
    request was about one. Show the customer a generic message; the codes are for support.
    """

    default_code = "card_declined"

    def __init__(
        self,
        message: str,
        *,
        decline_code: str | None = None,
        intent: Intent | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.decline_code = decline_code
        self.intent = intent


class ProviderUnavailable(ProviderError):
    """No answer, a timeout, a 5xx or a rate limit: the outcome is unknown, retry later."""

    default_code = "provider_unavailable"
    retryable = True


class ProviderRejected(ProviderError):
    """The provider refused the request (4xx): a bad parameter, an object that does not exist
    on that account, a reused idempotency key, a key without the permission."""

    default_code = "provider_rejected"


class WebhookSignatureError(ProviderError):
    """A webhook whose signature does not verify (wrong secret, tampered body, too old)."""

    default_code = "webhook_signature_invalid"


class PaymentsNotConfigured(ApplicationError):
    """No Stripe keys in this environment: payments are off (``make run`` without keys)."""

    status_code = http.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "payments_not_configured"


# --- the interface ---------------------------------------------------------------------------


@runtime_checkable
class PaymentProvider(Protocol):
    """What billing calls to take card payments. Every method is keyword-only; ``account`` is
    the studio's connected account (None: the platform); amounts are our minor units."""

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
        """Create an intent; with ``confirm`` (and a ``payment_method``) also charge it.

        ``off_session``: the customer is not there (a saved card); a card that needs
        authentication is then declined (``CardDeclined``, code ``authentication_required``)
        instead of waiting in ``requires_action``. ``save_method``: keep the card on
        ``customer`` for later off-session charges. A decline raises ``CardDeclined``.
        """
        ...

    def payment_intent_confirm(
        self,
        *,
        intent_id: str,
        account: str | None,
        idempotency_key: str,
        payment_method: str | None = None,
        return_url: str | None = None,
    ) -> Intent: ...

    def payment_intent_get(self, *, intent_id: str, account: str | None) -> Intent:
        """The intent now, with its fee once succeeded."""
        ...

    def payment_intent_cancel(
        self, *, intent_id: str, account: str | None, idempotency_key: str
    ) -> Intent: ...

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
        """Refund ``amount`` (None: all that is left) of a succeeded intent. More than is
        left is ``ProviderRejected`` (code ``amount_too_large`` or ``charge_already_refunded``).
        ``currency`` is the intent's: given with ``amount``, it saves reading the intent first.
        ``reason`` is one of ``RefundReason``.
        """
        ...

    def refund_get(self, *, refund_id: str, account: str | None) -> RefundResult: ...

    def customer_create(
        self,
        *,
        email: str,
        name: str,
        account: str | None,
        idempotency_key: str,
        metadata: dict[str, str] | None = None,
    ) -> Customer: ...

    def setup_intent_create(
        self,
        *,
        customer: str,
        account: str | None,
        idempotency_key: str,
        metadata: dict[str, str] | None = None,
    ) -> SetupResult:
        """Start saving a card on ``customer``; the browser confirms it with the client secret."""
        ...

    def setup_intent_get(self, *, setup_id: str, account: str | None) -> SetupResult: ...

    def payment_methods_list(self, *, customer: str, account: str | None) -> list[CardMethod]:
        """The customer's saved cards, newest first."""
        ...

    def account_create(self, *, email: str, country: str, idempotency_key: str) -> ConnectAccount:
        """A connected account for a studio (on the platform), to be onboarded by a link."""
        ...

    def account_get(self, *, account: str) -> ConnectAccount: ...

    def account_link_create(self, *, account: str, refresh_url: str, return_url: str) -> str:
        """A one-time onboarding URL for the studio's owner (it expires within minutes:
        create one each time the owner clicks; ``refresh_url`` is where an expired one lands)."""
        ...

    def event_from_webhook(self, *, payload: bytes, signature: str) -> Event:
        """Verify a webhook (the raw body and its ``Stripe-Signature`` header, 5 minutes'
        tolerance) and read its event; anything wrong is ``WebhookSignatureError``."""
        ...
