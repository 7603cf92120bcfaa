"""The studio's connected account at the provider (Stripe Connect, Express accounts).

``connect_start`` makes the account once (the provider call keyed by the studio's id, so two
clicks make one account, and the row is unique per studio) and returns a fresh onboarding link
(links expire within minutes: one per click). The flags (may it take charges, get payouts)
come from the provider: ``connect_refresh`` reads them, and so does the ``account.updated``
webhook (reading the account again rather than trusting the event, so events in any order
leave the latest state).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Studio, User
from billing.models.payments import ConnectedAccount
from billing.payments import ConnectAccount, payment_provider
from picpick.core.errors import ApplicationError, NotFound

logger = logging.getLogger("billing.connect")


def _apply(row: ConnectedAccount, remote: ConnectAccount) -> ConnectedAccount:
    ConnectedAccount.objects.filter(pk=row.pk).update(
        charges_enabled=remote.charges_enabled,
        payouts_enabled=remote.payouts_enabled,
        details_submitted=remote.details_submitted,
        default_currency=(remote.default_currency or "")[:3],
        refreshed_at=timezone.now(),
    )
    row.refresh_from_db()
    return row


def connect_start(
    *,
    studio: Studio,
    by: User,
    country: str = "US",
    refresh_url: str = "",
    return_url: str = "",
) -> tuple[ConnectedAccount, str]:
    """The studio's connected account (made on first use) and an onboarding link for it."""
    country = (country or "").upper()
    if len(country) != 2 or not country.isalpha() or not country.isascii():
        raise ApplicationError(
            "The country is an ISO 3166 alpha-2 code.",
            code="invalid_country",
            fields={"country": ["Two letters, e.g. US or FR."]},
        )
    provider = payment_provider()
    row = ConnectedAccount.objects.filter(studio=studio).first()
    if row is None:
        remote = provider.account_create(
            email=by.email, country=country, idempotency_key=f"connect-account:{studio.id}"
        )
        try:
            with transaction.atomic():
                row = ConnectedAccount.objects.create(
                    studio=studio, provider_account_id=remote.id, country=country
                )
        except IntegrityError:
            row = ConnectedAccount.objects.get(studio=studio)
        row = _apply(row, remote)
        logger.info("studio %s connected account %s made", studio.id, row.provider_account_id)
    app = settings.PICPICK_APP_URL
    link = provider.account_link_create(
        account=row.provider_account_id,
        refresh_url=refresh_url or f"{app}/settings/payments?connect=refresh",
        return_url=return_url or f"{app}/settings/payments?connect=done",
    )
    row.studio = studio
    return row, link


def connect_refresh(*, studio: Studio) -> ConnectedAccount:
    row = ConnectedAccount.objects.filter(studio=studio).first()
    if row is None:
        raise NotFound("This studio has no payment account yet.", code="not_connected")
    row = _apply(row, payment_provider().account_get(account=row.provider_account_id))
    row.studio = studio
    return row


def connect_account_updated(*, provider_account_id: str) -> ConnectedAccount | None:
    """``account.updated``: the account's flags read again from the provider."""
    row = ConnectedAccount.objects.filter(provider_account_id=provider_account_id).first()
    if row is None:
        return None
    return _apply(row, payment_provider().account_get(account=provider_account_id))
