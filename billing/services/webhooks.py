"""The provider's webhooks: verified, stored once, processed by a task.

``webhook_receive`` (the endpoint's service) verifies the signature (5 minutes' tolerance: a
bad, tampered or old one is a 400 and nothing is stored), stores the event unique by its id
(a redelivery is recognised and ignored) and queues its processing after the commit: the
provider gets its 200 at once.

``webhook_event_process`` (the task's) applies the event. It reads the current state from the
provider where the event is about a payment or a refund rather than trusting the event's copy,
and every step it takes is idempotent, so events redelivered, replayed or arriving in any
order leave the same ledger. A refund or a dispute seen before its payment's success first
brings the payment up to date (reading its intent), then applies itself. A failure is recorded
on the event (``failed``, the error) and retried by the sweeper.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing.models.payments import ConnectedAccount, Payment, WebhookEvent
from billing.payments import WebhookSignatureError, payment_provider
from billing.services.connect import connect_account_updated
from billing.services.payments import (
    card_setup_complete,
    dispute_sync,
    payment_apply_intent,
    payment_refresh,
    refund_sync,
)
from picpick.core.errors import ApplicationError, NotFound

logger = logging.getLogger("billing.webhooks")

MAX_ATTEMPTS = 10
_REFUND_TYPES = {
    "charge.refunded",
    "charge.refund.updated",
    "refund.created",
    "refund.updated",
    "refund.failed",
}


def webhook_receive(*, payload: bytes, signature: str) -> tuple[WebhookEvent, bool]:
    """The verified event stored (and its processing queued); ``created`` False for one
    already received."""
    try:
        event = payment_provider().event_from_webhook(payload=payload, signature=signature)
    except WebhookSignatureError as exc:
        raise ApplicationError(
            "The webhook's signature does not verify.", code=exc.code or "webhook_signature_invalid"
        ) from exc
    existing = WebhookEvent.objects.filter(event_id=event.id).first()
    if existing is not None:
        return existing, False
    studio_id = None
    if event.account:
        studio_id = (
            ConnectedAccount.objects.filter(provider_account_id=event.account)
            .values_list("studio_id", flat=True)
            .first()
        )
    try:
        with transaction.atomic():
            row = WebhookEvent.objects.create(
                studio_id=studio_id,
                event_id=event.id,
                type=event.type[:100],
                account=event.account or "",
                livemode=event.livemode,
                payload=json.loads(payload),
                received_at=timezone.now(),
            )
    except IntegrityError:
        return WebhookEvent.objects.get(event_id=event.id), False
    from billing.tasks.payments import webhook_event_process_soon

    transaction.on_commit(lambda: webhook_event_process_soon(row.id))
    return row, True


def webhook_event_process(*, event_id) -> WebhookEvent | None:
    """Apply one stored event (a task's). Idempotent; failures are recorded for a retry."""
    row = WebhookEvent.objects.filter(pk=event_id).first()
    if row is None or row.state in (WebhookEvent.State.PROCESSED, WebhookEvent.State.IGNORED):
        return row
    WebhookEvent.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1)
    try:
        handled = _dispatch(row)
    except Exception as exc:  # recorded on the event and retried: a webhook must not be lost
        logger.exception("webhook event %s (%s) failed", row.event_id, row.type)
        code = getattr(exc, "code", "")
        WebhookEvent.objects.filter(pk=row.pk).update(
            state=WebhookEvent.State.FAILED,
            last_error=f"{type(exc).__name__}: {code}"[:500],
        )
    else:
        WebhookEvent.objects.filter(pk=row.pk).update(
            state=WebhookEvent.State.PROCESSED if handled else WebhookEvent.State.IGNORED,
            processed_at=timezone.now(),
            last_error="",
        )
    row.refresh_from_db()
    return row


def webhook_events_due(*, now: datetime | None = None) -> list:
    """Events to (re)process: received but not processed within a minute (a lost task), or
    failed, fewer than ``MAX_ATTEMPTS`` times."""
    now = now or timezone.now()
    return list(
        WebhookEvent.objects.filter(
            state__in=[WebhookEvent.State.RECEIVED, WebhookEvent.State.FAILED],
            received_at__lt=now - timedelta(minutes=1),
            attempts__lt=MAX_ATTEMPTS,
        )
        .order_by("received_at")
        .values_list("id", flat=True)[:500]
    )


# --- what each event does --------------------------------------------------------------------
def _dispatch(row: WebhookEvent) -> bool:
    data = (row.payload.get("data") or {}).get("object") or {}
    kind = row.type
    if kind.startswith("payment_intent."):
        return _on_intent(row, data)
    if kind in _REFUND_TYPES:
        return _on_refund(row, data)
    if kind.startswith("charge.dispute."):
        return _on_dispute(row, data)
    if kind == "account.updated":
        return connect_account_updated(provider_account_id=str(data.get("id"))) is not None
    if kind == "setup_intent.succeeded":
        return _on_setup(row, data)
    return False


def _payment_for(row: WebhookEvent, intent_id: str | None, metadata: dict) -> Payment | None:
    """Our payment of an intent: by the intent's id, else by the payment id in the intent's
    metadata (a worker killed before it kept the intent's id), on the event's account."""
    payment = None
    if intent_id:
        payment = Payment.objects.select_related("studio").filter(intent_id=intent_id).first()
    payment_id = _uuid(metadata.get("payment_id"))
    if payment is None and payment_id is not None:
        payment = (
            Payment.objects.select_related("studio")
            .filter(pk=payment_id, intent_id__isnull=True)
            .first()
        )
    if payment is not None and payment.provider_account_id != (row.account or ""):
        logger.error("event %s names payment %s of another account", row.event_id, payment.id)
        return None
    return payment


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _current_intent(row: WebhookEvent, intent_id: str):
    return payment_provider().payment_intent_get(intent_id=intent_id, account=row.account or None)


def _on_intent(row: WebhookEvent, data: dict[str, Any]) -> bool:
    intent_id = str(data.get("id") or "")
    payment = _payment_for(row, intent_id, data.get("metadata") or {})
    if payment is None:
        return False
    payment_apply_intent(payment=payment, intent=_current_intent(row, intent_id))
    return True


def _paid_payment(row: WebhookEvent, intent_id: str | None) -> Payment | None:
    """The payment of a refund's or dispute's intent, brought up to date first."""
    if not intent_id:
        return None
    payment = _payment_for(row, intent_id, {})
    if payment is None:
        intent = _current_intent(row, intent_id)
        payment = _payment_for(row, intent_id, intent.metadata)
        if payment is None:
            return None
        payment = payment_apply_intent(payment=payment, intent=intent)
    elif payment.state != Payment.State.SUCCEEDED:
        payment = payment_refresh(payment=payment)
    if payment.state != Payment.State.SUCCEEDED:
        raise RuntimeError(f"payment {payment.id} is {payment.state}, not succeeded (yet)")
    return payment


def _on_refund(row: WebhookEvent, data: dict[str, Any]) -> bool:
    if data.get("object") == "charge":
        refunds = ((data.get("refunds") or {}).get("data")) or []
        payment = _paid_payment(row, data.get("payment_intent"))
        if payment is None:
            return False
    else:
        refunds = [data]
        payment = _paid_payment(row, data.get("payment_intent"))
        if payment is None:
            return False
    provider = payment_provider()
    for item in refunds:
        result = provider.refund_get(refund_id=str(item["id"]), account=row.account or None)
        refund_sync(
            payment=payment,
            result=result,
            refund_id=(item.get("metadata") or {}).get("refund_id"),
        )
    return True


def _on_setup(row: WebhookEvent, data: dict[str, Any]) -> bool:
    """A card saved through a SetupIntent: recorded (once) for the contact of its customer; a
    SetupIntent that is not ours (no studio on the account, an unknown customer) is ignored."""
    connected = (
        ConnectedAccount.objects.select_related("studio")
        .filter(provider_account_id=row.account or "")
        .first()
    )
    if connected is None or not data.get("id"):
        return False
    try:
        card_setup_complete(studio=connected.studio, setup_id=str(data["id"]))
    except NotFound:
        return False
    return True


def _on_dispute(row: WebhookEvent, data: dict[str, Any]) -> bool:
    payment = _paid_payment(row, data.get("payment_intent"))
    if payment is None:
        return False
    dispute_sync(payment=payment, data=data, event_type=row.type)
    return True
