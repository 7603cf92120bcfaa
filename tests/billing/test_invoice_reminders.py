"""Reminder emails of instalments: before the due date, on it and overdue at the studio's
offsets, each sent once (two sweeps in a row or at once), in the invoice's language, with the
invoice's link; none once it is paid, for a closed invoice, or for days the sweep missed; an
autopay instalment gets a heads-up instead of a request to pay."""

from __future__ import annotations

import datetime as dt

import pytest
from babel.dates import format_date
from django.core import mail
from django.utils import timezone

from billing.models import Instalment, InvoiceReminder
from billing.services.invoices import (
    instalment_autopay_set,
    invoice_issue,
    invoice_link_read,
    invoice_link_url,
    invoice_void,
    reminders_due,
)
from billing.services.invoices.common import amount_text
from billing.services.wallets import billing_settings_get
from billing.tasks.invoices import reminders_sweep
from tests.billing.invoicing_support import client_fixture, draft  # noqa: F401 (fixtures)
from tests.billing.test_invoice_autopay_support import at, pay_by_hand, saved
from tests.billing.test_payments_support import (  # noqa: F401 (fixtures)
    fresh_cache_fixture,
    shop_fixture,
)
from tests.races import race

pytestmark = pytest.mark.django_db

TOTAL = 240_000


def one_payment(studio, contact, *, in_days: int = 30, **fields):
    """An issued invoice of 2,400.00 paid in one instalment due in ``in_days`` days."""
    due = timezone.now().date() + dt.timedelta(days=in_days)
    invoice = invoice_issue(invoice=draft(studio, contact, due_date=due, **fields))
    (instalment,) = invoice.instalments.all()
    return invoice, instalment


def remind(studio, *, before=(7, 3), on_due=True, overdue=(1, 7)):
    settings = billing_settings_get(studio=studio)
    settings.reminder_days_before = list(before)
    settings.remind_on_due = on_due
    settings.reminder_days_overdue = list(overdue)
    settings.save()


def sweep(capture, now) -> list:
    """One sweep at ``now``; the emails it sent."""
    mail.outbox.clear()
    with capture(execute=True):
        reminders_sweep(now=now)
    return list(mail.outbox)


def linked(body: str, invoice) -> bool:
    """The email's link is the invoice's page on its studio's site (the token is signed with a
    timestamp, so it is read rather than compared)."""
    link = next(word for word in body.split() if "/invoices/" in word)
    site = invoice_link_url(invoice=invoice).split("/invoices/", 1)[0]
    token = link.rstrip("/").rsplit("/", 1)[-1]
    return link.startswith(f"{site}/invoices/") and invoice_link_read(token) == invoice.id


def day(instalment, offset: int) -> dt.date:
    return instalment.due_date + dt.timedelta(days=offset)


def test_each_reminder_is_sent_once_at_the_studios_offsets(
    studio_a, shop, client, django_capture_on_commit_callbacks
):
    remind(studio_a)
    invoice, instalment = one_payment(studio_a, client)
    capture = django_capture_on_commit_callbacks
    sent = {}
    for offset in range(-10, 12):
        for minutes in (5, 65):  # two sweeps on each day
            for message in sweep(capture, at(studio_a, day(instalment, offset), minutes)):
                assert message.to == ["jane@example.com"]
                sent.setdefault(offset, []).append(message)
    assert {offset: len(messages) for offset, messages in sent.items()} == {
        -7: 1,
        -3: 1,
        0: 1,
        1: 1,
        7: 1,
    }
    keys = set(InvoiceReminder.objects.values_list("key", flat=True))
    assert keys == {"before:7", "before:3", "due", "overdue:1", "overdue:7"}
    due_text = format_date(instalment.due_date, "long", locale="en")
    for messages in sent.values():
        assert "€2,400.00" in messages[0].subject
        assert linked(messages[0].body, invoice) and invoice.number in messages[0].body
    assert due_text in sent[-7][0].body and "in 7 days" in sent[-7][0].body
    assert "due today" in sent[0][0].subject
    assert "Overdue" in sent[7][0].subject and "7 days ago" in sent[7][0].body


def test_nothing_before_the_studios_morning(
    studio_a, shop, client, django_capture_on_commit_callbacks
):
    studio_a.timezone = "America/New_York"
    studio_a.save(update_fields=["timezone"])
    remind(studio_a)
    _, instalment = one_payment(studio_a, client)
    capture = django_capture_on_commit_callbacks
    assert sweep(capture, at(studio_a, day(instalment, -7), minutes=-30)) == []
    assert len(sweep(capture, at(studio_a, day(instalment, -7), minutes=1))) == 1


def test_reminders_stop_the_moment_it_is_paid(
    studio_a, shop, client, fake_stripe, django_capture_on_commit_callbacks
):
    remind(studio_a)
    invoice, instalment = one_payment(studio_a, client)
    capture = django_capture_on_commit_callbacks
    assert len(sweep(capture, at(studio_a, day(instalment, -7)))) == 1
    pay_by_hand(invoice, TOTAL)
    for offset in (-3, 0, 1, 7):
        assert sweep(capture, at(studio_a, day(instalment, offset))) == []
    assert InvoiceReminder.objects.count() == 1


def test_a_partly_paid_instalment_is_reminded_of_what_is_left(
    studio_a, shop, client, fake_stripe, django_capture_on_commit_callbacks
):
    remind(studio_a)
    invoice, instalment = one_payment(studio_a, client)
    pay_by_hand(invoice, 40_000)
    (message,) = sweep(django_capture_on_commit_callbacks, at(studio_a, day(instalment, 0)))
    assert "€2,000.00" in message.subject


def test_a_missed_sweep_sends_the_current_reminder_only(
    studio_a, shop, client, django_capture_on_commit_callbacks
):
    remind(studio_a)
    _, instalment = one_payment(studio_a, client)
    # The sweep did not run for days: only the latest reminder goes out, not a burst.
    (message,) = sweep(django_capture_on_commit_callbacks, at(studio_a, day(instalment, 3)))
    assert "Overdue" in message.subject
    assert list(InvoiceReminder.objects.values_list("key", flat=True)) == ["overdue:1"]


def test_no_reminder_up_to_the_issue_day_nor_for_a_closed_invoice(
    studio_a, shop, client, django_capture_on_commit_callbacks
):
    remind(studio_a)
    capture = django_capture_on_commit_callbacks
    # Due in 2 days: before:7 and before:3 would be on or before the issue day.
    _, soon = one_payment(studio_a, client, in_days=2)
    today = timezone.now().date()
    assert sweep(capture, at(studio_a, today)) == []
    assert len(sweep(capture, at(studio_a, soon.due_date))) == 1  # "due"
    voided, instalment = one_payment(studio_a, client)
    invoice_void(invoice=voided, reason="Wrong client")
    assert reminders_due(now=at(studio_a, day(instalment, 0))) == []


def test_reminders_are_written_in_the_invoices_language(
    studio_a, shop, client, django_capture_on_commit_callbacks
):
    remind(studio_a)
    _, instalment = one_payment(studio_a, client, language="fr")
    (message,) = sweep(django_capture_on_commit_callbacks, at(studio_a, day(instalment, -7)))
    assert amount_text(TOTAL, "EUR", "fr") in message.subject
    assert format_date(instalment.due_date, "long", locale="fr") in message.body


def test_an_autopay_instalment_gets_a_heads_up_and_no_request_to_pay(
    studio_a, shop, client, django_capture_on_commit_callbacks
):
    remind(studio_a)
    _, instalment = one_payment(studio_a, client)
    instalment_autopay_set(instalment=instalment, saved_card=saved(client), enabled=True)
    capture = django_capture_on_commit_callbacks
    (message,) = sweep(capture, at(studio_a, day(instalment, -3)))
    assert "will be charged" in message.subject
    assert "ending 4242" in message.body and "nothing you need to do" in message.body
    # Due day: the charge speaks (planned at the morning), no "please pay".
    assert sweep(capture, at(studio_a, day(instalment, 0))) == []
    # Autopay gave up (overdue, told that day): the next overdue reminder goes out.
    Instalment.objects.filter(pk=instalment.pk).update(
        state=Instalment.State.OVERDUE,
        next_attempt_at=None,
        overdue_at=at(studio_a, day(instalment, 7)),
    )
    assert sweep(capture, at(studio_a, day(instalment, 7), minutes=30)) == []
    remind(studio_a, overdue=(1, 7, 14))
    assert len(sweep(capture, at(studio_a, day(instalment, 14)))) == 1


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_each_reminder_once(studio_a, shop, client):
    remind(studio_a)
    instalments = [one_payment(studio_a, client)[1] for _ in range(3)]
    now = at(studio_a, day(instalments[0], -7))
    mail.outbox.clear()

    results = race(3, lambda _: reminders_sweep(now=now))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(results) == 3
    assert InvoiceReminder.objects.count() == 3
    assert len(mail.outbox) == 3
