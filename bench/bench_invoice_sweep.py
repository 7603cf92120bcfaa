"""Invoices: the due-instalments sweep over 100,000 schedules.

Seed (``bulk_create``, not timed): 10 studios in five time zones, each with 250 clients and
2,500 issued invoices of 4 instalments a month apart (100,000 instalments in all), the first
due dates spread over the last 200 and the next 160 days (about 220 instalments due on any
day across the studios). Past instalments are paid in due order, except that 30 % of the last
three weeks' and 2 % of older ones were not; those already had the reminders and the late fee
of their earlier days (their rows are there). Every invoice has its receivable account holding
what is still owed. Settings: reminders 3 days before, on the day, 1, 7 and 14 days after; a
late fee of 25.00 once, the day after the due date; dunning on days 1, 3 and 7.

So what comes due "now" is a realistic small share, about 0.9 % of the schedules (575
reminders, 83 late fees, 200 charges): the "before:3" and "due" reminders of the instalments
due in 3 days and today, the "overdue:1/7/14" reminders and the late fees of the unpaid ones
due 1, 7 and 14 days ago, and 200 autopay instalments due today charged off-session to saved
cards. Autopay is ON, against the tests' fake Stripe server (in-process, on loopback): every
charge is a real HTTP round trip through the Stripe SDK, so the figure includes the provider
calls a worker makes (a real provider answers slower; in production each charge is its own
task, queued by the beat's sweep, so its latency is not the sweep's). Here ``invoices_sweep``
runs everything inline in one worker, end to end.

Timed: ``invoices_sweep(now)`` once, end to end (the three sweeps: finding what is due among
the 100,000 and doing it). Target: <= 30 s. Then the same sweep again must do nothing (each
thing once), and the counts must match what the seed made due, and the charges at the fake.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time

from bench import Result
from bench.django_env import fresh_database, settle_database
from bench.seed import studio_with_owner

STUDIOS = 10
CLIENTS = 250  # per studio
INVOICES = 2_500  # per studio
PARTS = 4
PART_AMOUNT = 60_000
GAP_DAYS = 30  # between a schedule's instalments
FIRST_FROM, FIRST_TO = -200, 160  # first due dates, in days from today
AUTOPAY_DUE = 200
LATE_FEE = 2_500
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney"]
TARGET_S = 30.0


def _keys_before(settings, due: dt.date, today: dt.date) -> list[str]:
    """The reminders of an instalment whose day is before ``today`` (sent already)."""
    from billing.services.invoices.reminders import reminder_keys

    return [key for day, key in reminder_keys(settings, due) if day < today]


def _seed(now: dt.datetime, fake) -> dict[str, int]:
    """The rows (see the module); what the seed made due now, by kind."""
    from django.utils import timezone

    from accounts.models import Role
    from billing.models import (
        BillingSettings,
        Instalment,
        Invoice,
        InvoiceReminder,
        LedgerAccount,
        ProviderCustomer,
        SavedCard,
    )
    from billing.payments import payment_provider
    from billing.services.invoices.due import local_day, morning_of
    from billing.services.invoices.reminders import current_key
    from crm.models import Contact
    from picpick.testing.factories import (
        ConnectedAccountFactory,
        MembershipFactory,
        StudioFactory,
    )

    rng = random.Random(20_261_207)
    due_now = {"reminders": 0, "late_fees": 0, "autopay": 0}
    autopay_left = AUTOPAY_DUE
    owner = None
    for s in range(STUDIOS):
        zone = ZONES[s % len(ZONES)]
        if owner is None:
            studio, owner = studio_with_owner(slug=f"bench-sweep-{s}", timezone=zone)
        else:  # the same owner runs every studio (one user per email)
            studio = StudioFactory(name=f"Studio {s}", slug=f"bench-sweep-{s}", timezone=zone)
            MembershipFactory(studio=studio, user=owner, role=Role.OWNER)
        settings = BillingSettings.objects.create(
            studio=studio,
            currency="EUR",
            reminder_days_before=[3],
            remind_on_due=True,
            reminder_days_overdue=[1, 7, 14],
            late_fee_fixed=LATE_FEE,
            late_fee_grace_days=0,
            dunning_days=[1, 3, 7],
        )
        account = fake.connected_account(country="FR")
        ConnectedAccountFactory(studio=studio, provider_account_id=account)
        today = local_day(studio, now)
        contacts = Contact.objects.bulk_create(
            Contact(
                studio=studio,
                first_name=f"Client{n}",
                last_name="Bench",
                email=f"client{n}.s{s}@bench.example",
            )
            for n in range(CLIENTS)
        )
        invoices, accounts, instalments, reminders = [], [], [], []
        autopay_rows = []
        for n in range(INVOICES):
            contact = contacts[n % CLIENTS]
            first = today + dt.timedelta(days=rng.randint(FIRST_FROM, FIRST_TO))
            issued_on = first - dt.timedelta(days=10)
            invoice = Invoice(
                studio=studio,
                contact=contact,
                kind=Invoice.Kind.INVOICE,
                number=f"INV-{n + 1:06d}",
                currency="EUR",
                issue_date=issued_on,
                due_date=first,
                issued_at=morning_of(studio, issued_on),
                subtotal=PART_AMOUNT * PARTS,
                net_total=PART_AMOUNT * PARTS,
                total=PART_AMOUNT * PARTS,
                bill_to={"name": contact.first_name, "email": contact.email},
                seller={"name": studio.name},
            )
            receivable = LedgerAccount(
                studio=studio,
                kind=LedgerAccount.Kind.RECEIVABLE,
                currency="EUR",
                key=f"receivable:{contact.id}:inv-{invoice.id.hex}:EUR",
                contact=contact,
                reference=f"inv-{invoice.id.hex}",
                name=f"Invoice {invoice.number}",
            )
            invoice.receivable = receivable
            paying = True
            paid_total = fees = 0
            for p in range(PARTS):
                due = first + dt.timedelta(days=GAP_DAYS * p)
                age = (today - due).days
                if paying and age > 0:
                    paying = rng.random() >= (0.3 if age <= 20 else 0.02)
                row = Instalment(
                    studio=studio,
                    invoice=invoice,
                    position=p,
                    label="Balance" if p == PARTS - 1 else f"Part {p + 1}",
                    due_date=due,
                    amount=PART_AMOUNT,
                )
                if paying and age > 0:
                    row.paid, row.state = PART_AMOUNT, Instalment.State.PAID
                    row.paid_at = morning_of(studio, due)
                    paid_total += PART_AMOUNT
                else:
                    paying = False
                    if age >= 2:  # its late fee was charged the day after its due date
                        row.amount += LATE_FEE
                        row.late_fees_charged, row.late_fee_count = LATE_FEE, 1
                        row.last_late_fee_at = morning_of(studio, due + dt.timedelta(days=1))
                        fees += LATE_FEE
                    elif age == 1:
                        due_now["late_fees"] += 1
                    reminders += [
                        InvoiceReminder(studio=studio, instalment=row, key=key, sent_at=now)
                        for key in _keys_before(settings, due, today)
                    ]
                    if age == 0 and autopay_left and paid_total == PART_AMOUNT * p:
                        autopay_left -= 1
                        row.autopay = True
                        row.next_attempt_at = morning_of(studio, due)
                        autopay_rows.append((row, contact))
                        due_now["autopay"] += 1
                instalments.append(row)
            invoice.late_fees = fees
            receivable.balance = invoice.total + fees - paid_total
            invoice.status = (
                Invoice.Status.PAID
                if receivable.balance == 0
                else Invoice.Status.PARTIALLY_PAID
                if paid_total
                else Invoice.Status.OPEN
            )
            invoice.paid_at = timezone.now() if invoice.status == Invoice.Status.PAID else None
            invoices.append(invoice)
            accounts.append(receivable)
        # The saved cards of the clients autopay charges (their customers made at the fake).
        for row, contact in autopay_rows:
            customer = ProviderCustomer.objects.filter(contact=contact).first()
            if customer is None:
                made = payment_provider().customer_create(
                    email=contact.email,
                    name=contact.first_name,
                    account=account,
                    idempotency_key=f"customer:{account}:{contact.id}",
                )
                customer = ProviderCustomer.objects.create(
                    studio=studio,
                    contact=contact,
                    provider_customer_id=made.id,
                    provider_account_id=account,
                )
            card = SavedCard.objects.filter(contact=contact).first()
            if card is None:  # saved as a client's browser does: a setup intent confirmed
                setup = payment_provider().setup_intent_create(
                    customer=customer.provider_customer_id,
                    account=account,
                    idempotency_key=f"setup:{contact.id}",
                )
                method = fake.confirm_setup(setup.id, "pm_card_visa")["payment_method"]
                card = SavedCard.objects.create(
                    studio=studio,
                    contact=contact,
                    customer=customer,
                    provider_payment_method_id=method,
                    brand="visa",
                    last4="4242",
                )
            row.saved_card = card
        LedgerAccount.objects.bulk_create(accounts, batch_size=2_000)
        Invoice.objects.bulk_create(invoices, batch_size=2_000)
        Instalment.objects.bulk_create(instalments, batch_size=5_000)
        InvoiceReminder.objects.bulk_create(reminders, batch_size=5_000)
        by_invoice = {i.id: i for i in invoices}
        for row in instalments:
            if row.state == Instalment.State.PAID or row.autopay:
                continue
            key = current_key(
                studio=studio,
                settings=settings,
                instalment=row,
                issued_on=by_invoice[row.invoice_id].issue_date,
                now=now,
            )
            if key is not None and key not in _keys_before(settings, row.due_date, today):
                due_now["reminders"] += 1
    return due_now


def _fake_stripe():
    """The tests' fake Stripe on loopback, and the settings pointing the provider at it."""
    import os

    from django.conf import settings

    from billing.payments import payment_provider_cache_clear
    from tests.fake_stripe import (
        FAKE_PUBLISHABLE_KEY,
        FAKE_SECRET_KEY,
        FAKE_WEBHOOK_SECRET,
        FakeStripe,
    )

    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    fake = FakeStripe(api_key=FAKE_SECRET_KEY).start()
    settings.STRIPE_SECRET_KEY = FAKE_SECRET_KEY
    settings.STRIPE_PUBLISHABLE_KEY = FAKE_PUBLISHABLE_KEY
    settings.STRIPE_WEBHOOK_SECRET = FAKE_WEBHOOK_SECRET
    settings.STRIPE_API_BASE = fake.url
    payment_provider_cache_clear()
    return fake


def run() -> list[Result]:
    with fresh_database():
        from django.utils import timezone

        from billing.models import AutopayAttempt, InvoiceLine, InvoiceReminder
        from billing.tasks.invoices import invoices_sweep

        fake = _fake_stripe()
        try:
            now = timezone.now().replace(hour=12, minute=30, second=0, microsecond=0)
            started = time.perf_counter()
            expected = _seed(now, fake)
            seeded_s = time.perf_counter() - started
            settle_database()
            reminders_before = InvoiceReminder.objects.count()
            started = time.perf_counter()
            counts = invoices_sweep(now=now)
            elapsed = time.perf_counter() - started
            again = invoices_sweep(now=now + dt.timedelta(minutes=10))
            charged = AutopayAttempt.objects.filter(state="succeeded").count()
            fees = InvoiceLine.objects.filter(kind="late_fee").count()
            sent = InvoiceReminder.objects.count() - reminders_before
            print(
                f"invoice sweep: seeded in {seeded_s:.0f} s; due {expected}; did "
                f"autopay={counts.autopay} (succeeded {charged}, charges at the fake "
                f"{len(fake.charges)}), reminders={counts.reminders} ({sent} rows), "
                f"late fees={counts.late_fees} ({fees} lines) in {elapsed:.1f} s; "
                f"again: {again}",
                file=sys.stderr,
            )
            right = (
                counts.autopay == charged == len(fake.charges) == expected["autopay"]
                and counts.late_fees == fees == expected["late_fees"]
                and counts.reminders == sent == expected["reminders"]
                and again.autopay == again.reminders == again.late_fees == 0
            )
        finally:
            fake.stop()
    return [
        Result.at_most("invoices sweep, 100,000 schedules (s)", elapsed, "s", TARGET_S),
        Result(
            name="invoices sweep: each due thing done once (errors)",
            value=0 if right else 1,
            unit="count",
            target=0,
            ok=right,
        ),
    ]
