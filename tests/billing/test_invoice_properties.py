"""Properties of an invoice's money under random sequences of payments, refunds-as-credit,
credit notes and write-offs (hypothesis), on the real services and ledger.

After every step: the receivable balance is what the invoice asks for less what was paid and
written off; the instalments always sum to what it asks for, and their paid amounts to what was
paid (applied in due order, never above an instalment); the status is the one the ledger says;
and at the end every stored balance equals its entries (``ledger_check``) and the ledger sums to
zero.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import Invoice, LedgerEntry
from billing.services.invoices import (
    LineInput,
    credit_note_create,
    invoice_create,
    invoice_issue,
    invoice_pay,
    invoice_write_off,
)
from billing.services.reconcile import ledger_check
from billing.services.wallets import wallet_for, wallet_grant
from picpick.core.errors import ApplicationError
from picpick.testing.factories import ContactFactory, StudioFactory

lines = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=50_000),  # unit price
        st.integers(min_value=1, max_value=3_000),  # quantity in thousandths
        st.sampled_from(["0", "5", "20", "9.975"]),
        st.booleans(),  # inclusive
    ),
    min_size=1,
    max_size=6,
)
parts = st.lists(st.integers(min_value=1, max_value=60), min_size=0, max_size=3)
step = st.one_of(
    st.tuples(st.just("pay"), st.integers(min_value=1, max_value=400_000)),
    st.tuples(st.just("credit"), st.integers(min_value=1, max_value=100_000)),
    st.tuples(st.just("write_off"), st.just(0)),
)


def _check(invoice: Invoice) -> None:
    invoice.refresh_from_db()
    balance = invoice.receivable.__class__.objects.get(pk=invoice.receivable_id).balance
    written_off = invoice.write_off_transaction.amount if invoice.write_off_transaction_id else 0
    paid = invoice.owed - balance - written_off
    instalments = list(invoice.instalments.order_by("position"))
    assert sum(i.amount for i in instalments) == invoice.owed
    assert sum(i.paid for i in instalments) == min(paid, invoice.owed)
    assert all(0 <= i.paid <= i.amount for i in instalments)
    # Paid in due order: an instalment is paid only once every one before it is.
    seen_unpaid = False
    for i in instalments:
        if i.paid and seen_unpaid:
            pytest.fail("an instalment was paid before an earlier one")
        seen_unpaid = seen_unpaid or i.paid < i.amount
    if invoice.uncollectible_at:
        assert invoice.status == Invoice.Status.UNCOLLECTIBLE and balance == 0
    elif balance <= 0:
        assert invoice.status == Invoice.Status.PAID
    elif paid > 0:
        assert invoice.status == Invoice.Status.PARTIALLY_PAID
    else:
        assert invoice.status == Invoice.Status.OPEN


@pytest.mark.django_db
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(lines=lines, parts=parts, steps=st.lists(step, min_size=1, max_size=6))
def test_random_payments_and_credits_keep_invoice_and_ledger_in_agreement(lines, parts, steps):
    studio = StudioFactory()
    contact = ContactFactory(studio=studio)
    schedule = [{"percent": str(p)} for p in parts] + [{"balance": True}]
    draft = invoice_create(
        studio=studio,
        contact=contact,
        currency="EUR",
        lines=[
            LineInput(
                name=f"line {n}",
                unit_price=price,
                quantity=Decimal(qty) / 1000,
                taxes=[{"name": "T", "rate": rate, "inclusive": inclusive}],
            )
            for n, (price, qty, rate, inclusive) in enumerate(lines)
        ],
        schedule=schedule,
    )
    try:
        invoice = invoice_issue(invoice=draft)
    except ApplicationError as exc:  # percents above 100% in all: refused, nothing issued
        assert exc.code in {"schedule_exceeds_total", "schedule_invalid"}
        assert Invoice.objects.get(pk=draft.pk).number is None
        return
    wallet = wallet_for(studio=studio, contact=contact, currency="EUR")
    wallet_grant(wallet=wallet, amount=10**9, reason="goodwill", idempotency_key="funds")
    _check(invoice)
    for n, (kind, amount) in enumerate(steps):
        invoice.refresh_from_db()
        try:
            if kind == "pay":
                invoice_pay(
                    invoice=invoice,
                    amount=amount,
                    idempotency_key=f"p{n}",
                    payer_email="x@example.com",
                    address="203.0.113.1",
                    use_wallet=True,
                )
            elif kind == "credit":
                credit_note_create(
                    invoice=invoice,
                    lines=[LineInput(name="credit", unit_price=amount)],
                    reason="property",
                )
            else:
                invoice_write_off(invoice=invoice)
        except ApplicationError as exc:
            assert exc.code in {
                "amount_exceeds_balance",
                "invoice_paid",
                "invoice_uncollectible",
                "credit_exceeds_invoice",
            }, exc.code
        _check(invoice)
    assert ledger_check(studio=studio).ok
    assert LedgerEntry.objects.filter(studio=studio).aggregate(s=Sum("amount"))["s"] == 0
