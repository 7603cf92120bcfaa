"""Card payments' edge: the provider interface, its Stripe implementation and the getter.

Import from here: ``from billing.payments import payment_provider, CardDeclined, Intent``.
``provider`` documents the contract (Connect direct charges, idempotency keys, what each error
means); ``stripe_provider`` is the only module that knows the SDK.
"""

from billing.payments.configured import (
    application_fee,
    application_fee_for,
    override_payment_provider,
    payment_provider,
    payment_provider_cache_clear,
    payments_configured,
)
from billing.payments.provider import (
    CardDeclined,
    CardMethod,
    ConnectAccount,
    Customer,
    Event,
    Intent,
    IntentStatus,
    PaymentProvider,
    PaymentsNotConfigured,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    RefundReason,
    RefundResult,
    SetupResult,
    WebhookSignatureError,
)
from billing.payments.stripe_provider import StripeProvider

__all__ = [
    "CardDeclined",
    "CardMethod",
    "ConnectAccount",
    "Customer",
    "Event",
    "Intent",
    "IntentStatus",
    "PaymentProvider",
    "PaymentsNotConfigured",
    "ProviderError",
    "ProviderRejected",
    "ProviderUnavailable",
    "RefundReason",
    "RefundResult",
    "SetupResult",
    "StripeProvider",
    "WebhookSignatureError",
    "application_fee",
    "application_fee_for",
    "override_payment_provider",
    "payment_provider",
    "payment_provider_cache_clear",
    "payments_configured",
]
