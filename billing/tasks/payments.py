"""Card payments' tasks (queue ``billing``). Thin: they take ids and call one service.

Services queue these after their transaction commits; the services are imported inside the
task bodies because they import this module to queue (the galleries pattern)."""

from __future__ import annotations

import logging

from celery import shared_task

from billing.payments import ProviderError

logger = logging.getLogger("billing.payments")


@shared_task(acks_late=True, soft_time_limit=120, time_limit=180)
def webhook_event_process(event_id: str) -> str | None:
    """Apply one stored webhook event (idempotent: a duplicate delivery changes nothing)."""
    from billing.services.webhooks import webhook_event_process as process

    row = process(event_id=event_id)
    return row.state if row is not None else None


def webhook_event_process_soon(event_id) -> None:
    webhook_event_process.delay(str(event_id))


@shared_task(acks_late=True, soft_time_limit=120, time_limit=180)
def payment_recover(payment_id: str) -> str | None:
    """Complete one open payment from the provider's state."""
    from billing.services.payments import payment_recover as recover

    try:
        payment = recover(payment_id=payment_id)
    except ProviderError as exc:  # the provider is down or refused: the next sweep retries
        logger.warning(
            "payment %s not recovered: %s (%s)", payment_id, type(exc).__name__, exc.code
        )
        return None
    return payment.state if payment is not None else None


@shared_task(acks_late=True, soft_time_limit=120, time_limit=180)
def refund_recover(refund_id: str) -> str | None:
    from billing.services.payments import refund_recover as recover
    from picpick.core.errors import ApplicationError

    try:
        refund = recover(refund_id=refund_id)
    except (ProviderError, ApplicationError) as exc:
        logger.warning("refund %s not recovered: %s (%s)", refund_id, type(exc).__name__, exc.code)
        return None
    return refund.state if refund is not None else None


@shared_task(soft_time_limit=240, time_limit=300)
def payments_sweep() -> int:
    """Beat, every few minutes: open payments, pending refunds, unbooked fees and unprocessed
    webhook events, each queued as its own task."""
    from billing.services.payments import fees_due, payments_due, refunds_due
    from billing.services.webhooks import webhook_events_due

    payment_ids = list(dict.fromkeys([*payments_due(), *fees_due()]))
    for payment_id in payment_ids:
        payment_recover.delay(str(payment_id))
    refund_ids = refunds_due()
    for refund_id in refund_ids:
        refund_recover.delay(str(refund_id))
    event_ids = webhook_events_due()
    for event_id in event_ids:
        webhook_event_process.delay(str(event_id))
    return len(payment_ids) + len(refund_ids) + len(event_ids)
