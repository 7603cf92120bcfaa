"""Changing the payment schedule of an issued invoice, keeping what is paid.

The paid instalments stay as they are (paid is applied in due order, so they are the first
ones); every other instalment is replaced by the new parts, which split what is left of what
the invoice asks for (``schedules.instalments_build`` with ``paid=`` the kept amounts: the
pure ``schedule_rebalance`` makes the new amounts sum, with the kept ones, to the invoice's
``owed``). A partly paid instalment is replaced too: its money is applied again, in due order,
to the new instalments by the status sync that follows.

All of it under the invoice's row lock (taken first, as every change of an invoice's money or
schedule does), so a payment booked at the same moment waits and is applied to the new
schedule. Refused (409) while an autopay charge of an instalment to be replaced is in flight
(a worker holds its claim): the attempt must finish, or time out, first.

What the replaced instalments carried:

- their reminders and autopay attempts go with them (a new instalment is a new due date: its
  reminders are sent again; the payments of past attempts stay, booked on the invoice);
- a late fee line charged on one keeps its amount and posting but no longer names it (the
  fee stays owed, and the new instalments share it);
- autopay: when every replaced unpaid instalment was charged automatically with one saved
  card, the new ones are too, with that card, each first tried on its due date at the
  studio's morning (as autopay plans them); otherwise a part may ask for it (``"autopay":
  true``), charged to the client's most recently saved card as when an invoice is issued.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import User
from billing.models import AutopayAttempt, Instalment, Invoice, InvoiceLine, SavedCard
from billing.services.invoices.common import invoice_locked, logger, today_of
from billing.services.invoices.due import morning_of
from billing.services.invoices.schedules import instalments_build, parts_check
from billing.services.invoices.status import invoice_status_sync
from picpick.core.errors import Conflict


def _editable_check(row: Invoice) -> None:
    if row.kind != Invoice.Kind.INVOICE or row.number is None:
        raise Conflict(
            "Only an issued invoice has instalments; a draft's schedule is changed with it.",
            code="invoice_not_issued",
        )
    refusals = {
        Invoice.Status.VOID: ("This invoice is void.", "invoice_void"),
        Invoice.Status.UNCOLLECTIBLE: ("This invoice was written off.", "invoice_uncollectible"),
        Invoice.Status.PAID: ("This invoice is paid: nothing is left to schedule.", "invoice_paid"),
    }
    if row.status in refusals:
        message, code = refusals[row.status]
        raise Conflict(message, code=code)


def _autopay_carry(row: Invoice, *, replaced: list[Instalment], fresh: list[Instalment]) -> None:
    """Autopay of the new instalments (see the module): all of them when every replaced one
    was charged automatically with one card; else those whose part asks, with the client's
    most recently saved card, as an issue does (none saved: they are paid by hand)."""
    cards = {i.saved_card_id for i in replaced}
    every = bool(replaced) and all(i.autopay for i in replaced) and len(cards) == 1
    card = next(iter(cards)) if every else None
    if card is None and any(i.autopay for i in fresh):
        card = (
            SavedCard.objects.filter(studio_id=row.studio_id, contact_id=row.contact_id)
            .order_by("-created_at")
            .values_list("id", flat=True)
            .first()
        )
    for instalment in fresh:
        if card is not None and (every or instalment.autopay):
            instalment.autopay = True
            instalment.saved_card_id = card
            instalment.next_attempt_at = morning_of(row.studio, instalment.due_date)
        else:
            instalment.autopay = False


def invoice_schedule_update(*, invoice: Invoice, parts: Any, by: User | None = None) -> Invoice:
    """Replace the unpaid instalments of an open or partly paid invoice by ``parts`` (the
    schedule JSON, see ``billing.services.invoices.schedules``); the paid ones are kept.

    400 ``schedule_invalid`` (and the pure split's codes), ``event_date_required``; 409
    ``invoice_not_issued``, ``invoice_void``, ``invoice_uncollectible``, ``invoice_paid``,
    ``autopay_in_progress``.
    """
    specs = parts_check(parts)
    with transaction.atomic():
        row = invoice_locked(invoice)
        _editable_check(row)
        row = invoice_status_sync(invoice_id=row.id, locked=row)  # paid amounts as of now
        current = list(Instalment.objects.filter(invoice=row).order_by("position"))
        kept = [i for i in current if i.state == Instalment.State.PAID]
        if [i.position for i in kept] != [i.position for i in current[: len(kept)]]:
            raise RuntimeError(f"invoice {row.id}: paid instalments are not the first ones")
        replaced = current[len(kept) :]
        replaced_ids = [i.id for i in replaced]
        if AutopayAttempt.objects.filter(
            instalment_id__in=replaced_ids, state=AutopayAttempt.State.CLAIMED
        ).exists():
            raise Conflict(
                "An automatic charge of an instalment is under way; try again in a few minutes.",
                code="autopay_in_progress",
            )
        paid_amounts = [i.amount for i in kept]
        issued_on = max(row.issue_date or today_of(row.studio), today_of(row.studio))
        fresh = instalments_build(
            invoice=row,
            specs=specs,
            amount=row.owed - sum(paid_amounts),
            issued_on=issued_on,
            start_position=len(kept),
            paid=paid_amounts,
        )
        _autopay_carry(row, replaced=replaced, fresh=fresh)
        # A late fee keeps its line and posting; the instalment it was charged on goes.
        InvoiceLine.objects.filter(invoice=row, instalment_id__in=replaced_ids).update(
            instalment=None
        )
        Instalment.objects.filter(pk__in=replaced_ids).delete()
        Instalment.objects.bulk_create(fresh)
        row = invoice_status_sync(invoice_id=row.id, locked=row)
    logger.info(
        "invoice %s: schedule changed (%d kept, %d replaced by %d)",
        row.id,
        len(kept),
        len(replaced),
        len(fresh),
        extra={"by": str(by.id) if by is not None and by.is_authenticated else None},
    )
    return row
