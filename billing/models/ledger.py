"""The ledger: accounts, balanced transactions and their entries (double entry, append-only).

Every movement of money is one ``LedgerTransaction`` of two or more ``LedgerEntry`` rows whose
signed amounts sum to zero (+ debit, - credit). Transactions and entries are written once
(``AppendOnlyModel`` with a manager that refuses queryset updates and deletes); a mistake is
corrected by a reversal, a new transaction of the negated entries. Only
``billing.services.ledger`` writes these tables, under row locks on the accounts it touches.

Each account keeps its ``balance`` in its natural sign: debit-normal accounts (money the studio
has or is owed, and its costs) grow with debits, credit-normal ones (what it owes: wallets, gift
cards, taxes; and its income) grow with credits. So a wallet's balance is what its holder may
spend, and the nightly check (``billing.services.reconcile``) compares it with the sum of its
entries, negated for credit-normal accounts.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from billing.money import Money
from picpick.core.models import AppendOnlyModel, AppendOnlyQuerySet, BaseModel, StudioOwnedModel


class LedgerAccount(StudioOwnedModel):
    """A balance of one currency: the studio's revenue, a client's wallet, a gift card, ..."""

    class Kind(models.TextChoices):
        PROVIDER_CLEARING = "provider_clearing", "Provider clearing"
        PAYOUTS = "payouts", "Payouts"
        # Money the studio received itself (a bank transfer, cash, a cheque) for an invoice.
        BANK = "bank", "Bank and cash"
        RECEIVABLE = "receivable", "Receivable"
        WALLET = "wallet", "Wallet"
        GIFT_CARD = "gift_card", "Gift card"
        REVENUE = "revenue", "Revenue"
        TAX_PAYABLE = "tax_payable", "Tax payable"
        REFUNDS = "refunds", "Refunds"
        PROVIDER_FEES = "provider_fees", "Provider fees"
        BREAKAGE = "breakage", "Breakage"
        ADJUSTMENT = "adjustment", "Adjustment"

    DEBIT_NORMAL = frozenset(
        {
            Kind.PROVIDER_CLEARING,
            Kind.PAYOUTS,
            Kind.BANK,
            Kind.RECEIVABLE,
            Kind.REFUNDS,
            Kind.PROVIDER_FEES,
            Kind.ADJUSTMENT,
        }
    )
    CREDIT_NORMAL = frozenset(
        {Kind.WALLET, Kind.GIFT_CARD, Kind.REVENUE, Kind.TAX_PAYABLE, Kind.BREAKAGE}
    )
    # What a holder may spend cannot go below zero; the others may (a refund before the payout).
    NEVER_NEGATIVE = frozenset({Kind.WALLET, Kind.GIFT_CARD})
    # Accounts held per client.
    PER_CONTACT = frozenset({Kind.RECEIVABLE, Kind.WALLET})

    kind = models.CharField(max_length=20, choices=Kind.choices)
    currency = models.CharField(max_length=3)
    # Built by the service from kind, holder and currency ("revenue:EUR",
    # "wallet:<contact id>:EUR", "gift_card:<ref>:EUR"); unique per studio, so two requests
    # creating the same account at once make one.
    key = models.CharField(max_length=120)
    contact = models.ForeignKey(
        "crm.Contact", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reference = models.CharField(max_length=64, blank=True)  # another holder: a gift card's id
    balance = models.BigIntegerField(default=0)  # minor units, natural sign (see the module)
    may_go_negative = models.BooleanField(default=True)
    name = models.CharField(max_length=200, blank=True)  # for people

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["studio", "key"], name="billing_account_key"),
            # The service refuses the post first (insufficient_funds); this holds it anyway.
            models.CheckConstraint(
                condition=Q(may_go_negative=True) | Q(balance__gte=0),
                name="billing_account_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["studio", "kind", "currency"], name="billing_account_kind"),
            models.Index(fields=["studio", "contact"], name="billing_account_contact"),
        ]

    def __str__(self) -> str:
        return self.name or self.key

    @property
    def debit_normal(self) -> bool:
        """Whether debits raise the balance (else credits do)."""
        return self.kind in self.DEBIT_NORMAL

    @property
    def balance_money(self) -> Money:
        return Money(self.balance, self.currency)


class LedgerTransaction(AppendOnlyModel):
    """One balanced movement: its entries' debits equal its credits, both equal ``amount``."""

    class Kind(models.TextChoices):
        PAYMENT_RECEIVED = "payment_received", "Payment received"
        REFUND = "refund", "Refund"
        WALLET_GRANT = "wallet_grant", "Wallet grant"
        WALLET_TOPUP = "wallet_topup", "Wallet top-up"
        WALLET_SPEND = "wallet_spend", "Wallet spend"
        WALLET_REFUND = "wallet_refund", "Wallet refund"
        WALLET_EXPIRED = "wallet_expired", "Wallet expired"
        GIFT_CARD_SOLD = "gift_card_sold", "Gift card sold"
        GIFT_CARD_REDEEMED = "gift_card_redeemed", "Gift card redeemed"
        GIFT_CARD_EXPIRED = "gift_card_expired", "Gift card expired"
        FEE = "fee", "Fee"
        INVOICE_ISSUED = "invoice_issued", "Invoice issued"
        CREDIT_NOTE = "credit_note", "Credit note"
        INVOICE_PAID = "invoice_paid", "Invoice paid"
        LATE_FEE = "late_fee", "Late fee"
        WRITE_OFF = "write_off", "Write-off"
        OVERPAYMENT = "overpayment", "Overpayment to wallet"
        ADJUSTMENT = "adjustment", "Adjustment"
        REVERSAL = "reversal", "Reversal"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    currency = models.CharField(max_length=3)
    # Minor units: the sum of the debits, which is the sum of the credits (> 0).
    amount = models.BigIntegerField()
    debits = models.BigIntegerField()
    credits = models.BigIntegerField()
    # The caller's name for this movement ("api:reverse:<header>", "payment:<id>:captured"):
    # the same key posted again returns this transaction instead of moving money twice.
    idempotency_key = models.CharField(max_length=200)
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    # What the movement is for ("payment", "gift_card", "wallet", "invoice", ...) and its id.
    source_type = models.CharField(max_length=30, blank=True)
    source_id = models.UUIDField(null=True, blank=True)
    memo = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    posted_at = models.DateTimeField()

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["studio", "idempotency_key"], name="billing_txn_idempotency_key"
            ),
            # The database's own check of balance (MariaDB 10.2+ and SQLite enforce CHECK): the
            # service derives the three sums from the entries, the nightly check re-adds them.
            models.CheckConstraint(
                condition=Q(debits=F("credits")) & Q(amount=F("debits")) & Q(amount__gt=0),
                name="billing_txn_balanced",
            ),
        ]
        indexes = [
            models.Index(fields=["studio", "-posted_at", "-id"], name="billing_txn_recent"),
            models.Index(fields=["studio", "source_type", "source_id"], name="billing_txn_source"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency}"

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


class LedgerEntry(AppendOnlyModel):
    """One side of a transaction on one account: + debit, - credit, never zero."""

    # Time order is the id's (UUIDv7): an index on the creation time would only cost writes.
    created_at = models.DateTimeField(auto_now_add=True)
    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="entries"
    )
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="entries")
    amount = models.BigIntegerField()  # minor units, signed
    currency = models.CharField(max_length=3)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="billing_entry_not_zero"),
        ]
        indexes = [
            # An account's statement, newest first, is a keyset range read of this index; the
            # nightly check's GROUP BY account sums amounts and compares currencies from it
            # alone (no row reads).
            models.Index(
                fields=["account", "-id", "amount", "currency"], name="billing_entry_account"
            ),
            # The nightly check's GROUP BY transaction, likewise from the index alone.
            models.Index(
                fields=["transaction", "amount", "currency"], name="billing_entry_transaction"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount:+d} {self.currency}"

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def is_debit(self) -> bool:
        return self.amount > 0


class LedgerCheckRun(BaseModel):
    """One run of the ledger check (``billing.services.reconcile.ledger_check``).

    Not studio-owned: a nightly run checks every studio at once (``studio`` is null then).
    """

    MAX_DRIFTS = 200  # listed in ``drifts``; ``drift_count`` counts them all

    studio = models.ForeignKey(
        "accounts.Studio", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    accounts_checked = models.BigIntegerField(default=0)
    transactions_checked = models.BigIntegerField(default=0)
    entries_checked = models.BigIntegerField(default=0)
    drift_count = models.BigIntegerField(default=0)
    drifts = models.JSONField(default=list, blank=True)
    ok = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["-started_at"], name="billing_check_recent")]

    def __str__(self) -> str:
        return f"ledger check {self.started_at:%Y-%m-%d %H:%M} {'ok' if self.ok else 'DRIFT'}"
