"""The child process of ``test_invoice_autopay_killed`` (no tests here): run as
``python -m tests.billing.test_invoice_autopay_worker <point> <instalment id> <now>`` on the
test's database, it charges the instalment by autopay and SIGKILLs itself at ``point``
(``claimed``, ``charged``, ``attached``, ``booked``; see the test). No cleanup of any kind runs.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys


def _kill(*args, **kwargs) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _run(point: str, instalment_id: str, now: str) -> None:
    from billing.services.invoices import autopay
    from billing.services.payments import start

    if point == "claimed":  # the claim committed; the provider never called
        autopay.payment_start = _kill
    elif point == "charged":  # the provider charged; its answer never recorded
        start._intent_attach = _kill
    elif point == "attached":  # the intent's id kept; its success never booked
        start.payment_apply_intent = _kill
    else:  # booked; the worker's own bookkeeping never done
        autopay.autopay_attempt_apply = _kill
    autopay.autopay_charge(instalment_id=instalment_id, now=dt.datetime.fromisoformat(now))
    sys.exit("still alive after the charge")


def main() -> None:
    import django

    django.setup()
    _run(*sys.argv[1:4])


if __name__ == "__main__":
    main()
