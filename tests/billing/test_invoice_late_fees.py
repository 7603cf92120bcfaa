"""Late fees added by the sweep as new lines with their own postings: after the grace days,
once or recurring, trimmed to the cap, never twice (two sweeps in a row or at once); the
instalments still sum to what the invoice asks for, and paying it all makes it paid."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from billing.models import Instalment, Invoice, InvoiceLine, LedgerTransaction
from billing.services.invoices import (
    instalment_autopay_set,
    invoice_issue,
    late_fee_apply,
    late_fees_due,
)
from billing.services.reconcile import ledger_check
from billing.services.wallets import billing_settings_get
from billing.tasks.invoices import late_fees_sweep
from tests.billing.invoicing_support import client_fixture, draft, owed  # noqa: F401 (fixtures)
from tests.billing.test_invoice_autopay_support import at, fresh, pay_by_hand, saved
from tests.billing.test_payments_support import (  # noqa: F401 (fixtures)
    balances,
    fresh_cache_fixture,
    shop_fixture,
)
from tests.races import race

pytestmark = pytest.mark.django_db

TOTAL = 240_000


def one_payment(studio, contact, *, in_days: int = 5):
    due = timezone.now().date() + dt.timedelta(days=in_days)
    invoice = invoice_issue(invoice=draft(studio, contact, due_date=due))
    (instalment,) = invoice.instalments.all()
    return invoice, instalment


def fees(studio, **values):
    settings = billing_settings_get(studio=studio)
    for name, value in values.items():
        setattr(settings, f"late_fee_{name}", value)
    settings.save()


def day(instalment, offset: int) -> dt.date:
    return instalment.due_date + dt.timedelta(days=offset)


def fee_lines(invoice) -> list[int]:
    return list(
        InvoiceLine.objects.filter(invoice=invoice, kind=InvoiceLine.Kind.LATE_FEE)
        .order_by("fee_sequence")
        .values_list("total", flat=True)
    )


def test_a_fixed_fee_once_after_the_grace_days(studio_a, shop, client):
    fees(studio_a, fixed=2_500, grace_days=2)
    invoice, instalment = one_payment(studio_a, client)
    for offset in (0, 1, 2):
        assert late_fees_sweep(now=at(studio_a, day(instalment, offset))) == 0
    assert late_fees_sweep(now=at(studio_a, day(instalment, 3))) == 1
    for offset in (3, 4, 30, 400):  # once: never again
        assert late_fees_sweep(now=at(studio_a, day(instalment, offset), 30)) == 0

    (line,) = InvoiceLine.objects.filter(invoice=invoice, kind=InvoiceLine.Kind.LATE_FEE)
    assert (line.total, line.net, line.tax, line.fee_sequence) == (2_500, 2_500, 0, 1)
    assert line.instalment_id == instalment.id and line.name == "Late fee: Payment"
    assert line.posted_transaction.kind == LedgerTransaction.Kind.LATE_FEE
    assert line.posted_transaction.idempotency_key == f"late-fee:{instalment.id}:1"
    invoice = fresh(invoice)
    assert invoice.late_fees == 2_500 and invoice.owed == TOTAL + 2_500
    assert owed(invoice) == TOTAL + 2_500
    instalment = fresh(instalment)
    assert (instalment.amount, instalment.late_fees_charged, instalment.late_fee_count) == (
        TOTAL + 2_500,
        2_500,
        1,
    )
    assert balances(studio_a)["revenue:late-fees:EUR"] == 2_500
    assert invoice.status == Invoice.Status.OPEN
    assert ledger_check().ok


def test_a_recurring_percent_fee_stops_at_the_cap(studio_a, shop, client):
    fees(studio_a, percent=Decimal("1.5"), every_days=7, cap=5_000)
    invoice, instalment = one_payment(studio_a, client)
    for offset in range(0, 40):
        late_fees_sweep(now=at(studio_a, day(instalment, offset)))
    # 1.5 % of 2,400.00 = 36.00; then 1.5 % of 2,436.00 = 36.54, trimmed to the 50.00 cap.
    assert fee_lines(invoice) == [3_600, 1_400]
    instalment = fresh(instalment)
    assert instalment.late_fees_charged == 5_000 and instalment.late_fee_count == 2
    assert instalment.last_late_fee_at == at(studio_a, day(instalment, 8))
    assert fresh(invoice).late_fees == 5_000
    assert ledger_check().ok


def test_a_recurring_fee_comes_every_so_many_days(studio_a, shop, client):
    fees(studio_a, fixed=1_000, every_days=7, cap=None)
    invoice, instalment = one_payment(studio_a, client)
    for offset in range(0, 22):
        late_fees_sweep(now=at(studio_a, day(instalment, offset)))
    assert fee_lines(invoice) == [1_000, 1_000, 1_000]  # days 1, 8 and 15
    assert fresh(instalment).last_late_fee_at == at(studio_a, day(instalment, 15))


def test_paying_what_is_owed_with_the_fee_makes_the_invoice_paid(
    studio_a, shop, client, fake_stripe
):
    fees(studio_a, fixed=2_500)
    invoice, instalment = one_payment(studio_a, client)
    late_fees_sweep(now=at(studio_a, day(instalment, 1)))
    assert fresh(invoice).owed == TOTAL + 2_500
    pay_by_hand(invoice, TOTAL + 2_500)
    invoice = fresh(invoice)
    assert invoice.status == Invoice.Status.PAID and owed(invoice) == 0
    assert fresh(instalment).state == Instalment.State.PAID
    total = Instalment.objects.filter(invoice=invoice).aggregate(s=Sum("amount"))["s"]
    assert total == invoice.owed
    assert late_fees_due(now=at(studio_a, day(instalment, 30))) == []
    assert ledger_check().ok


def test_no_fee_without_settings_nor_on_a_paid_or_closed_invoice(
    studio_a, shop, client, fake_stripe
):
    invoice, instalment = one_payment(studio_a, client)
    assert late_fees_due(now=at(studio_a, day(instalment, 10))) == []
    assert (
        late_fee_apply(instalment_id=instalment.id, now=at(studio_a, day(instalment, 10))) is None
    )
    fees(studio_a, fixed=2_500)
    pay_by_hand(invoice, TOTAL)
    assert late_fees_due(now=at(studio_a, day(instalment, 10))) == []
    assert (
        late_fee_apply(instalment_id=instalment.id, now=at(studio_a, day(instalment, 10))) is None
    )
    assert fee_lines(invoice) == []


def test_no_fee_while_autopay_is_still_trying(studio_a, shop, client, fake_stripe):
    fees(studio_a, fixed=2_500)
    _, instalment = one_payment(studio_a, client)
    instalment_autopay_set(instalment=instalment, saved_card=saved(client), enabled=True)
    Instalment.objects.filter(pk=instalment.pk).update(
        next_attempt_at=at(studio_a, day(instalment, 3))  # a dunning retry planned
    )
    assert late_fees_due(now=at(studio_a, day(instalment, 2))) == []
    Instalment.objects.filter(pk=instalment.pk).update(
        next_attempt_at=None,
        state=Instalment.State.OVERDUE,  # autopay gave up
    )
    assert late_fees_due(now=at(studio_a, day(instalment, 8))) == [instalment.id]
    assert late_fees_sweep(now=at(studio_a, day(instalment, 8))) == 1
    assert fresh(instalment).state == Instalment.State.OVERDUE


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_add_the_fee_once(studio_a, shop, client):
    fees(studio_a, fixed=2_500, every_days=7)
    invoices = [one_payment(studio_a, client) for _ in range(3)]
    now = at(studio_a, day(invoices[0][1], 1))

    results = race(4, lambda _: late_fees_sweep(now=now))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(results) == 3
    for invoice, _ in invoices:
        assert fee_lines(invoice) == [2_500]
        assert fresh(invoice).late_fees == 2_500
    assert LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.LATE_FEE).count() == 3
    assert ledger_check().ok


def test_the_same_fee_is_never_added_twice(studio_a, shop, client):
    fees(studio_a, fixed=2_500)
    invoice, instalment = one_payment(studio_a, client)
    now = at(studio_a, day(instalment, 1))
    assert late_fee_apply(instalment_id=instalment.id, now=now) is not None
    # Even told it is due again (a stale read), the unique line refuses a second fee 1.
    Instalment.objects.filter(pk=instalment.pk).update(late_fee_count=0)
    assert late_fee_apply(instalment_id=instalment.id, now=now) is None
    assert fee_lines(invoice) == [2_500]
    assert ledger_check().ok
