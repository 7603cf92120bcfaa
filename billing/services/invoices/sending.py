"""Sending an issued invoice to the client: an email with the signed link to its page on the
studio's site, where the client reads it, pays and downloads the PDF.

The email is plain text (as every PicPick email is) and carries no attachment: the link is the
document, always current (what is paid, what is next), and the PDF is one click away on the
page. It is queued once the caller's transaction commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from accounts.models import User
from billing.models import Invoice
from billing.services.invoices.common import amount_text, logger
from billing.services.invoices.links import invoice_link_url
from billing.services.invoices.status import paid_of, receivable_balance
from picpick.core.email import email_send_on_commit
from picpick.core.errors import ApplicationError, Conflict


@dataclass(frozen=True)
class InvoiceSent:
    to: str
    url: str


def _locale(invoice: Invoice) -> str:
    for candidate in (invoice.language, getattr(invoice.studio, "locale", "")):
        try:
            return str(Locale.parse((candidate or "").replace("-", "_")))
        except (UnknownLocaleError, ValueError, TypeError):
            continue
    return "en"


def invoice_send(
    *, invoice: Invoice, to: str | None = None, message: str = "", by: User | None = None
) -> InvoiceSent:
    """Email the invoice's link to ``to`` (default: the client's email). 409
    ``invoice_not_issued``, ``invoice_void``, ``email_missing``; 400 ``invalid`` (an email)."""
    invoice = Invoice.objects.select_related("studio", "contact", "write_off_transaction").get(
        pk=invoice.pk
    )
    if invoice.number is None:
        raise Conflict("Issue the invoice before sending it.", code="invoice_not_issued")
    if invoice.status == Invoice.Status.VOID:
        raise Conflict("This invoice is void.", code="invoice_void")
    address = (to or invoice.contact.email or invoice.bill_to.get("email") or "").strip()
    if not address:
        raise Conflict(
            "The client has no email: give one to send the invoice to.", code="email_missing"
        )
    try:
        validate_email(address)
    except ValidationError:
        raise ApplicationError(
            "Not an email address.", code="invalid", fields={"to": ["Not an email."]}
        ) from None
    url = invoice_link_url(invoice=invoice)
    locale = _locale(invoice)
    balance = receivable_balance(invoice)
    studio = invoice.studio.name
    what = "credit note" if invoice.kind == Invoice.Kind.CREDIT_NOTE else "invoice"
    lines = [
        f"Hello {invoice.contact.first_name or invoice.bill_to.get('name') or ''},".replace(
            " ,", ","
        ),
        "",
        f"{studio} sent you {what} {invoice.number} of "
        f"{amount_text(invoice.owed, invoice.currency, locale)}.",
    ]
    if invoice.kind == Invoice.Kind.INVOICE and balance > 0:
        paid = paid_of(invoice, balance)
        if paid > 0:
            lines.append(f"Paid so far: {amount_text(paid, invoice.currency, locale)}.")
        due = format_date(invoice.due_date, "long", locale=locale) if invoice.due_date else ""
        lines.append(
            f"Still to pay: {amount_text(balance, invoice.currency, locale)}"
            + (f", due {due}." if due else ".")
        )
    if message.strip():
        lines += ["", message.strip()]
    lines += ["", "See it, pay it and download it here:", url, "", studio, ""]
    with transaction.atomic():
        email_send_on_commit(
            subject=f"{what.capitalize()} {invoice.number} from {studio}"[:200],
            body="\n".join(lines),
            to=[address],
        )
    logger.info(
        "invoice %s sent",
        invoice.id,
        extra={"by": str(by.id) if by is not None and by.is_authenticated else None},
    )
    return InvoiceSent(to=address, url=url)
