"""The configured payment provider, from the settings (``STRIPE_*``).

``payment_provider()`` is what services call. It is built once per configuration (a test that
changes the settings gets a new one) and refuses with ``PaymentsNotConfigured`` (503,
``payments_not_configured``) when no secret key is set, so `make run` works without Stripe.
``override_payment_provider`` puts another implementation in its place (tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings

from billing.payments.provider import PaymentProvider, PaymentsNotConfigured
from billing.payments.stripe_provider import StripeProvider

_override: list[PaymentProvider] = []


@dataclass(frozen=True)
class StripeConfig:
    secret_key: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    api_base: str
    timeout_s: int
    max_network_retries: int

    @classmethod
    def from_settings(cls) -> StripeConfig:
        return cls(
            secret_key=settings.STRIPE_SECRET_KEY,
            webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
            api_base=settings.STRIPE_API_BASE,
            timeout_s=settings.STRIPE_TIMEOUT_S,
            max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
        )


def payments_configured() -> bool:
    return bool(_override) or bool(settings.STRIPE_SECRET_KEY)


def payment_provider() -> PaymentProvider:
    """The provider to call; ``PaymentsNotConfigured`` when this environment has no keys."""
    if _override:
        return _override[-1]
    config = StripeConfig.from_settings()
    if not config.secret_key:
        raise PaymentsNotConfigured("Card payments are not configured on this server.")
    return _stripe_provider(config)


@lru_cache(maxsize=4)
def _stripe_provider(config: StripeConfig) -> StripeProvider:
    return StripeProvider(
        secret_key=config.secret_key,
        webhook_secret=config.webhook_secret,
        api_base=config.api_base,
        timeout=config.timeout_s,
        max_network_retries=config.max_network_retries,
    )


def payment_provider_cache_clear() -> None:
    _stripe_provider.cache_clear()


@contextmanager
def override_payment_provider(provider: PaymentProvider) -> Iterator[PaymentProvider]:
    """Within the block, ``payment_provider()`` returns ``provider``."""
    _override.append(provider)
    try:
        yield provider
    finally:
        _override.remove(provider)


def application_fee(amount: int) -> int | None:
    """PicPick's fee on a charge of ``amount`` (our minor units), from
    ``PICPICK_STRIPE_APPLICATION_FEE_BPS``; None when PicPick takes none."""
    return application_fee_for(amount, bps=settings.PICPICK_STRIPE_APPLICATION_FEE_BPS)


def application_fee_for(amount: int, *, bps: int) -> int | None:
    """``bps`` basis points of ``amount``, rounded half up to a whole minor unit (integers
    only); None for 0 bps or a fee that rounds to nothing."""
    if bps <= 0 or amount <= 0:
        return None
    fee = (amount * bps + 5_000) // 10_000
    return fee or None
