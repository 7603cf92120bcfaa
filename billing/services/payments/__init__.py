"""Card payments: starting them, following the provider's intents, refunds, disputes and the
crash-safety sweep. One module per sub-domain; the public names are re-exported here."""

from billing.services.payments.cards import card_setup_complete, card_setup_start
from billing.services.payments.common import REFRESH_EVERY, status_token, status_token_valid
from billing.services.payments.disputes import dispute_sync
from billing.services.payments.outcome import (
    payment_apply_intent,
    payment_cancel,
    payment_fail,
    payment_fee_record,
    payment_refresh,
    payment_succeeded,
)
from billing.services.payments.refunds import (
    refund_apply,
    refund_create,
    refund_fail,
    refund_refresh,
    refund_send,
    refund_sync,
)
from billing.services.payments.start import (
    GiftCardOrder,
    ProviderDown,
    accepted_currency,
    payment_intent_ensure,
    payment_start,
)
from billing.services.payments.sweep import (
    fees_due,
    payment_recover,
    payments_due,
    refund_recover,
    refunds_due,
)

__all__ = [
    "REFRESH_EVERY",
    "GiftCardOrder",
    "ProviderDown",
    "accepted_currency",
    "card_setup_complete",
    "card_setup_start",
    "dispute_sync",
    "fees_due",
    "payment_apply_intent",
    "payment_cancel",
    "payment_fail",
    "payment_fee_record",
    "payment_intent_ensure",
    "payment_recover",
    "payment_refresh",
    "payment_start",
    "payment_succeeded",
    "payments_due",
    "refund_apply",
    "refund_create",
    "refund_fail",
    "refund_recover",
    "refund_refresh",
    "refund_send",
    "refund_sync",
    "refunds_due",
    "status_token",
    "status_token_valid",
]
