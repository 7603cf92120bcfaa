"""Reads of card payments, scoped to the studio (another studio's row is a 404)."""

from __future__ import annotations

import uuid
from typing import Any

from accounts.models import Studio
from billing.models.payments import ConnectedAccount, Dispute, Payment, Refund
from picpick.core.errors import NotFound
from picpick.core.ids import uuid_or_404
from picpick.core.pagination import Page, paginate
from picpick.core.selectors import studio_object_or_404


def connected_account_get(*, studio: Studio) -> ConnectedAccount | None:
    return ConnectedAccount.objects.filter(studio=studio).first()


def payment_list(
    *,
    studio: Studio,
    state: str | None = None,
    purpose: str | None = None,
    contact_id: uuid.UUID | None = None,
    cursor: str | None = None,
    page_size: int = 50,
) -> Page:
    """The studio's payments, newest first (keyset pages on (studio, created_at, id))."""
    queryset = Payment.objects.filter(studio=studio)
    if state:
        queryset = queryset.filter(state=state)
    if purpose:
        queryset = queryset.filter(purpose=purpose)
    if contact_id:
        queryset = queryset.filter(contact_id=contact_id)
    page = paginate(queryset, ordering=["-created_at"], cursor=cursor, page_size=page_size)
    for payment in page.items:
        payment.studio = studio
    return page


def payment_get(*, studio: Studio, payment_id: Any) -> Payment:
    return studio_object_or_404(
        Payment.objects.all(), studio=studio, object_id=payment_id, message="No such payment."
    )


def payment_refunds(*, payment: Payment) -> list[Refund]:
    return list(Refund.objects.filter(payment=payment).order_by("created_at", "id"))


def payment_disputes(*, payment: Payment) -> list[Dispute]:
    return list(Dispute.objects.filter(payment=payment).order_by("created_at", "id"))


def dispute_list(*, studio: Studio, cursor: str | None = None, page_size: int = 50) -> Page:
    queryset = Dispute.objects.filter(studio=studio).select_related("payment")
    return paginate(queryset, ordering=["-created_at"], cursor=cursor, page_size=page_size)


def public_payment_get(*, payment_id: Any, studio_id: uuid.UUID | None) -> Payment:
    """A payment for a client's status page: on the studio's own site, only its payments."""
    queryset = Payment.objects.select_related("studio")
    if studio_id is not None:
        queryset = queryset.filter(studio_id=studio_id)
    payment = queryset.filter(pk=uuid_or_404(payment_id, message="No such payment.")).first()
    if payment is None:
        raise NotFound("No such payment.")
    return payment
