"""Writing a quote: made as a draft, changed while a draft or sent (a sent quote stays sent:
the client's link shows the new version), deleted while a draft.

Items are checked exactly as invoice lines are (the invoices' line builder and the pure
computation, so a float price, a negative quantity or a tax above 100% are the same 400
codes, with ``items[i]`` in place of ``lines[i]``). The quote-level discount and the schedule
are checked against every base choice the client can make (each package with the required
items; the add-ons only add to it), so no choice the page offers fails when accepted for a
reason the studio could have seen when writing it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from accounts.models import Studio, User
from billing.models import CatalogueItem, Quote, QuoteItem
from billing.services.invoices import LineInput, lines_compute, parts_check
from billing.services.invoices.common import (
    contact_check,
    currency_of,
    decimal_in,
    job_check,
    rounding_of,
)
from billing.services.invoices.drafts import _lines_build
from billing.services.invoices.schedules import split
from billing.services.quotes.common import PACKAGE, items_compute, open_check, quote_locked
from crm.models import Contact, Job, Stage
from picpick.core.errors import ApplicationError, Conflict, NotFound

MAX_ITEMS = 100
MAX_TITLE = 200
MAX_MESSAGE = 5000
MAX_TERMS_DAYS = 365
KINDS = frozenset(CatalogueItem.Kind.values)


@dataclass(frozen=True)
class QuoteItemInput:
    """One item as asked for: an invoice line's fields (see ``LineInput``: a catalogue item
    fills what is not given) and its place in the client's choice.

    ``kind``: "package" (the client picks one of the quote's packages) or "item"; None takes
    the catalogue item's kind, else "item". ``optional`` (items only): an add-on the client may
    tick; None takes the catalogue item's, else False. ``selected``: the pre-selection (the
    package the page starts on, the add-ons pre-ticked); a required item is always in.
    """

    name: str | None = None
    unit_price: Any = None
    quantity: Any = 1
    description: str | None = None
    discount_percent: Any = None
    discount_amount: Any = None
    taxes: list[dict] | None = None
    tax_rate_ids: Sequence[uuid.UUID] | None = None
    catalogue_item_id: uuid.UUID | None = None
    kind: str | None = None
    optional: bool | None = None
    selected: bool | None = None

    def line(self) -> LineInput:
        return LineInput(
            name=self.name,
            unit_price=self.unit_price,
            quantity=self.quantity,
            description=self.description,
            discount_percent=self.discount_percent,
            discount_amount=self.discount_amount,
            taxes=self.taxes,
            tax_rate_ids=self.tax_rate_ids,
            catalogue_item_id=self.catalogue_item_id,
        )


@contextlib.contextmanager
def _as_items() -> Iterator[None]:
    """The invoice line checks' errors, naming ``items[i]`` instead of ``lines[i]``."""
    try:
        yield
    except ApplicationError as exc:
        exc.fields = {
            ("items" + key[len("lines") :] if key.startswith("lines[") else key): value
            for key, value in exc.fields.items()
        }
        raise


def _item_invalid(message: str, index: int, field: str) -> ApplicationError:
    return ApplicationError(
        message, code="item_invalid", fields={f"items[{index}].{field}": [message]}
    )


def items_build(
    *, studio: Studio, currency: str, items: Sequence[QuoteItemInput]
) -> list[QuoteItem]:
    """Unsaved item rows, resolved (catalogue, tax rates) and checked line by line."""
    if not isinstance(items, list | tuple):
        raise ApplicationError("items is a list.", code="invalid", fields={"items": ["A list."]})
    if len(items) > MAX_ITEMS:
        raise ApplicationError(
            f"A quote has at most {MAX_ITEMS} items.",
            code="too_many_items",
            fields={"items": [f"At most {MAX_ITEMS}."]},
        )
    for index, item in enumerate(items):
        if item.kind is not None and item.kind not in KINDS:
            raise _item_invalid('kind is "package" or "item".', index, "kind")
    with _as_items():
        rows = _lines_build(studio=studio, currency=currency, lines=[i.line() for i in items])
        lines_compute(
            rows, discount_percent=None, discount_amount=None, rounding=rounding_of(studio)
        )
    built: list[QuoteItem] = []
    for index, (item, row) in enumerate(zip(items, rows, strict=True)):
        catalogue = row.catalogue_item
        kind = item.kind or (catalogue.kind if catalogue is not None else CatalogueItem.Kind.ITEM)
        if kind == PACKAGE:
            if item.optional:
                raise _item_invalid(
                    "A package is one of the alternatives, never an optional add-on.",
                    index,
                    "optional",
                )
            optional = False
        elif item.optional is not None:
            optional = bool(item.optional)
        else:
            optional = bool(catalogue.optional) if catalogue is not None else False
        selected = bool(item.selected) if (kind == PACKAGE or optional) else True
        built.append(
            QuoteItem(
                studio=studio,
                catalogue_item=catalogue,
                kind=kind,
                optional=optional,
                selected=selected,
                position=index,
                name=row.name,
                description=row.description,
                quantity=row.quantity,
                unit_price=row.unit_price,
                discount_percent=decimal_in(
                    row.discount_percent,
                    field=f"items[{index}].discount_percent",
                    code="discount_invalid",
                    places=4,
                ),
                discount_amount=row.discount_amount,
                taxes=row.taxes,
            )
        )
    packages = [row for row in built if row.kind == PACKAGE]
    if sum(1 for row in packages if row.selected) > 1:
        raise ApplicationError(
            "At most one package is pre-selected.",
            code="choice_invalid",
            fields={"items": ["At most one package with selected: true."]},
        )
    if packages and not any(row.selected for row in packages):
        packages[0].selected = True
    return built


def _bases(items: Sequence[QuoteItem]) -> list[list[QuoteItem]]:
    """Every choice the client can make without add-ons: each package with the required
    items, or the required items alone when there is no package."""
    required = [i for i in items if i.kind != PACKAGE and not i.optional]
    packages = [i for i in items if i.kind == PACKAGE]
    if not packages:
        return [required] if required else []
    return [sorted([p, *required], key=lambda i: i.position) for p in packages]


def quote_check(quote: Quote, items: Sequence[QuoteItem]) -> None:
    """The quote's discount and schedule against each base choice (400 with the computation's
    code: ``discount_exceeds_total``, ``schedule_exceeds_total``, ...)."""
    specs = parts_check(quote.schedule)
    rounding = rounding_of(quote.studio)
    for base in _bases(items):
        totals = items_compute(quote, base, rounding=rounding)
        if specs and totals.total > 0:
            split(totals.total, specs, rounding=rounding)


_FIELDS = {
    "title",
    "message",
    "language",
    "expires_on",
    "accept_stage",
    "schedule",
    "payment_terms_days",
    "discount_percent",
    "discount_amount",
    "job",
}


def _invalid(name: str, message: str, code: str = "invalid") -> ApplicationError:
    return ApplicationError(message, code=code, fields={name: [message]})


def _fields_check(changes: dict[str, Any], *, studio: Studio) -> dict[str, Any]:
    unknown = set(changes) - _FIELDS
    if unknown:
        raise ApplicationError(f"Unknown fields: {sorted(unknown)}.", code="invalid")
    out = dict(changes)
    if "title" in out:
        out["title"] = (out["title"] or "").strip()
        if not out["title"] or len(out["title"]) > MAX_TITLE:
            raise _invalid("title", f"A title of 1 to {MAX_TITLE} characters.", "title_required")
    for name, limit in (("message", MAX_MESSAGE), ("language", 20)):
        if name in out:
            out[name] = (out[name] or "").strip()
            if len(out[name]) > limit:
                raise _invalid(name, f"At most {limit} characters.")
    expires_on = out.get("expires_on")
    if expires_on is not None and (
        not isinstance(expires_on, dt.date) or isinstance(expires_on, dt.datetime)
    ):
        raise _invalid("expires_on", "A date.")
    if "schedule" in out:
        parts_check(out["schedule"] or [])
        out["schedule"] = list(out["schedule"] or [])
    if "payment_terms_days" in out and out["payment_terms_days"] is not None:
        days = out["payment_terms_days"]
        if type(days) is not int or not 0 <= days <= MAX_TERMS_DAYS:
            raise _invalid("payment_terms_days", f"Whole days from 0 to {MAX_TERMS_DAYS}.")
    if "discount_percent" in out:
        out["discount_percent"] = decimal_in(
            out["discount_percent"], field="discount_percent", code="discount_invalid", places=4
        )
    amount = out.get("discount_amount")
    if amount is not None and (type(amount) is not int or amount < 0):
        raise _invalid(
            "discount_amount", "An integer of minor units, 0 or more.", "discount_invalid"
        )
    if out.get("discount_percent") is not None and out.get("discount_amount") is not None:
        raise _invalid(
            "discount_amount", "A discount is a percent or an amount, not both.", "discount_invalid"
        )
    if "job" in out:
        job_check(studio=studio, job=out["job"])
    if out.get("accept_stage") is not None and not isinstance(out["accept_stage"], Stage):
        raise _invalid("accept_stage", "A stage.")
    return out


def _stage_check(quote: Quote) -> None:
    """The stage the job moves to once accepted: a stage of the job's pipeline (404
    ``stage_not_found`` otherwise), never a lost one; it needs a job."""
    stage: Stage | None = quote.accept_stage
    if stage is None:
        return
    job: Job | None = quote.job
    if job is None:
        raise _invalid(
            "accept_stage", "Only a quote on a job moves a job's stage.", "accept_stage_needs_job"
        )
    if stage.studio_id != quote.studio_id or stage.pipeline_id != job.pipeline_id:
        raise NotFound(
            "No such stage in the job's pipeline.",
            code="stage_not_found",
            fields={"accept_stage": ["A stage of the job's pipeline."]},
        )
    if stage.kind == Stage.Kind.LOST:
        raise _invalid(
            "accept_stage",
            "An accepted quote does not move the job to a lost stage.",
            "accept_stage_invalid",
        )


def quote_create(
    *,
    studio: Studio,
    contact: Contact,
    title: str,
    items: Sequence[QuoteItemInput],
    job: Job | None = None,
    currency: str | None = None,
    message: str = "",
    language: str = "",
    expires_on: dt.date | None = None,
    accept_stage: Stage | None = None,
    schedule: list | None = None,
    payment_terms_days: int | None = None,
    discount_percent: Any = None,
    discount_amount: int | None = None,
    by: User | None = None,
) -> Quote:
    """A draft quote with its items (nothing is numbered or sent until ``quote_send``)."""
    contact_check(studio=studio, contact=contact)
    job_check(studio=studio, job=job)
    currency = currency_of(studio=studio, currency=currency)
    fields = _fields_check(
        {
            "title": title,
            "message": message,
            "language": language,
            "expires_on": expires_on,
            "accept_stage": accept_stage,
            "schedule": schedule or [],
            "payment_terms_days": payment_terms_days,
            "discount_percent": discount_percent,
            "discount_amount": discount_amount,
        },
        studio=studio,
    )
    quote = Quote(
        studio=studio,
        contact=contact,
        job=job,
        currency=currency,
        state=Quote.State.DRAFT,
        created_by=by if by is not None and by.is_authenticated else None,
        **fields,
    )
    _stage_check(quote)
    rows = items_build(studio=studio, currency=currency, items=items)
    quote_check(quote, rows)
    with transaction.atomic():
        quote.save()
        for row in rows:
            row.quote = quote
        QuoteItem.objects.bulk_create(rows)
    return quote


def quote_update(
    *,
    quote: Quote,
    items: Sequence[QuoteItemInput] | None = None,
    by: User | None = None,
    **changes: Any,
) -> Quote:
    """Change a draft or sent quote (409 ``quote_closed`` once accepted, declined or
    withdrawn; a sent one stays sent). ``items`` replaces them all; giving one of
    ``discount_percent`` / ``discount_amount`` clears the other. The contact and the currency
    are the quote's for good (write a new quote for another)."""
    studio = quote.studio
    changes = _fields_check(changes, studio=studio)
    with transaction.atomic():
        row = quote_locked(quote)
        open_check(row)
        if changes.get("discount_percent") is not None:
            changes.setdefault("discount_amount", None)
        if changes.get("discount_amount") is not None:
            changes.setdefault("discount_percent", None)
        for name, value in changes.items():
            setattr(row, name, value)
        _stage_check(row)
        if items is not None:
            rows = items_build(studio=studio, currency=row.currency, items=items)
        else:
            rows = list(row.items.all())
        quote_check(row, rows)
        row.save()
        if items is not None:
            row.items.all().delete()
            for item in rows:
                item.quote = row
            QuoteItem.objects.bulk_create(rows)
    return row


def quote_delete(*, quote: Quote, by: User | None = None) -> None:
    """Delete a draft (a sent quote is withdrawn instead: 409 ``quote_not_draft``)."""
    with transaction.atomic():
        row = quote_locked(quote)
        if row.state != Quote.State.DRAFT:
            raise Conflict(
                "Only a draft is deleted; withdraw a sent quote.", code="quote_not_draft"
            )
        row.items.all().delete()
        row.delete()
