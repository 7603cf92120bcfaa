"""What the quote services share: the quote's row lock, the state checks, and the client's
choice (which items of a quote end up on its invoice) with what it costs.

A quote's items are of two kinds. Packages are alternatives: when a quote has any, the client
picks exactly one. Items are always in, unless ``optional``: an optional item is an add-on the
client may tick. ``selected`` is the studio's pre-selection (one package, some add-ons), which
the client's page starts from.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from billing import pricing
from billing.models import CatalogueItem, InvoiceLine, Quote, QuoteItem
from billing.services.invoices import lines_compute
from billing.services.invoices.common import rounding_of
from picpick.core.errors import ApplicationError, Conflict

State = Quote.State
PACKAGE = CatalogueItem.Kind.PACKAGE

# The 409 of each state a quote can no longer be accepted (or declined) in.
STATE_CODES = {
    State.DRAFT: ("The quote has not been sent yet.", "quote_draft"),
    State.ACCEPTED: ("The quote has been accepted already.", "quote_accepted"),
    State.DECLINED: ("The quote has been declined.", "quote_declined"),
    State.WITHDRAWN: ("The quote has been withdrawn by the studio.", "quote_withdrawn"),
}


def quote_locked(quote: Quote | uuid.UUID) -> Quote:
    """The quote's row, locked for this transaction and re-read (every change of a quote's
    state or content takes it first; accepting it then locks the invoice it makes)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("quote_locked needs a transaction")
    pk = quote.pk if isinstance(quote, Quote) else quote
    row = Quote.objects.select_for_update().select_related("studio").get(pk=pk)
    return row


def state_check(quote: Quote, *, allowed: Iterable[str]) -> None:
    """409 with the code of the quote's state unless it is one of ``allowed``."""
    if quote.state in set(allowed):
        return
    message, code = STATE_CODES.get(quote.state, ("The quote is closed.", "quote_closed"))
    raise Conflict(message, code=code)


def open_check(quote: Quote) -> None:
    """A quote is edited while a draft or sent; after that, 409 ``quote_closed``."""
    if quote.state not in (State.DRAFT, State.SENT):
        raise Conflict(f"The quote is {quote.state}: it is no longer edited.", code="quote_closed")


@dataclass(frozen=True)
class Choice:
    """What the client chose: its package (None when the quote has none), its add-ons, and the
    items that go on the invoice, in the quote's order (the package, the required items and
    the ticked add-ons)."""

    package_id: uuid.UUID | None
    addon_ids: tuple[uuid.UUID, ...]
    items: tuple[QuoteItem, ...]

    def as_json(self) -> dict:
        return {
            "package": str(self.package_id) if self.package_id else None,
            "addons": [str(addon) for addon in self.addon_ids],
        }


def _choice_invalid(message: str, field: str) -> ApplicationError:
    return ApplicationError(message, code="choice_invalid", fields={field: [message]})


def _uuid(value: Any, field: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise _choice_invalid("Not an item of this quote.", field) from None


def choice_resolve(
    items: Sequence[QuoteItem], *, package_id: Any = None, addon_ids: Iterable[Any] = ()
) -> Choice:
    """The client's choice checked against the quote's items: a package is required when the
    quote has packages (400 ``package_required``), and must be one of them; add-ons are among
    its optional items (400 ``choice_invalid`` otherwise). Nothing chosen at all is 400
    ``choice_empty``."""
    if isinstance(addon_ids, str | bytes):
        raise _choice_invalid("Add-ons are a list of item ids.", "addon_ids")
    packages = {item.id: item for item in items if item.kind == PACKAGE}
    optional = {item.id: item for item in items if item.kind != PACKAGE and item.optional}
    package = None
    if package_id not in (None, ""):
        package = _uuid(package_id, "package_id")
        if package not in packages:
            raise _choice_invalid("That package is not on this quote.", "package_id")
    elif packages:
        raise ApplicationError(
            "Choose one of the quote's packages.",
            code="package_required",
            fields={"package_id": ["Required: one of the quote's packages."]},
        )
    addons: list[uuid.UUID] = []
    for value in addon_ids:
        addon = _uuid(value, "addon_ids")
        if addon not in optional:
            raise _choice_invalid("That add-on is not an optional item of this quote.", "addon_ids")
        if addon not in addons:
            addons.append(addon)
    chosen = tuple(
        item
        for item in items
        if item.id == package or (item.kind != PACKAGE and not item.optional) or item.id in addons
    )
    if not chosen:
        raise ApplicationError(
            "Choose at least one item of the quote.",
            code="choice_empty",
            fields={"addon_ids": ["Nothing chosen."]},
        )
    ordered_addons = tuple(item.id for item in items if item.id in addons)
    return Choice(package_id=package, addon_ids=ordered_addons, items=chosen)


def choice_default(items: Sequence[QuoteItem]) -> tuple[uuid.UUID | None, tuple[uuid.UUID, ...]]:
    """The studio's pre-selection: (its package or None, its pre-ticked add-ons)."""
    package = next((i.id for i in items if i.kind == PACKAGE and i.selected), None)
    if package is None:
        package = next((i.id for i in items if i.kind == PACKAGE), None)
    addons = tuple(i.id for i in items if i.kind != PACKAGE and i.optional and i.selected)
    return package, addons


def lines_of(items: Iterable[QuoteItem], *, studio_id: uuid.UUID) -> list[InvoiceLine]:
    """Unsaved invoice line rows of quote items (for the pure computation, or to compare)."""
    return [
        InvoiceLine(
            studio_id=studio_id,
            position=index,
            catalogue_item_id=item.catalogue_item_id,
            name=item.name,
            description=item.description,
            quantity=item.quantity,
            unit_price=item.unit_price,
            discount_percent=item.discount_percent,
            discount_amount=item.discount_amount,
            taxes=list(item.taxes or []),
        )
        for index, item in enumerate(items)
    ]


def items_compute(
    quote: Quote, items: Sequence[QuoteItem], *, rounding: str | None = None
) -> pricing.Totals:
    """The totals of these items with the quote's discount, as its invoice would have them."""
    return lines_compute(
        lines_of(items, studio_id=quote.studio_id),
        discount_percent=quote.discount_percent,
        discount_amount=quote.discount_amount,
        rounding=rounding or rounding_of(quote.studio),
    )
