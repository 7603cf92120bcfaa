"""What the invoice services share: input checks, the invoice's row lock, the accounts an
invoice posts to, and the studio's invoicing settings as the pure pricing module wants them."""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from accounts.models import Studio
from billing import pricing
from billing.models import Invoice, LedgerAccount
from billing.money import Money, currency_valid, money_format
from billing.services.catalogue import rate_text
from billing.services.ledger import account_for
from billing.services.wallets import billing_settings_get
from crm.models import Contact, Job
from picpick.core.errors import ApplicationError, Conflict, NotFound

logger = logging.getLogger("billing.invoices")

MAX_LINES = 500
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


def invoice_locked(invoice: Invoice | uuid.UUID) -> Invoice:
    """The invoice's row, locked for this transaction (every change of an invoice, its status
    or its schedule takes it first, then the ledger's account locks)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("invoice_locked needs a transaction")
    pk = invoice.pk if isinstance(invoice, Invoice) else invoice
    row = Invoice.objects.select_for_update().select_related("studio").get(pk=pk)
    return row


def draft_check(invoice: Invoice) -> None:
    if invoice.number is not None or invoice.status != Invoice.Status.DRAFT:
        raise Conflict(
            "An issued invoice is never edited: issue a credit note or void it.",
            code="invoice_not_draft",
        )


def contact_check(*, studio: Studio, contact: Contact) -> Contact:
    if contact.studio_id != studio.id or contact.merged_into_id is not None:
        raise NotFound("No such contact.", code="contact_not_found")
    return contact


def job_check(*, studio: Studio, job: Job | None) -> Job | None:
    if job is not None and job.studio_id != studio.id:
        raise NotFound("No such job.", code="job_not_found")
    return job


def currency_of(*, studio: Studio, currency: str | None) -> str:
    """The document's currency: the one asked for, else the studio's billing currency."""
    if currency in (None, ""):
        return billing_settings_get(studio=studio).currency
    if not currency_valid(currency):
        raise ApplicationError(
            f"Unknown currency {currency!r}.",
            code="currency_unknown",
            fields={"currency": ["Use an upper-case ISO 4217 code such as EUR."]},
        )
    return str(currency)


def rounding_of(studio: Studio) -> str:
    mode = billing_settings_get(studio=studio).rounding
    return mode if mode in ("half_even", "half_up") else "half_even"


def decimal_in(value: Any, *, field: str, code: str, places: int) -> Decimal | None:
    """A plain decimal (a Decimal, an int or a str like "1.5"), never a float; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool | float):
        raise ApplicationError(
            f"{field} is a decimal string or an integer, never a float.",
            code=code,
            fields={field: ['A float is not accepted; send a string such as "1.5".']},
        )
    try:
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ApplicationError(
            f"{field} is not a number.", code=code, fields={field: ["Not a number."]}
        ) from None
    if not number.is_finite() or -number.as_tuple().exponent > places:
        raise ApplicationError(
            f"{field} has more than {places} decimals.",
            code=code,
            fields={field: [f"At most {places} decimals."]},
        )
    return number


def pricing_error(exc: pricing.PricingError) -> ApplicationError:
    """The pure module's error as the API's 400 (its code, the field and line it names)."""
    fields: dict[str, list[str]] | None = None
    if exc.index is not None:
        fields = {f"lines[{exc.index}]{'.' + exc.field if exc.field else ''}": [exc.message]}
    elif exc.field:
        fields = {exc.field: [exc.message]}
    return ApplicationError(exc.message, code=exc.code, fields=fields)


def tax_copies_check(value: Any, *, index: int) -> list[dict]:
    """A line's taxes as copies ([{"name", "rate", "inclusive", "compound"}]), checked."""
    if value in (None, ""):
        return []
    if not isinstance(value, list | tuple) or len(value) > 5:
        raise ApplicationError(
            "A line has at most 5 taxes.",
            code="tax_rate_invalid",
            fields={f"lines[{index}].taxes": ["A list of at most 5 taxes."]},
        )
    out = []
    for tax in value:
        if not isinstance(tax, dict):
            raise ApplicationError(
                "A tax is an object with name and rate.",
                code="tax_rate_invalid",
                fields={f"lines[{index}].taxes": ["Each tax is {name, rate}."]},
            )
        name = str(tax.get("name") or "").strip()[:40]
        rate = decimal_in(
            tax.get("rate"), field=f"lines[{index}].taxes.rate", code="tax_rate_invalid", places=4
        )
        if not name or rate is None or rate < 0 or rate > 100:
            raise ApplicationError(
                "A tax has a name and a rate between 0 and 100 percent.",
                code="tax_rate_invalid",
                fields={f"lines[{index}].taxes": ["Name, and a rate from 0 to 100."]},
            )
        out.append(
            {
                "name": name,
                "rate": rate_text(rate),
                "inclusive": bool(tax.get("inclusive", False)),
                "compound": bool(tax.get("compound", False)),
            }
        )
    return out


def taxes_of(copies: list[dict]) -> tuple[pricing.Tax, ...]:
    return tuple(
        pricing.Tax(
            name=t["name"],
            rate=Decimal(str(t["rate"])),
            inclusive=bool(t.get("inclusive")),
            compound=bool(t.get("compound")),
        )
        for t in copies
    )


def tax_amount_json(tax: pricing.TaxAmount) -> dict:
    return {
        "name": tax.name,
        "rate": rate_text(tax.rate),
        "inclusive": tax.inclusive,
        "compound": tax.compound,
        "base": tax.base,
        "amount": tax.amount,
    }


def revenue_account(*, studio: Studio, currency: str, item_id: uuid.UUID | None) -> LedgerAccount:
    """Revenue of a catalogue item (its own account, so revenue by package is the ledger's),
    or the studio's plain revenue for free lines."""
    if item_id is None:
        return account_for(studio=studio, kind="revenue", currency=currency)
    return account_for(
        studio=studio,
        kind="revenue",
        currency=currency,
        reference=f"item-{item_id.hex}",
        name=f"Revenue of catalogue item {item_id}",
    )


def tax_account(*, studio: Studio, currency: str, name: str, rate: str) -> LedgerAccount:
    """Tax payable per tax and rate ("VAT-20", "QST-9.975"): tax collected per rate is the
    ledger's."""
    reference = f"{_SLUG.sub('-', name).strip('-')[:40] or 'tax'}-{rate}"[:64]
    return account_for(
        studio=studio,
        kind="tax_payable",
        currency=currency,
        reference=reference,
        name=f"{name} {rate}% payable",
    )


def receivable_account(*, invoice: Invoice) -> LedgerAccount:
    """The invoice's own receivable: its balance is what the client still owes on it."""
    return account_for(
        studio=invoice.studio,
        kind="receivable",
        currency=invoice.currency,
        contact=invoice.contact,
        reference=f"inv-{invoice.id.hex}",
        name=f"Invoice {invoice.number or invoice.id}",
    )


def tips_account(*, studio: Studio, currency: str) -> LedgerAccount:
    return account_for(
        studio=studio, kind="revenue", currency=currency, reference="tips", name="Tips"
    )


def late_fee_account(*, studio: Studio, currency: str) -> LedgerAccount:
    return account_for(
        studio=studio, kind="revenue", currency=currency, reference="late-fees", name="Late fees"
    )


def bad_debt_account(*, studio: Studio, currency: str) -> LedgerAccount:
    return account_for(
        studio=studio, kind="adjustment", currency=currency, reference="bad-debt", name="Bad debt"
    )


def amount_text(amount: int, currency: str, locale: str = "en") -> str:
    return money_format(Money(amount, currency), locale)


def today_of(studio: Studio, now: dt.datetime | None = None) -> dt.date:
    """Today in the studio's time zone (due dates are the studio's calendar days)."""
    now = now or timezone.now()
    name = getattr(studio, "timezone", "") or "UTC"
    try:
        return now.astimezone(ZoneInfo(name)).date()
    except Exception:
        return now.astimezone(dt.UTC).date()
