"""The studio's tax rates and catalogue (the packages and items it sells): every write.

Quotes and invoices copy what they take from here. A line keeps the item's name and price and
a copy of each tax (``tax_copies``: name, rate, inclusive, compound), so changing or archiving
a rate or an item never changes a document already written. Archiving hides a rate or an item
from new picks; nothing is deleted (documents may still point at an item, and a catalogue item
keeps the rates it has, archived or not, until it is edited).

Rates are percents from 0 to 100 with at most 4 decimals ("9.975"), given as a ``Decimal``, an
``int`` or a plain decimal string, never a float (a float cannot hold 9.975 exactly): the rule
of ``billing.pricing``, so whatever is stored here can be computed with. An item's taxes obey
that module's line rules too: all exclusive or all inclusive (``tax_mixed``), inclusive ones
adding up to 100% at most.

A rate's name is unique among the studio's active rates of the same rate: two active "VAT 20%"
cannot be told apart in a picker, while "VAT" at 20 and at 5.5 are two rates. MariaDB has no
partial unique index to say that, so every write here first takes the row lock of the
studio's billing settings, then the rate or item rows: two writes racing run one after the
other, so no duplicate name slips through and new items' positions are given in turn.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max

from accounts.models import Studio, User
from billing.models import BillingSettings, CatalogueItem, TaxRate
from billing.money import currency_valid
from billing.services.wallets import amount_check, billing_settings_get, text_clean
from picpick.core.errors import ApplicationError, Conflict, NotFound, Unprocessable

logger = logging.getLogger(__name__)

RATE_PLACES = 4
MAX_RATE = 100
MAX_TAX_NAME = TaxRate._meta.get_field("name").max_length
MAX_REGION = TaxRate._meta.get_field("region").max_length
MAX_ITEM_NAME = CatalogueItem._meta.get_field("name").max_length
MAX_DESCRIPTION = 5000
MAX_ITEM_TAXES = 10
# The most active items a studio's catalogue holds (a reorder lists them all).
MAX_CATALOGUE_ITEMS = 1000

# A plain decimal: digits, optionally a point and digits (a minus is read to refuse it with a
# clear message). No exponent, no grouping, no spaces.
_PLAIN = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,20})?")
_COUNTRY = re.compile(r"[A-Z]{2}")
_QUANT = Decimal(1).scaleb(-RATE_PLACES)

_TAX_RATE_FIELDS = frozenset(
    {"name", "rate", "inclusive", "compound", "country", "region", "archived"}
)
_ITEM_FIELDS = frozenset(
    {
        "kind",
        "name",
        "description",
        "unit_price",
        "currency",
        "tax_rate_ids",
        "optional",
        "archived",
    }
)


# --- input checks ---------------------------------------------------------------------------


def _rate_error(message: str, field: str) -> ApplicationError:
    return ApplicationError(message, code="tax_rate_invalid", fields={field: [message]})


def rate_read(value: Any, *, field: str = "rate") -> Decimal:
    """A tax rate as the exact ``Decimal`` stored (4 places), or the 400 ``tax_rate_invalid``.

    Read: an ``int``, a finite ``Decimal``, a plain decimal string ("20", "9.975"); from 0 to
    100 with at most 4 decimals, trailing zeros not counted ("5.50000" is 5.5). Refused: a
    float, a bool, anything else, more decimals (never rounded).
    """
    if isinstance(value, float):
        raise _rate_error(
            'Send the rate as a decimal string such as "9.975" (or an integer), not a number '
            "with a fraction: a float cannot hold it exactly.",
            field,
        )
    if type(value) is int:
        number = Decimal(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise _rate_error("A rate is a finite number.", field)
        number = value
    elif isinstance(value, str):
        if _PLAIN.fullmatch(value) is None:
            raise _rate_error(f"{value[:40]!r} is not a plain decimal rate like 9.975.", field)
        number = Decimal(value)
    else:
        raise _rate_error("A rate is a decimal string or an integer percent.", field)
    if number < 0 or number > MAX_RATE:
        raise _rate_error(f"A rate is a percent from 0 to {MAX_RATE}.", field)
    # ``as_integer_ratio`` is exact whatever the decimal context; a tiny value written with a
    # huge exponent ("1E-999999999") is refused before it can build a huge denominator.
    too_precise = f"A rate has at most {RATE_PLACES} decimals; it is never rounded."
    if number and number.adjusted() < -RATE_PLACES:
        raise _rate_error(too_precise, field)
    numerator, denominator = number.as_integer_ratio()
    if (numerator * 10**RATE_PLACES) % denominator:
        raise _rate_error(too_precise, field)
    return number.quantize(_QUANT)


def rate_text(rate: Decimal) -> str:
    """A stored rate as the shortest plain decimal string: ``20``, ``9.975``, ``0``."""
    return format(rate.normalize(), "f")


def _flag(value: Any, *, field: str) -> bool:
    if type(value) is not bool:
        raise ApplicationError(
            f"{field} is true or false.", code="invalid", fields={field: ["A boolean."]}
        )
    return value


def _country(value: Any) -> str:
    if value is None:
        value = ""
    if isinstance(value, str):
        value = value.strip().upper()
    if not isinstance(value, str) or (value and not _COUNTRY.fullmatch(value)):
        raise ApplicationError(
            "country is a two-letter ISO 3166 code (or empty).",
            code="invalid",
            fields={"country": ["Two letters, like FR."]},
        )
    return value


def _unit_price(value: Any) -> int:
    """An ``int`` of minor units from 0 (an item given free) to ``MAX_MINOR``; the amount
    codes of ``amount_check`` otherwise (``amount_float`` for a float)."""
    if type(value) is int and value == 0:
        return 0
    return amount_check(value, field="unit_price")


def _currency(value: Any) -> str:
    if not currency_valid(value):
        raise ApplicationError(
            f"Unknown currency {str(value)[:10]!r}; use an upper-case ISO 4217 code.",
            code="currency_unknown",
            fields={"currency": ["Unknown currency."]},
        )
    return value


def _unknown_check(fields: Iterable[str], allowed: frozenset[str]) -> None:
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ApplicationError(f"Unknown fields: {unknown}.", code="invalid")


def _studio_lock(studio: Studio) -> None:
    """The studio's catalogue lock: its billing settings row (made if new)."""
    settings_id = billing_settings_get(studio=studio).id
    BillingSettings.objects.select_for_update().filter(id=settings_id).values_list("id").get()


# --- tax rates ------------------------------------------------------------------------------

_TAX_RATE_NEW = {
    "name": "",
    "rate": None,
    "inclusive": False,
    "compound": False,
    "country": "",
    "region": "",
    "archived": False,
}


def tax_rate_check(
    *, studio: Studio, tax_rate: TaxRate | None = None, **fields: Any
) -> dict[str, Any]:
    """The values a create (``tax_rate`` None) or an update of ``tax_rate`` with ``fields``
    would write, every rule checked, the errors those writes answer raised; nothing written
    or locked. For a form that shows errors before it saves (the admin): the write checks
    again under the studio's lock."""
    _unknown_check(fields, _TAX_RATE_FIELDS)
    if tax_rate is None:
        current = dict(_TAX_RATE_NEW)
    else:
        current = {name: getattr(tax_rate, name) for name in _TAX_RATE_FIELDS}
    values = _tax_rate_values({**current, **fields})
    if not values["archived"]:
        same = TaxRate.objects.filter(
            studio=studio, archived=False, name__iexact=values["name"], rate=values["rate"]
        )
        if tax_rate is not None:
            same = same.exclude(id=tax_rate.id)
        if same.exists():
            raise Conflict(
                f"The studio already has an active tax rate {values['name']} at "
                f"{rate_text(values['rate'])}%.",
                code="tax_rate_exists",
                fields={"name": ["Already used for this rate."]},
            )
    return values


def _tax_rate_values(values: dict[str, Any]) -> dict[str, Any]:
    checked = {
        "name": text_clean(values["name"], field="name", max_length=MAX_TAX_NAME, required=True),
        "rate": rate_read(values["rate"]),
        "inclusive": _flag(values["inclusive"], field="inclusive"),
        "compound": _flag(values["compound"], field="compound"),
        "country": _country(values["country"]),
        "region": text_clean(values["region"], field="region", max_length=MAX_REGION),
        "archived": _flag(values["archived"], field="archived"),
    }
    if checked["inclusive"] and checked["compound"]:
        raise ApplicationError(
            "A compound tax cannot be included in prices: it is levied on the other taxes.",
            code="tax_mixed",
            fields={"compound": ["Not with inclusive."]},
        )
    return checked


@transaction.atomic
def tax_rate_create(
    *,
    studio: Studio,
    name: str,
    rate: Decimal | int | str,
    inclusive: bool = False,
    compound: bool = False,
    country: str = "",
    region: str = "",
    by: User | None = None,
) -> TaxRate:
    """A new active tax rate of the studio (see the module for the rules)."""
    _studio_lock(studio)
    values = tax_rate_check(
        studio=studio,
        name=name,
        rate=rate,
        inclusive=inclusive,
        compound=compound,
        country=country,
        region=region,
    )
    row = TaxRate.objects.create(studio=studio, **values)
    logger.info(
        "tax rate created",
        extra={"studio": str(studio.id), "tax_rate": str(row.id), "by": _who(by)},
    )
    return row


@transaction.atomic
def tax_rate_update(*, tax_rate: TaxRate, by: User | None = None, **fields: Any) -> TaxRate:
    """Change the fields given (``name``, ``rate``, ``inclusive``, ``compound``, ``country``,
    ``region``, ``archived``: false restores an archived rate); the whole result is checked
    as on create.

    It makes no difference to documents already written: quote and invoice lines keep their
    own copy of the rate (``tax_copies``). Catalogue items that have this rate use the new
    figures on the documents written from then on.
    """
    _unknown_check(fields, _TAX_RATE_FIELDS)
    studio = tax_rate.studio
    _studio_lock(studio)
    row = TaxRate.objects.select_for_update().get(id=tax_rate.id, studio=studio)
    row.studio = studio
    values = tax_rate_check(studio=studio, tax_rate=row, **fields)
    changed = sorted(name for name, value in values.items() if getattr(row, name) != value)
    for name in changed:
        setattr(row, name, values[name])
    if changed:
        row.save(update_fields=[*changed, "updated_at"])
        logger.info(
            "tax rate changed",
            extra={
                "studio": str(studio.id),
                "tax_rate": str(row.id),
                "fields": changed,
                "by": _who(by),
            },
        )
    return row


def tax_rate_archive(*, tax_rate: TaxRate, by: User | None = None) -> TaxRate:
    """Hide the rate from new picks (again: no change). Documents keep their copies; catalogue
    items that have it keep it until they are edited."""
    return tax_rate_update(tax_rate=tax_rate, by=by, archived=True)


def tax_copies(rates: Iterable[TaxRate]) -> list[dict[str, Any]]:
    """The copies of ``rates`` a quote or invoice line keeps, in the order given:
    ``[{"name": "VAT", "rate": "20", "inclusive": False, "compound": False}]`` (the rate a
    plain decimal string, which ``billing.pricing.Tax`` reads exactly)."""
    return [
        {
            "name": rate.name,
            "rate": rate_text(rate.rate),
            "inclusive": rate.inclusive,
            "compound": rate.compound,
        }
        for rate in rates
    ]


# --- catalogue ------------------------------------------------------------------------------


def _tax_rates_for_item(
    *, studio: Studio, ids: Any, keep: frozenset[uuid.UUID] = frozenset()
) -> list[TaxRate]:
    """The studio's rates named by ``ids`` (duplicates once), checked to be usable together on
    a line. Any id not of the studio is the 404 ``tax_rate_not_found``; an archived rate is
    refused unless the item has it already (``keep``)."""
    if isinstance(ids, str | bytes) or not isinstance(ids, Iterable):
        raise ApplicationError(
            "tax_rate_ids is a list of tax rate ids.",
            code="invalid",
            fields={"tax_rate_ids": ["A list of ids."]},
        )
    wanted: list[uuid.UUID] = []
    for value in ids:
        try:
            rate_id = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
        except ValueError:
            raise _tax_rate_not_found() from None
        if rate_id not in wanted:
            wanted.append(rate_id)
    if len(wanted) > MAX_ITEM_TAXES:
        raise ApplicationError(
            f"An item has at most {MAX_ITEM_TAXES} taxes.",
            code="invalid",
            fields={"tax_rate_ids": [f"At most {MAX_ITEM_TAXES}."]},
        )
    found = {rate.id: rate for rate in TaxRate.objects.filter(studio=studio, id__in=wanted)}
    if len(found) != len(wanted):
        raise _tax_rate_not_found()
    rates = [found[rate_id] for rate_id in wanted]
    archived = [rate for rate in rates if rate.archived and rate.id not in keep]
    if archived:
        raise Conflict(
            f"The tax rate {archived[0]} is archived; restore it to use it.",
            code="tax_rate_archived",
            fields={"tax_rate_ids": ["Archived."]},
        )
    if len({rate.inclusive for rate in rates}) > 1:
        raise ApplicationError(
            "An item's taxes are all included in its price or all added to it, not both.",
            code="tax_mixed",
            fields={"tax_rate_ids": ["Mixes inclusive and exclusive taxes."]},
        )
    if sum((rate.rate for rate in rates if rate.inclusive), Decimal(0)) > MAX_RATE:
        raise _rate_error(
            f"The inclusive taxes of an item add up to {MAX_RATE}% at most.", "tax_rate_ids"
        )
    return rates


def _tax_rate_not_found() -> NotFound:
    return NotFound(
        "Tax rate not found.",
        code="tax_rate_not_found",
        fields={"tax_rate_ids": ["No such tax rate in this studio."]},
    )


_ITEM_NEW = {
    "kind": CatalogueItem.Kind.ITEM,
    "name": "",
    "description": "",
    "unit_price": None,
    "currency": None,
    "optional": False,
    "archived": False,
}


def catalogue_item_check(
    *, studio: Studio, item: CatalogueItem | None = None, **fields: Any
) -> tuple[dict[str, Any], list[TaxRate] | None]:
    """The values a create (``item`` None) or an update of ``item`` with ``fields`` would
    write, and its tax rates (None: an update that leaves them), every rule checked, the
    errors those writes answer raised; nothing written or locked. For a form that shows
    errors before it saves (the admin)."""
    _unknown_check(fields, _ITEM_FIELDS)
    given = {name: value for name, value in fields.items() if name != "tax_rate_ids"}
    if item is None:
        current = dict(_ITEM_NEW)
        if given.get("currency") is None:
            given["currency"] = billing_settings_get(studio=studio).currency
    else:
        current = {name: getattr(item, name) for name in _ITEM_NEW}
        if given.get("currency", item.currency) != item.currency and "unit_price" not in given:
            raise ApplicationError(
                "Give the unit_price in the new currency with it.",
                code="unit_price_required",
                fields={"unit_price": ["Required with a new currency."]},
            )
    values = {**current, **given}
    kind = values["kind"]
    if kind not in CatalogueItem.Kind.values:
        raise ApplicationError(
            f"kind is one of {CatalogueItem.Kind.values}.",
            code="invalid",
            fields={"kind": ["Unknown kind."]},
        )
    checked = {
        "kind": kind,
        "name": text_clean(values["name"], field="name", max_length=MAX_ITEM_NAME, required=True),
        "description": text_clean(
            values["description"], field="description", max_length=MAX_DESCRIPTION
        ),
        "unit_price": _unit_price(values["unit_price"]),
        "currency": _currency(values["currency"]),
        "optional": _flag(values["optional"], field="optional"),
        "archived": _flag(values["archived"], field="archived"),
    }
    rates = None
    if item is None or "tax_rate_ids" in fields:
        keep = frozenset() if item is None else frozenset(item.taxes.values_list("id", flat=True))
        rates = _tax_rates_for_item(studio=studio, ids=fields.get("tax_rate_ids", ()), keep=keep)
    return checked, rates


def _catalogue_room_check(studio: Studio) -> None:
    """Under the studio's lock: one more active item fits."""
    if CatalogueItem.objects.filter(studio=studio, archived=False).count() >= MAX_CATALOGUE_ITEMS:
        raise Conflict(
            f"A catalogue holds at most {MAX_CATALOGUE_ITEMS} active items; archive some.",
            code="catalogue_full",
        )


@transaction.atomic
def catalogue_item_create(
    *,
    studio: Studio,
    kind: str,
    name: str,
    description: str = "",
    unit_price: int,
    currency: str | None = None,
    tax_rate_ids: Sequence[uuid.UUID | str] = (),
    optional: bool = False,
    by: User | None = None,
) -> CatalogueItem:
    """A new active item at the end of the catalogue.

    ``unit_price`` is an ``int`` of minor units of ``currency`` (default: the studio's
    billing currency), 0 for an item given free. ``tax_rate_ids`` are the studio's active
    rates (another studio's: 404 ``tax_rate_not_found``, nothing written).
    """
    values, rates = catalogue_item_check(
        studio=studio,
        kind=kind,
        name=name,
        description=description,
        unit_price=unit_price,
        currency=currency,
        tax_rate_ids=tax_rate_ids,
        optional=optional,
    )
    _studio_lock(studio)
    _catalogue_room_check(studio)
    last = CatalogueItem.objects.filter(studio=studio).aggregate(last=Max("position"))["last"]
    item = CatalogueItem.objects.create(
        studio=studio, position=0 if last is None else last + 1, **values
    )
    item.taxes.set(rates or [])
    logger.info(
        "catalogue item created",
        extra={"studio": str(studio.id), "item": str(item.id), "by": _who(by)},
    )
    return item


@transaction.atomic
def catalogue_item_update(
    *, item: CatalogueItem, by: User | None = None, **fields: Any
) -> CatalogueItem:
    """Change the fields given (``kind``, ``name``, ``description``, ``unit_price``,
    ``currency``, ``tax_rate_ids``, ``optional``, ``archived``: false restores an archived item
    where it was); the whole result is checked as on create.

    A new ``currency`` comes with the ``unit_price`` in it (400 ``unit_price_required``): the
    same minor units in another currency are another price. Quotes and invoices already
    written keep their copies of the item.
    """
    studio = item.studio
    _studio_lock(studio)  # first, as every write here (a restore counts the active items)
    row = CatalogueItem.objects.select_for_update().get(id=item.id, studio=studio)
    row.studio = studio
    values, rates = catalogue_item_check(studio=studio, item=row, **fields)
    if row.archived and not values["archived"]:
        _catalogue_room_check(studio)
    changed = sorted(name for name, value in values.items() if getattr(row, name) != value)
    for name in changed:
        setattr(row, name, values[name])
    if changed:
        row.save(update_fields=[*changed, "updated_at"])
    if rates is not None and {rate.id for rate in rates} != set(
        row.taxes.values_list("id", flat=True)
    ):
        row.taxes.set(rates)
        changed.append("taxes")
    if changed:
        logger.info(
            "catalogue item changed",
            extra={
                "studio": str(studio.id),
                "item": str(row.id),
                "fields": changed,
                "by": _who(by),
            },
        )
    return row


def catalogue_item_archive(*, item: CatalogueItem, by: User | None = None) -> CatalogueItem:
    """Take the item off the catalogue (again: no change); documents keep their copies."""
    return catalogue_item_update(item=item, by=by, archived=True)


@transaction.atomic
def catalogue_reorder(
    *, studio: Studio, ids: Sequence[uuid.UUID], by: User | None = None
) -> list[CatalogueItem]:
    """Give the studio's active items the positions 0..n-1 in the order of ``ids``.

    ``ids`` names every active item exactly once (422 ``catalogue_set_mismatch`` otherwise): a
    partial list would leave the others' places ambiguous, and a client that missed an item
    added meanwhile must find out. Archived items keep their position.
    """
    _studio_lock(studio)
    items = {
        item.id: item
        for item in CatalogueItem.objects.select_for_update()
        .filter(studio=studio, archived=False)
        .order_by("id")
    }
    if len(ids) != len(set(ids)) or set(ids) != set(items):
        raise Unprocessable(
            "ids must list every active catalogue item exactly once.",
            code="catalogue_set_mismatch",
            fields={"ids": ["Must list every active item exactly once."]},
        )
    ordered = [items[item_id] for item_id in ids]
    moved = []
    for position, item in enumerate(ordered):
        if item.position != position:
            item.position = position
            moved.append(item)
    CatalogueItem.objects.bulk_update(moved, ["position"])
    logger.info(
        "catalogue reordered",
        extra={"studio": str(studio.id), "moved": len(moved), "by": _who(by)},
    )
    for item in ordered:
        item.studio = studio
    return ordered


def _who(by: User | None) -> str | None:
    return str(by.id) if by is not None else None
