"""Late fees: an optional charge on an instalment left unpaid past its due date, added by the
sweep as a NEW line of the invoice (an issued invoice is otherwise never edited).

The studio's settings say how much (``late_fee_fixed`` or ``late_fee_percent`` of what is left
of the instalment), when (``late_fee_grace_days`` after the due date, at the studio's morning),
how often (once, or every ``late_fee_every_days``) and up to what (``late_fee_cap`` per
instalment in all). The amount is the pure ``billing.pricing.late_fee``.

``late_fee_apply`` works under the invoice's row lock (then the ledger's account locks inside
``ledger_post``): the instalment is read again, and the fee, if still due, is

- an ``InvoiceLine`` (``kind=late_fee``, its instalment and ``fee_sequence`` = the count + 1:
  unique, so the same application can never be added twice, even by two sweeps at once);
- its posting (``late_fee``, key ``late-fee:<instalment>:<n>``): debit the invoice's receivable,
  credit the studio's late-fees revenue;
- ``Invoice.late_fees`` and the instalment's ``amount`` raised by the fee (the instalments still
  sum to what the invoice asks for), its count, total and time; then the invoice's status.

No fee while autopay is still trying the instalment (a retry is planned or running): the client
did not choose to pay late; once the dunning gave up (overdue), fees apply as to any other.
Late fees carry no tax here.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q

from accounts.models import Studio
from billing import pricing
from billing.models import (
    AutopayAttempt,
    BillingSettings,
    Instalment,
    Invoice,
    InvoiceLine,
    LedgerTransaction,
)
from billing.services.invoices.common import invoice_locked, late_fee_account, logger
from billing.services.invoices.due import OPEN_STATUSES, UNPAID_STATES, morning_of, takes_money
from billing.services.invoices.status import invoice_status_sync
from billing.services.ledger import credit, debit, ledger_post
from billing.services.wallets import billing_settings_get

_CONFIGURED = Q(late_fee_fixed__isnull=False) | Q(late_fee_percent__isnull=False)


def _configured(settings: BillingSettings) -> bool:
    return settings.late_fee_fixed is not None or settings.late_fee_percent is not None


def fee_due(
    *, settings: BillingSettings, studio: Studio, instalment: Instalment, now: dt.datetime
) -> bool:
    """Is a (next) late fee of the instalment due at ``now`` by the studio's settings? (Its
    invoice taking money is checked by the callers.)"""
    if not _configured(settings) or instalment.remaining <= 0:
        return False
    if instalment.state not in UNPAID_STATES:
        return False
    if instalment.autopay and instalment.next_attempt_at is not None:
        return False  # autopay still trying
    cap = settings.late_fee_cap
    if cap is not None and instalment.late_fees_charged >= cap:
        return False
    first = instalment.due_date + dt.timedelta(days=settings.late_fee_grace_days + 1)
    if now < morning_of(studio, first):
        return False
    if instalment.late_fee_count == 0:
        return True
    every = settings.late_fee_every_days
    if not every or instalment.last_late_fee_at is None:
        return False
    return now >= instalment.last_late_fee_at + dt.timedelta(days=every)


def late_fees_due(*, now: dt.datetime) -> list[uuid.UUID]:
    """Instalments a late fee is due on now."""
    configs = {row.studio_id: row for row in BillingSettings.objects.filter(_CONFIGURED)}
    if not configs:
        return []
    everies = [c.late_fee_every_days for c in configs.values() if c.late_fee_every_days]
    again = Q(late_fee_count=0)
    if everies:
        again |= Q(last_late_fee_at__lte=now - dt.timedelta(days=min(everies)))
    rows = (
        Instalment.objects.filter(
            again,
            studio_id__in=list(configs),
            state__in=UNPAID_STATES,
            due_date__lt=now.date() + dt.timedelta(days=1),
            invoice__status__in=OPEN_STATUSES,
            invoice__kind=Invoice.Kind.INVOICE,
        )
        .select_related("studio")
        .only(
            "id",
            "studio__id",
            "studio__timezone",
            "due_date",
            "amount",
            "paid",
            "state",
            "autopay",
            "next_attempt_at",
            "late_fees_charged",
            "late_fee_count",
            "last_late_fee_at",
        )
    )
    return [
        row.id
        for row in rows.iterator(chunk_size=2000)
        if fee_due(settings=configs[row.studio_id], studio=row.studio, instalment=row, now=now)
    ]


def late_fee_apply(*, instalment_id: uuid.UUID, now: dt.datetime) -> InvoiceLine | None:
    """Add the instalment's next late fee if it is due (see the module); the fee's line, or
    None when none was due (or another sweep added it first)."""
    found = (
        Instalment.objects.select_related("invoice__studio")
        .filter(pk=instalment_id)
        .only("id", "invoice__id", "invoice__currency", "invoice__studio")
        .first()
    )
    if found is None:
        return None
    studio, currency = found.invoice.studio, found.invoice.currency
    settings = billing_settings_get(studio=studio)
    if not _configured(settings):
        return None
    # Made (and committed) before the transaction: see billing.services.wallets.studio_account.
    fees = late_fee_account(studio=studio, currency=currency)
    try:
        with transaction.atomic():
            invoice = invoice_locked(found.invoice_id)
            row = Instalment.objects.get(pk=instalment_id)
            if not takes_money(invoice, row) or invoice.receivable_id is None:
                return None
            if not fee_due(settings=settings, studio=studio, instalment=row, now=now):
                return None
            if AutopayAttempt.objects.filter(
                instalment=row, state=AutopayAttempt.State.CLAIMED
            ).exists():
                return None  # a charge is running
            fee = pricing.late_fee(
                balance=row.remaining,
                fixed=settings.late_fee_fixed,
                percent=settings.late_fee_percent,
                cap=settings.late_fee_cap,
                already=row.late_fees_charged,
                rounding=invoice.rounding,
            )
            if fee <= 0:
                return None
            line = _line_add(invoice=invoice, instalment=row, fee=fee)
            posted = ledger_post(
                studio=studio,
                kind=LedgerTransaction.Kind.LATE_FEE,
                idempotency_key=f"late-fee:{row.id}:{line.fee_sequence}",
                legs=[debit(invoice.receivable, fee), credit(fees, fee)],
                memo=f"Late fee {line.fee_sequence} on {row.label} of invoice {invoice.number}",
                source=("invoice", invoice.id),
            )
            InvoiceLine.objects.filter(pk=line.pk).update(posted_transaction=posted.transaction)
            line.posted_transaction = posted.transaction
            invoice.late_fees += fee
            invoice.save(update_fields=["late_fees", "updated_at"])
            Instalment.objects.filter(pk=row.pk).update(
                amount=F("amount") + fee,
                late_fees_charged=F("late_fees_charged") + fee,
                late_fee_count=line.fee_sequence,
                last_late_fee_at=now,
                updated_at=now,
            )
            invoice_status_sync(invoice_id=invoice.id, locked=invoice)
    except IntegrityError:
        # The same application added by another sweep first (the line's unique pair).
        logger.info("instalment %s: late fee added by another sweep", instalment_id)
        return None
    except pricing.PricingError as exc:
        logger.error("studio %s: late fee settings refused (%s)", studio.id, exc.message)
        return None
    logger.info(
        "instalment %s: late fee %s of %s %s added", row.id, line.fee_sequence, fee, currency
    )
    return line


def _line_add(*, invoice: Invoice, instalment: Instalment, fee: int) -> InvoiceLine:
    sequence = instalment.late_fee_count + 1
    position = InvoiceLine.objects.filter(invoice=invoice).aggregate(top=Max("position"))["top"]
    return InvoiceLine.objects.create(
        studio_id=invoice.studio_id,
        invoice=invoice,
        kind=InvoiceLine.Kind.LATE_FEE,
        position=(position or 0) + 1,
        name=f"Late fee: {instalment.label}"[:200],
        description=f"Due {instalment.due_date.isoformat()}, unpaid",
        quantity=1,
        unit_price=fee,
        gross=fee,
        discount=0,
        net=fee,
        tax=0,
        total=fee,
        instalment=instalment,
        fee_sequence=sequence,
    )
