"""A one-off invoice with one instalment due now: what another service asks for when it needs
money for its own request (a booking's deposit). Keyed by the caller (``source_key``, e.g.
``booking:<id>:deposit``): the same key again returns the same invoice, issued once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.db import IntegrityError

from accounts.models import Studio, User
from billing.models import Invoice
from billing.services.invoices.drafts import LineInput, invoice_create
from billing.services.invoices.issue import invoice_issue
from crm.models import Contact, Job
from picpick.core.errors import ApplicationError


def invoice_one_off(
    *,
    studio: Studio,
    contact: Contact,
    name: str,
    amount: int,
    source_key: str,
    currency: str | None = None,
    description: str = "",
    tax_rate_ids: Sequence[uuid.UUID] | None = None,
    job: Job | None = None,
    label: str = "Deposit",
    by: User | None = None,
) -> Invoice:
    """An issued invoice of one line (``amount`` in minor units, taxes as given) with one
    instalment due today. Pay it with ``invoice_pay`` (the client's page does)."""
    source_key = (source_key or "").strip()
    if not source_key or len(source_key) > 200:
        raise ApplicationError("A one-off invoice needs its caller's key.", code="invalid")
    found = Invoice.objects.filter(studio=studio, source_key=source_key).first()
    if found is None:
        try:
            found = invoice_create(
                studio=studio,
                contact=contact,
                job=job,
                currency=currency,
                source_key=source_key,
                title=name,
                lines=[
                    LineInput(
                        name=name,
                        description=description,
                        unit_price=amount,
                        quantity=1,
                        tax_rate_ids=tax_rate_ids,
                    )
                ],
                schedule=[{"label": label, "balance": True, "due": {"on": "issue"}}],
                by=by,
            )
        except IntegrityError:  # the same key raced in: the winner's invoice
            found = Invoice.objects.get(studio=studio, source_key=source_key)
    if found.number is None:
        try:
            found = invoice_issue(invoice=found, by=by)
        except ApplicationError as exc:
            if exc.code != "invoice_not_draft":
                raise
            found.refresh_from_db()
    return found
