"""What the payment services share: the provider, the checks of a start's input, the claim
timings, and the keys every provider call and ledger posting is made with.

Keys are derived from OUR row ids (``pay:<payment id>``, ``refund:<refund id>``), never from a
request: a retry after a timeout, a crash or a redelivered event re-sends the same key, so the
provider charges or refunds once and the ledger posts once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from accounts.models import Studio
from billing.models.payments import ConnectedAccount, Payment
from billing.money import MAX_MINOR, currency_valid
from billing.payments import PaymentProvider, payment_provider
from billing.payments.units import to_stripe
from picpick.core.errors import ApplicationError, Conflict

logger = logging.getLogger("billing.payments")

# A claim older than this belonged to a worker that died (a provider call takes at most
# STRIPE_TIMEOUT_S x (1 + retries), well under it).
CLAIM_TIMEOUT = timedelta(minutes=2)
# Status polls ask the provider at most this often per payment.
REFRESH_EVERY = timedelta(seconds=2)


def provider() -> PaymentProvider:
    return payment_provider()


def payment_intent_key(payment: Payment) -> str:
    return f"pay:{payment.id}"


def fingerprint(**fields: Any) -> str:
    """A hash of what a request asked for: the same Idempotency-Key with another request is a
    409, not the first request's answer."""
    raw = json.dumps(fields, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def status_token(payment: Payment) -> str:
    """The secret that lets a client page read one payment's state (``?t=``): an HMAC of its id
    with the server's key, so nothing is stored and nobody can make one for another id."""
    return hmac.new(
        settings.SECRET_KEY.encode(), f"payment-status:{payment.id}".encode(), hashlib.sha256
    ).hexdigest()[:40]


def status_token_valid(payment: Payment, token: str) -> bool:
    return hmac.compare_digest(status_token(payment), str(token or ""))


def amount_check(amount: object, currency: str, *, field: str = "amount") -> int:
    """An amount of minor units: an int (never a float or a bool), positive, at most
    ``MAX_MINOR``, and one the provider can charge exactly in ``currency``."""
    if isinstance(amount, float):
        raise ApplicationError(
            "An amount is an integer of minor units, never a float.",
            code="amount_float",
            fields={field: ["A float is not an amount."]},
        )
    if type(amount) is not int:
        raise ApplicationError(
            "An amount is an integer of minor units.",
            code="amount_invalid",
            fields={field: ["Not an integer of minor units."]},
        )
    if amount <= 0:
        raise ApplicationError(
            "The amount must be positive.",
            code="amount_invalid",
            fields={field: ["Must be positive."]},
        )
    if amount > MAX_MINOR:
        raise ApplicationError(
            "The amount is too large.",
            code="amount_too_large",
            fields={field: [f"At most {MAX_MINOR} minor units."]},
        )
    try:
        to_stripe(amount, currency)
    except ValueError:
        raise ApplicationError(
            f"{currency} cannot be charged in this precision by card.",
            code="amount_precision",
            fields={field: ["Too precise for a card payment in this currency."]},
        ) from None
    return amount


def currency_check(studio: Studio, currency: object, *, accepted: str) -> str:
    if not currency_valid(currency):
        raise ApplicationError(
            f"Unknown currency {currency!r}.",
            code="currency_unknown",
            fields={"currency": ["Not an ISO 4217 code (upper case)."]},
        )
    if currency != accepted:
        raise ApplicationError(
            f"This studio takes payments in {accepted}.",
            code="currency_not_accepted",
            fields={"currency": [f"Must be {accepted}."]},
        )
    return str(currency)


def email_check(email: str, *, field: str = "payer_email") -> str:
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ApplicationError(
            "The email address is not valid.",
            code="invalid_email",
            fields={field: ["Enter a valid email address."]},
        ) from None
    return email.lower()


def charges_account(studio: Studio) -> ConnectedAccount:
    """The studio's connected account, which must be able to take charges (409 otherwise)."""
    account = ConnectedAccount.objects.filter(studio=studio).first()
    if account is None or not account.charges_enabled:
        raise Conflict(
            "This studio does not take card payments yet: its payment account is not set up.",
            code="payments_not_enabled",
        )
    return account
