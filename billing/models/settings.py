"""A studio's billing settings: how long wallet credit lasts, which gift cards it sells."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from picpick.core.models import StudioOwnedModel


def _default_dunning() -> list[int]:
    return [1, 3, 7]


def _default_before() -> list[int]:
    return [3]


def _default_overdue() -> list[int]:
    return [1, 7, 14]


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

    # --- invoicing ---
    # Numbers: prefix + zero-padded sequence, per series and year; "{year}" in a prefix is the
    # issue year ("INV-{year}-" gives INV-2026-0001).
    invoice_prefix = models.CharField(max_length=20, default="INV-{year}-")
    credit_note_prefix = models.CharField(max_length=20, default="CN-{year}-")
    quote_prefix = models.CharField(max_length=20, default="Q-{year}-")
    number_padding = models.PositiveSmallIntegerField(default=4)
    # How amounts are rounded (per line): "half_even" or "half_up".
    rounding = models.CharField(max_length=10, default="half_even")
    payment_terms_days = models.PositiveIntegerField(default=14)
    # Autopay retries after a failed charge, in days after the due date; then overdue.
    dunning_days = models.JSONField(default=_default_dunning, blank=True)
    # Reminder emails: days before the due date, on the day, days after (each sent once).
    reminder_days_before = models.JSONField(default=_default_before, blank=True)
    remind_on_due = models.BooleanField(default=True)
    reminder_days_overdue = models.JSONField(default=_default_overdue, blank=True)
    # Late fee on an overdue instalment: a fixed amount or a percent of what is overdue, once
    # or every ``late_fee_every_days``, never above ``late_fee_cap`` per instalment in all.
    late_fee_fixed = models.BigIntegerField(null=True, blank=True)
    late_fee_percent = models.DecimalField(max_digits=7, decimal_places=4, null=True, blank=True)
    late_fee_every_days = models.PositiveIntegerField(null=True, blank=True)
    late_fee_cap = models.BigIntegerField(null=True, blank=True)
    late_fee_grace_days = models.PositiveIntegerField(default=0)
    # The studio as it appears on invoices.
    legal_name = models.CharField(max_length=200, blank=True)
    address = models.TextField(blank=True)
    country = models.CharField(max_length=2, blank=True)
    tax_id = models.CharField(max_length=40, blank=True)  # checked with python-stdnum
    invoice_footer = models.TextField(blank=True)
    logo = models.CharField(max_length=300, blank=True)  # a path in default storage

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
