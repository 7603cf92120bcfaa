"""Payment schedules: what an invoice asks for, split into instalments due on dates.

A schedule is given as parts, in due order (JSON, as the API and a quote store them)::

    [{"label": "Deposit", "percent": "30", "due": {"on": "acceptance"}},
     {"label": "Second payment", "amount": 50000, "due": {"on": "before_event", "days": 30}},
     {"label": "Balance", "balance": true, "due": {"on": "after_event", "days": 7}}]

``due.on`` is ``acceptance`` or ``issue`` (the day it is issued), ``date`` (with ``date``), or
``before_event`` / ``after_event`` (with ``days``, from the invoice's event date). Amounts come
from the pure ``billing.pricing.schedule_split``: they always sum to what the invoice asks for,
the last instalment absorbing the rounding. A due date before the issue day is the issue day.

Which instalments are paid is not stored per payment: the amount paid on the invoice is applied
to the instalments in due order (``instalments_apply_paid``), so a refund or a credit note moves
it back without allocation rows to drift.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billing import pricing
from billing.models import Instalment, Invoice
from picpick.core.errors import ApplicationError

MAX_PARTS = 24
DUE_KINDS = {
    "acceptance": Instalment.Due.ON_ACCEPTANCE,
    "issue": Instalment.Due.ON_ISSUE,
    "date": Instalment.Due.ON_DATE,
    "before_event": Instalment.Due.BEFORE_EVENT,
    "after_event": Instalment.Due.AFTER_EVENT,
}


@dataclass(frozen=True)
class PartSpec:
    label: str
    part: pricing.Part
    due_kind: str | None  # None: the invoice's due date
    due_date: dt.date | None
    due_days: int | None
    autopay: bool


def _bad(message: str, index: int | None = None) -> ApplicationError:
    where = "schedule" if index is None else f"schedule[{index}]"
    return ApplicationError(message, code="schedule_invalid", fields={where: [message]})


def parts_check(value: Any) -> list[PartSpec]:
    """The schedule's JSON checked and read (400 ``schedule_invalid`` saying what is wrong)."""
    if value in (None, ""):
        return []
    if not isinstance(value, list | tuple) or len(value) > MAX_PARTS:
        raise _bad(f"A schedule is a list of at most {MAX_PARTS} parts.")
    specs = []
    for index, raw in enumerate(value):
        if not isinstance(raw, dict):
            raise _bad("Each part is an object.", index)
        kinds = [k for k in ("percent", "amount", "balance") if raw.get(k) not in (None, False)]
        last = index == len(value) - 1
        if len(kinds) > 1 or (not kinds and not last):
            raise _bad("Each part has one of percent, amount or balance.", index)
        percent = amount = None
        if "percent" in kinds:
            percent = raw["percent"]
            if isinstance(percent, float | bool):
                raise _bad("A percent is a decimal string, never a float.", index)
            try:
                percent = Decimal(str(percent))
            except ArithmeticError:
                raise _bad("A percent is a number.", index) from None
        if "amount" in kinds:
            amount = raw["amount"]
            if type(amount) is not int:
                raise _bad("An amount is an integer of minor units.", index)
        if "balance" in kinds and not last:
            raise _bad("Only the last part is the balance.", index)
        label = str(raw.get("label") or "").strip()[:100] or _default_label(index, len(value))
        due = raw.get("due") or {}
        if not isinstance(due, dict):
            raise _bad('due is an object such as {"on": "acceptance"}.', index)
        on = due.get("on")
        if on is not None and on not in DUE_KINDS:
            raise _bad(f"due.on is one of {', '.join(DUE_KINDS)}.", index)
        due_date = due_days = None
        if on == "date":
            try:
                due_date = dt.date.fromisoformat(str(due.get("date")))
            except ValueError:
                raise _bad("due.date is a date (YYYY-MM-DD).", index) from None
        if on in ("before_event", "after_event"):
            days = due.get("days")
            if type(days) is not int or not 0 <= days <= 3650:
                raise _bad("due.days is a whole number of days (0 to 3650).", index)
            due_days = days
        specs.append(
            PartSpec(
                label=label,
                # The last part without an amount of its own is the balance.
                part=pricing.Part(
                    percent=percent, amount=amount, balance="balance" in kinds or not kinds
                ),
                due_kind=DUE_KINDS[on] if on else None,
                due_date=due_date,
                due_days=due_days,
                autopay=bool(raw.get("autopay", False)),
            )
        )
    return specs


def _default_label(index: int, count: int) -> str:
    if count == 1:
        return "Payment"
    if index == 0:
        return "Deposit"
    if index == count - 1:
        return "Balance"
    return f"Instalment {index + 1}"


def due_date_of(spec: PartSpec, *, invoice: Invoice, issued_on: dt.date) -> dt.date:
    kind = spec.due_kind
    if kind in (Instalment.Due.ON_ACCEPTANCE, Instalment.Due.ON_ISSUE):
        day = issued_on
    elif kind == Instalment.Due.ON_DATE:
        day = spec.due_date
    elif kind in (Instalment.Due.BEFORE_EVENT, Instalment.Due.AFTER_EVENT):
        if invoice.event_date is None:
            raise ApplicationError(
                "Instalments due before or after the event need the invoice's event date.",
                code="event_date_required",
                fields={"event_date": ["Required by the schedule."]},
            )
        sign = -1 if kind == Instalment.Due.BEFORE_EVENT else 1
        day = invoice.event_date + dt.timedelta(days=sign * (spec.due_days or 0))
    else:
        day = invoice.due_date or issued_on
    return max(day, issued_on)


def split(
    total: int, specs: Sequence[PartSpec], *, rounding: str, paid: Sequence[int] = ()
) -> list[int]:
    try:
        if paid:
            return pricing.schedule_rebalance(
                total, list(paid), [s.part for s in specs], rounding=rounding
            )
        return pricing.schedule_split(total, [s.part for s in specs], rounding=rounding)
    except pricing.PricingError as exc:
        raise ApplicationError(
            exc.message, code=exc.code, fields={"schedule": [exc.message]}
        ) from None


def instalments_build(
    *,
    invoice: Invoice,
    specs: Sequence[PartSpec],
    amount: int,
    issued_on: dt.date,
    start_position: int = 0,
    paid: Sequence[int] = (),
) -> list[Instalment]:
    """Unsaved instalments for ``amount`` (after ``paid`` kept ones), in due order."""
    if not specs:
        specs = [
            PartSpec(
                label="Payment",
                part=pricing.Part(balance=True),
                due_kind=None,
                due_date=None,
                due_days=None,
                autopay=False,
            )
        ]
    amounts = split(amount + sum(paid), specs, rounding=invoice.rounding, paid=paid)
    dates: list[dt.date] = []
    for spec in specs:
        day = due_date_of(spec, invoice=invoice, issued_on=issued_on)
        if spec.due_kind is None and dates:  # no date of its own: not before the one before
            day = max(day, dates[-1])
        dates.append(day)
    if any(later < earlier for earlier, later in itertools.pairwise(dates)):
        raise _bad("The parts are in due order: each is due on or after the one before.")
    return [
        Instalment(
            studio=invoice.studio,
            invoice=invoice,
            position=start_position + index,
            label=spec.label,
            due_kind=spec.due_kind or Instalment.Due.ON_DATE,
            due_days=spec.due_days,
            due_date=day,
            amount=part_amount,
            autopay=spec.autopay,
        )
        for index, (spec, day, part_amount) in enumerate(zip(specs, dates, amounts, strict=True))
    ]


def instalments_apply_paid(
    instalments: Sequence[Instalment], *, paid: int, closed: bool
) -> list[Instalment]:
    """Set each instalment's ``paid`` and state from the invoice's paid amount, in due order;
    returns those that changed. ``closed`` (void, written off): what is unpaid is canceled."""
    changed = []
    left = max(0, paid)
    for row in sorted(instalments, key=lambda r: r.position):
        covered = min(row.amount, left)
        left -= covered
        if covered == row.amount:
            state = Instalment.State.PAID
        elif closed:
            state = Instalment.State.CANCELED
        elif covered > 0:
            state = Instalment.State.PARTIALLY_PAID
        elif row.state == Instalment.State.OVERDUE:
            state = Instalment.State.OVERDUE
        else:
            state = Instalment.State.PENDING
        if state == Instalment.State.PARTIALLY_PAID and row.state == Instalment.State.OVERDUE:
            state = Instalment.State.OVERDUE
        if covered != row.paid or state != row.state:
            row.paid = covered
            row.state = state
            changed.append(row)
    return changed
