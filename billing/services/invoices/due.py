"""What the instalment sweeps (autopay, reminders, late fees) share: when in the studio's day
something falls due, which instalments and invoices still take money, and the batch size.

Due dates are the studio's calendar days. Nothing is charged or sent at midnight: a day's
work becomes due at the studio's morning (``MORNING`` in its time zone), so a client is
charged and reminded during the day, wherever the server runs.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from accounts.models import Studio
from billing.models import Instalment, Invoice

MORNING = dt.time(9, 0)
# Ids handled per sweep query (each then claimed or locked on its own).
SWEEP_BATCH = 500

# An instalment that still takes money (overdue: dunning gave up, the client may still pay).
UNPAID_STATES = (
    Instalment.State.PENDING,
    Instalment.State.PARTIALLY_PAID,
    Instalment.State.OVERDUE,
)
# An invoice that still takes money.
OPEN_STATUSES = (Invoice.Status.OPEN, Invoice.Status.PARTIALLY_PAID)


def zone_of(studio: Studio) -> dt.tzinfo:
    try:
        return ZoneInfo(getattr(studio, "timezone", "") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def morning_of(studio: Studio, day: dt.date) -> dt.datetime:
    """``day`` at the studio's morning, as an aware datetime."""
    return dt.datetime.combine(day, MORNING, tzinfo=zone_of(studio))


def local_day(studio: Studio, now: dt.datetime) -> dt.date:
    """The studio's calendar day at ``now``, counted from its morning: before 09:00 local it
    is still the day before for the sweeps (nothing of today is due yet)."""
    local = now.astimezone(zone_of(studio))
    day = local.date()
    return day if local.time() >= MORNING else day - dt.timedelta(days=1)


def day_offsets(value: object, *, limit: int = 30, high: int = 365) -> list[int]:
    """A settings list of day offsets (``[1, 3, 7]``) as sorted, distinct whole days within
    ``1..high``; anything else in it is ignored (the settings API checks what it stores)."""
    if not isinstance(value, list | tuple):
        return []
    days = {v for v in value if type(v) is int and 1 <= v <= high}
    return sorted(days)[:limit]


def takes_money(invoice: Invoice, instalment: Instalment) -> bool:
    """The instalment is part of an issued invoice still open, and something of it is unpaid."""
    return (
        invoice.kind == Invoice.Kind.INVOICE
        and invoice.number is not None
        and invoice.status in OPEN_STATUSES
        and instalment.state in UNPAID_STATES
        and instalment.remaining > 0
    )


def owed_by(instalment: Instalment) -> int:
    """What is owed by the instalment's due date: what is left of it and of the instalments
    before it. Payments apply to the schedule in due order, so asking only for this one's rest
    while an earlier one is unpaid would pay the earlier one and leave this one open."""
    return sum(
        amount - paid
        for amount, paid in Instalment.objects.filter(
            invoice_id=instalment.invoice_id, position__lte=instalment.position
        ).values_list("amount", "paid")
    )
