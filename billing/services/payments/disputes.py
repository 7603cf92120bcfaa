"""Disputes (chargebacks) as the provider reports them.

When a dispute opens, the provider takes the disputed amount off the studio's balance: the
funds are withdrawn. That is booked as kind ``adjustment`` (key
``dispute-withdrawn:<dispute id>``)::

    debit  adjustment          amount   (money in dispute: the studio's loss unless it wins)
    credit provider_clearing   amount   (it left the studio's provider balance)

The wallet credit or gift card the payment bought is NOT taken back automatically (it may be
spent, and the studio may win); the studio decides. A won dispute (or the provider's
``funds_reinstated``) reverses that posting once (``dispute-reinstated:<dispute id>``); a lost
one leaves it as the loss. Inquiries (``warning_*`` statuses) withdraw nothing. The provider's
dispute fee is not booked here (it is not in the dispute's object; the payouts' reconciliation
will carry it).

Every step is idempotent and does not depend on the order events arrive in: a ``closed`` event
seen before the ``created`` one books the withdrawal and its reversal, the ``created`` seen
after finds both done. Final statuses (won, lost, warning_closed) never move back.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models.ledger import LedgerTransaction
from billing.models.payments import Dispute, Payment
from billing.payments.units import from_stripe
from billing.services.ledger import account_for, credit, debit, ledger_post, ledger_reverse
from billing.services.payments.common import logger
from billing.services.payments.purposes import purpose_of

FINAL = frozenset({"won", "lost", "warning_closed"})


def dispute_sync(*, payment: Payment, data: dict[str, Any], event_type: str = "") -> Dispute:
    """Our dispute after the provider's dispute object ``data`` (as a webhook carries it)."""
    provider_id = str(data["id"])
    currency = str(data.get("currency") or payment.currency).upper()
    amount = from_stripe(int(data.get("amount") or 0), currency) or payment.amount
    status = str(data.get("status") or "")
    studio = payment.studio
    created = False
    try:
        with transaction.atomic():
            dispute, created = Dispute.objects.get_or_create(
                provider_dispute_id=provider_id,
                defaults={
                    "studio": studio,
                    "payment": payment,
                    "amount": amount,
                    "currency": currency,
                    "reason": str(data.get("reason") or "")[:64],
                    "status": status[:40],
                },
            )
    except IntegrityError:
        dispute = Dispute.objects.get(provider_dispute_id=provider_id)
    with transaction.atomic():
        dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
        if status and dispute.status not in FINAL and dispute.status != status:
            dispute.status = status[:40]
            if status in FINAL:
                dispute.closed_at = timezone.now()
            dispute.save(update_fields=["status", "closed_at", "updated_at"])
        inquiry = status.startswith("warning_") and event_type != "charge.dispute.funds_withdrawn"
        reinstated = status == "won" or event_type == "charge.dispute.funds_reinstated"
        if dispute.withdrawn_transaction_id is None and not inquiry:
            if currency != payment.currency:
                logger.error(
                    "dispute %s in %s, payment in %s", provider_id, currency, payment.currency
                )
            else:
                posted = ledger_post(
                    studio=studio,
                    kind=LedgerTransaction.Kind.ADJUSTMENT,
                    idempotency_key=f"dispute-withdrawn:{provider_id}",
                    legs=[
                        debit(
                            account_for(studio=studio, kind="adjustment", currency=currency), amount
                        ),
                        credit(
                            account_for(studio=studio, kind="provider_clearing", currency=currency),
                            amount,
                        ),
                    ],
                    memo=f"Dispute {provider_id} opened: funds withdrawn",
                    source=("payment", payment.id),
                )
                dispute.withdrawn_transaction = posted.transaction
                dispute.save(update_fields=["withdrawn_transaction", "updated_at"])
                logger.warning(
                    "payment %s disputed (%s): %s withdrawn", payment.id, provider_id, amount
                )
        if (
            reinstated
            and dispute.withdrawn_transaction_id
            and dispute.reinstated_transaction_id is None
        ):
            back = ledger_reverse(
                transaction=dispute.withdrawn_transaction,
                idempotency_key=f"dispute-reinstated:{provider_id}",
                memo=f"Dispute {provider_id} won: funds reinstated",
            )
            dispute.reinstated_transaction = back.transaction
            dispute.save(update_fields=["reinstated_transaction", "updated_at"])
    purpose = purpose_of(payment)
    if created and purpose is not None and purpose.disputed is not None:
        purpose.disputed(payment, dispute)
    return dispute
