"""Autopay through the services against the fake Stripe: a saved card charged off-session on
the due date (once, however many workers ask), a card saved while paying the deposit turning
autopay on for the rest, declines retried on the studio's dunning days then overdue with the
studio told, a card needing 3-D Secure getting the client a link, and a payment by hand
stopping it all.

Saved cards that decline are made directly (a row naming one of Stripe's test cards): the
fake, like Stripe, makes the payment method from the test card's name when it is charged.
"""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from billing.models import (
    AutopayAttempt,
    Instalment,
    Invoice,
    Payment,
    SavedCard,
)
from billing.services.invoices import (
    autopay_charge,
    autopay_due,
    instalment_autopay_set,
    invoice_autopay_set,
)
from billing.services.invoices.due import morning_of
from billing.services.payments import payment_refresh
from billing.services.reconcile import ledger_check
from billing.tasks import invoices as invoice_tasks
from billing.tasks.invoices import autopay_sweep
from crm.models import TimelineEvent
from picpick.celery import app
from picpick.core.errors import ApplicationError, Conflict, NotFound
from picpick.testing.factories import ContactFactory, SavedCardFactory
from tests.billing.invoicing_support import (  # noqa: F401 (fixtures)
    client_fixture,
    draft,
    owed,
    pay,
)
from tests.billing.test_invoice_autopay_support import (
    BALANCE,
    DEPOSIT,
    at,
    fresh,
    pay_by_hand,
    saved,
    scheduled,
)
from tests.billing.test_payments_support import (  # noqa: F401 (fixtures)
    confirm,
    fresh_cache_fixture,
    shop_fixture,
)
from tests.races import race

pytestmark = pytest.mark.django_db


# --- turning it on ---------------------------------------------------------------------------
def test_autopay_is_planned_for_the_due_date_at_the_studios_morning(studio_a, shop, client):
    studio_a.timezone = "Europe/Paris"
    studio_a.save(update_fields=["timezone"])
    _, _, balance = scheduled(studio_a, client)
    card = saved(client)
    row = instalment_autopay_set(instalment=balance, saved_card=card, enabled=True)
    assert row.autopay and row.saved_card_id == card.id
    paris = dt.datetime.combine(balance.due_date, dt.time(9), tzinfo=ZoneInfo("Europe/Paris"))
    assert row.next_attempt_at == paris
    off = instalment_autopay_set(instalment=balance, saved_card=None, enabled=False)
    assert (off.autopay, off.saved_card_id, off.next_attempt_at) == (False, None, None)


def test_only_a_card_of_the_invoices_contact(studio_a, studio_b, shop, client):
    _, _, balance = scheduled(studio_a, client)
    other = saved(ContactFactory(studio=studio_a, email="sam@example.com"))
    with pytest.raises(NotFound) as caught:
        instalment_autopay_set(instalment=balance, saved_card=other, enabled=True)
    assert caught.value.code == "card_not_found"
    foreign = SavedCardFactory(customer__contact__studio=studio_b)
    with pytest.raises(NotFound):
        instalment_autopay_set(instalment=balance, saved_card=foreign, enabled=True)
    with pytest.raises(ApplicationError) as caught:
        instalment_autopay_set(instalment=balance, saved_card=None, enabled=True)
    assert caught.value.code == "card_required"
    assert not fresh(balance).autopay


def test_a_paid_instalment_takes_no_autopay(studio_a, shop, client, fake_stripe):
    invoice, deposit, balance = scheduled(studio_a, client)
    pay_by_hand(invoice, DEPOSIT)
    card = saved(client)
    with pytest.raises(Conflict) as caught:
        instalment_autopay_set(instalment=deposit, saved_card=card, enabled=True)
    assert caught.value.code == "instalment_paid"
    changed = invoice_autopay_set(invoice=invoice, saved_card=card, enabled=True)
    assert [row.id for row in changed] == [balance.id]


def test_saving_the_card_with_the_deposit_turns_autopay_on_for_the_rest(
    studio_a, shop, client, fake_stripe, django_capture_on_commit_callbacks
):
    invoice, deposit, balance = scheduled(studio_a, client)
    payment = pay(invoice, DEPOSIT, save_card=True).payment
    confirm(payment, "pm_card_visa")
    with django_capture_on_commit_callbacks(execute=True):
        payment = payment_refresh(payment=payment)
    assert payment.state == Payment.State.SUCCEEDED
    card = SavedCard.objects.get(contact=client)
    balance = fresh(balance)
    assert balance.autopay and balance.saved_card_id == card.id
    assert balance.next_attempt_at == morning_of(studio_a, balance.due_date)
    assert not fresh(deposit).autopay  # paid: nothing to charge
    # On the due date the saved card pays the balance.
    attempt = autopay_charge(instalment_id=balance.id, now=at(studio_a, balance.due_date))
    assert attempt.state == AutopayAttempt.State.SUCCEEDED
    assert fresh(invoice).status == Invoice.Status.PAID
    assert len(fake_stripe.charges) == 2
    assert ledger_check().ok


# --- charging --------------------------------------------------------------------------------
def test_autopay_charges_the_saved_card_on_the_due_date_once(studio_a, shop, client, fake_stripe):
    invoice, _, balance = scheduled(studio_a, client)
    pay_by_hand(invoice, DEPOSIT)
    instalment_autopay_set(instalment=balance, saved_card=saved(client), enabled=True)
    morning = morning_of(studio_a, balance.due_date)
    assert autopay_due(now=morning - dt.timedelta(minutes=1)) == []
    assert autopay_due(now=morning) == [balance.id]

    attempt = autopay_charge(instalment_id=balance.id, now=at(studio_a, balance.due_date))
    assert (attempt.number, attempt.amount, attempt.state) == (1, BALANCE, "succeeded")
    payment = attempt.payment
    assert payment.off_session and payment.amount == BALANCE
    assert payment.idempotency_key == f"autopay:{attempt.id}"
    balance = fresh(balance)
    assert balance.state == Instalment.State.PAID and balance.next_attempt_at is None
    assert fresh(invoice).status == Invoice.Status.PAID and owed(invoice) == 0
    # Asked again (a duplicate task, the next sweep): nothing is claimed or charged.
    assert autopay_charge(instalment_id=balance.id, now=at(studio_a, balance.due_date, 6)) is None
    assert autopay_sweep(now=at(studio_a, balance.due_date, 10), inline=True) == 0
    assert len(fake_stripe.charges) == 2  # the deposit by hand and the balance
    assert AutopayAttempt.objects.count() == 1
    assert ledger_check().ok


@pytest.mark.django_db(transaction=True)
def test_two_workers_charging_the_same_instalment_charge_once(studio_a, shop, client, fake_stripe):
    invoice, _, balance = scheduled(studio_a, client)
    pay_by_hand(invoice, DEPOSIT)
    instalment_autopay_set(instalment=balance, saved_card=saved(client), enabled=True)
    now = at(studio_a, balance.due_date)

    results = race(4, lambda _: autopay_charge(instalment_id=balance.id, now=now))

    assert not [r for r in results if isinstance(r, Exception)], results
    claimed = [r for r in results if r is not None]
    assert len(claimed) == 1 and claimed[0].state == AutopayAttempt.State.SUCCEEDED
    assert len(fake_stripe.charges) == 2
    assert Payment.objects.filter(off_session=True).count() == 1
    assert fresh(invoice).status == Invoice.Status.PAID
    assert ledger_check().ok


def test_a_balance_paid_meanwhile_is_not_charged(studio_a, shop, client, fake_stripe):
    invoice, _, balance = scheduled(studio_a, client)
    instalment_autopay_set(instalment=balance, saved_card=saved(client), enabled=True)
    pay_by_hand(invoice, DEPOSIT + BALANCE)
    assert fresh(balance).next_attempt_at is None  # the payment stopped it
    now = at(studio_a, balance.due_date)
    assert autopay_due(now=now) == []
    # Even if a sweep had listed it before the payment committed: skipped, nothing charged.
    Instalment.objects.filter(pk=balance.pk).update(next_attempt_at=now - dt.timedelta(hours=1))
    attempt = autopay_charge(instalment_id=balance.id, now=now)
    assert (attempt.state, attempt.amount, attempt.error_code) == ("skipped", 0, "nothing_due")
    assert Payment.objects.filter(off_session=True).count() == 0
    assert len(fake_stripe.charges) == 1


class Died(BaseException):
    """A worker dying mid-run (nothing after it runs, no except clause catches it)."""


def test_a_dead_workers_claim_paid_by_hand_meanwhile_is_skipped_on_resume(
    studio_a, shop, client, fake_stripe, monkeypatch
):
    invoice, _, balance = scheduled(studio_a, client)
    pay_by_hand(invoice, DEPOSIT)
    instalment_autopay_set(instalment=balance, saved_card=saved(client), enabled=True)
    now = at(studio_a, balance.due_date)

    def die(**kwargs):
        raise Died

    with monkeypatch.context() as patch:
        patch.setattr("billing.services.invoices.autopay.payment_start", die)
        with pytest.raises(Died):
            autopay_charge(instalment_id=balance.id, now=now)
    (attempt,) = AutopayAttempt.objects.all()
    assert attempt.state == AutopayAttempt.State.CLAIMED and attempt.amount == BALANCE
    pay_by_hand(invoice, BALANCE)  # the client pays while the claim waits to go stale

    later = now + dt.timedelta(minutes=10)
    assert autopay_due(now=later) == [balance.id]  # the stale claim
    attempt = autopay_charge(instalment_id=balance.id, now=later)

    assert (attempt.number, attempt.state, attempt.error_code) == (1, "skipped", "nothing_due")
    assert Payment.objects.filter(off_session=True).count() == 0
    assert len(fake_stripe.charges) == 2  # the deposit and the balance, both by hand
    assert autopay_due(now=later + dt.timedelta(minutes=10)) == []


# --- declines and dunning --------------------------------------------------------------------
def test_a_declined_card_is_retried_on_the_dunning_days_then_overdue_and_the_studio_told(
    studio_a, alice, shop, client, fake_stripe, django_capture_on_commit_callbacks
):
    invoice, _, balance = scheduled(studio_a, client)
    pay_by_hand(invoice, DEPOSIT)
    card = saved(client, "pm_card_chargeDeclinedInsufficientFunds", last4="9995")
    instalment_autopay_set(instalment=balance, saved_card=card, enabled=True)
    due = balance.due_date

    expected_next = [1, 3, 7]
    for number, day in enumerate([0, 1, 3, 7], start=1):
        mail.outbox.clear()
        now = at(studio_a, due + dt.timedelta(days=day))
        assert autopay_due(now=now) == [balance.id]
        with django_capture_on_commit_callbacks(execute=True):
            attempt = autopay_charge(instalment_id=balance.id, now=now)
        assert (attempt.number, attempt.state) == (number, AutopayAttempt.State.FAILED)
        # The issuer's reason, not only Stripe's "card_declined".
        assert attempt.error_code == "insufficient_funds"
        assert attempt.payment.state == Payment.State.FAILED
        row = fresh(balance)
        if number <= 3:
            retry = due + dt.timedelta(days=expected_next[number - 1])
            assert row.next_attempt_at == morning_of(studio_a, retry)
            assert row.state == Instalment.State.PENDING
            assert autopay_due(now=now) == []  # not before the next dunning day
            (message,) = mail.outbox
            assert message.to == ["jane@example.com"]
            assert "the card has insufficient funds" in message.body
            assert "ending 9995" in message.body
            assert "/invoices/" in message.body and "€1,680.00" in message.body
        else:
            assert row.state == Instalment.State.OVERDUE and row.overdue_at is not None
            assert row.next_attempt_at is None
            by_to = {tuple(m.to): m for m in mail.outbox}
            studio_mail = by_to[("alice@example.com",)]
            assert "autopay failed" in studio_mail.subject
            assert "4 attempts" in studio_mail.body and "Jane Doe" in studio_mail.body
            assert "Overdue" in by_to[("jane@example.com",)].subject
    event = TimelineEvent.objects.get(kind="invoice_overdue")
    assert event.payload["instalment"] == "Balance" and event.contact_id == client.id
    assert autopay_due(now=at(studio_a, due + dt.timedelta(days=30))) == []
    assert fake_stripe.charges and len(fake_stripe.charges) == 1  # the deposit only
    # The client pays by hand on the invoice's page: paid, and nothing more is tried.
    pay_by_hand(invoice, BALANCE)
    balance = fresh(balance)
    assert balance.state == Instalment.State.PAID
    assert fresh(invoice).status == Invoice.Status.PAID
    assert AutopayAttempt.objects.count() == 4
    assert ledger_check().ok


def test_a_payment_by_hand_during_the_dunning_stops_the_retries(
    studio_a, shop, client, fake_stripe
):
    invoice, _, balance = scheduled(studio_a, client)
    pay_by_hand(invoice, DEPOSIT)
    card = saved(client, "pm_card_chargeDeclined", last4="0002")
    instalment_autopay_set(instalment=balance, saved_card=card, enabled=True)
    due = balance.due_date
    attempt = autopay_charge(instalment_id=balance.id, now=at(studio_a, due))
    assert attempt.state == AutopayAttempt.State.FAILED
    assert attempt.error_code == "generic_decline"
    assert fresh(balance).next_attempt_at is not None

    pay_by_hand(invoice, BALANCE)

    assert fresh(balance).next_attempt_at is None
    for day in (1, 3, 7, 30):
        assert autopay_due(now=at(studio_a, due + dt.timedelta(days=day))) == []
    assert autopay_sweep(now=at(studio_a, due + dt.timedelta(days=7)), inline=True) == 0
    assert AutopayAttempt.objects.count() == 1
    assert fresh(balance).state == Instalment.State.PAID
    assert ledger_check().ok


def test_a_card_needing_3d_secure_gets_the_client_a_link_to_pay(
    studio_a, shop, client, fake_stripe, django_capture_on_commit_callbacks
):
    invoice, _, balance = scheduled(studio_a, client)
    pay_by_hand(invoice, DEPOSIT)
    card = saved(client, "pm_card_authenticationRequired", last4="3184")
    instalment_autopay_set(instalment=balance, saved_card=card, enabled=True)
    due = balance.due_date

    with django_capture_on_commit_callbacks(execute=True):
        attempt = autopay_charge(instalment_id=balance.id, now=at(studio_a, due))

    assert attempt.state == AutopayAttempt.State.REQUIRES_ACTION
    assert attempt.error_code == "authentication_required"
    (message,) = mail.outbox
    assert message.to == ["jane@example.com"]
    assert "confirm" in message.subject.lower()
    link = next(word for word in message.body.split() if "/invoices/" in word)
    token = link.rstrip("/").rsplit("/", 1)[-1]
    from billing.services.invoices import invoice_link_read

    assert invoice_link_read(token) == invoice.id
    assert fresh(balance).next_attempt_at == morning_of(studio_a, due + dt.timedelta(days=1))
    # The client pays on the page (on-session, where the bank checks it is them).
    pay_by_hand(invoice, BALANCE)
    assert fresh(invoice).status == Invoice.Status.PAID
    assert autopay_due(now=at(studio_a, due + dt.timedelta(days=1))) == []
    assert len(fake_stripe.charges) == 2
    assert ledger_check().ok


def test_a_forgotten_card_stops_autopay_without_a_charge(studio_a, shop, client, fake_stripe):
    _, _, balance = scheduled(studio_a, client)
    card = saved(client)
    instalment_autopay_set(instalment=balance, saved_card=card, enabled=True)
    Instalment.objects.filter(pk=balance.pk).update(saved_card=None)  # the card was removed
    attempt = autopay_charge(instalment_id=balance.id, now=at(studio_a, balance.due_date))
    assert (attempt.state, attempt.error_code) == ("skipped", "no_card")
    row = fresh(balance)
    assert (row.autopay, row.next_attempt_at) == (False, None)
    assert Payment.objects.count() == 0


def test_autopay_of_an_unknown_instalment_claims_nothing(studio_a):
    assert autopay_charge(instalment_id=uuid.uuid4(), now=timezone.now()) is None


# --- the tasks -------------------------------------------------------------------------------
SWEEPS = {
    "billing.tasks.invoices.invoices_autopay_sweep": 300,
    "billing.tasks.invoices.invoices_reminders_sweep": 900,
    "billing.tasks.invoices.invoices_late_fees_sweep": 3600,
}


def test_the_invoice_sweeps_are_on_the_beat_and_a_worker_registers_them():
    app.loader.import_default_modules()  # what a worker and the beat do at start
    entries = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    for name, seconds in SWEEPS.items():
        assert entries[name]["schedule"].total_seconds() == seconds
        assert name in app.tasks
        assert app.amqp.router.route({}, name)["queue"].name == "billing"
    for name in ("invoice_autopay_charge", "invoice_autopay_from_payment"):
        assert f"billing.tasks.invoices.{name}" in app.tasks


def test_the_autopay_beat_queues_one_charge_per_due_instalment(studio_a, shop, client, fake_stripe):
    invoice, _, balance = scheduled(studio_a, client)
    pay_by_hand(invoice, DEPOSIT)
    instalment_autopay_set(instalment=balance, saved_card=saved(client), enabled=True)
    Instalment.objects.filter(pk=balance.pk).update(
        next_attempt_at=timezone.now() - dt.timedelta(minutes=1)
    )
    assert invoice_tasks.invoices_autopay_sweep.delay().get() == 1  # the charge ran eagerly
    assert fresh(balance).state == Instalment.State.PAID
    assert invoice_tasks.invoices_autopay_sweep.delay().get() == 0
    assert invoice_tasks.invoices_reminders_sweep.delay().get() == 0
    assert invoice_tasks.invoices_late_fees_sweep.delay().get() == 0


def test_one_sweep_runs_the_three(studio_a, shop, client, fake_stripe):
    invoice, deposit, balance = scheduled(studio_a, client)
    instalment_autopay_set(instalment=balance, saved_card=saved(client), enabled=True)
    counts = invoice_tasks.invoices_sweep(now=at(studio_a, deposit.due_date + dt.timedelta(1)))
    # The unpaid deposit is reminded (a day overdue); the balance is not due yet.
    assert counts == invoice_tasks.SweepCounts(autopay=0, reminders=1, late_fees=0)
    counts = invoice_tasks.invoices_sweep(now=at(studio_a, balance.due_date))
    assert counts.autopay == 1
    assert fresh(invoice).status == Invoice.Status.PAID
