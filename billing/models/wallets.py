"""Client wallets: a contact's credit with the studio, in one currency, on the ledger.

The money is the balance of the wallet's ledger account (``LedgerAccount`` of kind wallet):
the ledger is the only truth and refuses to take it below zero. Beside it:

- ``held``: the sum of the wallet's active holds (a checkout in progress), so that what can
  be spent is ``balance - held``; changed only under the wallet account's ledger lock.
- credit lots (``WalletCreditLot``): each credit with its expiry and how much of it is left;
  spends use the lots that expire first, and the expiry sweep takes what is left of a lot
  whose time has come (bookkeeping beside the ledger, never a second balance).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from billing.money import Money
from picpick.core.models import StudioOwnedModel


class Wallet(StudioOwnedModel):
    contact = models.ForeignKey("crm.Contact", on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    account = models.OneToOneField(
        "billing.LedgerAccount", on_delete=models.PROTECT, related_name="wallet"
    )
    # Minor units reserved by holds in state "held" (the services keep it, under the lock).
    held = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["studio", "contact", "currency"], name="billing_wallet_one_per_currency"
            ),
            models.CheckConstraint(condition=Q(held__gte=0), name="billing_wallet_held_not_neg"),
        ]
        indexes = [models.Index(fields=["studio", "currency", "id"], name="billing_wallet_list")]

    def __str__(self) -> str:
        return f"wallet {self.currency} of {self.contact_id}"

    # What the API shows (the balance is the account's, read with the wallet).
    @property
    def balance_money(self) -> Money:
        return Money(self.account.balance, self.currency)

    @property
    def held_money(self) -> Money:
        return Money(self.held, self.currency)

    @property
    def available_money(self) -> Money:
        return Money(self.account.balance - self.held, self.currency)


class WalletCreditLot(StudioOwnedModel):
    """One credit to a wallet (a grant, a top-up, a refund to the wallet): its expiry and what is
    left of it. ``is_open`` is ``remaining > 0`` (the sweeps read open lots by date)."""

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="lots")
    amount = models.BigIntegerField()
    remaining = models.BigIntegerField()
    is_open = models.BooleanField(default=True)
    expires_at = models.DateTimeField(null=True, blank=True)  # null: never expires
    # When the client is told the credit will expire (the studio's reminder days before).
    remind_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    # When the expiry sweep closed the lot, and how much it took to breakage.
    expired_at = models.DateTimeField(null=True, blank=True)
    expired_amount = models.BigIntegerField(default=0)
    source = models.ForeignKey(
        "billing.LedgerTransaction", on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0)
                & Q(remaining__gte=0)
                & Q(remaining__lte=F("amount"))
                & Q(expired_amount__gte=0),
                name="billing_lot_amounts",
            ),
            models.CheckConstraint(
                condition=Q(is_open=True, remaining__gt=0) | Q(is_open=False, remaining=0),
                name="billing_lot_open_iff_remaining",
            ),
        ]
        indexes = [
            # Spends: a wallet's open lots, the first to expire first.
            models.Index(fields=["wallet", "is_open", "expires_at"], name="billing_lot_spend"),
            # The sweeps: open lots due to expire / to be reminded of.
            models.Index(fields=["is_open", "expires_at"], name="billing_lot_expiry"),
            models.Index(fields=["is_open", "remind_at"], name="billing_lot_remind"),
        ]

    def __str__(self) -> str:
        return f"lot {self.remaining}/{self.amount} of {self.wallet_id}"

    @property
    def amount_money(self) -> Money:
        return Money(self.amount, self.wallet.currency)

    @property
    def remaining_money(self) -> Money:
        return Money(self.remaining, self.wallet.currency)


class WalletHold(StudioOwnedModel):
    """Money of a wallet reserved for a checkout in progress: captured (spent, up to the held
    amount), released, or expired by the sweep once ``expires_at`` passes."""

    class State(models.TextChoices):
        HELD = "held", "Held"
        CAPTURED = "captured", "Captured"
        RELEASED = "released", "Released"
        EXPIRED = "expired", "Expired"

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="holds")
    amount = models.BigIntegerField()
    reference = models.CharField(max_length=200)
    expires_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.HELD)
    idempotency_key = models.CharField(max_length=200)
    captured_amount = models.BigIntegerField(default=0)
    capture = models.ForeignKey(
        "billing.LedgerTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["studio", "idempotency_key"], name="billing_hold_idempotency_key"
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0)
                & Q(captured_amount__gte=0)
                & Q(captured_amount__lte=F("amount")),
                name="billing_hold_amounts",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "expires_at"], name="billing_hold_expiry"),
            models.Index(fields=["wallet", "state"], name="billing_hold_wallet"),
        ]

    def __str__(self) -> str:
        return f"hold {self.amount} on {self.wallet_id} ({self.state})"

    @property
    def amount_money(self) -> Money:
        return Money(self.amount, self.wallet.currency)

    @property
    def captured_money(self) -> Money:
        return Money(self.captured_amount, self.wallet.currency)
