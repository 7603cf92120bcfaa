"""Draft invoices: made, changed and discarded freely until issued. Every write of a draft's
lines recomputes its totals with the pure ``billing.pricing.compute`` and stores them, in one
transaction: a line the computation refuses (a float price, a negative quantity, a discount
above the total, a tax rate above 100%) leaves nothing written."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction

from accounts.models import Studio, User
from billing import pricing
from billing.models import CatalogueItem, Invoice, InvoiceLine, TaxRate
from billing.services.catalogue import tax_copies
from billing.services.invoices.common import (
    MAX_LINES,
    contact_check,
    currency_of,
    decimal_in,
    draft_check,
    invoice_locked,
    job_check,
    pricing_error,
    rounding_of,
    tax_amount_json,
    tax_copies_check,
    taxes_of,
)
from billing.services.invoices.schedules import parts_check
from crm.models import Contact, Job
from picpick.core.errors import ApplicationError, Conflict, NotFound


@dataclass(frozen=True)
class LineInput:
    """One line as asked for. With ``catalogue_item_id`` the item's name, description, price
    and taxes fill what is not given; taxes are copies (``taxes``) or the studio's rates by id
    (``tax_rate_ids``)."""

    name: str | None = None
    unit_price: Any = None
    quantity: Any = 1
    description: str | None = None
    discount_percent: Any = None
    discount_amount: Any = None
    taxes: list[dict] | None = None
    tax_rate_ids: Sequence[uuid.UUID] | None = None
    catalogue_item_id: uuid.UUID | None = None
    extra: dict = field(default_factory=dict)


def _lines_build(*, studio: Studio, currency: str, lines: Sequence[LineInput]) -> list[InvoiceLine]:
    """Unsaved line rows with their inputs resolved (catalogue, tax rates), not yet computed."""
    if len(lines) > MAX_LINES:
        raise ApplicationError(f"An invoice has at most {MAX_LINES} lines.", code="too_many_lines")
    item_ids = {line.catalogue_item_id for line in lines if line.catalogue_item_id}
    items = {
        row.id: row
        for row in CatalogueItem.objects.filter(studio=studio, id__in=item_ids).prefetch_related(
            "taxes"
        )
    }
    rate_ids = {rid for line in lines for rid in (line.tax_rate_ids or ())}
    rates = {row.id: row for row in TaxRate.objects.filter(studio=studio, id__in=rate_ids)}
    if any(row.archived for row in rates.values()):
        # Not for new lines (documents already written keep their copies).
        raise Conflict("This tax rate is archived.", code="tax_rate_archived")
    built = []
    for index, line in enumerate(lines):
        item = None
        if line.catalogue_item_id is not None:
            item = items.get(line.catalogue_item_id)
            if item is None:
                raise NotFound("No such catalogue item.", code="catalogue_item_not_found")
            if item.currency != currency:
                raise ApplicationError(
                    f"The catalogue item is priced in {item.currency}, the invoice in {currency}.",
                    code="currency_mismatch",
                    fields={f"lines[{index}].catalogue_item_id": ["Another currency."]},
                )
        if line.tax_rate_ids is not None:
            missing = [rid for rid in line.tax_rate_ids if rid not in rates]
            if missing:
                raise NotFound("No such tax rate.", code="tax_rate_not_found")
            copies = tax_copies(rates[rid] for rid in line.tax_rate_ids)
        elif line.taxes is not None:
            copies = tax_copies_check(line.taxes, index=index)
        elif item is not None:
            copies = tax_copies(item.taxes.all())
        else:
            copies = []
        name = (line.name if line.name is not None else (item.name if item else "")).strip()
        if not name or len(name) > 200:
            raise ApplicationError(
                "A line has a name of 1 to 200 characters.",
                code="line_name_invalid",
                fields={f"lines[{index}].name": ["1 to 200 characters."]},
            )
        price = (
            line.unit_price if line.unit_price is not None else (item.unit_price if item else None)
        )
        if price is None:
            raise ApplicationError(
                "A line has a unit price.",
                code="price_invalid",
                fields={f"lines[{index}].unit_price": ["Required."]},
            )
        description = (
            line.description if line.description is not None else (item.description if item else "")
        )
        built.append(
            InvoiceLine(
                studio=studio,
                position=index,
                catalogue_item=item,
                name=name,
                description=(description or "")[:5000],
                quantity=line.quantity,
                unit_price=price,
                discount_percent=line.discount_percent,
                discount_amount=line.discount_amount,
                taxes=copies,
            )
        )
    return built


def lines_compute(
    lines: Sequence[InvoiceLine],
    *,
    discount_percent: Any,
    discount_amount: Any,
    rounding: str,
) -> pricing.Totals:
    """Compute line rows' totals (and set them on the rows); the pure module's errors as 400s."""
    try:
        totals = pricing.compute(
            [
                pricing.Line(
                    quantity=_quantity(line.quantity, index),
                    unit_price=line.unit_price,
                    discount_percent=decimal_in(
                        line.discount_percent,
                        field=f"lines[{index}].discount_percent",
                        code="discount_invalid",
                        places=4,
                    ),
                    discount_amount=line.discount_amount,
                    taxes=taxes_of(line.taxes or []),
                )
                for index, line in enumerate(lines)
            ],
            discount=_discount(discount_percent, discount_amount),
            rounding=rounding,
        )
    except pricing.PricingError as exc:
        raise pricing_error(exc) from None
    for line, computed in zip(lines, totals.lines, strict=True):
        line.quantity = _quantity(line.quantity, line.position)
        line.gross = computed.gross
        line.discount = computed.line_discount + computed.invoice_discount
        line.net = computed.net
        line.tax = computed.tax
        line.total = computed.total
        line.tax_breakdown = [tax_amount_json(t) for t in computed.taxes]
    return totals


def _quantity(value: Any, index: int) -> Decimal:
    number = decimal_in(value, field=f"lines[{index}].quantity", code="quantity_invalid", places=3)
    if number is None:
        raise ApplicationError(
            "A line has a quantity.",
            code="quantity_invalid",
            fields={f"lines[{index}].quantity": ["Required."]},
        )
    return number


def _discount(percent: Any, amount: Any) -> pricing.Discount | None:
    percent = decimal_in(percent, field="discount_percent", code="discount_invalid", places=4)
    if percent is None and amount in (None, ""):
        return None
    if percent is not None and amount not in (None, ""):
        raise ApplicationError(
            "An invoice discount is a percent or an amount, not both.",
            code="discount_invalid",
            fields={"discount_amount": ["Give one of the two."]},
        )
    return pricing.Discount(percent=percent, amount=None if amount in (None, "") else amount)


def _totals_store(invoice: Invoice, totals: pricing.Totals) -> None:
    invoice.subtotal = totals.subtotal
    invoice.discount_total = totals.discount
    invoice.net_total = totals.net
    invoice.tax_total = totals.tax
    invoice.total = totals.total
    invoice.tax_breakdown = [tax_amount_json(t) for t in totals.taxes]


_FIELDS = {
    "title",
    "notes",
    "language",
    "due_date",
    "event_date",
    "discount_percent",
    "discount_amount",
    "allow_tips",
    "schedule",
    "job",
    "currency",
}


def _fields_check(changes: dict[str, Any], *, studio: Studio) -> dict[str, Any]:
    unknown = set(changes) - _FIELDS
    if unknown:
        raise ApplicationError(f"Unknown fields: {sorted(unknown)}.", code="invalid")
    out = dict(changes)
    for name, limit in (("title", 200), ("language", 20)):
        if name in out:
            out[name] = (out[name] or "").strip()
            if len(out[name]) > limit:
                raise ApplicationError(
                    f"{name} is longer than {limit} characters.",
                    code="invalid",
                    fields={name: [f"At most {limit} characters."]},
                )
    for name in ("due_date", "event_date"):
        if name in out and out[name] is not None and not isinstance(out[name], dt.date):
            raise ApplicationError(f"{name} is a date.", code="invalid", fields={name: ["Date."]})
    if "discount_percent" in out:
        out["discount_percent"] = decimal_in(
            out["discount_percent"], field="discount_percent", code="discount_invalid", places=4
        )
    if "schedule" in out:
        parts_check(out["schedule"] or [])
        out["schedule"] = list(out["schedule"] or [])
    if "job" in out:
        job_check(studio=studio, job=out["job"])
    if "currency" in out:
        out["currency"] = currency_of(studio=studio, currency=out["currency"])
    return out


def invoice_create(
    *,
    studio: Studio,
    contact: Contact,
    lines: Sequence[LineInput],
    job: Job | None = None,
    currency: str | None = None,
    kind: str = Invoice.Kind.INVOICE,
    credit_for: Invoice | None = None,
    source_key: str | None = None,
    by: User | None = None,
    **fields: Any,
) -> Invoice:
    """A draft with its lines and computed totals (nothing is posted until it is issued)."""
    contact_check(studio=studio, contact=contact)
    job_check(studio=studio, job=job)
    currency = currency_of(studio=studio, currency=currency)
    fields = _fields_check(fields, studio=studio)
    rows = _lines_build(studio=studio, currency=currency, lines=lines)
    invoice = Invoice(
        studio=studio,
        kind=kind,
        contact=contact,
        job=job,
        credit_for=credit_for,
        currency=currency,
        rounding=rounding_of(studio),
        source_key=source_key,
        created_by=by if by is not None and by.is_authenticated else None,
        **fields,
    )
    totals = lines_compute(
        rows,
        discount_percent=invoice.discount_percent,
        discount_amount=invoice.discount_amount,
        rounding=invoice.rounding,
    )
    _totals_store(invoice, totals)
    with transaction.atomic():
        invoice.save()
        for row in rows:
            row.invoice = invoice
        InvoiceLine.objects.bulk_create(rows)
    return invoice


def invoice_update(
    *,
    invoice: Invoice,
    lines: Sequence[LineInput] | None = None,
    by: User | None = None,
    **changes: Any,
) -> Invoice:
    """Change a draft (409 ``invoice_not_draft`` once issued); ``lines`` replaces them all."""
    studio = invoice.studio
    changes = _fields_check(changes, studio=studio)
    with transaction.atomic():
        row = invoice_locked(invoice)
        draft_check(row)
        for name, value in changes.items():
            setattr(row, name, value)
        if lines is not None:
            rows = _lines_build(studio=studio, currency=row.currency, lines=lines)
        else:
            rows = list(row.lines.all())
        totals = lines_compute(
            rows,
            discount_percent=row.discount_percent,
            discount_amount=row.discount_amount,
            rounding=row.rounding,
        )
        _totals_store(row, totals)
        row.save()
        if lines is not None:
            row.lines.all().delete()
            for line in rows:
                line.invoice = row
            InvoiceLine.objects.bulk_create(rows)
        else:
            InvoiceLine.objects.bulk_update(
                rows,
                ["quantity", "gross", "discount", "net", "tax", "total", "tax_breakdown"],
            )
    return row


def invoice_discard(*, invoice: Invoice) -> None:
    """Delete a draft (an issued invoice is voided instead)."""
    with transaction.atomic():
        row = invoice_locked(invoice)
        draft_check(row)
        row.lines.all().delete()
        row.delete()
