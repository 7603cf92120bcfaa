"""Invoices, credit notes and payment receipts as PDF documents.

Each document is drawn from its rows (nothing is computed here: totals, taxes and the schedule
are what the invoice stored) in the document's language: ``Invoice.language``, else the
studio's locale. Amounts and dates are written by Babel in that locale (``1 234,56 €``,
``7 décembre 2026``); the words come from ``labels`` (English for a language it lacks).

The studio's logo (``BillingSettings.logo``, a key in the object storage) is read here and
embedded; a missing or unreadable logo leaves the document without one (a warning is logged)
rather than failing it. The renderer itself fetches nothing (``billing.documents.pdf``).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import logging
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from django.db.models import Q, Sum
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from billing.documents.labels import labels_for
from billing.models import BillingSettings, Invoice, InvoiceLine, LedgerEntry, Payment
from billing.money import Money, money_format
from billing.tax_ids import tax_id_format
from picpick.core.storage import InvalidKey, ObjectNotFound, StorageError, get_storage

logger = logging.getLogger("billing.documents")

_CSS = Path(__file__).resolve().parent.parent / "static" / "billing" / "documents.css"
LOGO_MAX_BYTES = 2 * 1024 * 1024
# Where paper is Letter rather than A4 (CLDR's measurement data, for the territories we meet).
_LETTER = frozenset({"US", "CA", "MX", "PH", "CL", "CO", "VE", "PR", "GT", "SV", "CR", "PA"})
_INSTALMENT_STATE = {
    "paid": "paid",
    "partially_paid": "partially_paid",
    "canceled": "canceled",
}


# --- The document's language and how it writes things ------------------------------------
class Writer:
    """Amounts, dates, quantities and rates written the way of one locale, with its words."""

    def __init__(self, code: str) -> None:
        self.locale = _locale(code)
        self.code = str(self.locale)
        self.t = labels_for(self.locale.language)

    def money(self, amount: int, currency: str) -> str:
        return money_format(Money(int(amount), currency), self.code)

    def date(self, value: dt.date | None) -> str:
        return format_date(value, "long", locale=self.locale) if value else ""

    def quantity(self, value: Any) -> str:
        """``2``, ``1.5``, ``0.125``: no trailing zeros."""
        number = _decimal(value)
        if number is None:
            return str(value)
        return format_decimal(number.normalize(), locale=self.locale, decimal_quantization=False)

    def rate(self, value: Any) -> str:
        """A percent (``"20"``, ``"9.975"``) as the locale writes one: ``20 %``, ``9.975%``."""
        number = _decimal(value)
        if number is None:
            return str(value)
        return format_percent(number / 100, locale=self.locale, decimal_quantization=False)

    def country(self, code: str) -> str:
        code = (code or "").upper()
        return self.locale.territories.get(code, code) if code else ""

    @property
    def page_size(self) -> str:
        return "letter" if self.locale.territory in _LETTER else "A4"


def _locale(code: str) -> Locale:
    try:
        return Locale.parse((code or "en").strip().replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return Locale("en")


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def document_language(invoice: Invoice) -> str:
    """The invoice's language, else its studio's locale."""
    return invoice.language or getattr(invoice.studio, "locale", "") or "en"


# --- Pieces shared by both documents -------------------------------------------------------
@functools.cache
def _css() -> str:
    return _CSS.read_text(encoding="utf-8")


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _page_css(writer: Writer) -> str:
    """The page box: the paper of the locale and "Page 1 of 2" in its words."""
    t = writer.t
    return (
        f"@page {{ size: {writer.page_size}; @bottom-right {{ content: "
        f'{_css_string(t["page"])} " " counter(page) " " {_css_string(t["of"])} " " '
        "counter(pages); } }"
    )


def _settings(studio_id) -> BillingSettings | None:
    # Read, never made: drawing a document writes nothing.
    return BillingSettings.objects.filter(studio_id=studio_id).first()


def _address_lines(address: Any, *, country: str = "") -> list[str]:
    """An address as lines: typed text (one line each), a list of lines, or the parts
    (``line1``, ``line2``, ``city``, ``region``, ``postal_code``) of a contact."""
    if not address:
        return []
    if isinstance(address, str):
        return [line.strip() for line in address.splitlines() if line.strip()]
    if isinstance(address, list | tuple):
        return [str(line).strip() for line in address if str(line).strip()]
    if isinstance(address, dict):
        get = address.get
        lines = [
            get("line1") or get("address_line1") or "",
            get("line2") or get("address_line2") or "",
        ]
        city, region = get("city") or "", get("region") or ""
        postal = get("postal_code") or get("postcode") or get("zip") or ""
        if (country or get("country") or "").upper() in ("US", "CA", "AU"):
            lines.append(" ".join(part for part in (city, region, postal) if part))
        else:
            lines.extend([" ".join(part for part in (postal, city) if part), region])
        return [str(line).strip() for line in lines if str(line).strip()]
    return [str(address)]


def _party(data: dict, writer: Writer) -> dict:
    """A seller or bill-to block from its snapshot (name, address, country, tax id, email)."""
    country = str(data.get("country") or "")
    # The address as one field, or its parts beside the name (a contact's snapshot).
    address = data.get("address") or data
    lines = _address_lines(address, country=country)
    if country:
        lines.append(writer.country(country))
    name = str(data.get("legal_name") or data.get("name") or "")
    tax_id = tax_id_format(country=country, value=str(data.get("tax_id") or ""))
    company = str(data.get("company") or "")
    return {
        "name": name or company,
        "company": company if name and company != name else "",
        "address": lines,
        "email": str(data.get("email") or ""),
        "phone": str(data.get("phone") or ""),
        "tax_id": writer.t["tax_id"].format(value=tax_id) if tax_id else "",
    }


def _seller(invoice: Invoice | None, studio, settings: BillingSettings | None) -> dict:
    snapshot = dict(invoice.seller or {}) if invoice is not None else {}
    if snapshot:
        return snapshot
    if settings is None:
        return {"legal_name": studio.name}
    return {
        "legal_name": settings.legal_name or studio.name,
        "address": settings.address,
        "country": settings.country,
        "tax_id": settings.tax_id,
    }


def _bill_to(invoice: Invoice) -> dict:
    if invoice.bill_to:
        return dict(invoice.bill_to)
    # A draft (no snapshot yet): the contact as it is now.
    contact = invoice.contact
    return {
        "name": " ".join(part for part in (contact.first_name, contact.last_name) if part),
        "company": contact.company,
        "email": contact.email,
        "address": {
            "line1": contact.address_line1,
            "line2": contact.address_line2,
            "city": contact.city,
            "region": contact.region,
            "postal_code": contact.postal_code,
        },
        "country": contact.country,
    }


_IMAGE_TYPES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def _image_type(data: bytes) -> str | None:
    for magic, content_type in _IMAGE_TYPES:
        if data.startswith(magic):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    head = data[:1024].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml")) and b"<svg" in head:
        return "image/svg+xml"
    return None


def logo_data_uri(*, key: str, document: str) -> str | None:
    """The logo at ``key`` in storage as a ``data:`` URI, or None (a warning naming
    ``document``) when it is missing, too large or not an image."""
    if not key:
        return None
    try:
        with get_storage().open(key=key) as stream:
            data = stream.read(LOGO_MAX_BYTES + 1)
    except (ObjectNotFound, InvalidKey, StorageError, OSError) as exc:
        logger.warning("logo %r of %s not read (%s): drawn without it", key, document, exc)
        return None
    if len(data) > LOGO_MAX_BYTES:
        logger.warning(
            "logo %r of %s is over %d bytes: drawn without it", key, document, LOGO_MAX_BYTES
        )
        return None
    content_type = _image_type(data)
    if content_type is None:
        logger.warning(
            "logo %r of %s is not a PNG, JPEG, GIF, WebP or SVG: drawn without it", key, document
        )
        return None
    return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"


def _base_context(writer: Writer, *, seller: dict, logo: str | None, footer: str) -> dict:
    return {
        "lang": writer.locale.language,
        "css": mark_safe(_css() + "\n" + _page_css(writer)),  # noqa: S308 (our file, escaped labels)
        "t": writer.t,
        "seller": _party(seller, writer),
        "logo": logo,
        "footer": footer,
    }


def _render(template: str, context: dict) -> bytes:
    from billing.documents.pdf import html_to_pdf  # WeasyPrint loads only to draw

    return html_to_pdf(render_to_string(template, context))


# --- The invoice ---------------------------------------------------------------------------
def _line_row(line: InvoiceLine, writer: Writer, currency: str) -> dict:
    discount = ""
    if line.discount:
        discount = writer.money(line.discount, currency)
        if line.discount_percent:
            discount = f"{discount} ({writer.rate(line.discount_percent)})"
    return {
        "name": line.name,
        "description": line.description,
        "quantity": writer.quantity(line.quantity),
        "unit_price": writer.money(line.unit_price, currency),
        "discount": discount,
        "taxes": ", ".join(str(tax.get("name", "")) for tax in (line.taxes or [])),
        "total": writer.money(line.total, currency),
    }


def _tax_rows(invoice: Invoice, writer: Writer) -> list[dict]:
    t, rows = writer.t, []
    for tax in invoice.tax_breakdown or []:
        label = f"{tax.get('name', '')} {writer.rate(tax.get('rate', '0'))}"
        if tax.get("inclusive"):
            label = f"{label} ({t['incl']})"
        base = tax.get("base")
        rows.append(
            {
                "kind": "tax",
                "label": label,
                "base": f"{t['base']} {writer.money(base, invoice.currency)}"
                if base is not None
                else "",
                "amount": writer.money(tax.get("amount", 0), invoice.currency),
            }
        )
    return rows


def _totals(invoice: Invoice, writer: Writer, paid: int | None) -> list[dict]:
    t, cur = writer.t, invoice.currency

    def row(kind: str, label: str, amount: int) -> dict:
        return {"kind": kind, "label": label, "base": "", "amount": writer.money(amount, cur)}

    rows = [row("subtotal", t["subtotal"], invoice.subtotal)]
    if invoice.discount_total:
        rows.append(row("discount", t["discount"], -invoice.discount_total))
    rows.extend(_tax_rows(invoice, writer))
    rows.append(row("total", t["total"], invoice.total))
    if invoice.late_fees:
        rows.append(row("late_fees", t["late_fees"], invoice.late_fees))
    if invoice.credited:
        rows.append(row("credited", t["credited"], -invoice.credited))
    if invoice.late_fees or invoice.credited:
        rows.append(row("due", t["amount_due"], invoice.owed))
    if paid is not None:
        rows.append(row("paid", t["amount_paid"], paid))
        rows.append(row("balance", t["balance_due"], invoice.owed - paid))
    return rows


def _schedule(invoice: Invoice, writer: Writer) -> list[dict]:
    t = writer.t
    return [
        {
            "label": part.label,
            "due": writer.date(part.due_date),
            "amount": writer.money(part.amount, invoice.currency),
            "state": t[_INSTALMENT_STATE.get(part.state, "unpaid")],
            "paid": part.state == "paid",
        }
        for part in invoice.instalments.all()
    ]


def invoice_context(invoice: Invoice, *, paid: int | None = None) -> dict:
    """What the invoice template shows, every amount and date already written."""
    writer = Writer(document_language(invoice))
    t = writer.t
    settings = _settings(invoice.studio_id)
    credit_note = invoice.kind == Invoice.Kind.CREDIT_NOTE
    credits = ""
    if credit_note and invoice.credit_for_id:
        credits = t["credits"].format(number=invoice.credit_for.number or "")
    lines = invoice.lines.filter(kind=InvoiceLine.Kind.ITEM)
    rows = [_line_row(line, writer, invoice.currency) for line in lines]
    rounding = t.get(invoice.rounding) or t["half_even"]
    watermark = ""
    if invoice.status == Invoice.Status.VOID:
        watermark = t["void"]
    elif invoice.number is None:
        watermark = t["draft"].upper()
    return {
        **_base_context(
            writer,
            seller=_seller(invoice, invoice.studio, settings),
            logo=logo_data_uri(
                key=settings.logo if settings else "", document=f"invoice {invoice.id}"
            ),
            footer=str(
                (invoice.seller or {}).get("footer")
                or (settings.invoice_footer if settings else "")
            ),
        ),
        "heading": t["credit_note"] if credit_note else t["invoice"],
        "credits": credits,
        "number": invoice.number or t["draft"],
        "title": invoice.title,
        "issue_date": writer.date(invoice.issue_date),
        "due_date": writer.date(invoice.due_date),
        "bill_to": _party(_bill_to(invoice), writer),
        "lines": rows,
        "show_discount": any(row["discount"] for row in rows),
        "totals": _totals(invoice, writer, paid),
        "rounding": t["rounding"].format(mode=rounding),
        "schedule": _schedule(invoice, writer),
        "notes": invoice.notes,
        "watermark": watermark,
    }


def invoice_pdf(invoice: Invoice, *, paid: int | None = None) -> bytes:
    """The invoice (or credit note) as a PDF. ``paid``: what was paid on it so far, shown
    with the balance due; None leaves both out (the document as issued)."""
    return _render("billing/documents/invoice.html", invoice_context(invoice, paid=paid))


# --- The receipt ---------------------------------------------------------------------------
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
    studio = payment.studio
    language = document_language(invoice) if invoice is not None else studio.locale
    writer = Writer(language or "en")
    t, cur = writer.t, payment.currency
    settings = _settings(payment.studio_id)
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
        **_base_context(
            writer,
            seller=_seller(invoice, studio, settings),
            logo=logo_data_uri(
                key=settings.logo if settings else "", document=f"payment {payment.id}"
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
    return _render("billing/documents/receipt.html", receipt_context(payment, invoice=invoice))
