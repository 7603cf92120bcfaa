"""Issuing an invoice: its number, its posting, its schedule, in one transaction.

1. Before the transaction: the accounts it posts to (its own receivable, revenue per
   catalogue item, tax payable per rate) and the number counter are made, each committed on
   its own (made inside, a rolled-back issue would leave InnoDB deadlocking whoever queued
   behind the insert).
2. One transaction under the invoice's row lock: still a draft; totals recomputed from the
   lines; the next number (gapless, under the counter's lock); the seller and the client as
   they are today; the posting ``invoice_issued`` (key ``invoice-issued:<id>``)::

       debit  receivable (the invoice's)  total
       credit revenue (per catalogue item) net of each line
       credit tax payable (per tax, rate)  tax of each line

   the instalments; the status (``open``); the job's and contact's timeline.
3. After commit: the PDF is rendered and stored once (a task), with its hash.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from billing.models import (
    DocumentCounter,
    Invoice,
    InvoiceLine,
    LedgerAccount,
    LedgerTransaction,
    SavedCard,
)
from billing.services.invoices.common import (
    amount_text,
    draft_check,
    invoice_locked,
    logger,
    receivable_account,
    revenue_account,
    tax_account,
    today_of,
)
from billing.services.invoices.drafts import _totals_store, lines_compute
from billing.services.invoices.due import morning_of
from billing.services.invoices.numbering import counter_ready, number_take
from billing.services.invoices.schedules import instalments_build, parts_check
from billing.services.invoices.status import invoice_status_sync
from billing.services.ledger import Leg, credit, debit, ledger_post
from billing.services.wallets import billing_settings_get
from billing.tasks.documents import invoice_pdf_ensure_soon
from crm.models import Contact
from crm.services.timeline import timeline_record
from picpick.core.errors import Conflict


def bill_to_of(contact: Contact) -> dict:
    name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
    lines = [
        contact.address_line1,
        contact.address_line2,
        " ".join(p for p in (contact.postal_code, contact.city) if p),
        contact.region,
    ]
    return {
        "name": name,
        "company": contact.company,
        "email": contact.email,
        "address": "\n".join(line for line in lines if line),
        "country": contact.country,
    }


def seller_of(studio) -> dict:
    settings = billing_settings_get(studio=studio)
    return {
        "name": settings.legal_name or studio.name,
        "address": settings.address,
        "country": settings.country,
        "tax_id": settings.tax_id,
        "footer": settings.invoice_footer,
        "logo": settings.logo or studio.logo_key,  # the site's logo unless invoices have their own
    }


def _accounts(invoice: Invoice, lines: list[InvoiceLine]) -> dict[tuple, LedgerAccount]:
    studio, currency = invoice.studio, invoice.currency
    found: dict[tuple, LedgerAccount] = {}
    for line in lines:
        key = ("revenue", line.catalogue_item_id)
        if key not in found:
            found[key] = revenue_account(
                studio=studio, currency=currency, item_id=line.catalogue_item_id
            )
        for tax in line.taxes or []:
            key = ("tax", tax["name"], str(tax["rate"]))
            if key not in found:
                found[key] = tax_account(
                    studio=studio, currency=currency, name=tax["name"], rate=str(tax["rate"])
                )
    return found


def issue_legs(
    *,
    receivable: LedgerAccount,
    lines: list[InvoiceLine],
    accounts: dict[tuple, LedgerAccount],
    sign: int = 1,
) -> list[Leg]:
    """The posting of lines: the receivable against revenue and taxes (``sign=-1``: the
    other way round, a credit note). Amounts per account are summed; zeros are left out."""
    sums: dict[tuple, int] = defaultdict(int)
    for line in lines:
        sums[("revenue", line.catalogue_item_id)] += line.net
        for tax in line.tax_breakdown or []:
            sums[("tax", tax["name"], str(tax["rate"]))] += tax["amount"]
    total = sum(line.total for line in lines)
    make_side, make_other = (debit, credit) if sign > 0 else (credit, debit)
    legs = [make_side(receivable, total)] if total else []
    for key, amount in sums.items():
        if amount:
            legs.append(make_other(accounts[key], amount))
    return legs


def invoice_issue(
    *,
    invoice: Invoice,
    by: User | None = None,
    issue_date: dt.date | None = None,
    now: dt.datetime | None = None,
) -> Invoice:
    """Issue a draft (see the module). 409 ``invoice_not_draft``, ``invoice_empty``."""
    invoice = Invoice.objects.select_related("studio", "contact").get(pk=invoice.pk)
    draft_check(invoice)
    studio = invoice.studio
    now = now or timezone.now()
    issued_on = issue_date or today_of(studio, now)
    lines = list(invoice.lines.all())
    if not lines:
        raise Conflict("An invoice needs at least one line to be issued.", code="invoice_empty")
    specs = parts_check(invoice.schedule)
    series = (
        DocumentCounter.Series.CREDIT_NOTE
        if invoice.kind == Invoice.Kind.CREDIT_NOTE
        else DocumentCounter.Series.INVOICE
    )
    counter_ready(studio=studio, series=series, year=issued_on.year)
    receivable = receivable_account(invoice=invoice)
    accounts = _accounts(invoice, lines)
    terms = billing_settings_get(studio=studio).payment_terms_days
    with transaction.atomic():
        row = invoice_locked(invoice)
        draft_check(row)
        lines = list(InvoiceLine.objects.filter(invoice=row).order_by("position", "id"))
        totals = lines_compute(
            lines,
            discount_percent=row.discount_percent,
            discount_amount=row.discount_amount,
            rounding=row.rounding,
        )
        _totals_store(row, totals)
        row.number = number_take(studio=studio, series=series, year=issued_on.year)
        row.issue_date = issued_on
        row.due_date = max(row.due_date or issued_on + dt.timedelta(days=terms), issued_on)
        row.issued_at = now
        row.issued_by = by if by is not None and by.is_authenticated else None
        row.receivable = receivable
        row.bill_to = bill_to_of(row.contact)
        row.seller = seller_of(studio)
        if row.event_date is None and row.job_id and row.job.event_start:
            row.event_date = row.job.event_start.date()
        row.status = Invoice.Status.OPEN
        if row.kind == Invoice.Kind.INVOICE and row.total:
            posted = ledger_post(
                studio=studio,
                kind=LedgerTransaction.Kind.INVOICE_ISSUED,
                idempotency_key=f"invoice-issued:{row.id}",
                legs=issue_legs(receivable=receivable, lines=lines, accounts=accounts),
                memo=f"Invoice {row.number}",
                source=("invoice", row.id),
                by=row.issued_by,
            )
            row.issued_transaction = posted.transaction
        row.save()
        InvoiceLine.objects.bulk_update(
            lines, ["quantity", "gross", "discount", "net", "tax", "total", "tax_breakdown"]
        )
        if row.kind == Invoice.Kind.INVOICE:
            instalments = instalments_build(
                invoice=row, specs=specs, amount=row.total, issued_on=issued_on
            )
            _autopay_plan(row, instalments)
            for instalment in instalments:
                instalment.save()
        row = invoice_status_sync(invoice_id=row.id, locked=row)
        if row.kind == Invoice.Kind.INVOICE:
            timeline_record(
                studio=studio,
                kind="invoice_issued",
                payload={
                    "invoice_id": str(row.id),
                    "number": row.number,
                    "total": amount_text(row.total, row.currency, studio.locale),
                },
                job=row.job,
                contact=row.contact,
                actor=by,
            )
        transaction.on_commit(lambda: _document_soon(row.id))
    logger.info("invoice %s issued as %s (%s %s)", row.id, row.number, row.total, row.currency)
    return row


def _autopay_plan(invoice: Invoice, instalments: list) -> None:
    """Instalments the schedule marks ``autopay`` are charged to the client's most recently
    saved card on their due morning; without a saved card they are paid by hand (saving a card
    on the invoice page turns autopay on for the rest)."""
    wanted = [row for row in instalments if row.autopay]
    if not wanted:
        return
    card = (
        SavedCard.objects.filter(studio_id=invoice.studio_id, contact_id=invoice.contact_id)
        .order_by("-created_at")
        .first()
    )
    for row in wanted:
        if card is None:
            row.autopay = False
        else:
            row.saved_card = card
            row.next_attempt_at = morning_of(invoice.studio, row.due_date)
    if card is None:
        logger.info("invoice %s: autopay asked but the client has no saved card", invoice.id)


def _document_soon(invoice_id) -> None:
    """The PDF, made and stored by a task once the issue is committed (a failure to queue is
    logged: the ``invoice_documents_missing`` sweep draws what is missing)."""
    try:
        invoice_pdf_ensure_soon(invoice_id)
    except Exception:
        logger.exception("invoice %s: could not queue its PDF", invoice_id)


def invoice_documents_missing(*, older_than: dt.timedelta = dt.timedelta(minutes=10)) -> list:
    """Issued invoices and credit notes whose PDF is not stored yet, issued a while ago (their
    task was lost or failed): the sweep queues them again."""
    cutoff = timezone.now() - older_than
    return list(
        Invoice.objects.filter(number__isnull=False, pdf_sha256="", issued_at__lt=cutoff)
        .order_by("issued_at")
        .values_list("id", flat=True)[:500]
    )
