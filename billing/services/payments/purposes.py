"""What a payment is for, as the payment services see it: a seam for purposes whose books live
in another module (an invoice's), so the payment services never import them.

Wallet top-ups and gift cards are handled in the payment services themselves. A purpose
registered here (``billing.registry`` registers the invoice's at start-up) says:

- ``lock(payment)``: called first inside a success's or a refund's transaction, before any
  ledger account is locked, to take the purpose's own row lock (the invoice's) in the same
  order as its other writers (row, then accounts);
- ``target(payment)``: the account a success credits (an invoice's receivable), and the
  part of the amount that is a tip (credited to ``tips`` instead);
- ``succeeded(payment, transaction)``: called inside the success's transaction, after the
  posting (the invoice's status, an overpayment moved to the wallet, the timeline);
- ``refunded(payment, refund)``: inside the refund's (or its failure's) transaction;
- ``closed(payment)``: after an open payment failed or was canceled (autopay's dunning);
- ``disputed(payment, dispute)``: after a dispute of the payment was first recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from billing.models.ledger import LedgerAccount, LedgerTransaction
from billing.models.payments import Dispute, Payment, Refund


@dataclass(frozen=True)
class Purpose:
    # The account credited by the payment and the account its tip goes to (None: no tips).
    target: Callable[[Payment], LedgerAccount]
    tips: Callable[[Payment], LedgerAccount | None]
    succeeded: Callable[[Payment, LedgerTransaction], None]
    refunded: Callable[[Payment, Refund], None]
    closed: Callable[[Payment], None]
    disputed: Callable[[Payment, Dispute], None] | None = None
    lock: Callable[[Payment], None] | None = None


PURPOSES: dict[str, Purpose] = {}


def purpose_register(name: str, purpose: Purpose) -> None:
    PURPOSES[name] = purpose


def purpose_of(payment: Payment) -> Purpose | None:
    return PURPOSES.get(payment.purpose)


def purpose_lock(payment: Payment) -> None:
    """Take the purpose's row lock, if it has one (see ``Purpose.lock``)."""
    purpose = purpose_of(payment)
    if purpose is not None and purpose.lock is not None:
        purpose.lock(payment)
