"""Gift card tasks (thin: they take ids and call one service; on the billing queue).

The services queue ``gift_card_deliver`` after their commit; they import this module to queue,
so the services are imported inside the task bodies."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def gift_card_deliver(card_id: str) -> bool:
    """Email one card (claimed under its row lock: a duplicate delivery sends nothing)."""
    from billing.services.gift_cards import gift_card_deliver as deliver

    return deliver(card_id=card_id)


def gift_card_deliver_soon(card_id) -> None:
    gift_card_deliver.delay(str(card_id))


@shared_task(soft_time_limit=240, time_limit=300)
def gift_card_deliveries_sweep() -> int:
    """Every minute: cards whose delivery time came (scheduled ones, and any lost task)."""
    from billing.services.gift_cards import gift_card_deliveries

    return gift_card_deliveries()


@shared_task(soft_time_limit=240, time_limit=300)
def gift_cards_expire_sweep() -> int:
    """Hourly: cards past their expiry; what is left on each goes to breakage (once)."""
    from billing.services.gift_cards import gift_cards_expire

    return gift_cards_expire()
