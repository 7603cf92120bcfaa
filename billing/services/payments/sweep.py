"""The crash-safety sweeper: payments and refunds a dead worker, a lost answer or a missing
webhook left open are completed from the provider's state, exactly once.

* A payment still ``created`` without an intent (a worker killed between the provider's
  answer and keeping it): the create is replayed with the payment's own key, which returns the
  same intent (the provider keeps keys 24 hours; older, it is given up instead), then read.
* An open payment with an intent: the intent is read and applied (success booked once).
* Open for longer than ``PICPICK_PAYMENTS_ABANDON_HOURS``: canceled at the provider first,
  then given up (its gift card abandoned).
* A card refund booked but not confirmed: sent again (same key) or read back.
* A success booked without the provider's fee: the fee is read and booked.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from billing.models.payments import Payment, Refund
from billing.services.payments.common import CLAIM_TIMEOUT, logger
from billing.services.payments.outcome import _close, payment_cancel, payment_refresh
from billing.services.payments.refunds import refund_refresh, refund_send

# The provider forgets idempotency keys after 24 hours: a replayed create would make a new
# intent after that, so an intent-less payment older than this is given up instead.
KEY_LIFETIME = timedelta(hours=23)
BATCH = 500


def _cutoff(now: datetime | None) -> tuple[datetime, datetime]:
    now = now or timezone.now()
    return now, now - timedelta(minutes=settings.PICPICK_PAYMENTS_SWEEP_AFTER_MINUTES)


def payments_due(*, now: datetime | None = None) -> list:
    """Ids of open payments old enough to check (not claimed by a live worker)."""
    now, cutoff = _cutoff(now)
    return list(
        Payment.objects.filter(state__in=Payment.OPEN, created_at__lt=cutoff)
        .filter(Q(claim_token__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
        .order_by("created_at")
        .values_list("id", flat=True)[:BATCH]
    )


def fees_due(*, now: datetime | None = None) -> list:
    """Ids of payments booked without their fee in the last week."""
    now, cutoff = _cutoff(now)
    return list(
        Payment.objects.filter(
            state=Payment.State.SUCCEEDED,
            fee__isnull=True,
            posted_transaction__isnull=False,
            succeeded_at__lt=cutoff,
            succeeded_at__gt=now - timedelta(days=7),
        ).values_list("id", flat=True)[:BATCH]
    )


def refunds_due(*, now: datetime | None = None) -> list:
    now, cutoff = _cutoff(now)
    return list(
        Refund.objects.filter(
            state=Refund.State.PENDING, destination=Refund.Destination.CARD, created_at__lt=cutoff
        )
        .filter(Q(claim_token__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
        .order_by("created_at")
        .values_list("id", flat=True)[:BATCH]
    )


def payment_recover(*, payment_id, now: datetime | None = None) -> Payment | None:
    """Complete one open payment from the provider's state (a sweeper's task)."""
    now = now or timezone.now()
    payment = Payment.objects.select_related("studio").filter(pk=payment_id).first()
    if payment is None:
        return None
    if payment.state in Payment.OPEN:
        if payment.intent_id is None and payment.created_at < now - KEY_LIFETIME:
            logger.error("payment %s never got an intent: given up", payment.id)
            return _close(payment, Payment.State.CANCELED, code="abandoned")
        payment = payment_refresh(payment=payment)
        abandon = timedelta(hours=settings.PICPICK_PAYMENTS_ABANDON_HOURS)
        if payment.state in Payment.OPEN and payment.created_at < now - abandon:
            payment = payment_cancel(payment=payment)
    elif payment.state == Payment.State.SUCCEEDED and payment.fee is None:
        payment = payment_refresh(payment=payment)
    return payment


def refund_recover(*, refund_id) -> Refund | None:
    refund = (
        Refund.objects.select_related("payment", "payment__studio").filter(pk=refund_id).first()
    )
    if refund is None or refund.state != Refund.State.PENDING:
        return refund
    if refund.provider_refund_id:
        return refund_refresh(refund=refund)
    return refund_send(refund=refund)
