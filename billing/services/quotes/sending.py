"""Sending a quote to the client, and taking it back.

Sending numbers it (the quote series, ``Q-2026-0001``, gapless like invoices: taken under the
counter's lock in the sending transaction, the counter row made before it), marks it sent,
records ``quote_sent`` on the job's and the contact's timelines and emails the client a link
to the quote's page on the studio's site. Sending a sent quote again re-sends the email with
the same number and link.

The link is signed (``django.core.signing``, its own salt) and has no age limit: the quote's
``expires_on`` is what ends it, and the page says so rather than "invalid link".
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.core import signing
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from billing.models import DocumentCounter, Quote
from billing.services.invoices import counter_ready, number_take
from billing.services.invoices.common import today_of
from billing.services.quotes.common import State, quote_locked, state_check
from crm.services.timeline import timeline_record
from domains.selectors import studio_site_url
from picpick.core.email import email_send_on_commit
from picpick.core.errors import ApplicationError, Conflict

logger = logging.getLogger("billing.quotes")

QUOTE_LINK_SALT = "billing.quote-page"
EVENT_PARTS = ("before_event", "after_event")


def quote_link_token(*, quote: Quote) -> str:
    """The signed token of the quote's page link (names the studio and the quote)."""
    return signing.dumps({"s": str(quote.studio_id), "q": str(quote.id)}, salt=QUOTE_LINK_SALT)


def quote_link_read(token: str) -> uuid.UUID | None:
    """The quote id of a page token; None when forged or malformed. (The page checks the
    quote is of the studio whose site it is on: ``billing.selectors.quotes.quote_for_link``.)"""
    try:
        data = signing.loads(token, salt=QUOTE_LINK_SALT)
        return uuid.UUID(data["q"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def quote_link_url(*, quote: Quote) -> str:
    """The client's link to the quote's page on the studio's site."""
    return f"{studio_site_url(studio=quote.studio)}/quotes/{quote_link_token(quote=quote)}/"


def _needs_event_date(schedule: list) -> bool:
    return any(
        isinstance(part, dict)
        and isinstance(part.get("due"), dict)
        and part["due"].get("on") in EVENT_PARTS
        for part in schedule or []
    )


def quote_send(*, quote: Quote, by: User | None = None, now: dt.datetime | None = None) -> Quote:
    """Send a draft (numbered now) or send a sent quote again. 409 ``quote_empty`` (no item),
    ``quote_expired`` (``expires_on`` before today in the studio's zone), the closed states'
    codes; 400 ``event_date_required`` when the schedule counts from the event and the job
    has no event date."""
    studio = quote.studio
    now = now or timezone.now()
    today = today_of(studio, now)
    counter_ready(studio=studio, series=DocumentCounter.Series.QUOTE, year=today.year)
    with transaction.atomic():
        row = quote_locked(quote)
        state_check(row, allowed=(State.DRAFT, State.SENT))
        if not row.items.exists():
            raise Conflict("A quote needs at least one item to be sent.", code="quote_empty")
        if row.expires_on is not None and row.expires_on < today:
            raise Conflict(
                "The quote's expiry date has passed: set a new one before sending it.",
                code="quote_expired",
            )
        if _needs_event_date(row.schedule) and not (row.job_id and row.job.event_start):
            raise ApplicationError(
                "The schedule counts from the event: the quote's job needs an event date.",
                code="event_date_required",
                fields={"schedule": ["Due before or after an event the job does not have."]},
            )
        if row.number is None:
            row.number = number_take(
                studio=studio, series=DocumentCounter.Series.QUOTE, year=today.year
            )
        row.state = State.SENT
        row.sent_at = now
        row.save(update_fields=["number", "state", "sent_at", "updated_at"])
        timeline_record(
            studio=studio,
            kind="quote_sent",
            payload={"quote_id": str(row.id), "number": row.number, "title": row.title},
            job=row.job,
            contact=row.contact,
            actor=by,
            occurred_at=now,
        )
        _email(row)
    logger.info("quote %s sent as %s", row.id, row.number)
    return row


def _email(quote: Quote) -> None:
    to = quote.contact.email
    if not to:
        logger.info(
            "quote %s: the contact has no email; the link is the studio's to share", quote.id
        )
        return
    studio = quote.studio
    name = quote.contact.first_name or "there"
    parts = [f"Hi {name},", "", f"{studio.name} sent you a quote: {quote.title} ({quote.number})."]
    if quote.message:
        parts += ["", quote.message]
    parts += ["", "See it, choose your options and accept it here:", quote_link_url(quote=quote)]
    if quote.expires_on is not None:
        parts += ["", f"It is valid until {quote.expires_on:%d %B %Y}."]
    parts += ["", studio.name, ""]
    email_send_on_commit(
        subject=f"{studio.name}: {quote.title}"[:200], body="\n".join(parts), to=[to]
    )


def quote_withdraw(*, quote: Quote, by: User | None = None) -> Quote:
    """Take a sent quote back: its page says so and it can no longer be accepted. Withdrawing
    it again changes nothing; a draft is deleted instead (409 ``quote_draft``), an accepted or
    declined quote is 409 ``quote_accepted`` / ``quote_declined``."""
    with transaction.atomic():
        row = quote_locked(quote)
        if row.state == State.WITHDRAWN:
            return row
        state_check(row, allowed=(State.SENT,))
        row.state = State.WITHDRAWN
        row.save(update_fields=["state", "updated_at"])
    logger.info("quote %s withdrawn", row.id)
    return row
