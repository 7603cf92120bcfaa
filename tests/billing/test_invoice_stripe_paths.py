"""Every path of an invoice's card payments through the real Stripe SDK against the fake
Stripe: the deposit, the whole balance, 3-D Secure, webhooks twice and out of order, a dispute.
In the end the ledger balances and ``ledger_check`` is clean."""

from __future__ import annotations

import pytest
from django.core import mail

from billing.models import Instalment, Invoice, LedgerTransaction, Payment
from billing.payments import IntentStatus
from billing.services.invoices import invoice_issue
from billing.services.payments import payment_refresh
from billing.services.reconcile import ledger_check
from crm.models import TimelineEvent
from tests.billing.invoicing_support import (  # noqa: F401 (fixtures)
    client_fixture,
    draft,
    job_fixture,
    owed,
    pay,
)
from tests.billing.test_payments_support import (  # noqa: F401 (fixtures)
    balances,
    confirm,
    deliver,
    fee_of,
    fresh_cache_fixture,
    shop_fixture,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def post(django_capture_on_commit_callbacks):
    """Deliver an event and run what the endpoint queued after its commit (the processing
    task), as the web process and a worker would."""

    def send(fake, event):
        with django_capture_on_commit_callbacks(execute=True):
            return deliver(fake, event)

    return send


SCHEDULE = [
    {"label": "Deposit", "percent": "25", "due": {"on": "acceptance"}},
    {"label": "Balance", "balance": True},
]


def _issued(studio, contact, **fields):
    return invoice_issue(invoice=draft(studio, contact, schedule=SCHEDULE, **fields))


def test_the_deposit_then_the_rest(studio_a, shop, client, job, fake_stripe):
    invoice = _issued(studio_a, client, job=job)
    deposit, rest = invoice.instalments.order_by("position")
    assert (deposit.amount, rest.amount) == (60_000, 180_000)
    payment = pay(invoice, deposit.amount).payment
    confirm(payment)
    payment_refresh(payment=payment)
    invoice.refresh_from_db()
    deposit.refresh_from_db()
    assert invoice.status == Invoice.Status.PARTIALLY_PAID
    assert deposit.state == Instalment.State.PAID and deposit.paid_at is not None
    assert owed(invoice) == 180_000
    payment = pay(invoice, 180_000).payment
    confirm(payment)
    payment_refresh(payment=payment)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID and invoice.paid_at is not None
    fees = fee_of(60_000) + fee_of(180_000)
    assert balances(studio_a) == {
        "provider_clearing:EUR": 240_000 - fees,
        "provider_fees:EUR": fees,
        "revenue:EUR": 200_000,
        "tax_payable:VAT-20:EUR": 40_000,
    }
    kinds = list(TimelineEvent.objects.filter(job=job).values_list("kind", flat=True))
    assert kinds.count("invoice_payment") == 2 and kinds.count("invoice_paid") == 1
    assert ledger_check().ok


def test_the_whole_balance_at_once(studio_a, shop, client, fake_stripe):
    invoice = _issued(studio_a, client)
    payment = pay(invoice, 240_000).payment
    confirm(payment)
    payment_refresh(payment=payment)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert all(i.state == Instalment.State.PAID for i in invoice.instalments.all())


def test_3d_secure_is_not_paid_until_authenticated(studio_a, shop, client, fake_stripe):
    invoice = _issued(studio_a, client)
    payment = pay(invoice, 60_000).payment
    intent = confirm(payment, "pm_card_authenticationRequired")
    assert intent.status == IntentStatus.REQUIRES_ACTION
    payment = payment_refresh(payment=payment)
    assert payment.state == Payment.State.REQUIRES_ACTION
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN and owed(invoice) == 240_000
    fake_stripe.authenticate(payment.intent_id, succeed=True)
    payment_refresh(payment=payment)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PARTIALLY_PAID and owed(invoice) == 180_000


def test_a_declined_card_pays_nothing(studio_a, shop, client, fake_stripe):
    invoice = _issued(studio_a, client)
    payment = pay(invoice, 60_000).payment
    confirm(payment, "pm_card_chargeDeclined")
    payment = payment_refresh(payment=payment)
    assert payment.state == Payment.State.FAILED
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN and owed(invoice) == 240_000


def test_webhooks_twice_and_out_of_order_book_once(studio_a, shop, client, fake_stripe, post):
    invoice = _issued(studio_a, client)
    payment = pay(invoice, 60_000).payment
    confirm(payment)
    succeeded = fake_stripe.last_event("payment_intent.succeeded")
    created = fake_stripe.last_event("payment_intent.created")
    # The success first, twice, then the older "created".
    for event in (succeeded, succeeded, created):
        assert post(fake_stripe, event).status_code == 200
    payment = Payment.objects.get(pk=payment.pk)
    assert payment.state == Payment.State.SUCCEEDED  # booked by the webhook alone
    assert (
        LedgerTransaction.objects.filter(
            studio=studio_a, idempotency_key=f"payment-succeeded:{payment.id}"
        ).count()
        == 1
    )
    invoice.refresh_from_db()
    assert owed(invoice) == 180_000
    assert TimelineEvent.objects.filter(kind="invoice_payment").count() == 1
    assert ledger_check().ok


def test_two_payments_of_the_whole_balance_at_once_leave_the_excess_on_the_wallet(
    studio_a, shop, client, fake_stripe
):
    invoice = _issued(studio_a, client)
    first = pay(invoice, 240_000).payment
    second = pay(invoice, 240_000).payment  # started before the first was paid
    for payment in (first, second):
        confirm(payment)
        payment_refresh(payment=payment)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID and owed(invoice) == 0
    assert balances(studio_a)[f"wallet:{client.id}:EUR"] == 240_000
    assert ledger_check().ok


def test_a_dispute_marks_the_payment_and_tells_the_studio(
    studio_a, shop, client, fake_stripe, alice, post
):
    invoice = _issued(studio_a, client)
    payment = pay(invoice, 60_000).payment
    confirm(payment)
    payment = payment_refresh(payment=payment)
    mail.outbox.clear()
    fake_stripe.dispute(payment.intent_id, None, "fraudulent")
    assert post(fake_stripe, fake_stripe.last_event("charge.dispute.created")).status_code == 200
    assert payment.disputes.count() == 1
    assert TimelineEvent.objects.filter(kind="payment_disputed").count() == 1
    assert any("disputed" in m.subject for m in mail.outbox)
    assert ledger_check().ok
