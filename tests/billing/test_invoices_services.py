"""Invoices through their services: drafts, issuing (number, posting, schedule), paying by
wallet, gift card and card against the fake Stripe, refunds, credit notes, void, write-off."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from billing.models import Instalment, Invoice, LedgerTransaction, Payment
from billing.services.invoices import (
    LineInput,
    credit_note_create,
    invoice_issue,
    invoice_one_off,
    invoice_update,
    invoice_void,
    invoice_write_off,
)
from billing.services.payments import payment_refresh, refund_create
from billing.services.reconcile import ledger_check
from billing.services.wallets import wallet_for, wallet_grant
from crm.models import TimelineEvent
from picpick.core.errors import ApplicationError, Conflict
from tests.billing.invoicing_support import (  # noqa: F401 (fixtures)
    client_fixture,
    draft,
    issued,
    job_fixture,
    owed,
    pay,
    vat_fixture,
)
from tests.billing.test_payments_support import (  # noqa: F401 (fixtures)
    balances,
    confirm,
    fee_of,
    fresh_cache_fixture,
    shop_fixture,
)

pytestmark = pytest.mark.django_db


def test_a_draft_has_computed_totals_and_no_number(studio_a, client):
    invoice = draft(studio_a, client)
    assert invoice.number is None and invoice.status == Invoice.Status.DRAFT
    # 1,500 + 2 x 250 = 2,000.00 net; VAT 20% = 400.00
    assert (invoice.subtotal, invoice.net_total, invoice.tax_total, invoice.total) == (
        200_000,
        200_000,
        40_000,
        240_000,
    )
    assert invoice.tax_breakdown == [
        {
            "name": "VAT",
            "rate": "20",
            "inclusive": False,
            "compound": False,
            "base": 200_000,
            "amount": 40_000,
        }
    ]


def test_issuing_numbers_posts_and_schedules(studio_a, client, job):
    invoice = draft(
        studio_a,
        client,
        job=job,
        schedule=[
            {"label": "Deposit", "percent": "30", "due": {"on": "acceptance"}},
            {"label": "Balance", "balance": True},
        ],
    )
    invoice = invoice_issue(invoice=invoice)
    year = timezone.now().year
    assert invoice.number == f"INV-{year}-0001"
    assert invoice.status == Invoice.Status.OPEN
    assert owed(invoice) == 240_000
    assert balances(studio_a) == {
        f"receivable:{client.id}:inv-{invoice.id.hex}:EUR": 240_000,
        "revenue:EUR": 200_000,
        "tax_payable:VAT-20:EUR": 40_000,
    }
    deposit, rest = Instalment.objects.filter(invoice=invoice).order_by("position")
    assert (deposit.amount, rest.amount) == (72_000, 168_000)
    assert deposit.due_date == invoice.issue_date
    assert rest.due_date == invoice.due_date
    assert TimelineEvent.objects.filter(job=job, kind="invoice_issued").count() == 1
    assert issued(studio_a, client).number == f"INV-{year}-0002"


def test_an_issued_invoice_is_never_edited(studio_a, client):
    invoice = issued(studio_a, client)
    with pytest.raises(Conflict) as caught:
        invoice_update(invoice=invoice, title="changed")
    assert caught.value.code == "invoice_not_draft"
    with pytest.raises(Conflict):
        invoice_issue(invoice=invoice)


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (LineInput(name="x", unit_price=10.5), "price_invalid"),
        (LineInput(name="x", unit_price=100, quantity=-1), "quantity_invalid"),
        (LineInput(name="x", unit_price=100, quantity="1.0005"), "quantity_invalid"),
        (LineInput(name="x", unit_price=100, quantity=1.5), "quantity_invalid"),
        (LineInput(name="x", unit_price=100, discount_amount=101), "discount_exceeds_total"),
        (
            LineInput(name="x", unit_price=100, taxes=[{"name": "T", "rate": "100.5"}]),
            "tax_rate_invalid",
        ),
    ],
)
def test_bad_lines_are_refused_and_nothing_is_written(studio_a, client, line, code):
    with pytest.raises(ApplicationError) as caught:
        draft(studio_a, client, lines=[line])
    assert caught.value.code == code
    assert not Invoice.objects.filter(studio=studio_a).exists()


def test_paying_by_wallet_then_card_with_a_tip(studio_a, shop, client, fake_stripe):
    invoice = issued(studio_a, client, allow_tips=True)
    wallet = wallet_for(studio=studio_a, contact=client, currency="EUR")
    wallet_grant(wallet=wallet, amount=40_000, reason="goodwill", idempotency_key="g1")
    result = pay(invoice, 100_000, use_wallet=True, tip=5_000)
    assert result.wallet_applied == 40_000
    payment = result.payment
    assert (payment.amount, payment.tip) == (65_000, 5_000)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PARTIALLY_PAID
    confirm(payment)
    payment = payment_refresh(payment=payment)
    assert payment.state == Payment.State.SUCCEEDED
    invoice.refresh_from_db()
    assert owed(invoice) == 140_000
    assert invoice.status == Invoice.Status.PARTIALLY_PAID
    books = balances(studio_a)
    assert books["revenue:tips:EUR"] == 5_000
    # Paying the rest makes it paid; paying more is refused.
    with pytest.raises(Conflict) as caught:
        pay(invoice, 140_001)
    assert caught.value.code == "amount_exceeds_balance"
    rest = pay(invoice, 140_000).payment
    confirm(rest)
    payment_refresh(payment=rest)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert all(i.state == Instalment.State.PAID for i in invoice.instalments.all())
    with pytest.raises(Conflict) as caught:
        pay(invoice, 100)
    assert caught.value.code == "invoice_paid"
    assert ledger_check().ok


def test_the_same_request_twice_pays_once(studio_a, shop, client, fake_stripe):
    invoice = issued(studio_a, client)
    wallet = wallet_for(studio=studio_a, contact=client, currency="EUR")
    wallet_grant(wallet=wallet, amount=10_000, reason="goodwill", idempotency_key="g1")
    first = pay(invoice, 50_000, key="k1", use_wallet=True)
    again = pay(invoice, 50_000, key="k1", use_wallet=True)
    assert first.payment.id == again.payment.id
    assert again.wallet_applied == 10_000
    assert LedgerTransaction.objects.filter(kind="wallet_spend").count() == 1


def test_a_refund_to_the_card_reopens_what_it_gives_back(studio_a, shop, client, fake_stripe):
    invoice = issued(studio_a, client, allow_tips=True)
    payment = pay(invoice, 240_000, tip=1_000).payment
    confirm(payment)
    payment = payment_refresh(payment=payment)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    refund_create(payment=payment, idempotency_key="r1", amount=40_000)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PARTIALLY_PAID
    assert owed(invoice) == 40_000
    # The rest, tip included: the tip is given back last, from the tips account.
    refund_create(payment=payment, idempotency_key="r2")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN and owed(invoice) == 240_000
    assert balances(studio_a).get("revenue:tips:EUR", 0) == 0
    assert TimelineEvent.objects.filter(kind="invoice_refunded").count() == 2
    assert ledger_check().ok


def test_a_refund_to_the_wallet(studio_a, shop, client, fake_stripe):
    invoice = issued(studio_a, client)
    payment = pay(invoice, 240_000).payment
    confirm(payment)
    payment = payment_refresh(payment=payment)
    refund_create(payment=payment, idempotency_key="r1", amount=10_000, to="wallet")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PARTIALLY_PAID
    wallet = wallet_for(studio=studio_a, contact=client, currency="EUR")
    wallet.account.refresh_from_db()
    assert wallet.account.balance == 10_000
    assert ledger_check().ok


def test_a_credit_note_after_payment_becomes_wallet_credit(studio_a, shop, client, fake_stripe):
    invoice = issued(studio_a, client)
    payment = pay(invoice, 240_000).payment
    confirm(payment)
    payment_refresh(payment=payment)
    note = credit_note_create(
        invoice=invoice,
        lines=[LineInput(name="Album", unit_price=25_000, taxes=[{"name": "VAT", "rate": "20"}])],
        reason="One album less",
    )
    year = timezone.now().year
    assert note.number == f"CN-{year}-0001" and note.credit_for_id == invoice.id
    invoice.refresh_from_db()
    assert invoice.credited == 30_000 and invoice.owed == 210_000
    assert invoice.status == Invoice.Status.PAID and owed(invoice) == 0
    wallet = wallet_for(studio=studio_a, contact=client, currency="EUR")
    wallet.account.refresh_from_db()
    assert wallet.account.balance == 30_000
    assert sum(i.amount for i in invoice.instalments.all()) == invoice.owed
    with pytest.raises(Conflict) as caught:
        credit_note_create(invoice=invoice, reason="too much")  # a full credit: above what is left
    assert caught.value.code == "credit_exceeds_invoice"
    assert ledger_check().ok


def test_void_only_without_payments(studio_a, shop, client, fake_stripe):
    invoice = issued(studio_a, client)
    invoice = invoice_void(invoice=invoice, reason="Wrong client")
    assert invoice.status == Invoice.Status.VOID
    assert owed(invoice) == 0
    assert balances(studio_a) == {}
    with pytest.raises(Conflict) as caught:
        pay(invoice, 100)
    assert caught.value.code == "invoice_void"
    other = issued(studio_a, client)
    payment = pay(other, 1_000).payment
    confirm(payment)
    payment_refresh(payment=payment)
    with pytest.raises(Conflict) as caught:
        invoice_void(invoice=other, reason="x")
    assert caught.value.code == "invoice_has_payments"


def test_write_off(studio_a, client):
    invoice = issued(studio_a, client)
    invoice = invoice_write_off(invoice=invoice, reason="Client vanished")
    assert invoice.status == Invoice.Status.UNCOLLECTIBLE
    assert balances(studio_a)["adjustment:bad-debt:EUR"] == 240_000
    assert all(i.state == Instalment.State.CANCELED for i in invoice.instalments.all())


def test_a_one_off_invoice_is_made_once_per_key(studio_a, client):
    first = invoice_one_off(
        studio=studio_a, contact=client, name="Booking deposit", amount=10_000, source_key="b:1"
    )
    again = invoice_one_off(
        studio=studio_a, contact=client, name="Booking deposit", amount=10_000, source_key="b:1"
    )
    assert first.id == again.id and first.number
    (instalment,) = first.instalments.all()
    assert instalment.amount == 10_000 and instalment.due_date == first.issue_date
    assert Invoice.objects.filter(studio=studio_a).count() == 1


def test_instalments_before_the_event_need_an_event_date(studio_a, client):
    invoice = draft(
        studio_a,
        client,
        schedule=[
            {"percent": "50", "due": {"on": "before_event", "days": 30}},
            {"balance": True},
        ],
    )
    with pytest.raises(ApplicationError) as caught:
        invoice_issue(invoice=invoice)
    assert caught.value.code == "event_date_required"
    assert Invoice.objects.get(pk=invoice.pk).number is None
    invoice = invoice_update(invoice=invoice, event_date=timezone.now().date() + dt.timedelta(90))
    invoice = invoice_issue(invoice=invoice)
    first, _ = invoice.instalments.order_by("position")
    assert first.due_date == invoice.event_date - dt.timedelta(days=30)


def test_the_documents_sweep_draws_a_missing_pdf_once(studio_a, client, settings):
    from billing.tasks.documents import invoice_documents_sweep

    invoice = issued(studio_a, client)
    Invoice.objects.filter(pk=invoice.pk).update(issued_at=timezone.now() - dt.timedelta(hours=1))
    assert invoice_documents_sweep() == 1  # tasks run at once in tests
    invoice.refresh_from_db()
    assert invoice.pdf_path and len(invoice.pdf_sha256) == 64
    assert invoice_documents_sweep() == 0


def test_a_bank_transfer_recorded_by_the_studio_pays_once(studio_a, client):
    from billing.services.invoices import invoice_payment_record

    invoice = issued(studio_a, client)
    first = invoice_payment_record(
        invoice=invoice, amount=100_000, method="bank_transfer", idempotency_key="t1"
    )
    again = invoice_payment_record(
        invoice=invoice, amount=100_000, method="bank_transfer", idempotency_key="t1"
    )
    assert first.id == again.id
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PARTIALLY_PAID and owed(invoice) == 140_000
    assert balances(studio_a)["bank:EUR"] == 100_000
    with pytest.raises(Conflict) as caught:
        invoice_payment_record(invoice=invoice, amount=140_001, method="cash", idempotency_key="t2")
    assert caught.value.code == "amount_exceeds_balance"
    with pytest.raises(ApplicationError) as caught:
        invoice_payment_record(invoice=invoice, amount=1, method="bitcoin", idempotency_key="t3")
    assert caught.value.code == "invalid_method"
    assert ledger_check().ok


def test_a_merged_clients_invoices_follow_and_a_client_with_invoices_is_not_deleted(
    studio_a, client, alice
):
    from crm.services.contacts import contact_delete, contact_merge
    from picpick.testing.factories import ContactFactory

    invoice = issued(studio_a, client)
    with pytest.raises(Conflict) as caught:
        contact_delete(contact=client, by=alice)
    assert caught.value.code == "contact_has_money_history"
    survivor = ContactFactory(studio=studio_a)
    contact_merge(survivor=survivor, merged=client, by=alice)
    invoice.refresh_from_db()
    assert invoice.contact_id == survivor.id
    invoice.receivable.refresh_from_db()
    assert invoice.receivable.contact_id == survivor.id and owed(invoice) == 240_000


def test_schedule_parts_marked_autopay_use_the_clients_saved_card(studio_a, client):
    from picpick.testing.factories import ProviderCustomerFactory, SavedCardFactory

    schedule = [
        {"label": "Deposit", "percent": "30", "due": {"on": "acceptance"}},
        {"label": "Balance", "balance": True, "autopay": True},
    ]
    without = invoice_issue(invoice=draft(studio_a, client, schedule=schedule))
    assert not any(i.autopay for i in without.instalments.all())
    customer = ProviderCustomerFactory(studio=studio_a, contact=client)
    card = SavedCardFactory(customer=customer, contact=client, studio=studio_a)
    invoice = invoice_issue(invoice=draft(studio_a, client, schedule=schedule))
    deposit, rest = invoice.instalments.order_by("position")
    assert not deposit.autopay
    assert rest.autopay and rest.saved_card_id == card.id
    assert rest.next_attempt_at is not None
    assert rest.next_attempt_at.date() == rest.due_date
