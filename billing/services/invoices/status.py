"""An invoice's status and its instalments' paid amounts, derived from the ledger.

``invoice_status_sync`` reads the invoice's receivable balance (what is still owed on it) under
the invoice's row lock and sets ``status``: ``paid`` when nothing is owed, ``partially_paid``
when some of what it asks for is paid, else ``open``; ``void`` and ``uncollectible`` once the
invoice was closed that way. Every service that posts to an invoice's receivable calls it in
the same transaction, so the stored status never disagrees with the ledger.
"""

from __future__ import annotations

import uuid

from django.utils import timezone

from billing.models import Instalment, Invoice, LedgerAccount
from billing.services.invoices.common import amount_text, invoice_locked, logger
from billing.services.invoices.schedules import instalments_apply_paid
from crm.services.timeline import timeline_record


def paid_of(invoice: Invoice, balance: int) -> int:
    """What has been paid on the invoice: what it asks for less what is still owed (and less
    what was written off; a void invoice had nothing paid)."""
    if invoice.voided_at is not None:
        return 0
    written_off = 0
    if invoice.write_off_transaction_id is not None:
        written_off = invoice.write_off_transaction.amount
    return invoice.owed - balance - written_off


def status_of(invoice: Invoice, balance: int) -> str:
    if invoice.number is None:
        return Invoice.Status.DRAFT
    if invoice.voided_at is not None:
        return Invoice.Status.VOID
    if invoice.uncollectible_at is not None:
        return Invoice.Status.UNCOLLECTIBLE
    if balance <= 0:
        return Invoice.Status.PAID
    if paid_of(invoice, balance) > 0:
        return Invoice.Status.PARTIALLY_PAID
    return Invoice.Status.OPEN


def receivable_balance(invoice: Invoice) -> int:
    if invoice.receivable_id is None:
        return 0
    return LedgerAccount.objects.values_list("balance", flat=True).get(pk=invoice.receivable_id)


def invoice_status_sync(*, invoice_id: uuid.UUID, locked: Invoice | None = None) -> Invoice:
    """Derive and store the invoice's status and its instalments' paid amounts (inside the
    caller's transaction; takes the invoice's row lock unless ``locked`` is it)."""
    row = locked if locked is not None else invoice_locked(invoice_id)
    if row.number is None:
        return row
    balance = receivable_balance(row)
    status = status_of(row, balance)
    instalments = list(Instalment.objects.filter(invoice=row).order_by("position"))
    closed = status in (Invoice.Status.VOID, Invoice.Status.UNCOLLECTIBLE)
    changed = instalments_apply_paid(instalments, paid=paid_of(row, balance), closed=closed)
    now = timezone.now()
    for instalment in changed:
        if instalment.state == Instalment.State.PAID and instalment.paid_at is None:
            instalment.paid_at = now
            instalment.next_attempt_at = None
        elif instalment.state != Instalment.State.PAID:
            instalment.paid_at = None
    if changed:
        Instalment.objects.bulk_update(
            changed, ["paid", "state", "paid_at", "next_attempt_at", "updated_at"]
        )
    if status != row.status:
        before = row.status
        row.status = status
        fields = ["status", "updated_at"]
        if status == Invoice.Status.PAID and row.paid_at is None:
            row.paid_at = now
            fields.append("paid_at")
        elif status != Invoice.Status.PAID and row.paid_at is not None:
            row.paid_at = None
            fields.append("paid_at")
        row.save(update_fields=fields)
        logger.info("invoice %s: %s -> %s", row.id, before, status)
        if status == Invoice.Status.PAID and row.kind == Invoice.Kind.INVOICE:
            timeline_record(
                studio=row.studio,
                kind="invoice_paid",
                payload={
                    "invoice_id": str(row.id),
                    "number": row.number,
                    "total": amount_text(row.owed, row.currency, row.studio.locale),
                },
                job=row.job,
                contact=row.contact,
            )
    return row
