"""Reads of quotes, every one scoped to a studio (the client's link names its studio too)."""

from __future__ import annotations

import uuid

from django.db.models import Prefetch, QuerySet

from accounts.models import Studio
from billing.models import Quote, QuoteItem
from billing.services.quotes import quote_link_read
from picpick.core.errors import NotFound
from picpick.core.pagination import DEFAULT_PAGE_SIZE, Page, paginate
from picpick.core.selectors import studio_object_or_404

_ITEMS = Prefetch("items", queryset=QuoteItem.objects.order_by("position", "id"))
_RELATED = ("contact", "job", "accept_stage", "invoice")


def quote_list(
    *,
    studio: Studio,
    state: str | None = None,
    job_id: uuid.UUID | None = None,
    contact_id: uuid.UUID | None = None,
) -> QuerySet[Quote]:
    """The studio's quotes, newest first, with their items; filtered by state, job, contact."""
    quotes = Quote.objects.filter(studio=studio).select_related(*_RELATED).prefetch_related(_ITEMS)
    if state:
        quotes = quotes.filter(state=state)
    if job_id is not None:
        quotes = quotes.filter(job_id=job_id)
    if contact_id is not None:
        quotes = quotes.filter(contact_id=contact_id)
    return quotes.order_by("-created_at", "-id")


def quote_page(
    *,
    studio: Studio,
    state: str | None = None,
    job_id: uuid.UUID | None = None,
    contact_id: uuid.UUID | None = None,
    cursor: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page:
    quotes = quote_list(studio=studio, state=state, job_id=job_id, contact_id=contact_id)
    page = paginate(quotes, ordering=["-created_at"], cursor=cursor, page_size=page_size)
    for quote in page.items:
        quote.studio = studio
    return page


def quote_get(*, studio: Studio, quote_id: uuid.UUID | str) -> Quote:
    """This studio's quote with its items, or a 404 (another studio's too)."""
    return studio_object_or_404(
        Quote.objects.select_related(*_RELATED).prefetch_related(_ITEMS),
        studio=studio,
        object_id=quote_id,
        message="Quote not found.",
    )


def quote_for_link(token: str, *, studio: Studio | None = None) -> Quote:
    """The quote of a client's link, with its items and its studio: 404 when the link is
    forged, names a quote that is gone or was never sent, or (``studio`` given: the studio
    of the site the page is on) names another studio's quote."""
    quote_id = quote_link_read(token)
    found = None
    if quote_id is not None:
        found = (
            Quote.objects.select_related("studio", *_RELATED)
            .prefetch_related(_ITEMS)
            .filter(id=quote_id)
            .exclude(state=Quote.State.DRAFT)
            .first()
        )
    if found is None or (studio is not None and found.studio_id != studio.id):
        raise NotFound("This link is not valid.", code="quote_not_found")
    return found
