"""Wallet sweeps (thin: each calls one service; on the billing queue by the task routes)."""

from __future__ import annotations

from celery import shared_task


@shared_task(soft_time_limit=240, time_limit=300)
def wallet_holds_expire() -> int:
    """Every minute: holds whose time passed give their money back to what can be spent."""
    from billing.services.wallets import holds_expire

    return holds_expire()


@shared_task(soft_time_limit=240, time_limit=300)
def wallet_credits_expire() -> int:
    """Hourly: expired credit lots go to breakage (once per lot)."""
    from billing.services.wallets import credits_expire

    return credits_expire()


@shared_task(soft_time_limit=240, time_limit=300)
def wallet_expiry_reminders() -> int:
    """Hourly: one email per wallet whose credit expires within the studio's reminder days."""
    from billing.services.wallets import expiry_reminders

    return expiry_reminders()
