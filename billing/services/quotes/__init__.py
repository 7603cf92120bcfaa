"""Quotes (proposals): written by the studio (drafts), sent to the client with a signed link
to its page on the studio's site, accepted there (which issues the invoice and its schedule
and moves the job) or declined, or withdrawn by the studio. One module per sub-domain; the
public names are re-exported here."""

from billing.services.quotes.accept import quote_accept, quote_decline, quote_totals
from billing.services.quotes.common import (
    Choice,
    choice_default,
    choice_resolve,
    quote_locked,
)
from billing.services.quotes.drafts import (
    QuoteItemInput,
    quote_create,
    quote_delete,
    quote_update,
)
from billing.services.quotes.sending import (
    quote_link_read,
    quote_link_token,
    quote_link_url,
    quote_send,
    quote_withdraw,
)

__all__ = [
    "Choice",
    "QuoteItemInput",
    "choice_default",
    "choice_resolve",
    "quote_accept",
    "quote_create",
    "quote_decline",
    "quote_delete",
    "quote_link_read",
    "quote_link_token",
    "quote_link_url",
    "quote_locked",
    "quote_send",
    "quote_totals",
    "quote_update",
    "quote_withdraw",
]
