"""Invoicing: the studio's catalogue and tax rates, quotes, invoices (and credit notes), their
payment schedules, reminders and autopay attempts.

Money is integer minor units of the document's ``currency``. Totals are computed by one pure
function (``billing.pricing.compute``) and stored on the document when it is written, so lists
and reports read them without recomputing; the ledger says what was owed and paid:

- Issuing an invoice posts ``invoice_issued`` (debit the invoice's own receivable account, credit
  revenue per catalogue item and tax payable per rate). The invoice's ``receivable`` account's
  balance is what the client still owes on it; payments (card, wallet, gift card) credit it.
- ``status`` is derived from that balance by ``billing.services.invoices`` under the invoice's
  row lock whenever something is posted; nobody sets it by hand (no API or admin field writes it).
- An issued invoice is never edited: corrections are credit notes (``kind=credit_note``, linked
  by ``credit_for``) or a void with a reason. The only lines added after issue are late fees,
  each posted on its own.
- Which instalments are paid follows from the amount paid on the invoice, applied to the
  schedule in due order (no allocation rows to drift).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from billing.money import Money
from picpick.core.models import BaseModel, StudioOwnedModel

_RATE = {"max_digits": 7, "decimal_places": 4}  # percent, 0..100, e.g. 9.9750
_QUANTITY = {"max_digits": 12, "decimal_places": 3}


class TaxRate(StudioOwnedModel):
    """A tax the studio charges (VAT 20%, GST 5%, PST 7%): picked per catalogue item and line.
    Lines keep a copy (name, rate, inclusive, compound), so editing a rate never changes a
    document already written."""

    name = models.CharField(max_length=40)
    rate = models.DecimalField(**_RATE)
    inclusive = models.BooleanField(default=False)  # prices already contain it
    compound = models.BooleanField(default=False)  # levied on net + the other taxes
    country = models.CharField(max_length=2, blank=True)
    region = models.CharField(max_length=10, blank=True)
    archived = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(rate__gte=0) & Q(rate__lte=100), name="billing_tax_rate_range"
            ),
        ]
        indexes = [models.Index(fields=["studio", "archived", "name"], name="billing_tax_list")]

    def __str__(self) -> str:
        return f"{self.name} {self.rate.normalize()}%"


class CatalogueItem(StudioOwnedModel):
    """A package or an item the studio sells, reusable on quotes and invoices."""

    class Kind(models.TextChoices):
        PACKAGE = "package", "Package"
        ITEM = "item", "Item"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.ITEM)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    unit_price = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    taxes = models.ManyToManyField(TaxRate, blank=True, related_name="+")
    # On a quote: an optional item is an add-on the client may tick; a required one is always in.
    optional = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)
    archived = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="billing_catalogue_price_pos"
            ),
        ]
        indexes = [
            models.Index(fields=["studio", "archived", "position"], name="billing_catalogue_list")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def price_money(self) -> Money:
        return Money(self.unit_price, self.currency)


class DocumentCounter(BaseModel):
    """The last number given per studio, series and year: numbers are taken under this row's
    lock when a document is issued, so they are sequential and gapless."""

    class Series(models.TextChoices):
        INVOICE = "invoice", "Invoice"
        CREDIT_NOTE = "credit_note", "Credit note"
        QUOTE = "quote", "Quote"

    studio = models.ForeignKey("accounts.Studio", on_delete=models.CASCADE, related_name="+")
    series = models.CharField(max_length=12, choices=Series.choices)
    year = models.PositiveIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["studio", "series", "year"], name="billing_counter_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.series} {self.year}: {self.last}"


class Quote(StudioOwnedModel):
    """A proposal on a job: packages to choose between and add-ons, until ``expires_on``.
    Accepting it (typed name, time, address kept) issues the invoice and its schedule and moves
    the job to ``accept_stage``."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        SENT = "sent", "Sent"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        WITHDRAWN = "withdrawn", "Withdrawn"

    job = models.ForeignKey(
        "crm.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact = models.ForeignKey("crm.Contact", on_delete=models.PROTECT, related_name="+")
    number = models.CharField(max_length=40, null=True, blank=True)  # noqa: DJ001 (NULL: none yet)
    title = models.CharField(max_length=200)
    message = models.TextField(blank=True)
    currency = models.CharField(max_length=3)
    language = models.CharField(max_length=20, blank=True)  # CLDR locale; blank: the studio's
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    expires_on = models.DateField(null=True, blank=True)
    # The job's stage once accepted (a booked stage, typically).
    accept_stage = models.ForeignKey(
        "crm.Stage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The schedule the invoice gets, as parts (``billing.pricing.Part`` as JSON:
    # [{"label": "Deposit", "percent": "30", "due": {"on": "acceptance"}}, ...]).
    schedule = models.JSONField(default=list, blank=True)
    payment_terms_days = models.PositiveIntegerField(null=True, blank=True)
    discount_percent = models.DecimalField(**_RATE, null=True, blank=True)
    discount_amount = models.BigIntegerField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_name = models.CharField(max_length=200, blank=True)
    accepted_address = models.GenericIPAddressField(null=True, blank=True)
    accepted_user_agent = models.CharField(max_length=300, blank=True)
    # What the client chose: {"package": "<item id>", "addons": ["<item id>", ...]}.
    accepted_choice = models.JSONField(default=dict, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.CharField(max_length=300, blank=True)
    invoice = models.OneToOneField(
        "billing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                # Drafts have no number (NULLs never collide).
                fields=["studio", "number"],
                name="billing_quote_unique_number",
            ),
        ]
        indexes = [
            models.Index(fields=["studio", "created_at", "id"], name="billing_quote_list"),
            models.Index(fields=["studio", "job"], name="billing_quote_job"),
        ]

    def __str__(self) -> str:
        return self.number or self.title


class QuoteItem(StudioOwnedModel):
    """One choice on a quote: a package (the client picks one of the quote's packages) or an
    item (required, or an optional add-on the client may tick)."""

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="items")
    catalogue_item = models.ForeignKey(
        CatalogueItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(
        max_length=10, choices=CatalogueItem.Kind.choices, default=CatalogueItem.Kind.ITEM
    )
    optional = models.BooleanField(default=False)
    selected = models.BooleanField(default=True)  # pre-selected (a package or an add-on)
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    quantity = models.DecimalField(**_QUANTITY, default=1)
    unit_price = models.BigIntegerField()
    discount_percent = models.DecimalField(**_RATE, null=True, blank=True)
    discount_amount = models.BigIntegerField(null=True, blank=True)
    # Copies of the tax rates: [{"name", "rate", "inclusive", "compound"}].
    taxes = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(unit_price__gte=0) & Q(quantity__gte=0), name="billing_quote_item_pos"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Invoice(StudioOwnedModel):
    """An invoice, or a credit note (``kind``), of a contact, maybe for a job.

    ``number`` is null while a draft and given when issued. After issue nothing of it changes
    but ``status`` (derived from the ledger), the late fees added, the PDF and the void or
    write-off fields. Totals are the pure computation's, stored when the lines are written;
    ``late_fees`` and ``credited`` follow the postings that change what is owed.
    """

    class Kind(models.TextChoices):
        INVOICE = "invoice", "Invoice"
        CREDIT_NOTE = "credit_note", "Credit note"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        PARTIALLY_PAID = "partially_paid", "Partially paid"
        PAID = "paid", "Paid"
        VOID = "void", "Void"
        UNCOLLECTIBLE = "uncollectible", "Uncollectible"

    class Rounding(models.TextChoices):
        HALF_EVEN = "half_even", "Half to even"
        HALF_UP = "half_up", "Half up"

    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.INVOICE)
    contact = models.ForeignKey("crm.Contact", on_delete=models.PROTECT, related_name="+")
    job = models.ForeignKey(
        "crm.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A credit note's invoice.
    credit_for = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="credit_notes"
    )
    number = models.CharField(max_length=40, null=True, blank=True)  # noqa: DJ001 (NULL: a draft)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    currency = models.CharField(max_length=3)
    language = models.CharField(max_length=20, blank=True)  # CLDR locale; blank: the studio's
    rounding = models.CharField(max_length=10, choices=Rounding.choices, default=Rounding.HALF_EVEN)
    title = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    issue_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    # Instalments due relative to the event are resolved against this date.
    event_date = models.DateField(null=True, blank=True)
    discount_percent = models.DecimalField(**_RATE, null=True, blank=True)
    discount_amount = models.BigIntegerField(null=True, blank=True)
    allow_tips = models.BooleanField(default=False)
    # A draft's planned schedule, as parts (see ``Quote.schedule``); made into instalments
    # when issued. Empty: one instalment, the whole total, due on the due date.
    schedule = models.JSONField(default=list, blank=True)
    # Set when another service makes the invoice for its own request (a booking's deposit):
    # the same key again is the same invoice.
    source_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    # The computed totals (``billing.pricing.Totals``) of the lines, stored when written.
    subtotal = models.BigIntegerField(default=0)
    discount_total = models.BigIntegerField(default=0)
    net_total = models.BigIntegerField(default=0)
    tax_total = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    # [{"name", "rate", "inclusive", "compound", "base", "amount"}], as computed.
    tax_breakdown = models.JSONField(default=list, blank=True)
    # Added after issue, each with its own posting: late fees charged, credit notes applied.
    late_fees = models.BigIntegerField(default=0)
    credited = models.BigIntegerField(default=0)
    # Who is billed and who bills, as they were when issued (name, email, address, tax id).
    bill_to = models.JSONField(default=dict, blank=True)
    seller = models.JSONField(default=dict, blank=True)
    receivable = models.OneToOneField(
        "billing.LedgerAccount", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issued_transaction = models.OneToOneField(
        "billing.LedgerTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    issued_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=300, blank=True)
    void_transaction = models.OneToOneField(
        "billing.LedgerTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    uncollectible_at = models.DateTimeField(null=True, blank=True)
    write_off_transaction = models.OneToOneField(
        "billing.LedgerTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # The stored PDF (default storage) and the SHA-256 of its bytes, kept once issued.
    pdf_path = models.CharField(max_length=300, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                # Drafts have no number (NULLs never collide).
                fields=["studio", "number"],
                name="billing_invoice_unique_number",
            ),
            models.UniqueConstraint(
                fields=["studio", "source_key"], name="billing_invoice_unique_source_key"
            ),
            models.CheckConstraint(
                condition=Q(total__gte=0) & Q(late_fees__gte=0) & Q(credited__gte=0),
                name="billing_invoice_amounts_pos",
            ),
        ]
        indexes = [
            models.Index(fields=["studio", "created_at", "id"], name="billing_invoice_list"),
            models.Index(fields=["studio", "status", "due_date"], name="billing_invoice_status"),
            models.Index(fields=["studio", "contact"], name="billing_invoice_contact"),
            models.Index(fields=["studio", "job"], name="billing_invoice_job"),
            models.Index(fields=["studio", "issue_date"], name="billing_invoice_issued"),
        ]

    def __str__(self) -> str:
        return self.number or f"draft {self.kind} {self.id}"

    @property
    def owed(self) -> int:
        """What the invoice asks for in all: its total, late fees added, credit notes taken off."""
        return self.total + self.late_fees - self.credited

    @property
    def total_money(self) -> Money:
        return Money(self.total, self.currency)


class InvoiceLine(StudioOwnedModel):
    """One line of an invoice. Computed amounts are stored as ``billing.pricing`` gave them."""

    class Kind(models.TextChoices):
        ITEM = "item", "Item"
        LATE_FEE = "late_fee", "Late fee"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.ITEM)
    position = models.PositiveIntegerField(default=0)
    catalogue_item = models.ForeignKey(
        CatalogueItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    quantity = models.DecimalField(**_QUANTITY, default=1)
    unit_price = models.BigIntegerField()
    discount_percent = models.DecimalField(**_RATE, null=True, blank=True)
    discount_amount = models.BigIntegerField(null=True, blank=True)
    # Copies of the tax rates: [{"name", "rate", "inclusive", "compound"}].
    taxes = models.JSONField(default=list, blank=True)
    gross = models.BigIntegerField(default=0)
    discount = models.BigIntegerField(default=0)
    net = models.BigIntegerField(default=0)
    tax = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    # [{"name", "rate", "inclusive", "compound", "base", "amount"}], as computed.
    tax_breakdown = models.JSONField(default=list, blank=True)
    # A late fee's own posting (key ``late-fee:<instalment>:<n>``).
    posted_transaction = models.OneToOneField(
        "billing.LedgerTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # A late fee: its instalment and which application it is (unique: never twice).
    instalment = models.ForeignKey(
        "billing.Instalment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    fee_sequence = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(unit_price__gte=0) & Q(quantity__gte=0), name="billing_line_pos"
            ),
            models.UniqueConstraint(
                # Item lines have neither (NULLs never collide).
                fields=["instalment", "fee_sequence"],
                name="billing_line_late_fee_once",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Instalment(StudioOwnedModel):
    """One due amount of an invoice's schedule. Amounts always sum to what the invoice asks
    for (the last one absorbs rounding). Whether it is paid follows from the invoice's paid
    amount applied in due order (``paid`` is that result, refreshed with the invoice's status)."""

    class Due(models.TextChoices):
        ON_ACCEPTANCE = "acceptance", "On acceptance"
        ON_DATE = "date", "On a date"
        BEFORE_EVENT = "before_event", "Days before the event"
        AFTER_EVENT = "after_event", "Days after the event"
        ON_ISSUE = "issue", "On issue"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        PARTIALLY_PAID = "partially_paid", "Partially paid"
        PAID = "paid", "Paid"
        OVERDUE = "overdue", "Overdue"  # dunning gave up: the studio was told
        CANCELED = "canceled", "Canceled"  # the invoice was voided or written off

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="instalments")
    position = models.PositiveIntegerField()
    label = models.CharField(max_length=100)
    due_kind = models.CharField(max_length=14, choices=Due.choices, default=Due.ON_DATE)
    due_days = models.IntegerField(null=True, blank=True)  # for the event offsets
    due_date = models.DateField()
    amount = models.BigIntegerField()
    paid = models.BigIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    paid_at = models.DateTimeField(null=True, blank=True)
    # Autopay: charge the contact's saved card on the due date (and on the dunning days).
    autopay = models.BooleanField(default=False)
    saved_card = models.ForeignKey(
        "billing.SavedCard", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The next autopay attempt's time (null: none planned); the sweep reads this index.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    overdue_at = models.DateTimeField(null=True, blank=True)
    late_fees_charged = models.BigIntegerField(default=0)
    late_fee_count = models.PositiveIntegerField(default=0)
    last_late_fee_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "position"], name="billing_instalment_position"
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0) & Q(paid__gte=0) & Q(paid__lte=F("amount")),
                name="billing_instalment_amounts",
            ),
        ]
        indexes = [
            # The sweeps: unpaid instalments by due date; autopay attempts by time.
            models.Index(fields=["state", "due_date"], name="billing_instalment_due"),
            models.Index(fields=["next_attempt_at"], name="billing_instalment_autopay"),
            # The receivables aging report: a studio's open instalments read from the index
            # alone (amount and paid included), grouped by invoice for its currency.
            models.Index(
                fields=["studio", "state", "invoice", "due_date", "amount", "paid"],
                name="billing_instalment_aging",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} {self.amount} due {self.due_date}"

    @property
    def remaining(self) -> int:
        return self.amount - self.paid


class InvoiceReminder(StudioOwnedModel):
    """One reminder email of an instalment ("before:3", "due", "overdue:7"): the unique key
    makes each one sent once, even with two sweeps running."""

    instalment = models.ForeignKey(Instalment, on_delete=models.CASCADE, related_name="reminders")
    key = models.CharField(max_length=30)
    sent_at = models.DateTimeField(null=True, blank=True)
    email_id = models.UUIDField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instalment", "key"], name="billing_reminder_once"),
        ]

    def __str__(self) -> str:
        return f"{self.key} of {self.instalment_id}"


class AutopayAttempt(StudioOwnedModel):
    """One off-session charge of an instalment. Unique per (instalment, attempt): the payment
    it makes is keyed by this row, so a worker killed mid-charge retries the same payment at the
    provider (same idempotency key) and can never charge twice."""

    class State(models.TextChoices):
        CLAIMED = "claimed", "Claimed"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        REQUIRES_ACTION = "requires_action", "Requires action"
        SKIPPED = "skipped", "Skipped"  # nothing left to charge, or no card

    instalment = models.ForeignKey(Instalment, on_delete=models.CASCADE, related_name="autopays")
    number = models.PositiveIntegerField()
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    state = models.CharField(max_length=16, choices=State.choices, default=State.CLAIMED)
    payment = models.ForeignKey(
        "billing.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["instalment", "number"], name="billing_autopay_attempt_once"
            ),
        ]
        indexes = [models.Index(fields=["state", "claimed_at"], name="billing_autopay_state")]

    def __str__(self) -> str:
        return f"autopay {self.number} of {self.instalment_id} ({self.state})"
