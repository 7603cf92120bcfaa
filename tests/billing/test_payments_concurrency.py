"""Card payments racing on MariaDB's row locks, with real threads (each its own connection)
against the fake Stripe: refunds never pass the payment together, a success seen at once by
the webhook, the sweeper and status polls is booked once, and a double click is one payment."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from billing.models import GiftCard, LedgerEntry, LedgerTransaction, Payment, Refund
from billing.services.payments import payment_refresh, refund_create
from picpick.core.errors import Conflict
from tests.billing.test_payments_support import (  # noqa: F401 (fixtures)
    balances,
    confirm,
    fresh_cache_fixture,
    shop_fixture,
    start_gift_card,
)
from tests.races import race

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="SQLite serialises all writers; the race needs MariaDB's row locks",
    ),
]


def _balanced(studio) -> None:
    for txn in LedgerTransaction.objects.filter(studio=studio):
        amounts = LedgerEntry.objects.filter(transaction=txn).values_list("amount", flat=True)
        assert sum(amounts) == 0


def test_racing_refunds_never_pass_the_payment(studio_a, shop, fake_stripe):
    payment, _ = start_gift_card(studio_a, amount=10000)
    confirm(payment)
    payment = payment_refresh(payment=payment)

    def work(index: int):
        fresh = Payment.objects.select_related("studio").get(pk=payment.pk)
        return refund_create(payment=fresh, amount=2000, idempotency_key=f"race-{index}").id

    results = race(10, work)
    refunded = [r for r in results if isinstance(r, uuid.UUID)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(refunded) == 5, results
    assert len(refused) == 5
    assert {e.code for e in refused} <= {"refund_exceeds_payment", "payment_fully_refunded"}
    payment.refresh_from_db()
    assert payment.refunded_amount == 10000
    assert Refund.objects.filter(state="succeeded").count() == 5
    assert fake_stripe.charges[0]["amount_refunded"] == 10000
    _balanced(studio_a)


def test_a_success_seen_by_everyone_at_once_is_booked_once(studio_a, shop, fake_stripe):
    payment, _ = start_gift_card(studio_a, amount=5000)
    confirm(payment)

    def work(index: int):
        fresh = Payment.objects.select_related("studio").get(pk=payment.pk)
        return payment_refresh(payment=fresh).state

    results = race(8, work)
    assert results == ["succeeded"] * 8, results
    assert LedgerTransaction.objects.filter(studio=studio_a).count() == 1
    assert GiftCard.objects.get(pk=payment.reference_id).state == GiftCard.State.ACTIVE
    assert balances(studio_a)[f"gift_card:{payment.reference_id}:EUR"] == 5000


def test_a_double_click_is_one_payment(studio_a, shop, fake_stripe):
    def work(index: int):
        payment, secret = start_gift_card(studio_a, key="double-click")
        return payment.id, secret

    results = race(4, work)
    answers = [r for r in results if isinstance(r, tuple)]
    # Either the same payment and secret, or "in progress, ask again" while the first one
    # is making the intent; never a second payment, card or intent.
    others = [r for r in results if not isinstance(r, tuple)]
    assert all(isinstance(e, Conflict) and e.code == "payment_in_progress" for e in others)
    assert answers and len(set(answers)) == 1
    assert Payment.objects.count() == 1 and GiftCard.objects.count() == 1
    assert len(fake_stripe.events_of("payment_intent.created")) == 1
