"""Reads of the studio's tax rates and catalogue; every one scoped to a studio."""

from __future__ import annotations

import uuid

from django.db.models import Prefetch, QuerySet

from accounts.models import Studio
from billing.models import CatalogueItem, TaxRate
from picpick.core.pagination import DEFAULT_PAGE_SIZE, Page, paginate
from picpick.core.selectors import studio_object_or_404

# Tax rates read along with items, in one query per page.
_ITEM_TAXES = Prefetch("taxes", queryset=TaxRate.objects.order_by("name", "id"))


def tax_rate_list(
    *, studio: Studio, archived: bool | None = False, search: str | None = None
) -> QuerySet[TaxRate]:
    """The studio's rates by name: the active ones (``archived=False``), the archived ones
    (True) or all (None); ``search`` is a name prefix, any case."""
    rates = TaxRate.objects.filter(studio=studio)
    if archived is not None:
        rates = rates.filter(archived=archived)
    if search:
        rates = rates.filter(name__istartswith=search)
    return rates.order_by("name", "id")


def tax_rate_page(
    *,
    studio: Studio,
    archived: bool | None = False,
    search: str | None = None,
    cursor: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page:
    rates = tax_rate_list(studio=studio, archived=archived, search=search)
    return paginate(rates, ordering=["name", "id"], cursor=cursor, page_size=page_size)


def tax_rate_get(*, studio: Studio, tax_rate_id: uuid.UUID | str) -> TaxRate:
    """This studio's tax rate, or a 404 (another studio's too)."""
    return studio_object_or_404(
        TaxRate.objects.all(), studio=studio, object_id=tax_rate_id, message="Tax rate not found."
    )


def catalogue_item_list(
    *,
    studio: Studio,
    archived: bool | None = False,
    kind: str | None = None,
    search: str | None = None,
) -> QuerySet[CatalogueItem]:
    """The studio's items in the catalogue's order, with their taxes: the active ones
    (``archived=False``), the archived ones (True) or all (None); ``search`` is a name prefix,
    any case."""
    items = CatalogueItem.objects.filter(studio=studio).prefetch_related(_ITEM_TAXES)
    if archived is not None:
        items = items.filter(archived=archived)
    if kind:
        items = items.filter(kind=kind)
    if search:
        items = items.filter(name__istartswith=search)
    return items.order_by("position", "id")


def catalogue_item_page(
    *,
    studio: Studio,
    archived: bool | None = False,
    kind: str | None = None,
    search: str | None = None,
    cursor: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page:
    items = catalogue_item_list(studio=studio, archived=archived, kind=kind, search=search)
    return paginate(items, ordering=["position", "id"], cursor=cursor, page_size=page_size)


def catalogue_item_get(*, studio: Studio, item_id: uuid.UUID | str) -> CatalogueItem:
    """This studio's catalogue item with its taxes, or a 404 (another studio's too)."""
    return studio_object_or_404(
        CatalogueItem.objects.prefetch_related(_ITEM_TAXES),
        studio=studio,
        object_id=item_id,
        message="Catalogue item not found.",
    )
