"""A payment's receipt as a PDF: who paid whom, when, how much (the tip apart) and, for an
invoice's payment, which invoice and what was left to pay on it right after."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.db.models import Q, Sum

from billing.documents.common import (
    base_context,
    billing_settings,
    logo_data_uri,
    logo_key_of,
    render_pdf,
    seller_of,
)
from billing.documents.writer import Writer, document_language
from billing.models import Invoice, LedgerEntry, Payment


def _balance_after(payment: Payment, invoice: Invoice) -> int | None:
    """What was still owed on the invoice right after this payment: its receivable's
    balance counted up to the payment's posting (None while either is missing)."""
    posting = payment.posted_transaction
    if posting is None or not invoice.receivable_id:
        return None
    upto = Q(transaction__posted_at__lt=posting.posted_at) | Q(
        transaction__posted_at=posting.posted_at, transaction_id__lte=posting.id
    )
    total = LedgerEntry.objects.filter(upto, account_id=invoice.receivable_id).aggregate(
        total=Sum("amount")
    )["total"]
    return int(total or 0)  # a receivable is debit-normal: the sum of its entries


def receipt_context(payment: Payment, *, invoice: Invoice | None = None) -> dict:
    """What the receipt template shows, every amount and date already written."""
    if invoice is not None and invoice.studio_id != payment.studio_id:
        raise ValueError("A receipt's invoice is of the payment's studio.")
    studio = payment.studio
    language = document_language(invoice) if invoice is not None else studio.locale
    writer = Writer(language or "en")
    t, cur = writer.t, payment.currency
    settings = billing_settings(payment.studio_id)
    when = payment.succeeded_at or payment.created_at
    try:
        day = when.astimezone(ZoneInfo(studio.timezone)).date() if when else None
    except (ValueError, KeyError):
        day = when.date() if when else None
    rows = []
    tip = payment.tip or 0
    if invoice is not None:
        label = t["invoice_number"].format(number=invoice.number or t["draft"])
        rows.append({"label": label, "amount": writer.money(payment.amount - tip, cur)})
    if tip:
        rows.append({"label": t["tip"], "amount": writer.money(tip, cur)})
    balance = _balance_after(payment, invoice) if invoice is not None else None
    return {
        **base_context(
            writer,
            seller=seller_of(invoice, studio, settings),
            logo=logo_data_uri(
                key=logo_key_of(invoice, studio, settings), document=f"payment {payment.id}"
            ),
            footer=settings.invoice_footer if settings else "",
        ),
        "heading": t["receipt"],
        "reference": str(payment.id),
        "date": writer.date(day),
        "payer": {"name": payment.payer_name, "email": payment.payer_email},
        "description": payment.description,
        "for_invoice": invoice is not None,
        "rows": rows,
        "total": writer.money(payment.amount, cur),
        "balance_after": (
            t["balance_after"].format(amount=writer.money(balance, cur))
            if balance is not None
            else ""
        ),
    }


def receipt_pdf(payment: Payment, *, invoice: Invoice | None = None) -> bytes:
    """A receipt of a payment: who paid whom, when, how much (the tip apart), and for an
    invoice's payment, which invoice and what was left to pay after it."""
    return render_pdf("billing/documents/receipt.html", receipt_context(payment, invoice=invoice))
