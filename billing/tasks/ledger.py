"""Billing tasks: the ledger. Thin: they call one service."""

from __future__ import annotations

from celery import shared_task

from billing.services.reconcile import ledger_check


# A million entries check in well under a minute; the limits leave room for many more.
@shared_task(acks_late=True, soft_time_limit=1800, time_limit=1900)
def ledger_check_nightly() -> str:
    """Check every studio's ledger and record the run (a drift is logged as an ERROR)."""
    run = ledger_check()
    return str(run.id)
