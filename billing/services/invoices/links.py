"""The client's link to an invoice's page on the studio's site: ``/invoices/<token>/``.

The token is the invoice's id signed with the server's secret (salt ``billing.invoice-page``),
so nobody reaches an invoice by guessing and no account is needed. It does not expire: the
link goes out with the invoice and its reminders, and a schedule can run for more than a year
(a wedding booked well ahead); what it opens is one invoice, which only its contact is sent.
The page checks the invoice belongs to the studio of the host, so a link shown on another
studio's site is not found.
"""

from __future__ import annotations

import uuid

from django.core import signing

from billing.models import Invoice
from domains.selectors import studio_site_url

INVOICE_LINK_SALT = "billing.invoice-page"


def invoice_link_token(*, invoice: Invoice) -> str:
    """The signed token of the invoice's page link."""
    return signing.dumps({"i": str(invoice.id)}, salt=INVOICE_LINK_SALT)


def invoice_link_read(token: str) -> uuid.UUID | None:
    """The invoice id of a page token; None when forged or malformed."""
    try:
        data = signing.loads(token, salt=INVOICE_LINK_SALT)
        return uuid.UUID(data["i"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def invoice_link_url(*, invoice: Invoice) -> str:
    """The absolute URL of the invoice's page on its studio's site."""
    return (
        f"{studio_site_url(studio=invoice.studio)}/invoices/{invoice_link_token(invoice=invoice)}/"
    )
