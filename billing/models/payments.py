"""Card payments through the payment provider (Stripe): the studio's connected account, the
payments clients make on the studio's site, their refunds and disputes, and the provider's
webhook events.

Money is integer minor units with an ISO 4217 currency. What a payment did to the studio's
books is the ledger's (``posted_transaction`` and the refunds' and disputes' transactions):
these rows say where the provider is, the ledger says what the money did.

Nothing here stores a card number, a client secret or a secret key: the provider holds cards;
the client secret a page needs to confirm a payment is handed to it from the provider's answer
(or fetched again from the provider when a start is retried), never kept.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from billing.money import Money
from picpick.core.models import BaseModel, StudioOwnedModel


class ConnectedAccount(StudioOwnedModel):
    """The studio's own account at the provider (Stripe Connect, Express): clients' payments
    are made on it (direct charges), so the money is the studio's and PicPick takes at most
    its application fee. Flags come from the provider (``account.updated`` events, a refresh)."""

    studio = models.OneToOneField(
        "accounts.Studio", on_delete=models.CASCADE, related_name="connected_account"
    )
    provider_account_id = models.CharField(max_length=64, unique=True)
    charges_enabled = models.BooleanField(default=False)
    payouts_enabled = models.BooleanField(default=False)
    details_submitted = models.BooleanField(default=False)
    country = models.CharField(max_length=2, blank=True)
    default_currency = models.CharField(max_length=3, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.provider_account_id


class ProviderCustomer(StudioOwnedModel):
    """A contact as a customer of the studio's connected account (for saved cards)."""

    contact = models.ForeignKey("crm.Contact", on_delete=models.PROTECT, related_name="+")
    provider_customer_id = models.CharField(max_length=64)
    provider_account_id = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["studio", "contact"], name="billing_provider_customer_unique_contact"
            )
        ]

    def __str__(self) -> str:
        return self.provider_customer_id


class SavedCard(StudioOwnedModel):
    """A card the provider keeps for a contact (brand and last digits only), for autopay."""

    contact = models.ForeignKey("crm.Contact", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(ProviderCustomer, on_delete=models.CASCADE, related_name="cards")
    provider_payment_method_id = models.CharField(max_length=64)
    brand = models.CharField(max_length=20, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["studio", "provider_payment_method_id"],
                name="billing_saved_card_unique_method",
            )
        ]

    def __str__(self) -> str:
        return f"{self.brand} •••• {self.last4}"


class Payment(StudioOwnedModel):
    """One card payment of a client to the studio.

    Life: ``created`` (our row; the provider's intent is made right after, and its id kept)
    -> ``requires_action`` (3-D Secure: the client must authenticate; never paid) ->
    ``processing`` -> ``succeeded`` (the ledger posting made, exactly once: ``posted_transaction``
    is unique), or ``failed`` (declined; the intent is canceled so it can never succeed later)
    or ``canceled`` (abandoned). ``refunded_amount`` counts refunds made or being made, so two
    refunds can never together pass the amount.
    """

    class Purpose(models.TextChoices):
        WALLET_TOPUP = "wallet_topup", "Wallet top-up"
        GIFT_CARD = "gift_card", "Gift card"
        INVOICE = "invoice", "Invoice"

    class State(models.TextChoices):
        CREATED = "created", "Created"
        REQUIRES_ACTION = "requires_action", "Requires action"
        PROCESSING = "processing", "Processing"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    OPEN = (State.CREATED, State.REQUIRES_ACTION, State.PROCESSING)
    FINAL = (State.SUCCEEDED, State.FAILED, State.CANCELED)

    contact = models.ForeignKey(
        "crm.Contact", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    # What the payment is for: the wallet's id (a top-up), the gift card's id or the invoice's.
    reference_id = models.UUIDField(null=True, blank=True)
    amount = models.BigIntegerField()
    # Of ``amount``, the tip the client chose to add (invoices only): it is the studio's
    # revenue, not a payment of the invoice.
    tip = models.BigIntegerField(default=0)
    # An off-session charge (autopay) rather than one the client confirms in the browser.
    off_session = models.BooleanField(default=False)
    # The saved card an off-session charge is made with (the provider's payment method id).
    payment_method_id = models.CharField(max_length=64, blank=True)
    currency = models.CharField(max_length=3)
    # The provider's fee for the charge (PicPick's application fee included), once known.
    fee = models.BigIntegerField(null=True, blank=True)
    application_fee = models.BigIntegerField(null=True, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.CREATED)
    refunded_amount = models.BigIntegerField(default=0)
    provider_account_id = models.CharField(max_length=64)
    intent_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    # The Idempotency-Key of the start (namespaced); the same key again is the same payment.
    idempotency_key = models.CharField(max_length=200)
    # A hash of what the start asked for: the same key with another request is a 409.
    request_fingerprint = models.CharField(max_length=64)
    # The I/O claim: whoever set the token makes the provider call; stale claims are retaken.
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    posted_transaction = models.OneToOneField(
        "billing.LedgerTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # The fee posted later when the provider did not know it yet at the success.
    fee_transaction = models.OneToOneField(
        "billing.LedgerTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    last_error_code = models.CharField(max_length=64, blank=True)
    last_decline_code = models.CharField(max_length=64, blank=True)
    payer_email = models.CharField(max_length=254)
    payer_name = models.CharField(max_length=200, blank=True)
    description = models.CharField(max_length=300, blank=True)
    # Keep the card on the contact's provider customer for later charges (autopay): the intent
    # is made for that customer with ``setup_future_usage``, and the card recorded on success.
    save_card = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # When the provider was last asked (status polls ask at most every few seconds).
    refreshed_at = models.DateTimeField(null=True, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["studio", "idempotency_key"], name="billing_payment_unique_key"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_payment_amount_pos"),
            models.CheckConstraint(
                condition=Q(tip__gte=0) & Q(tip__lt=F("amount")), name="billing_payment_tip_range"
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("amount")),
                name="billing_payment_refunded_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(fee__isnull=True) | Q(fee__gte=0), name="billing_payment_fee_pos"
            ),
        ]
        indexes = [
            models.Index(fields=["studio", "created_at", "id"], name="billing_payment_list"),
            models.Index(fields=["studio", "state", "created_at"], name="billing_payment_state"),
            # The sweeper: open payments across studios, oldest first.
            models.Index(fields=["state", "created_at"], name="billing_payment_sweep"),
            models.Index(fields=["studio", "reference_id"], name="billing_payment_reference"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.amount} {self.currency} ({self.state})"

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def fee_money(self) -> Money | None:
        return None if self.fee is None else Money(self.fee, self.currency)

    @property
    def application_fee_money(self) -> Money | None:
        fee = self.application_fee
        return None if fee is None else Money(fee, self.currency)

    @property
    def refunded_money(self) -> Money:
        return Money(self.refunded_amount, self.currency)

    @property
    def refundable_money(self) -> Money:
        """What may still be refunded (only a booked success can be)."""
        left = self.amount - self.refunded_amount if self.posted_transaction_id else 0
        return Money(left, self.currency)


class Refund(StudioOwnedModel):
    """Money of a payment given back: to the card (through the provider) or as wallet credit."""

    class Destination(models.TextChoices):
        CARD = "card", "Card"
        WALLET = "wallet", "Wallet"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    destination = models.CharField(max_length=10, choices=Destination.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    provider_refund_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    idempotency_key = models.CharField(max_length=200)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    # The posting of the refund itself (money out of clearing, or the wallet's credit).
    ledger_transaction = models.OneToOneField(
        "billing.LedgerTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # A gift card refunded as wallet credit: the posting that takes it off the card.
    release_transaction = models.OneToOneField(
        "billing.LedgerTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error_code = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    succeeded_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["studio", "idempotency_key"], name="billing_refund_unique_key"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_refund_amount_pos"),
        ]
        indexes = [
            models.Index(fields=["state", "created_at"], name="billing_refund_sweep"),
        ]

    def __str__(self) -> str:
        return f"refund {self.amount} {self.currency} to {self.destination} ({self.state})"

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


class Dispute(StudioOwnedModel):
    """A chargeback the client opened with their bank. When it opens the provider takes the
    disputed amount off the studio's balance (``withdrawn_transaction``); a won dispute gives it
    back (``reinstated_transaction``)."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="disputes")
    provider_dispute_id = models.CharField(max_length=64, unique=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=40, blank=True)  # the provider's word
    withdrawn_transaction = models.OneToOneField(
        "billing.LedgerTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reinstated_transaction = models.OneToOneField(
        "billing.LedgerTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["studio", "created_at", "id"], name="billing_dispute_list")]

    def __str__(self) -> str:
        return f"dispute {self.provider_dispute_id} ({self.status})"

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


class WebhookEvent(BaseModel):
    """An event the provider sent, verified and stored before it is processed (by a task), so
    a redelivery is recognised by its id and a failed processing is retried."""

    class State(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"
        IGNORED = "ignored", "Ignored"

    # The studio whose connected account the event is about, when known.
    studio = models.ForeignKey(
        "accounts.Studio", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    event_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=100)
    account = models.CharField(max_length=64, blank=True)
    livemode = models.BooleanField(default=False)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "received_at"], name="billing_webhook_state")]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
