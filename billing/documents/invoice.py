"""An invoice or a credit note as a PDF, drawn from its rows: nothing is computed here (the
totals, the taxes and the schedule are what the invoice stored), only written in the
document's language."""

from __future__ import annotations

from billing.documents.common import (
    base_context,
    billing_settings,
    logo_data_uri,
    logo_key_of,
    party,
    render_pdf,
    seller_of,
)
from billing.documents.writer import Writer, document_language
from billing.models import Invoice, InvoiceLine

_INSTALMENT_STATE = {
    "paid": "paid",
    "partially_paid": "partially_paid",
    "canceled": "canceled",
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
    settings = billing_settings(invoice.studio_id)
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
        **base_context(
            writer,
            seller=seller_of(invoice, invoice.studio, settings),
            logo=logo_data_uri(
                key=logo_key_of(invoice, invoice.studio, settings),
                document=f"invoice {invoice.id}",
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
        "bill_to": party(_bill_to(invoice), writer),
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
    return render_pdf("billing/documents/invoice.html", invoice_context(invoice, paid=paid))
