"""A studio's billing settings: how long wallet credit lasts, which gift cards it sells."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from picpick.core.models import StudioOwnedModel


class BillingSettings(StudioOwnedModel):
    """One per studio, made the first time it is read (``billing.services.wallets``).

    Amounts are minor units of ``currency`` (the currency gift cards are sold in and wallets
    are opened in unless asked otherwise). Changing an expiry applies to credit given from then
    on: each credit lot and gift card carries its own expiry, fixed when it is made.
    """

    # The currency gift cards are sold in and new wallets default to (the studio's default).
    currency = models.CharField(max_length=3)
    # Days a wallet credit lasts; null: credit never expires.
    wallet_credit_expiry_days = models.PositiveIntegerField(null=True, blank=True)
    # The client is reminded this many days before a credit expires (once per credit).
    wallet_expiry_reminder_days = models.PositiveIntegerField(default=14)
    # Gift card amounts the studio offers, in minor units, e.g. [5000, 10000, 25000].
    gift_card_amounts = models.JSONField(default=list, blank=True)
    # Free amounts within these limits (both or neither); null: only the list.
    gift_card_min = models.BigIntegerField(null=True, blank=True)
    gift_card_max = models.BigIntegerField(null=True, blank=True)
    # Months a gift card lasts from its activation; null: never expires.
    gift_card_expiry_months = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "billing settings"
        constraints = [
            models.UniqueConstraint(fields=["studio"], name="billing_settings_one_per_studio"),
            models.CheckConstraint(
                condition=(Q(gift_card_min__isnull=True) & Q(gift_card_max__isnull=True))
                | (
                    Q(gift_card_min__gt=0)
                    & Q(gift_card_max__isnull=False)
                    & Q(gift_card_max__gte=F("gift_card_min"))
                ),
                name="billing_settings_gift_card_limits",
            ),
        ]

    def __str__(self) -> str:
        return f"billing settings of {self.studio_id}"
