"""Reads of gift cards and their statements; every one scoped to a studio."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from accounts.models import Studio
from billing.models import GiftCard
from billing.selectors.ledger import account_statement_page
from picpick.core.pagination import DEFAULT_PAGE_SIZE, Page, paginate
from picpick.core.selectors import studio_object_or_404


def gift_card_list(
    *, studio: Studio, state: str | None = None, origin: str | None = None
) -> QuerySet[GiftCard]:
    cards = GiftCard.objects.filter(studio=studio).select_related("account")
    if state:
        cards = cards.filter(state=state)
    if origin:
        cards = cards.filter(origin=origin)
    return cards


def gift_card_page(
    *,
    studio: Studio,
    state: str | None = None,
    origin: str | None = None,
    cursor: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """The studio's cards, newest first (ids are UUIDv7)."""
    cards = gift_card_list(studio=studio, state=state, origin=origin)
    return paginate(cards, ordering=["-id"], cursor=cursor, page_size=page_size)


def gift_card_get(*, studio: Studio, card_id: uuid.UUID | str) -> GiftCard:
    """This studio's gift card (its account read along), or a 404."""
    return studio_object_or_404(
        GiftCard.objects.select_related("account"),
        studio=studio,
        object_id=card_id,
        message="Gift card not found.",
    )


def gift_card_statement(
    *, card: GiftCard, cursor: str | None, page_size: int = DEFAULT_PAGE_SIZE
) -> Page:
    """The card's history: its account's entries (the sale or issue, each redemption, the
    expiry or void), newest first."""
    return account_statement_page(account=card.account, cursor=cursor, page_size=page_size)
