"""Gift cards: a code worth an amount at the studio, its money on the ledger.

The card's value is the balance of its ledger account (kind gift_card, never below zero); a
redemption, the expiry and a void are ledger postings on it, so the card's history is that
account's statement (no separate redemption table).

The code is never stored: ``code_hash`` is its keyed HMAC-SHA256 (``billing.services.
gift_cards``), so finding a card by code is one read of a unique index and a database leak
gives no usable code; ``code_last4`` tells cards apart in lists. ``code_sealed`` holds the code
encrypted (Fernet) only until the card's delivery email is sent, then it is blanked.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from billing.money import Money
from picpick.core.models import StudioOwnedModel


class GiftCard(StudioOwnedModel):
    class State(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", "Pending payment"
        ACTIVE = "active", "Active"
        USED = "used", "Used"
        EXPIRED = "expired", "Expired"
        VOID = "void", "Void"

    class Origin(models.TextChoices):
        PURCHASED = "purchased", "Purchased"  # bought by card on the studio's site
        ISSUED = "issued", "Issued"  # given by the studio (a giveaway), paid by the studio

    code_hash = models.CharField(max_length=64, unique=True)
    code_last4 = models.CharField(max_length=4)
    code_sealed = models.TextField(blank=True)
    origin = models.CharField(max_length=10, choices=Origin.choices)
    initial_amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    account = models.OneToOneField(
        "billing.LedgerAccount", on_delete=models.PROTECT, related_name="gift_card"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING_PAYMENT)
    buyer_name = models.CharField(max_length=200, blank=True)
    buyer_email = models.CharField(max_length=254, blank=True)
    recipient_name = models.CharField(max_length=200, blank=True)
    recipient_email = models.CharField(max_length=254, blank=True)
    message = models.TextField(blank=True)
    deliver_at = models.DateTimeField(null=True, blank=True)  # null: as soon as it is active
    delivered_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)  # null: never expires
    activated_at = models.DateTimeField(null=True, blank=True)
    # The posting that put the money on the card (the sale or the studio's issue).
    funding = models.ForeignKey(
        "billing.LedgerTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # The studio's issue request (an Idempotency-Key: a retried issue is the same card).
    # (Null for a sold card; NULLs never collide in the unique index.)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    closed_at = models.DateTimeField(null=True, blank=True)  # used up, expired or voided
    void_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(initial_amount__gt=0), name="billing_gift_card_amount_positive"
            ),
            models.UniqueConstraint(
                fields=["studio", "idempotency_key"], name="billing_gift_card_idempotency_key"
            ),
        ]
        indexes = [
            models.Index(fields=["studio", "state", "id"], name="billing_gift_card_list"),
            # The sweeps: active cards due for delivery, and those due to expire.
            models.Index(
                fields=["state", "delivered_at", "deliver_at"], name="billing_gift_card_delivery"
            ),
            models.Index(fields=["state", "expires_at"], name="billing_gift_card_expiry"),
        ]

    def __str__(self) -> str:
        return f"gift card …{self.code_last4} ({self.state})"

    @property
    def initial_money(self) -> Money:
        return Money(self.initial_amount, self.currency)

    @property
    def balance_money(self) -> Money:
        """What is left on the card (its account's balance, read with the card)."""
        return Money(self.account.balance, self.currency)
