"""Reminder emails of unpaid instalments: before the due date, on it, and overdue, at the
studio's offsets (``BillingSettings.reminder_days_before``, ``remind_on_due``,
``reminder_days_overdue``), each sent once.

Each reminder has a key: ``before:N`` (N days before the due date), ``due``, ``overdue:N``
(N days after). A key becomes current at the studio's morning of its day; the sweep sends the
CURRENT key only (the latest one whose day has come), so a sweep that did not run for a few days
sends one reminder, not a burst of stale ones. ``reminder_send`` takes the invoice's row lock
(a payment committing meanwhile is seen: the moment it is paid, nothing more is sent), then
inserts the ``InvoiceReminder`` row (unique per instalment and key: two sweeps at once send it
once) and queues the email after commit.

Autopay instalments: ``before:N`` is a heads-up ("we will charge your card on ..."), not a
request to pay; ``due`` and ``overdue:N`` wait while a charge is planned or retried (the dunning
emails speak then), and an overdue day already covered by autopay's own overdue notice is not
sent again. Never for paid or canceled instalments, nor for closed invoices.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import F

from accounts.models import Studio
from billing.models import AutopayAttempt, BillingSettings, Instalment, Invoice, InvoiceReminder
from billing.services.invoices.common import invoice_locked, logger
from billing.services.invoices.due import (
    OPEN_STATUSES,
    UNPAID_STATES,
    day_offsets,
    local_day,
    morning_of,
    owed_by,
    takes_money,
)
from billing.services.invoices.notices import client_email_of, facts_of, reminder_email
from picpick.core.email import email_send_on_commit

_CHUNK = 1000
_DEFAULTS = BillingSettings()  # a studio that never saved its settings has the defaults


def reminder_keys(settings: BillingSettings, due: dt.date) -> list[tuple[dt.date, str]]:
    """The studio's reminders of an instalment due on ``due``: (day, key), in day order."""
    keys = [
        (due - dt.timedelta(days=n), f"before:{n}")
        for n in reversed(day_offsets(settings.reminder_days_before))
    ]
    if settings.remind_on_due:
        keys.append((due, "due"))
    keys += [
        (due + dt.timedelta(days=n), f"overdue:{n}")
        for n in day_offsets(settings.reminder_days_overdue, high=3650)
    ]
    return keys


def current_key(
    *,
    studio: Studio,
    settings: BillingSettings,
    instalment: Instalment,
    issued_on: dt.date | None,
    now: dt.datetime,
) -> str | None:
    """The reminder of the instalment that is current at ``now`` (see the module), or None.
    Days up to the issue day have none: the invoice itself was just sent."""
    today = local_day(studio, now)
    found = None
    for day, key in reminder_keys(settings, instalment.due_date):
        if day <= today and (issued_on is None or day > issued_on):
            found = (day, key)
    if found is None:
        return None
    day, key = found
    if instalment.autopay and not key.startswith("before:") and instalment.next_attempt_at:
        return None  # a charge is planned or retried: its own emails speak
    if (
        key.startswith("overdue:")
        and instalment.overdue_at is not None
        and morning_of(studio, day) <= instalment.overdue_at
    ):
        return None  # autopay's overdue notice told the client that day
    return key


def reminders_due(*, now: dt.datetime) -> list[tuple[uuid.UUID, str]]:
    """(instalment id, key) of every reminder to send now."""
    configs = {row.studio_id: row for row in BillingSettings.objects.all()}
    before = max(
        [3, *(max(day_offsets(c.reminder_days_before), default=0) for c in configs.values())]
    )
    after = max(
        [
            14,
            *(
                max(day_offsets(c.reminder_days_overdue, high=3650), default=0)
                for c in configs.values()
            ),
        ]
    )
    today = now.date()
    rows = list(
        Instalment.objects.filter(
            state__in=UNPAID_STATES,
            due_date__gte=today - dt.timedelta(days=after + 2),
            due_date__lte=today + dt.timedelta(days=before + 2),
            invoice__status__in=OPEN_STATUSES,
            invoice__kind=Invoice.Kind.INVOICE,
        )
        .annotate(issued_on=F("invoice__issue_date"))
        .only(
            "id",
            "studio_id",
            "due_date",
            "amount",
            "paid",
            "autopay",
            "next_attempt_at",
            "overdue_at",
        )
    )
    if not rows:
        return []
    studios = {s.id: s for s in Studio.objects.filter(id__in={r.studio_id for r in rows})}
    wanted = []
    for row in rows:
        if row.remaining <= 0:
            continue
        key = current_key(
            studio=studios[row.studio_id],
            settings=configs.get(row.studio_id, _DEFAULTS),
            instalment=row,
            issued_on=row.issued_on,
            now=now,
        )
        if key is not None:
            wanted.append((row.id, key))
    sent = set()
    busy = set()
    for chunk in _chunks([i for i, _ in wanted]):
        sent.update(
            InvoiceReminder.objects.filter(instalment_id__in=chunk).values_list(
                "instalment_id", "key"
            )
        )
        busy.update(
            AutopayAttempt.objects.filter(
                instalment_id__in=chunk, state=AutopayAttempt.State.CLAIMED
            ).values_list("instalment_id", flat=True)
        )
    return [(i, key) for i, key in wanted if (i, key) not in sent and i not in busy]


def reminder_send(*, instalment_id: uuid.UUID, key: str, now: dt.datetime) -> bool:
    """Send the reminder ``key`` of the instalment if it is still owed and was never sent;
    True when it was (queued to go out once this commits)."""
    invoice_id = (
        Instalment.objects.filter(pk=instalment_id).values_list("invoice_id", flat=True).first()
    )
    if invoice_id is None:
        return False
    with transaction.atomic():
        invoice = invoice_locked(invoice_id)
        row = Instalment.objects.select_related("saved_card").get(pk=instalment_id)
        if not takes_money(invoice, row):
            return False  # paid (or closed) meanwhile
        if row.autopay and not key.startswith("before:") and row.next_attempt_at:
            return False
        try:
            with transaction.atomic():
                InvoiceReminder.objects.create(
                    studio_id=invoice.studio_id, instalment=row, key=key, sent_at=now
                )
        except IntegrityError:
            return False  # sent already (another sweep)
        to = client_email_of(invoice)
        if not to:
            logger.info("instalment %s: reminder %s not sent, the client has no email", row.id, key)
            return True
        today = local_day(invoice.studio, now)
        days = abs((row.due_date - today).days)
        autopay = row.autopay and bool(row.saved_card_id)
        facts = facts_of(invoice, row, amount=owed_by(row) if autopay else None)
        subject, body = reminder_email(
            facts,
            key=key,
            autopay=autopay,
            days=days,
        )
        email_send_on_commit(subject=subject, body=body, to=[to])
    logger.info("instalment %s: reminder %s queued", instalment_id, key)
    return True


def _chunks(ids: list[uuid.UUID]) -> Iterable[list[uuid.UUID]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]
