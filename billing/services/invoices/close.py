"""Corrections of issued invoices: credit notes, voiding, writing off; and money paid beyond
what an invoice asks for becoming the client's wallet credit.

An issued invoice is never edited. A credit note is a document of its own (``kind=credit_note``,
its own gapless series) linked to the invoice it corrects; its posting takes its lines' revenue
and taxes back and credits the invoice's receivable, so the invoice asks for less. Voiding is
only for an invoice nothing was paid or credited on: its postings are reversed. Writing off
(``uncollectible``) moves what is still owed to bad debt.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from billing.models import (
    DocumentCounter,
    Instalment,
    Invoice,
    InvoiceLine,
    LedgerAccount,
    LedgerTransaction,
)
from billing.services.invoices.common import (
    amount_text,
    bad_debt_account,
    invoice_locked,
    logger,
    today_of,
)
from billing.services.invoices.drafts import LineInput, _lines_build, _totals_store, lines_compute
from billing.services.invoices.issue import _accounts, bill_to_of, issue_legs, seller_of
from billing.services.invoices.numbering import counter_ready, number_take
from billing.services.invoices.status import invoice_status_sync, receivable_balance
from billing.services.ledger import credit, debit, ledger_post, ledger_reverse
from billing.services.wallets import wallet_credit_from, wallet_for
from crm.services.timeline import timeline_record
from picpick.core.errors import ApplicationError, Conflict


def _issued_check(row: Invoice) -> None:
    if row.kind != Invoice.Kind.INVOICE or row.number is None:
        raise Conflict("Only an issued invoice can be corrected.", code="invoice_not_issued")
    if row.status == Invoice.Status.VOID:
        raise Conflict("This invoice is void.", code="invoice_void")
    if row.status == Invoice.Status.UNCOLLECTIBLE:
        raise Conflict("This invoice was written off.", code="invoice_uncollectible")


def _reason_check(reason: str, *, required: bool) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise ApplicationError("Say why.", code="reason_required", fields={"reason": ["Required."]})
    if len(reason) > 300:
        raise ApplicationError(
            "The reason is longer than 300 characters.",
            code="invalid",
            fields={"reason": ["At most 300 characters."]},
        )
    return reason


def invoice_void(*, invoice: Invoice, reason: str, by: User | None = None) -> Invoice:
    """Void an invoice nothing was paid or credited on (409 ``invoice_has_payments``
    otherwise: refund or credit it instead); its postings are reversed."""
    reason = _reason_check(reason, required=True)
    with transaction.atomic():
        row = invoice_locked(invoice)
        _issued_check(row)
        if row.credited or receivable_balance(row) != row.owed:
            raise Conflict(
                "Money was paid or credited on this invoice: refund or credit it instead.",
                code="invoice_has_payments",
            )
        postings = []
        if row.issued_transaction_id:
            postings.append(row.issued_transaction)
        postings += [
            line.posted_transaction
            for line in InvoiceLine.objects.filter(
                invoice=row, posted_transaction__isnull=False
            ).select_related("posted_transaction")
        ]
        first = None
        for posting in postings:
            reversed_ = ledger_reverse(
                transaction=posting,
                idempotency_key=f"invoice-void:{row.id}:{posting.id}",
                by=by,
                memo=f"Invoice {row.number} voided",
            )
            first = first or reversed_.transaction
        row.voided_at = timezone.now()
        row.void_reason = reason
        row.void_transaction = first
        row.save(update_fields=["voided_at", "void_reason", "void_transaction", "updated_at"])
        Instalment.objects.filter(invoice=row).update(next_attempt_at=None)
        row = invoice_status_sync(invoice_id=row.id, locked=row)
        timeline_record(
            studio=row.studio,
            kind="invoice_voided",
            payload={"invoice_id": str(row.id), "number": row.number, "reason": reason},
            job=row.job,
            contact=row.contact,
            actor=by,
        )
    logger.info("invoice %s voided", row.id)
    return row


def invoice_write_off(*, invoice: Invoice, reason: str = "", by: User | None = None) -> Invoice:
    """Mark an invoice uncollectible: what is still owed moves to bad debt."""
    reason = _reason_check(reason, required=False)
    bad_debt = bad_debt_account(studio=invoice.studio, currency=invoice.currency)
    with transaction.atomic():
        row = invoice_locked(invoice)
        _issued_check(row)
        balance = receivable_balance(row)
        if balance <= 0:
            raise Conflict("Nothing is owed on this invoice.", code="invoice_paid")
        posted = ledger_post(
            studio=row.studio,
            kind=LedgerTransaction.Kind.WRITE_OFF,
            idempotency_key=f"invoice-write-off:{row.id}",
            legs=[debit(bad_debt, balance), credit(row.receivable, balance)],
            memo=f"Invoice {row.number} written off{': ' + reason if reason else ''}",
            source=("invoice", row.id),
            by=by,
        )
        row.uncollectible_at = timezone.now()
        row.write_off_transaction = posted.transaction
        row.void_reason = reason
        row.save(
            update_fields=[
                "uncollectible_at",
                "write_off_transaction",
                "void_reason",
                "updated_at",
            ]
        )
        Instalment.objects.filter(invoice=row).update(next_attempt_at=None)
        row = invoice_status_sync(invoice_id=row.id, locked=row)
    return row


def _schedule_reduce(row: Invoice, amount: int) -> None:
    """Take ``amount`` off the unpaid instalments, last first (their sum stays what the
    invoice asks for)."""
    left = amount
    for instalment in Instalment.objects.filter(invoice=row).order_by("-position"):
        if left <= 0:
            break
        take = min(left, instalment.amount - instalment.paid)
        if take > 0:
            Instalment.objects.filter(pk=instalment.pk).update(amount=F("amount") - take)
            left -= take
    if left > 0:  # everything was paid: the paid instalments shrink too (the excess is credit)
        for instalment in Instalment.objects.filter(invoice=row).order_by("-position"):
            if left <= 0:
                break
            take = min(left, instalment.amount)
            Instalment.objects.filter(pk=instalment.pk).update(amount=F("amount") - take, paid=0)
            left -= take


def credit_note_create(
    *,
    invoice: Invoice,
    lines: Sequence[LineInput] | None = None,
    reason: str,
    by: User | None = None,
) -> Invoice:
    """Issue a credit note against ``invoice``: its lines (or, without ``lines``, all the
    invoice's own lines, a full credit) taken off what the invoice asks for. 409
    ``credit_exceeds_invoice`` beyond what is left to credit. Money already paid beyond what the
    invoice then asks for becomes the client's wallet credit."""
    reason = _reason_check(reason, required=True)
    original = Invoice.objects.select_related("studio", "contact").get(pk=invoice.pk)
    studio = original.studio
    if lines is None:
        lines = [
            LineInput(
                name=line.name,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount_percent=line.discount_percent,
                discount_amount=line.discount_amount,
                taxes=line.taxes,
                catalogue_item_id=line.catalogue_item_id,
            )
            for line in original.lines.filter(kind=InvoiceLine.Kind.ITEM)
        ]
        discount = (original.discount_percent, original.discount_amount)
    else:
        discount = (None, None)
    rows = _lines_build(studio=studio, currency=original.currency, lines=lines)
    if not rows:
        raise Conflict("A credit note needs at least one line.", code="invoice_empty")
    totals = lines_compute(
        rows, discount_percent=discount[0], discount_amount=discount[1], rounding=original.rounding
    )
    issued_on = today_of(studio)
    counter_ready(studio=studio, series=DocumentCounter.Series.CREDIT_NOTE, year=issued_on.year)
    note = Invoice(
        studio=studio,
        kind=Invoice.Kind.CREDIT_NOTE,
        contact=original.contact,
        job=original.job,
        credit_for=original,
        currency=original.currency,
        language=original.language,
        rounding=original.rounding,
        title=f"Credit note for {original.number}",
        notes=reason,
        discount_percent=discount[0],
        discount_amount=discount[1],
        created_by=by if by is not None and by.is_authenticated else None,
    )
    _totals_store(note, totals)
    accounts = _accounts(note, rows)
    with transaction.atomic():
        row = invoice_locked(original)
        _issued_check(row)
        room = row.total + row.late_fees - row.credited
        if totals.total > room:
            raise Conflict(
                "The credit note is more than what is left to credit on the invoice.",
                code="credit_exceeds_invoice",
                extra={"creditable": room},
            )
        note.number = number_take(
            studio=studio, series=DocumentCounter.Series.CREDIT_NOTE, year=issued_on.year
        )
        note.issue_date = issued_on
        note.due_date = issued_on
        note.issued_at = timezone.now()
        note.issued_by = by if by is not None and by.is_authenticated else None
        note.bill_to = bill_to_of(row.contact)
        note.seller = seller_of(studio)
        note.status = Invoice.Status.PAID  # applied in full to the invoice it credits
        note.save()
        for line in rows:
            line.invoice = note
        InvoiceLine.objects.bulk_create(rows)
        if totals.total:
            posted = ledger_post(
                studio=studio,
                kind=LedgerTransaction.Kind.CREDIT_NOTE,
                idempotency_key=f"credit-note:{note.id}",
                legs=issue_legs(receivable=row.receivable, lines=rows, accounts=accounts, sign=-1),
                memo=f"Credit note {note.number} for invoice {row.number}",
                source=("invoice", row.id),
                by=by,
            )
            Invoice.objects.filter(pk=note.pk).update(issued_transaction=posted.transaction)
        row.credited += totals.total
        row.save(update_fields=["credited", "updated_at"])
        _schedule_reduce(row, totals.total)
        row = invoice_status_sync(invoice_id=row.id, locked=row)
        overpaid_to_wallet(invoice=row, cause=f"credit-note:{note.id}", by=by)
        timeline_record(
            studio=studio,
            kind="credit_note_issued",
            payload={
                "invoice_id": str(row.id),
                "number": row.number,
                "credit_note_id": str(note.id),
                "amount": amount_text(totals.total, row.currency, studio.locale),
            },
            job=row.job,
            contact=row.contact,
            actor=by,
        )
    logger.info("credit note %s for invoice %s (%s)", note.number, row.number, totals.total)
    return note


def overpaid_to_wallet(*, invoice: Invoice, cause: str, by: User | None = None) -> int:
    """Inside the caller's transaction, with the invoice locked: if its receivable is in credit
    (paid twice at once, or credited after being paid), the excess becomes the client's wallet
    credit; returns the amount moved (0 when nothing was over)."""
    balance = receivable_balance(invoice)
    if balance >= 0:
        return 0
    excess = -balance
    wallet = wallet_for(studio=invoice.studio, contact=invoice.contact, currency=invoice.currency)
    receivable = LedgerAccount.objects.get(pk=invoice.receivable_id)
    wallet_credit_from(
        wallet=wallet,
        source=receivable,
        amount=excess,
        idempotency_key=f"overpaid:{invoice.id}:{cause}",
        reference=f"Overpayment of invoice {invoice.number}",
        by=by,
    )
    logger.info("invoice %s overpaid by %s: moved to the wallet", invoice.id, excess)
    invoice_status_sync(invoice_id=invoice.id, locked=invoice)
    return excess
