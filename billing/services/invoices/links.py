"""The client's link to an invoice's page on the studio's site: ``/invoices/<token>/``.

The token is the invoice's id signed with the server's secret (salt ``billing.invoice-page``),
so nobody reaches an invoice by guessing and no account is needed. It does not expire: the
link goes out with the invoice and its reminders, and a schedule can run for more than a year
(a wedding booked well ahead); what it opens is one invoice, which only its contact is sent.
The page checks the invoice belongs to the studio of the host, so a link shown on another
studio's site is not found (``invoice_for_link``); drafts and credit notes have no page.

The client pages reached by a link (invoices, quotes) count every request per client address
(``link_page_allowed``, ``picpick.core.ratelimit`` as the other site pages): a token cannot be
guessed, but a script hammering the pages (each draws the document) is stopped with a 429.
"""

from __future__ import annotations

import uuid

from django.core import signing

from accounts.models import Studio
from billing.models import Invoice
from domains.selectors import studio_site_url
from picpick.core import ratelimit
from picpick.core.errors import NotFound, RateLimited

INVOICE_LINK_SALT = "billing.invoice-page"
# Requests per client address and hour on the pages reached by a link: a person reading an
# invoice, paying it and polling its receipt stays far below; a script does not.
LINK_PAGES_PER_ADDRESS = 600
LINK_PAGES_WINDOW = 3600


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


def invoice_for_link(*, studio: Studio, token: str) -> Invoice:
    """The issued invoice a page token names, if it is ``studio``'s; 404
    ``invoice_link_invalid`` for a forged token, another studio's invoice, a draft or a credit
    note."""
    invoice_id = invoice_link_read(token)
    invoice = None
    if invoice_id is not None:
        invoice = (
            Invoice.objects.select_related("studio", "contact", "receivable")
            .filter(
                pk=invoice_id,
                studio=studio,
                kind=Invoice.Kind.INVOICE,
                number__isnull=False,
            )
            .first()
        )
    if invoice is None:
        raise NotFound("This invoice link is not valid.", code="invoice_link_invalid")
    return invoice


def link_page_allowed(*, address: str) -> None:
    """One request of a link page counted for the client address; 429 past the limit."""
    key = f"link-page:{ratelimit.client_hash(address, purpose='link-page')}"
    wait = ratelimit.take([(key, LINK_PAGES_PER_ADDRESS)], window=LINK_PAGES_WINDOW)
    if wait is not None:
        raise RateLimited("Too many requests from here; try again later.", retry_after=wait)
