"""The demo studio's invoicing: a VAT rate, a catalogue of packages and add-ons, a quote sent
for the Lee family session, and the Patel headshots' quote accepted into an invoice with a
schedule whose deposit was paid by bank transfer. Everything goes through the billing services,
so the ledger is balanced (``manage.py ledger_check`` passes on the demo)."""

from __future__ import annotations

import datetime as dt

from accounts.models import Studio, User
from billing.models import Quote
from billing.services.catalogue import catalogue_item_create, tax_rate_create
from billing.services.invoices import invoice_payment_record
from billing.services.invoices.links import invoice_link_url
from billing.services.quotes import (
    QuoteItemInput,
    quote_accept,
    quote_create,
    quote_link_url,
    quote_send,
)
from crm.models import Job

LEE_JOB = "Lee family session"
PATEL_JOB = "Patel headshots"
# (kind, name, price in minor units, optional add-on)
CATALOGUE = [
    ("package", "Family session (1 hour)", 30_000, False),
    ("package", "Extended family session (2 hours)", 45_000, False),
    ("package", "Headshots for a team of 10", 90_000, False),
    ("item", "Prints bundle (10 fine-art prints)", 8_000, True),
    ("item", "Express editing (48 hours)", 15_000, True),
    ("item", "Travel within 30 miles", 5_000, False),
]
SCHEDULE = [
    {"label": "Deposit", "percent": "30", "due": {"on": "acceptance"}},
    {"label": "Balance", "balance": True, "due": {"on": "before_event", "days": 7}},
]


def ensure_invoicing(*, studio: Studio, owner: User) -> str:
    """Make the demo's quotes and invoice once (a re-run finds them); a summary."""
    lee = Job.objects.filter(studio=studio, name=LEE_JOB).first()
    patel = Job.objects.filter(studio=studio, name=PATEL_JOB).first()
    if lee is None or patel is None:
        return "Invoicing demo skipped: the CRM demo's jobs are missing."
    existing = Quote.objects.filter(studio=studio, job=lee).first()
    if existing is not None:
        accepted = Quote.objects.filter(studio=studio, job=patel).first()
        invoice = accepted.invoice if accepted else None
        return _summary(existing, invoice)
    vat = tax_rate_create(studio=studio, name="VAT", rate="20", by=owner)
    items = {
        name: catalogue_item_create(
            studio=studio,
            kind=kind,
            name=name,
            unit_price=price,
            tax_rate_ids=[vat.id],
            optional=optional,
            by=owner,
        )
        for kind, name, price, optional in CATALOGUE
    }
    lee_contact = lee.contacts.first()
    quote = quote_create(
        studio=studio,
        contact=lee_contact,
        job=lee,
        title="Family session in spring",
        message="Here is our proposal for your family session. Choose a package and any extras.",
        expires_on=dt.date.today() + dt.timedelta(days=30),
        schedule=SCHEDULE,
        items=[
            QuoteItemInput(catalogue_item_id=items["Family session (1 hour)"].id, selected=True),
            QuoteItemInput(catalogue_item_id=items["Extended family session (2 hours)"].id),
            QuoteItemInput(catalogue_item_id=items["Prints bundle (10 fine-art prints)"].id),
            QuoteItemInput(catalogue_item_id=items["Travel within 30 miles"].id),
        ],
        by=owner,
    )
    quote = quote_send(quote=quote, by=owner)
    patel_contact = patel.contacts.first()
    accepted = quote_create(
        studio=studio,
        contact=patel_contact,
        job=patel,
        title="Team headshots",
        schedule=SCHEDULE,
        items=[
            QuoteItemInput(catalogue_item_id=items["Headshots for a team of 10"].id),
            QuoteItemInput(catalogue_item_id=items["Express editing (48 hours)"].id),
        ],
        by=owner,
    )
    accepted = quote_send(quote=accepted, by=owner)
    invoice = quote_accept(
        quote=accepted,
        accepted_name=f"{patel_contact.first_name} {patel_contact.last_name}",
        address="127.0.0.1",
        user_agent="demo",
        package_id=accepted.items.get(kind="package").id,
        addon_ids=[accepted.items.get(optional=True).id],
    )
    deposit = invoice.instalments.order_by("position").first()
    invoice_payment_record(
        invoice=invoice,
        amount=deposit.amount,
        method="bank_transfer",
        reference="Deposit, Patel Ltd",
        idempotency_key="demo:patel-deposit",
        by=owner,
    )
    return _summary(quote, invoice)


def _summary(quote: Quote, invoice) -> str:
    lines = [
        f"Invoicing demo: quote {quote.number} for the Lee family: {quote_link_url(quote=quote)}"
    ]
    if invoice is not None:
        lines.append(
            f"Invoice {invoice.number} for the Patel headshots (deposit paid by bank transfer): "
            f"{invoice_link_url(invoice=invoice)}"
        )
    return "\n".join(lines)
