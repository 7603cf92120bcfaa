"""A worker SIGKILLed in the middle of an autopay charge never charges the instalment twice.

The test makes an invoice of one instalment due today with autopay on a saved card, then runs
``autopay_charge`` in a child process (run with ``python -m``, on the test's own
database and the fake Stripe: ``test_invoice_autopay_worker``) that SIGKILLs itself at one
point of the charge:

- ``claimed``: the attempt's claim is committed, the provider was never called;
- ``charged``: the provider created and confirmed the intent (the card is charged), the
  answer is lost before our payment row knows the intent;
- ``attached``: the payment row knows the intent, its success is not booked;
- ``booked``: the success is booked, the worker dies before its own bookkeeping.

Then the sweeps, in this process: while the claim is fresh nothing is taken over; once it is
stale (and the payment's own claim too: its clock is the real one, moved back here) the attempt
is resumed with the same row and key. In every case: exactly one charge at the fake, one
payment, one attempt, the instalment paid once and the ledger clean. Runs on SQLite (a file the
child opens too) and on MariaDB.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from billing.models import AutopayAttempt, Instalment, Invoice, Payment
from billing.services.invoices import (
    autopay_charge,
    autopay_due,
    instalment_autopay_set,
    invoice_one_off,
)
from billing.services.invoices.due import morning_of
from billing.services.payments.common import CLAIM_TIMEOUT
from billing.services.reconcile import ledger_check
from billing.tasks.invoices import autopay_sweep
from tests.billing.invoicing_support import client_fixture  # noqa: F401 (fixtures)
from tests.billing.test_invoice_autopay_support import saved
from tests.billing.test_payments_support import (  # noqa: F401 (fixtures)
    fresh_cache_fixture,
    shop_fixture,
)
from tests.fake_stripe import FAKE_PUBLISHABLE_KEY, FAKE_SECRET_KEY, FAKE_WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parents[2]
AMOUNT = 50_000


def _database_url() -> str:
    config = connection.settings_dict
    if config["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{config['NAME']}"
    auth = config["USER"] + (f":{config['PASSWORD']}" if config["PASSWORD"] else "")
    return f"mysql://{auth}@{config['HOST']}:{config['PORT'] or 3306}/{config['NAME']}"


def _child(fake, point: str, instalment_id, now: dt.datetime) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "picpick.settings.test",
        "DATABASE_URL": _database_url(),
        "STRIPE_SECRET_KEY": FAKE_SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": FAKE_PUBLISHABLE_KEY,
        "STRIPE_WEBHOOK_SECRET": FAKE_WEBHOOK_SECRET,
        "STRIPE_API_BASE": fake.url,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    return subprocess.run(  # noqa: S603 - our own interpreter and test module
        [
            sys.executable,
            "-m",
            "tests.billing.test_invoice_autopay_worker",
            point,
            str(instalment_id),
            now.isoformat(),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("point", "charged_before"),
    [("claimed", 0), ("charged", 1), ("attached", 1), ("booked", 1)],
)
def test_a_worker_killed_mid_charge_never_charges_twice(
    studio_a, shop, client, fake_stripe, point, charged_before
):
    invoice = invoice_one_off(
        studio=studio_a, contact=client, name="Session", amount=AMOUNT, source_key="killed:1"
    )
    (instalment,) = invoice.instalments.all()
    instalment_autopay_set(instalment=instalment, saved_card=saved(client), enabled=True)
    now = morning_of(studio_a, instalment.due_date) + dt.timedelta(minutes=5)

    killed = _child(fake_stripe, point, instalment.id, now)

    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert len(fake_stripe.charges) == charged_before
    (attempt,) = AutopayAttempt.objects.all()
    expected = AutopayAttempt.State.SUCCEEDED if point == "booked" else "claimed"
    assert attempt.state == expected
    # The next beats while the claim is fresh: its worker may still be at it.
    soon = now + dt.timedelta(minutes=1)
    assert autopay_due(now=soon) == []
    assert autopay_charge(instalment_id=instalment.id, now=soon) is None
    # Later: the dead worker's claims are stale (the payment's on the real clock).
    Payment.objects.filter(claimed_at__isnull=False).update(
        claimed_at=timezone.now() - CLAIM_TIMEOUT - dt.timedelta(seconds=1)
    )
    later = now + CLAIM_TIMEOUT + dt.timedelta(minutes=1)
    autopay_sweep(now=later, inline=True)
    autopay_sweep(now=later + dt.timedelta(hours=1), inline=True)

    assert len(fake_stripe.charges) == 1
    assert fake_stripe.charges[0]["amount"] == AMOUNT
    (payment,) = Payment.objects.all()
    assert payment.state == Payment.State.SUCCEEDED and payment.amount == AMOUNT
    (attempt,) = AutopayAttempt.objects.all()
    assert (attempt.number, attempt.state, attempt.payment_id) == (1, "succeeded", payment.id)
    assert payment.idempotency_key == f"autopay:{attempt.id}"
    instalment = Instalment.objects.get(pk=instalment.pk)
    assert (instalment.state, instalment.paid, instalment.attempts) == ("paid", AMOUNT, 1)
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID
    assert ledger_check().ok
