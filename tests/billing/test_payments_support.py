"""What the card payment tests share (fixtures and helpers; no tests here): studio A on a
connected account of the fake Stripe, selling gift cards in EUR, a client contact, and helpers
to confirm an intent as the client's browser would, deliver events to the webhook endpoint and
read the studio's books.

Test modules import the fixture functions (``*_fixture``; each is registered under its
``name``) to use them.
"""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from billing.models import LedgerAccount, LedgerEntry, LedgerTransaction, Payment
from billing.payments import ProviderError, payment_provider
from billing.services.payments import GiftCardOrder, payment_start
from picpick.testing.factories import (
    BillingSettingsFactory,
    ConnectedAccountFactory,
    ContactFactory,
)

WEBHOOK = "/api/v1/billing/stripe/webhook/"


@pytest.fixture(name="fresh_cache", autouse=True)
def fresh_cache_fixture():
    cache.clear()  # rate limit counters
    yield
    cache.clear()


@pytest.fixture(name="shop")
def shop_fixture(studio_a, fake_stripe):
    """Studio A takes card payments on its connected account and sells gift cards in EUR."""
    BillingSettingsFactory(
        studio=studio_a,
        currency="EUR",
        gift_card_amounts=[5000, 10000, 25000],
        gift_card_min=1000,
        gift_card_max=50000,
    )
    return ConnectedAccountFactory(
        studio=studio_a, provider_account_id=fake_stripe.connected_account(country="FR")
    )


@pytest.fixture(name="client_contact")
def client_contact_fixture(studio_a):
    return ContactFactory(
        studio=studio_a, first_name="Jane", last_name="Doe", email="jane@example.com"
    )


def order(**changes) -> GiftCardOrder:
    fields = {
        "recipient_name": "Sam Doe",
        "recipient_email": "sam@example.com",
        "message": "Enjoy!",
    }
    fields.update(changes)
    return GiftCardOrder(**fields)


def start_gift_card(studio, amount: int = 5000, key: str | None = None, **changes):
    return payment_start(
        studio=studio,
        purpose=Payment.Purpose.GIFT_CARD,
        amount=amount,
        currency=changes.pop("currency", "EUR"),
        payer_email=changes.pop("payer_email", "buyer@example.com"),
        payer_name=changes.pop("payer_name", "Jane Buyer"),
        idempotency_key=key or f"test:{uuid.uuid4()}",
        gift_card=changes.pop("gift_card", order()),
        **changes,
    )


def start_top_up(studio, contact, amount: int = 2500, key: str | None = None, **changes):
    return payment_start(
        studio=studio,
        purpose=Payment.Purpose.WALLET_TOPUP,
        amount=amount,
        currency=changes.pop("currency", "EUR"),
        payer_email=contact.email,
        payer_name="Jane Doe",
        contact=contact,
        idempotency_key=key or f"test:{uuid.uuid4()}",
        **changes,
    )


def confirm(payment: Payment, method: str = "pm_card_visa"):
    """The client's browser confirms the intent with a test card (Stripe.js does this with the
    client secret; here through the API on the studio's account). An error is returned."""
    try:
        return payment_provider().payment_intent_confirm(
            intent_id=payment.intent_id,
            account=payment.provider_account_id,
            idempotency_key=f"browser:{uuid.uuid4()}",
            payment_method=method,
        )
    except ProviderError as exc:
        return exc


def deliver(fake, event: dict, client: APIClient | None = None, **sign):
    """POST one of the fake's events to the webhook endpoint, signed as Stripe signs it."""
    payload, signature = fake.signed(event, **sign)
    return (client or APIClient()).post(
        WEBHOOK, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )


def balances(studio) -> dict[str, int]:
    """Every non-zero ledger balance of the studio, by account key (kind:...:currency)."""
    return {
        account.key: account.balance
        for account in LedgerAccount.objects.filter(studio=studio).order_by("key")
        if account.balance
    }


def books(studio) -> list[tuple[str, str, tuple]]:
    """Every transaction of the studio: (kind, idempotency key, its legs as (account key,
    amount) sorted); order-free, for comparing two ledgers."""
    rows = []
    for txn in LedgerTransaction.objects.filter(studio=studio):
        legs = tuple(
            sorted(
                LedgerEntry.objects.filter(transaction=txn).values_list("account__key", "amount")
            )
        )
        rows.append((txn.kind, txn.idempotency_key, legs))
    return sorted(rows)


def fee_of(amount: int) -> int:
    """The fake's Stripe fee on a EUR charge: 2.9 % + 30 cents, rounded."""
    from tests.fake_stripe.api import stripe_fee

    return stripe_fee(amount, "eur")
