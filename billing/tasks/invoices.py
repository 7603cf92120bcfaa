"""Invoice instalments' tasks and sweeps (queue ``billing``): autopay charges, reminder emails,
late fees. Thin: the work is the services' (``billing.services.invoices``); the services import
this module to queue, so they are imported inside the bodies here.

The beat runs one sweep per kind (``CELERY_BEAT_SCHEDULE``): autopay every few minutes, each
due instalment charged by its own task (a provider call each, claimed once: a duplicate task
or a second sweep charges nothing twice); reminders and late fees run inline (database work and
an email queued after commit), each claimed by its unique row. ``invoices_sweep`` runs the three
in one go, inline (the benchmark, a management shell).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from celery import shared_task
from django.utils import timezone

from billing.payments import ProviderError

logger = logging.getLogger("billing.invoices")

# What one beat run of the autopay sweep queues at most (the next run takes the rest).
AUTOPAY_QUEUE_BATCH = 5000


@dataclass(frozen=True)
class SweepCounts:
    autopay: int
    reminders: int
    late_fees: int


# --- per instalment --------------------------------------------------------------------------
# Under the attempt's claim timeout (2 minutes): a task is never still charging when another
# worker would take its claim over.
@shared_task(acks_late=True, soft_time_limit=90, time_limit=110)
def invoice_autopay_charge(instalment_id: str) -> str | None:
    """Charge one due instalment to its saved card (claimed once; see the service)."""
    from billing.services.invoices.autopay import autopay_charge

    attempt = autopay_charge(instalment_id=instalment_id)
    return attempt.state if attempt is not None else None


@shared_task(
    acks_late=True,
    soft_time_limit=60,
    time_limit=90,
    autoretry_for=(ProviderError,),
    retry_backoff=True,
    max_retries=5,
)
def invoice_autopay_from_payment(payment_id: str) -> int:
    """After a payment that saved the client's card: autopay on for the invoice's rest."""
    from billing.services.invoices.autopay import autopay_from_payment

    return len(autopay_from_payment(payment_id=payment_id))


def invoice_autopay_from_payment_soon(payment_id) -> None:
    invoice_autopay_from_payment.delay(str(payment_id))


# --- the sweeps ------------------------------------------------------------------------------
def autopay_sweep(*, now: dt.datetime | None = None, inline: bool = False) -> int:
    """Due autopay instalments (and stale claims): queued one task each, or charged here."""
    from billing.services.invoices.autopay import autopay_charge, autopay_due

    now = now or timezone.now()
    if not inline:
        ids = autopay_due(now=now, limit=AUTOPAY_QUEUE_BATCH)
        for instalment_id in ids:
            invoice_autopay_charge.delay(str(instalment_id))
        return len(ids)
    seen: set = set()
    while True:
        ids = [i for i in autopay_due(now=now) if i not in seen]
        if not ids:
            return len(seen)
        for instalment_id in ids:
            seen.add(instalment_id)
            try:
                autopay_charge(instalment_id=instalment_id, now=now)
            except Exception:  # one instalment's fault never stops the others; logged
                logger.exception("autopay of instalment %s failed", instalment_id)


def reminders_sweep(*, now: dt.datetime | None = None) -> int:
    """Every reminder due now, sent once each; how many were queued."""
    from billing.services.invoices.reminders import reminder_send, reminders_due

    now = now or timezone.now()
    sent = 0
    for instalment_id, key in reminders_due(now=now):
        try:
            sent += reminder_send(instalment_id=instalment_id, key=key, now=now)
        except Exception:
            logger.exception("reminder %s of instalment %s failed", key, instalment_id)
    return sent


def late_fees_sweep(*, now: dt.datetime | None = None) -> int:
    """Every late fee due now, added once each; how many were."""
    from billing.services.invoices.late_fees import late_fee_apply, late_fees_due

    now = now or timezone.now()
    added = 0
    for instalment_id in late_fees_due(now=now):
        try:
            added += late_fee_apply(instalment_id=instalment_id, now=now) is not None
        except Exception:
            logger.exception("late fee of instalment %s failed", instalment_id)
    return added


def invoices_sweep(*, now: dt.datetime | None = None) -> SweepCounts:
    """The three sweeps in one go, inline: autopay first (a charge that succeeds stops the
    day's reminder and fee), then late fees (a reminder then states the new amount), then
    reminders."""
    now = now or timezone.now()
    started = time.perf_counter()
    autopay = autopay_sweep(now=now, inline=True)
    late_fees = late_fees_sweep(now=now)
    reminders = reminders_sweep(now=now)
    counts = SweepCounts(autopay=autopay, reminders=reminders, late_fees=late_fees)
    logger.info("invoices sweep: %s in %.1f s", counts, time.perf_counter() - started)
    return counts


@shared_task(soft_time_limit=240, time_limit=300)
def invoices_autopay_sweep() -> int:
    """Every 5 minutes: due autopay instalments queued, one charge task each."""
    return autopay_sweep()


@shared_task(soft_time_limit=600, time_limit=660)
def invoices_reminders_sweep() -> int:
    """Every 15 minutes: the reminder emails that came due."""
    return reminders_sweep()


@shared_task(soft_time_limit=1500, time_limit=1600)
def invoices_late_fees_sweep() -> int:
    """Hourly: the late fees that came due."""
    return late_fees_sweep()
