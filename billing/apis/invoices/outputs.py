"""What the invoice API answers: invoices in a list and in full, their lines, taxes,
instalments, credit notes, card payments and the receivable's history; and the examples the
OpenAPI document shows.

Every amount is billing's money object (``{"amount", "currency", "decimal", "formatted"}``) in
the document's currency, formatted in the studio's locale; rates and quantities are exact
decimal strings (``"20"``, ``"1.5"``).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.apis.common import ContactBriefSerializer
from billing.apis.fields import DEFAULT_LOCALE, MoneyOutputSerializer, example_money
from billing.apis.ledger import StatementEntrySerializer
from billing.apis.payments import PaymentOutputSerializer, RefundOutputSerializer
from billing.models import Instalment, Invoice, InvoiceLine
from billing.money import Money, money_format

# --- Fields -----------------------------------------------------------------------------------


@extend_schema_field(MoneyOutputSerializer)
class AmountOf(serializers.Field):
    """An integer attribute of the row as the money object, in the row's ``currency``
    (null stays null)."""

    def __init__(self, attribute: str | None = None, **kwargs: Any) -> None:
        self.attribute = attribute
        kwargs["source"] = "*"
        super().__init__(**kwargs)

    def bind(self, field_name: str, parent: Any) -> None:
        super().bind(field_name, parent)
        self.attribute = self.attribute or field_name

    def to_representation(self, row: Any) -> dict | None:
        value = row.get(self.attribute) if isinstance(row, dict) else getattr(row, self.attribute)
        if value is None:
            return None
        currency = row["currency"] if isinstance(row, dict) else row.currency
        return money_dict(value, currency, self.context.get("locale", DEFAULT_LOCALE))


def money_dict(amount: int, currency: str, locale: str) -> dict:
    money = Money(amount, currency)
    return {
        "amount": amount,
        "currency": currency,
        "decimal": money.decimal_str(),
        "formatted": money_format(money, locale),
    }


@extend_schema_field({"type": "string", "example": "20", "description": "A plain decimal."})
class DecimalText(serializers.Field):
    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str:
        return format(value.normalize(), "f") if hasattr(value, "normalize") else str(value)


# --- Serializers ------------------------------------------------------------------------------


class TaxCopySerializer(serializers.Serializer):
    name = serializers.CharField()
    rate = serializers.CharField(help_text="A percent: `20`, `9.975`.")
    inclusive = serializers.BooleanField()
    compound = serializers.BooleanField()


class TaxAmountSerializer(TaxCopySerializer):
    base = AmountOf(help_text="What the tax is levied on.")
    amount = AmountOf()


class InvoiceLineSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=InvoiceLine.Kind.choices)
    position = serializers.IntegerField()
    catalogue_item_id = serializers.UUIDField(allow_null=True)
    name = serializers.CharField()
    description = serializers.CharField()
    quantity = DecimalText(help_text="Up to 3 decimals.")
    unit_price = AmountOf()
    discount_percent = DecimalText(allow_null=True)
    discount_amount = AmountOf(allow_null=True)
    taxes = TaxCopySerializer(many=True, help_text="The rates as they were when written.")
    gross = AmountOf(help_text="quantity x unit price, rounded once.")
    discount = AmountOf(help_text="The line's discount and its share of the invoice's.")
    net = AmountOf()
    tax = AmountOf()
    total = AmountOf()
    tax_breakdown = serializers.SerializerMethodField()

    @extend_schema_field(TaxAmountSerializer(many=True))
    def get_tax_breakdown(self, line: InvoiceLine) -> list[dict]:
        return _taxes(line.tax_breakdown, line.currency, self.context)


class InstalmentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    position = serializers.IntegerField()
    label = serializers.CharField()
    due_kind = serializers.ChoiceField(choices=Instalment.Due.choices)
    due_days = serializers.IntegerField(allow_null=True)
    due_date = serializers.DateField()
    amount = AmountOf()
    paid = AmountOf(help_text="From the invoice's paid amount, applied in due order.")
    remaining = AmountOf()
    state = serializers.ChoiceField(choices=Instalment.State.choices)
    paid_at = serializers.DateTimeField(allow_null=True)
    autopay = serializers.BooleanField(help_text="Charged to the client's saved card when due.")
    overdue_at = serializers.DateTimeField(allow_null=True)
    late_fees_charged = AmountOf()


class InvoiceSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=Invoice.Kind.choices)
    number = serializers.CharField(allow_null=True, help_text="Null while a draft.")
    status = serializers.ChoiceField(
        choices=Invoice.Status.choices, help_text="Derived from the ledger; never set by hand."
    )
    is_overdue = serializers.BooleanField(
        help_text="Open, with an unpaid instalment due before today."
    )
    contact = ContactBriefSerializer()
    job_id = serializers.UUIDField(allow_null=True)
    credit_for_id = serializers.UUIDField(allow_null=True, help_text="A credit note's invoice.")
    currency = serializers.CharField()
    title = serializers.CharField()
    issue_date = serializers.DateField(allow_null=True)
    due_date = serializers.DateField(allow_null=True)
    total = AmountOf()
    owed = AmountOf(help_text="The total, with late fees added and credit notes taken off.")
    paid = AmountOf()
    balance_due = AmountOf(
        allow_null=True, help_text="The invoice's receivable balance; null for a draft."
    )
    created_at = serializers.DateTimeField()


class InvoicePageSerializer(serializers.Serializer):
    results = InvoiceSummarySerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class CreditNoteBriefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    number = serializers.CharField(allow_null=True)
    issue_date = serializers.DateField(allow_null=True)
    total = AmountOf()
    reason = serializers.CharField(source="notes")


class InvoicePaymentSerializer(PaymentOutputSerializer):
    refunds = RefundOutputSerializer(many=True, source="refunds.all")


class InvoicePaymentPageSerializer(serializers.Serializer):
    results = InvoicePaymentSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class InvoiceDetailSerializer(InvoiceSummarySerializer):
    language = serializers.CharField(help_text="Of the document; empty: the studio's.")
    notes = serializers.CharField()
    event_date = serializers.DateField(allow_null=True)
    rounding = serializers.ChoiceField(choices=Invoice.Rounding.choices)
    discount_percent = DecimalText(allow_null=True)
    discount_amount = AmountOf(allow_null=True)
    allow_tips = serializers.BooleanField()
    schedule = serializers.JSONField(help_text="A draft's planned schedule (parts).")
    subtotal = AmountOf()
    discount_total = AmountOf()
    net_total = AmountOf()
    tax_total = AmountOf()
    late_fees = AmountOf()
    credited = AmountOf()
    tax_breakdown = serializers.SerializerMethodField()
    bill_to = serializers.JSONField(help_text="The client as when issued.")
    seller = serializers.JSONField(help_text="The studio as when issued.")
    issued_at = serializers.DateTimeField(allow_null=True)
    paid_at = serializers.DateTimeField(allow_null=True)
    voided_at = serializers.DateTimeField(allow_null=True)
    void_reason = serializers.CharField(help_text="Why it was voided or written off.")
    uncollectible_at = serializers.DateTimeField(allow_null=True)
    pdf_url = serializers.SerializerMethodField()
    pdf_sha256 = serializers.CharField(help_text="Of the stored PDF; empty until stored.")
    updated_at = serializers.DateTimeField()
    lines = InvoiceLineSerializer(many=True, source="line_rows")
    instalments = InstalmentSerializer(
        many=True, source="instalment_rows", help_text="Empty for a draft (see `schedule`)."
    )
    credit_notes = CreditNoteBriefSerializer(many=True, source="credit_note_rows")
    payments = InvoicePaymentSerializer(
        many=True, source="payment_rows", help_text="Card payments, newest first."
    )
    history = StatementEntrySerializer(
        many=True,
        source="history_rows",
        help_text="The invoice's receivable in the ledger, oldest first: issued, paid (card, "
        "wallet, gift card), refunded, credited, late fees.",
    )

    @extend_schema_field(TaxAmountSerializer(many=True))
    def get_tax_breakdown(self, invoice: Invoice) -> list[dict]:
        return _taxes(invoice.tax_breakdown, invoice.currency, self.context)

    def get_pdf_url(self, invoice: Invoice) -> str | None:
        if invoice.number is None:
            return None
        return f"/api/v1/billing/invoices/{invoice.id}/pdf/"


def _taxes(rows: list[dict], currency: str, context: dict) -> list[dict]:
    locale = context.get("locale", DEFAULT_LOCALE)
    return [
        {
            "name": tax["name"],
            "rate": str(tax["rate"]),
            "inclusive": bool(tax.get("inclusive")),
            "compound": bool(tax.get("compound")),
            "base": money_dict(tax["base"], currency, locale),
            "amount": money_dict(tax["amount"], currency, locale),
        }
        for tax in rows or []
    ]


# --- Examples ---------------------------------------------------------------------------------

INVOICE_ID = "0193b000-7c1e-7b0a-9c52-6f1d2e3a4c01"
CONTACT = {
    "id": "01939a4f-11aa-7c3d-8e2f-0a1b2c3d4e5f",
    "name": "Jane Doe",
    "email": "jane@example.com",
}
_VAT = {"name": "VAT", "rate": "20", "inclusive": False, "compound": False}
SUMMARY = {
    "id": INVOICE_ID,
    "kind": "invoice",
    "number": "INV-2026-0042",
    "status": "partially_paid",
    "is_overdue": False,
    "contact": CONTACT,
    "job_id": "01939a50-0000-7000-8000-000000000001",
    "credit_for_id": None,
    "currency": "EUR",
    "title": "Doe wedding",
    "issue_date": "2026-05-02",
    "due_date": "2026-05-16",
    "total": example_money(240_000),
    "owed": example_money(240_000),
    "paid": example_money(72_000),
    "balance_due": example_money(168_000),
    "created_at": "2026-05-01T10:00:00Z",
}
DRAFT_SUMMARY = {
    **SUMMARY,
    "number": None,
    "status": "draft",
    "issue_date": None,
    "paid": example_money(0),
    "balance_due": None,
}
LINE = {
    "id": "0193b000-7c1e-7b0a-9c52-000000000011",
    "kind": "item",
    "position": 0,
    "catalogue_item_id": "01939d20-5a6b-7c8d-9e0f-a1b2c3d4e5f6",
    "name": "Full day wedding",
    "description": "10 hours, two photographers.",
    "quantity": "1",
    "unit_price": example_money(200_000),
    "discount_percent": None,
    "discount_amount": None,
    "taxes": [_VAT],
    "gross": example_money(200_000),
    "discount": example_money(0),
    "net": example_money(200_000),
    "tax": example_money(40_000),
    "total": example_money(240_000),
    "tax_breakdown": [{**_VAT, "base": example_money(200_000), "amount": example_money(40_000)}],
}
INSTALMENTS = [
    {
        "id": "0193b000-7c1e-7b0a-9c52-000000000021",
        "position": 0,
        "label": "Deposit",
        "due_kind": "acceptance",
        "due_days": None,
        "due_date": "2026-05-02",
        "amount": example_money(72_000),
        "paid": example_money(72_000),
        "remaining": example_money(0),
        "state": "paid",
        "paid_at": "2026-05-02T11:00:00Z",
        "autopay": False,
        "overdue_at": None,
        "late_fees_charged": example_money(0),
    },
    {
        "id": "0193b000-7c1e-7b0a-9c52-000000000022",
        "position": 1,
        "label": "Balance",
        "due_kind": "before_event",
        "due_days": 14,
        "due_date": "2026-08-15",
        "amount": example_money(168_000),
        "paid": example_money(0),
        "remaining": example_money(168_000),
        "state": "pending",
        "paid_at": None,
        "autopay": True,
        "overdue_at": None,
        "late_fees_charged": example_money(0),
    },
]
DETAIL_INVOICE = {
    **SUMMARY,
    "language": "fr",
    "notes": "",
    "event_date": "2026-08-29",
    "rounding": "half_even",
    "discount_percent": None,
    "discount_amount": None,
    "allow_tips": True,
    "schedule": [
        {"label": "Deposit", "percent": "30", "due": {"on": "acceptance"}},
        {"label": "Balance", "balance": True, "due": {"on": "before_event", "days": 14}},
    ],
    "subtotal": example_money(200_000),
    "discount_total": example_money(0),
    "net_total": example_money(200_000),
    "tax_total": example_money(40_000),
    "late_fees": example_money(0),
    "credited": example_money(0),
    "tax_breakdown": LINE["tax_breakdown"],
    "bill_to": {"name": "Jane Doe", "company": "", "email": "jane@example.com", "country": "FR"},
    "seller": {"name": "Studio Lumière", "country": "FR", "tax_id": "FR40303265045"},
    "issued_at": "2026-05-02T10:00:00Z",
    "paid_at": None,
    "voided_at": None,
    "void_reason": "",
    "uncollectible_at": None,
    "pdf_url": f"/api/v1/billing/invoices/{INVOICE_ID}/pdf/",
    "pdf_sha256": "9f2c...e41a",
    "updated_at": "2026-05-02T11:00:00Z",
}
PAYMENT = {
    "id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4c01",
    "purpose": "invoice",
    "state": "succeeded",
    "amount": example_money(72_000),
    "fee": example_money(2118),
    "application_fee": None,
    "refunded": example_money(0),
    "refundable": example_money(72_000),
    "contact_id": CONTACT["id"],
    "reference_id": INVOICE_ID,
    "intent_id": "pi_3QxYz2AbCdEfGhIj",
    "payer_email": "jane@example.com",
    "payer_name": "Jane Doe",
    "description": "Invoice INV-2026-0042",
    "last_error_code": "",
    "last_decline_code": "",
    "posted_transaction_id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4c41",
    "created_at": "2026-05-02T10:59:00Z",
    "succeeded_at": "2026-05-02T11:00:00Z",
    "finished_at": "2026-05-02T11:00:00Z",
    "refunds": [],
}
HISTORY = [
    {
        "id": "0193b000-7c1e-7b0a-9c52-000000000031",
        "amount": example_money(240_000),
        "side": "debit",
        "transaction": {
            "id": "0193b000-7c1e-7b0a-9c52-000000000041",
            "kind": "invoice_issued",
            "memo": "Invoice INV-2026-0042",
            "posted_at": "2026-05-02T10:00:00Z",
        },
    },
    {
        "id": "0193b000-7c1e-7b0a-9c52-000000000032",
        "amount": example_money(-72_000),
        "side": "credit",
        "transaction": {
            "id": PAYMENT["posted_transaction_id"],
            "kind": "payment_received",
            "memo": "Invoice INV-2026-0042",
            "posted_at": "2026-05-02T11:00:00Z",
        },
    },
]
DETAIL = {
    **DETAIL_INVOICE,
    "lines": [LINE],
    "instalments": INSTALMENTS,
    "credit_notes": [],
    "payments": [PAYMENT],
    "history": HISTORY,
}
