"""Reads of the studio's invoices and credit notes; every one scoped to a studio.

An invoice's money as the API shows it comes from its stored totals (the pure computation's,
written with its lines) and from the ledger: ``balance_due`` is its receivable account's
balance, read in the same query as the invoice (a join on the account row), and ``paid`` is
what it asks for less that balance (``billing.services.invoices.paid_of``). Lists read one
query per page whatever the page size; the detail a fixed handful (lines, instalments, credit
notes, card payments with their refunds, the receivable's entries).
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from accounts.models import Studio
from billing.models import (
    Instalment,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    Payment,
    Refund,
)
from billing.services.invoices import paid_of
from billing.services.invoices.common import today_of
from picpick.core.errors import NotFound
from picpick.core.ids import uuid_or_404
from picpick.core.pagination import DEFAULT_PAGE_SIZE, Page, paginate
from picpick.core.selectors import studio_object_or_404

LIST_ORDERING = ["-created_at"]
PAYMENT_ORDERING = ["-created_at"]
HISTORY_LIMIT = 200
UNPAID = (
    Instalment.State.PENDING,
    Instalment.State.PARTIALLY_PAID,
    Instalment.State.OVERDUE,
)
OWING = (Invoice.Status.OPEN, Invoice.Status.PARTIALLY_PAID)


def _invoices() -> QuerySet[Invoice]:
    # The receivable (its balance is what is still owed) and a write-off's transaction (what
    # was written off is not paid) come in the invoice's own query.
    return Invoice.objects.select_related("contact", "receivable", "write_off_transaction")


def _overdue(today: dt.date) -> Exists:
    return Exists(
        Instalment.objects.filter(invoice=OuterRef("pk"), state__in=UNPAID, due_date__lt=today)
    )


def invoice_list(
    *,
    studio: Studio,
    status: str | None = None,
    kind: str | None = None,
    contact_id: uuid.UUID | None = None,
    job_id: uuid.UUID | None = None,
    overdue: bool | None = None,
    issued_from: dt.date | None = None,
    issued_to: dt.date | None = None,
    number_prefix: str | None = None,
) -> QuerySet[Invoice]:
    """The studio's invoices and credit notes, newest first, each annotated ``is_overdue``
    (open or partly paid with an unpaid instalment due before today, the studio's today).
    ``overdue=True`` keeps those, ``False`` the others; ``number_prefix`` matches the number's
    beginning, any case."""
    today = today_of(studio)
    invoices = _invoices().filter(studio=studio)
    if status:
        invoices = invoices.filter(status=status)
    if kind:
        invoices = invoices.filter(kind=kind)
    if contact_id:
        invoices = invoices.filter(contact_id=contact_id)
    if job_id:
        invoices = invoices.filter(job_id=job_id)
    if issued_from:
        invoices = invoices.filter(issue_date__gte=issued_from)
    if issued_to:
        invoices = invoices.filter(issue_date__lte=issued_to)
    if number_prefix:
        invoices = invoices.filter(number__istartswith=number_prefix)
    invoices = invoices.annotate(is_overdue=_overdue(today))
    if overdue is True:
        invoices = invoices.filter(is_overdue=True, status__in=OWING)
    elif overdue is False:
        invoices = invoices.exclude(is_overdue=True, status__in=OWING)
    return invoices


def invoice_page(
    *, cursor: str | None = None, page_size: int = DEFAULT_PAGE_SIZE, **filters
) -> Page:
    invoices = invoice_list(**filters)
    page = paginate(invoices, ordering=LIST_ORDERING, cursor=cursor, page_size=page_size)
    for invoice in page.items:
        invoice_money_read(invoice)
    return page


def invoice_money_read(invoice: Invoice) -> Invoice:
    """Set ``balance_due`` (the receivable's balance) and ``paid`` on the row, and
    ``is_overdue`` when the query did not annotate it (both from rows already read)."""
    balance = invoice.receivable.balance if invoice.receivable_id else None
    if invoice.number is None or balance is None:
        invoice.balance_due = None
        invoice.paid = 0
    else:
        invoice.balance_due = balance
        invoice.paid = paid_of(invoice, balance)
    if not hasattr(invoice, "is_overdue"):
        invoice.is_overdue = False
    if invoice.status not in OWING:
        invoice.is_overdue = False
    return invoice


def invoice_get(*, studio: Studio, invoice_id: uuid.UUID | str) -> Invoice:
    """This studio's invoice or credit note, or a 404 (another studio's too)."""
    invoice = studio_object_or_404(
        _invoices().annotate(is_overdue=_overdue(today_of(studio))),
        studio=studio,
        object_id=invoice_id,
        message="Invoice not found.",
    )
    return invoice_money_read(invoice)


def invoice_detail(*, studio: Studio, invoice_id: uuid.UUID | str) -> Invoice:
    """The invoice with everything its page shows, in a fixed number of queries, set on the
    row: ``line_rows``, ``instalment_rows`` (oldest due first), ``credit_note_rows``,
    ``payment_rows`` (card payments, newest first, with their refunds) and ``history_rows``
    (the receivable's entries, oldest first, at most ``HISTORY_LIMIT``)."""
    invoice = invoice_get(studio=studio, invoice_id=invoice_id)
    invoice.line_rows = list(InvoiceLine.objects.filter(invoice=invoice).order_by("position", "id"))
    invoice.instalment_rows = list(Instalment.objects.filter(invoice=invoice).order_by("position"))
    for row in (*invoice.line_rows, *invoice.instalment_rows):
        row.currency = invoice.currency
    invoice.credit_note_rows = []
    if invoice.kind == Invoice.Kind.INVOICE and invoice.number is not None:
        invoice.credit_note_rows = list(
            Invoice.objects.filter(studio=studio, credit_for=invoice).order_by("created_at", "id")
        )
    invoice.payment_rows = []
    invoice.history_rows = []
    if invoice.receivable_id is not None:
        invoice.payment_rows = list(
            _payments(invoice).order_by("-created_at", "-id")[:HISTORY_LIMIT]
        )
        invoice.history_rows = list(
            LedgerEntry.objects.filter(account_id=invoice.receivable_id)
            .select_related("transaction")
            .order_by("id")[:HISTORY_LIMIT]
        )
    return invoice


def _payments(invoice: Invoice) -> QuerySet[Payment]:
    return Payment.objects.filter(
        studio_id=invoice.studio_id,
        purpose=Payment.Purpose.INVOICE,
        reference_id=invoice.id,
    ).prefetch_related(Prefetch("refunds", queryset=Refund.objects.order_by("created_at", "id")))


def invoice_payment_page(
    *, invoice: Invoice, cursor: str | None = None, page_size: int = DEFAULT_PAGE_SIZE
) -> Page:
    """The invoice's card payments (any state), newest first, each with its refunds. Wallet
    credit and gift cards applied to it are in the invoice's ``history`` (the ledger)."""
    return paginate(
        _payments(invoice), ordering=PAYMENT_ORDERING, cursor=cursor, page_size=page_size
    )


def invoice_payment_get(*, invoice: Invoice, payment_id: uuid.UUID | str) -> Payment:
    """A card payment of this invoice, or a 404 (another invoice's or studio's too)."""
    pk = uuid_or_404(payment_id, message="Payment not found.")
    payment = _payments(invoice).filter(pk=pk).first()
    if payment is None:
        raise NotFound("No such payment of this invoice.", code="payment_not_found")
    payment.studio = invoice.studio
    return payment
