"""The client's side of a quote: what a choice costs, accepting it, declining it.

Accepting is one transaction, so "accepted" and "invoiced" are never seen apart:

1. Before it (each committed on its own when the caller has no transaction open): the
   studio's settings, the invoice number counter of this year, and the ledger accounts the
   invoice will post to (revenue per catalogue item, tax payable per rate). ``invoice_issue``
   makes these before its own transaction for a reason (made inside, an issue rolled back
   leaves InnoDB deadlocking whoever queued behind the insert); called inside ours it finds
   them made. Its receivable account is the new invoice's own, which nobody else can be
   inserting. (The client's page should call this outside a request transaction for the same
   reason; inside one it still works, only without that protection.)
2. One transaction, under the quote's row lock (``SELECT ... FOR UPDATE``): the quote is
   sent (409 ``quote_accepted`` the second time, ``quote_declined``, ``quote_withdrawn``,
   ``quote_draft``) and not expired (409 ``quote_expired``: ``expires_on`` before today in
   the studio's zone); the typed name (400 ``accepted_name_required``); the choice (400
   ``package_required``, ``choice_invalid``, ``choice_empty``). Then the invoice: a draft of
   the chosen items with the quote's discount, schedule and terms, issued at once
   (``invoice_issue``: its own atomic block is a savepoint here) with the source key
   ``quote:<id>`` (unique per studio, so even without the lock a second invoice could not be
   written). The quote records who accepted, when, from which address and browser, and what
   they chose, and links the invoice; the job moves to ``accept_stage``; ``quote_accepted``
   goes on the timelines.

Two clients accepting at once queue on the quote's lock: the second finds it accepted (409)
and writes nothing. Any failure (a schedule the event date no longer allows, a refused
posting) rolls the whole acceptance back: the quote is still sent and the client may try
again. The only step allowed to fail without undoing the rest is moving the job (a stage
removed or a job moved to another pipeline since the quote was written): the client's
acceptance stands and the studio moves the job by hand.

Lock order: the quote, then what ``invoice_issue`` takes (the new invoice, the counter, the
ledger's accounts), then the job's pipeline and the job (``job_stage_change``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import zoneinfo
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing import pricing
from billing.models import DocumentCounter, Invoice, Quote, QuoteItem
from billing.services.invoices import LineInput, counter_ready, invoice_create, invoice_issue
from billing.services.invoices.common import revenue_account, tax_account, today_of
from billing.services.quotes.common import (
    State,
    choice_resolve,
    items_compute,
    quote_locked,
    state_check,
)
from billing.services.wallets import billing_settings_get
from crm.models import Contact, Job, Stage
from crm.services.jobs import job_stage_change
from crm.services.timeline import timeline_record
from picpick.core.errors import ApplicationError, Conflict

logger = logging.getLogger("billing.quotes")

MAX_NAME = 200
MAX_REASON = 300
MAX_USER_AGENT = 300


def quote_totals(
    *, quote: Quote, package_id: Any = None, addon_ids: Iterable[Any] = ()
) -> pricing.Totals:
    """What the client would pay for this choice (400 ``package_required``,
    ``choice_invalid``, ``choice_empty``), computed as its invoice would be."""
    items = list(quote.items.all())
    choice = choice_resolve(items, package_id=package_id, addon_ids=addon_ids)
    return items_compute(quote, choice.items)


def _same_currency(item: QuoteItem, currency: str) -> bool:
    return item.catalogue_item is not None and item.catalogue_item.currency == currency


def _accept_ready(quote: Quote, today: dt.date) -> None:
    """What the invoice's issue would otherwise make inside the acceptance (see the module)."""
    studio = quote.studio
    billing_settings_get(studio=studio)
    counter_ready(studio=studio, series=DocumentCounter.Series.INVOICE, year=today.year)
    items = list(quote.items.select_related("catalogue_item"))
    revenue_account(studio=studio, currency=quote.currency, item_id=None)
    for item_id in {i.catalogue_item_id for i in items if _same_currency(i, quote.currency)}:
        revenue_account(studio=studio, currency=quote.currency, item_id=item_id)
    for name, rate in {(t["name"], str(t["rate"])) for i in items for t in i.taxes or []}:
        tax_account(studio=studio, currency=quote.currency, name=name, rate=rate)


def _line(item: QuoteItem, currency: str) -> LineInput:
    # A catalogue item repriced in another currency since: the line keeps the quote's figures
    # and books to plain revenue (the invoice's line builder would refuse the mismatch).
    return LineInput(
        name=item.name,
        description=item.description,
        unit_price=item.unit_price,
        quantity=item.quantity,
        discount_percent=item.discount_percent,
        discount_amount=item.discount_amount,
        taxes=list(item.taxes or []),
        catalogue_item_id=item.catalogue_item_id if _same_currency(item, currency) else None,
    )


def _contact_now(contact: Contact) -> Contact:
    """The contact, or the one it was merged into since the quote was written."""
    for _ in range(10):
        if contact.merged_into_id is None:
            break
        contact = Contact.objects.get(pk=contact.merged_into_id)
    return contact


def _event_date(job: Job | None, studio) -> dt.date | None:
    if job is None or job.event_start is None:
        return None
    name = job.event_timezone or getattr(studio, "timezone", "") or "UTC"
    try:
        zone = zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return job.event_start.astimezone(zone).date()


def _address(value: Any) -> str | None:
    try:
        return str(ipaddress.ip_address(str(value).strip())) if value else None
    except ValueError:
        return None


def quote_accept(
    *,
    quote: Quote,
    accepted_name: str,
    address: str | None,
    user_agent: str,
    package_id: Any = None,
    addon_ids: Iterable[Any] = (),
    now: dt.datetime | None = None,
) -> Invoice:
    """Accept a sent quote for the client with this choice: the invoice is made and issued
    with its schedule, the job moved (see the module). Returns the issued invoice."""
    studio = quote.studio
    now = now or timezone.now()
    today = today_of(studio, now)
    if Quote.objects.filter(pk=quote.pk, state=State.SENT).exists():  # else refused below
        _accept_ready(quote, today)
    with transaction.atomic():
        row = quote_locked(quote)
        row.studio = studio
        state_check(row, allowed=(State.SENT,))
        if row.expires_on is not None and row.expires_on < today:
            raise Conflict("This quote has expired.", code="quote_expired")
        name = (accepted_name or "").strip()
        if not name or len(name) > MAX_NAME:
            raise ApplicationError(
                "Type your full name to accept the quote.",
                code="accepted_name_required",
                fields={"accepted_name": [f"1 to {MAX_NAME} characters."]},
            )
        items = list(row.items.select_related("catalogue_item"))
        choice = choice_resolve(items, package_id=package_id, addon_ids=addon_ids)
        invoice = invoice_create(
            studio=studio,
            contact=_contact_now(row.contact),
            job=row.job,
            currency=row.currency,
            source_key=f"quote:{row.id}",
            lines=[_line(item, row.currency) for item in choice.items],
            title=row.title,
            notes=f"Quote {row.number}",
            language=row.language,
            event_date=_event_date(row.job, studio),
            due_date=(
                today + dt.timedelta(days=row.payment_terms_days)
                if row.payment_terms_days is not None
                else None
            ),
            discount_percent=row.discount_percent,
            discount_amount=row.discount_amount,
            schedule=list(row.schedule or []),
        )
        invoice = invoice_issue(invoice=invoice, issue_date=today, now=now)
        row.state = State.ACCEPTED
        row.accepted_at = now
        row.accepted_name = name
        row.accepted_address = _address(address)
        row.accepted_user_agent = (user_agent or "")[:MAX_USER_AGENT]
        row.accepted_choice = choice.as_json()
        row.invoice = invoice
        row.save(
            update_fields=[
                "state",
                "accepted_at",
                "accepted_name",
                "accepted_address",
                "accepted_user_agent",
                "accepted_choice",
                "invoice",
                "updated_at",
            ]
        )
        _job_move(row)
        timeline_record(
            studio=studio,
            kind="quote_accepted",
            payload={
                "quote_id": str(row.id),
                "number": row.number or "",
                "accepted_name": name,
                "invoice_id": str(invoice.id),
            },
            job=row.job,
            contact=row.contact,
            occurred_at=now,
        )
    logger.info("quote %s accepted: invoice %s", row.id, invoice.number)
    return invoice


def _job_move(quote: Quote) -> None:
    """The job to the stage the studio chose; a move no longer possible is logged, not a
    refusal of the client's acceptance (its savepoint undoes whatever it began)."""
    if quote.accept_stage_id is None or quote.job_id is None:
        return
    job, stage = quote.job, quote.accept_stage
    if stage.pipeline_id != job.pipeline_id or stage.kind == Stage.Kind.LOST:
        logger.warning("quote %s accepted: job %s not moved (stage %s)", quote.id, job.id, stage.id)
        return
    job.studio = quote.studio
    try:
        job_stage_change(job=job, stage=stage, by=None)
    except ApplicationError as exc:
        logger.warning("quote %s accepted: job %s not moved (%s)", quote.id, job.id, exc.code)


def quote_decline(*, quote: Quote, reason: str = "", now: dt.datetime | None = None) -> Quote:
    """The client declines a sent quote (with a reason, maybe). 409 with the code of a quote
    not sent (``quote_accepted``, ``quote_declined``, ``quote_withdrawn``, ``quote_draft``)."""
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise ApplicationError(
            f"A reason is at most {MAX_REASON} characters.",
            code="invalid",
            fields={"reason": [f"At most {MAX_REASON} characters."]},
        )
    with transaction.atomic():
        row = quote_locked(quote)
        state_check(row, allowed=(State.SENT,))
        row.state = State.DECLINED
        row.declined_at = now or timezone.now()
        row.decline_reason = reason
        row.save(update_fields=["state", "declined_at", "decline_reason", "updated_at"])
        timeline_record(
            studio=row.studio,
            kind="quote_declined",
            payload={"quote_id": str(row.id), "number": row.number or "", "reason": reason},
            job=row.job,
            contact=row.contact,
        )
    logger.info("quote %s declined", row.id)
    return row


__all__ = ["quote_accept", "quote_decline", "quote_totals"]
