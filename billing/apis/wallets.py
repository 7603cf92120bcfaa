"""The studio's billing settings and its clients' wallets: balances, statements, credit given,
spends, holds for a checkout in progress, refunds to the wallet.

Reads need ``billing.view``; writes ``billing.manage``. Every POST that moves money needs an
``Idempotency-Key`` header: sent again with the same key it answers the first result (200
instead of 201) and moves nothing twice. Amounts are an integer of minor units or a decimal
string, with the wallet's currency beside them (``{"amount": "10.00", "currency": "EUR"}``).

The writing views run outside the request transaction: each service is one transaction of
its own, and the studio's shared accounts a first posting needs (revenue, adjustment, ...)
are made and committed before it (``billing.services.wallets.studio_account`` says why: made
inside a posting that then fails, the new row's rollback deadlocks the requests queued on it).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from billing.apis.common import (
    IDEMPOTENCY_PARAMETER,
    ContactBriefSerializer,
    idempotency_key_from,
)
from billing.apis.fields import (
    AmountField,
    CurrencyField,
    MoneyInputMixin,
    MoneyOutputSerializer,
    example_money,
    money_context,
    money_from_input,
)
from billing.apis.invoices.fields import PercentField
from billing.apis.ledger import (
    StatementEntrySerializer,
    StatementPageSerializer,
    TransactionOutputSerializer,
)
from billing.models import BillingSettings, Invoice, Wallet, WalletHold
from billing.money import Money
from billing.selectors import wallets as selectors
from billing.services import wallets as services
from crm.selectors.contacts import contact_get
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body
from picpick.core.serializers import InputSerializer
from picpick.core.transactions import outside_request_transaction

TAGS = ["billing"]
_E400_MONEY = (
    "`amount_float`, `amount_invalid`, `amount_precision`, `amount_too_large`, "
    "`currency_unknown`, `currency_mismatch` (not the wallet's currency), "
    "`idempotency_key_required`, `idempotency_key_invalid`, `validation_error`"
)


# --- Output ---------------------------------------------------------------------------------


class LotOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    amount = MoneyOutputSerializer(source="amount_money", help_text="What the credit was.")
    remaining = MoneyOutputSerializer(source="remaining_money", help_text="What is left of it.")
    expires_at = serializers.DateTimeField(allow_null=True, help_text="Null: never expires.")
    created_at = serializers.DateTimeField()


class WalletOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    contact = ContactBriefSerializer()
    currency = serializers.CharField()
    account_id = serializers.UUIDField(help_text="The wallet's ledger account.")
    balance = MoneyOutputSerializer(source="balance_money", help_text="What the wallet holds.")
    held = MoneyOutputSerializer(
        source="held_money", help_text="Reserved by holds of checkouts in progress."
    )
    available = MoneyOutputSerializer(
        source="available_money", help_text="What can be spent now: balance - held."
    )
    created_at = serializers.DateTimeField()


class WalletDetailSerializer(WalletOutputSerializer):
    lots = LotOutputSerializer(
        many=True, source="lots_open", help_text="Credit still to spend, the first to expire first."
    )


class WalletPageSerializer(serializers.Serializer):
    results = WalletOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class WalletMoveSerializer(serializers.Serializer):
    transaction = TransactionOutputSerializer(help_text="The ledger transaction it posted.")
    wallet = WalletOutputSerializer(help_text="The wallet after it.")


class HoldOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    wallet_id = serializers.UUIDField()
    amount = MoneyOutputSerializer(source="amount_money")
    reference = serializers.CharField()
    state = serializers.ChoiceField(choices=WalletHold.State.choices)
    expires_at = serializers.DateTimeField()
    captured = MoneyOutputSerializer(source="captured_money")
    capture_id = serializers.UUIDField(allow_null=True, help_text="The capture's transaction.")
    closed_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class HoldPageSerializer(serializers.Serializer):
    results = HoldOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class HoldCaptureSerializer(serializers.Serializer):
    transaction = TransactionOutputSerializer()
    hold = HoldOutputSerializer()
    wallet = WalletOutputSerializer()


class SettingsOutputSerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="Gift cards are sold in it; new wallets open in it.")
    wallet_credit_expiry_days = serializers.IntegerField(
        allow_null=True, help_text="Days a credit lasts; null: never expires."
    )
    wallet_expiry_reminder_days = serializers.IntegerField(
        help_text="Clients are emailed this many days before their credit expires."
    )
    gift_card_amounts = MoneyOutputSerializer(
        many=True, source="amounts_money", help_text="The gift cards the studio sells."
    )
    gift_card_min = MoneyOutputSerializer(
        allow_null=True, source="min_money", help_text="Free amounts from this (null: list only)."
    )
    gift_card_max = MoneyOutputSerializer(allow_null=True, source="max_money")
    gift_card_expiry_months = serializers.IntegerField(
        allow_null=True, help_text="Months a card lasts once paid; null: never expires."
    )
    # invoicing
    invoice_prefix = serializers.CharField(help_text="`{year}` is the issue year: `INV-{year}-`.")
    credit_note_prefix = serializers.CharField()
    quote_prefix = serializers.CharField()
    number_padding = serializers.IntegerField(help_text="Digits of the sequence: 4 is `0001`.")
    rounding = serializers.ChoiceField(choices=Invoice.Rounding.choices, help_text="Per line.")
    payment_terms_days = serializers.IntegerField(help_text="Due this many days after issue.")
    dunning_days = serializers.ListField(
        child=serializers.IntegerField(), help_text="Autopay retries, days after the due date."
    )
    reminder_days_before = serializers.ListField(child=serializers.IntegerField())
    remind_on_due = serializers.BooleanField()
    reminder_days_overdue = serializers.ListField(child=serializers.IntegerField())
    late_fee_fixed = MoneyOutputSerializer(allow_null=True, source="late_fee_fixed_money")
    late_fee_percent = PercentField(
        code="late_fee_invalid", allow_null=True, help_text="Of what is overdue."
    )
    late_fee_every_days = serializers.IntegerField(
        allow_null=True, help_text="Charged again every so many days; null: once."
    )
    late_fee_cap = MoneyOutputSerializer(
        allow_null=True, source="late_fee_cap_money", help_text="Per instalment, in all."
    )
    late_fee_grace_days = serializers.IntegerField()
    legal_name = serializers.CharField(help_text="On invoices; empty: the studio's name.")
    address = serializers.CharField()
    country = serializers.CharField(help_text="ISO 3166 code, or empty.")
    tax_id = serializers.CharField(help_text="Checked for the country, stored compact.")
    invoice_footer = serializers.CharField()


_INVOICING_FIELDS = (
    "invoice_prefix",
    "credit_note_prefix",
    "quote_prefix",
    "number_padding",
    "rounding",
    "payment_terms_days",
    "dunning_days",
    "reminder_days_before",
    "remind_on_due",
    "reminder_days_overdue",
    "late_fee_percent",
    "late_fee_every_days",
    "late_fee_grace_days",
    "legal_name",
    "address",
    "country",
    "tax_id",
    "invoice_footer",
)


def _settings_view(row: BillingSettings) -> dict:
    def money(amount: int | None) -> Money | None:
        return None if amount is None else Money(amount, row.currency)

    return {
        "currency": row.currency,
        "wallet_credit_expiry_days": row.wallet_credit_expiry_days,
        "wallet_expiry_reminder_days": row.wallet_expiry_reminder_days,
        "amounts_money": [Money(amount, row.currency) for amount in row.gift_card_amounts],
        "min_money": money(row.gift_card_min),
        "max_money": money(row.gift_card_max),
        "gift_card_expiry_months": row.gift_card_expiry_months,
        "late_fee_fixed_money": money(row.late_fee_fixed),
        "late_fee_cap_money": money(row.late_fee_cap),
        **{name: getattr(row, name) for name in _INVOICING_FIELDS},
    }


# --- Examples -------------------------------------------------------------------------------


_WALLET_ID = "01939b10-2c3d-7e4f-8a5b-6c7d8e9f0a1b"
_WALLET = {
    "id": _WALLET_ID,
    "contact": {
        "id": "01939a4f-11aa-7c3d-8e2f-0a1b2c3d4e5f",
        "name": "Jane Doe",
        "email": "jane@example.com",
    },
    "currency": "EUR",
    "account_id": "01939b10-2c3d-7e4f-8a5b-000000000001",
    "balance": example_money(7500),
    "held": example_money(2000),
    "available": example_money(5500),
    "created_at": "2026-05-02T10:00:00Z",
}
_LOT = {
    "id": "01939b11-0000-7000-8000-000000000002",
    "amount": example_money(10_000),
    "remaining": example_money(7500),
    "expires_at": "2027-05-02T10:00:00Z",
    "created_at": "2026-05-02T10:00:00Z",
}
_TXN = {
    "id": "01939b20-5a6b-7c8d-9e0f-a1b2c3d4e5f6",
    "kind": "wallet_spend",
    "amount": example_money(2500),
    "memo": "Print order 42",
    "source_type": "wallet",
    "source_id": _WALLET_ID,
    "posted_at": "2026-06-14T18:20:05Z",
    "created_by_id": "01939a40-1111-7222-8333-444455556666",
    "reverses_id": None,
    "reversed_by_id": None,
}
_GRANT_TXN = {**_TXN, "kind": "wallet_grant", "memo": "Referral reward: sent us the Smiths"}
_HOLD = {
    "id": "01939b30-0000-7000-8000-000000000003",
    "wallet_id": _WALLET_ID,
    "amount": example_money(2000),
    "reference": "Checkout 7f3a",
    "state": "held",
    "expires_at": "2026-06-14T18:50:00Z",
    "captured": example_money(0),
    "capture_id": None,
    "closed_at": None,
    "created_at": "2026-06-14T18:20:00Z",
}
_SETTINGS = {
    "currency": "EUR",
    "wallet_credit_expiry_days": 365,
    "wallet_expiry_reminder_days": 14,
    "gift_card_amounts": [example_money(5000), example_money(10_000), example_money(25_000)],
    "gift_card_min": example_money(2000),
    "gift_card_max": example_money(50_000),
    "gift_card_expiry_months": 24,
    "invoice_prefix": "INV-{year}-",
    "credit_note_prefix": "CN-{year}-",
    "quote_prefix": "Q-{year}-",
    "number_padding": 4,
    "rounding": "half_even",
    "payment_terms_days": 14,
    "dunning_days": [1, 3, 7],
    "reminder_days_before": [3],
    "remind_on_due": True,
    "reminder_days_overdue": [1, 7, 14],
    "late_fee_fixed": None,
    "late_fee_percent": "1.5",
    "late_fee_every_days": 30,
    "late_fee_cap": example_money(10_000),
    "late_fee_grace_days": 3,
    "legal_name": "Studio Lumière SARL",
    "address": "12 rue des Arts\n75003 Paris",
    "country": "FR",
    "tax_id": "FR40303265045",
    "invoice_footer": "Thank you! Payment by card on the invoice's page.",
}


def _wallet_fresh(view: StudioAPIView, wallet: Wallet) -> Wallet:
    return selectors.wallet_get(studio=view.studio, wallet_id=wallet.id)


def _moved(view: StudioAPIView, wallet: Wallet, result) -> Response:
    body = WalletMoveSerializer(
        {"transaction": result.transaction, "wallet": _wallet_fresh(view, wallet)},
        context=money_context(view.studio),
    ).data
    return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


# --- Settings -------------------------------------------------------------------------------


class BillingSettingsApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW, "PATCH": Perm.BILLING_MANAGE}

    class SettingsUpdateInputSerializer(InputSerializer):
        currency = CurrencyField(required=False)
        wallet_credit_expiry_days = serializers.IntegerField(
            required=False, allow_null=True, min_value=1, max_value=3650
        )
        wallet_expiry_reminder_days = serializers.IntegerField(
            required=False, min_value=0, max_value=365
        )
        gift_card_amounts = serializers.ListField(
            child=AmountField(), required=False, max_length=services.MAX_GIFT_CARD_AMOUNTS
        )
        gift_card_min = AmountField(required=False, allow_null=True)
        gift_card_max = AmountField(required=False, allow_null=True)
        gift_card_expiry_months = serializers.IntegerField(
            required=False, allow_null=True, min_value=1, max_value=120
        )
        # invoicing (checked by the service: ``billing_settings_update``)
        invoice_prefix = serializers.CharField(required=False, allow_blank=True, max_length=20)
        credit_note_prefix = serializers.CharField(required=False, allow_blank=True, max_length=20)
        quote_prefix = serializers.CharField(required=False, allow_blank=True, max_length=20)
        number_padding = serializers.IntegerField(required=False, min_value=1, max_value=10)
        rounding = serializers.ChoiceField(choices=Invoice.Rounding.choices, required=False)
        payment_terms_days = serializers.IntegerField(required=False, min_value=0, max_value=365)
        dunning_days = serializers.ListField(
            child=serializers.IntegerField(), required=False, max_length=10
        )
        reminder_days_before = serializers.ListField(
            child=serializers.IntegerField(), required=False, max_length=10
        )
        remind_on_due = serializers.BooleanField(required=False)
        reminder_days_overdue = serializers.ListField(
            child=serializers.IntegerField(), required=False, max_length=10
        )
        late_fee_fixed = AmountField(required=False, allow_null=True)
        late_fee_percent = PercentField(code="late_fee_invalid", required=False, allow_null=True)
        late_fee_every_days = serializers.IntegerField(required=False, allow_null=True)
        late_fee_cap = AmountField(required=False, allow_null=True)
        late_fee_grace_days = serializers.IntegerField(required=False)
        legal_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
        address = serializers.CharField(required=False, allow_blank=True, max_length=1000)
        country = serializers.CharField(required=False, allow_blank=True, max_length=2)
        tax_id = serializers.CharField(required=False, allow_blank=True, max_length=60)
        invoice_footer = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    @extend_schema(
        tags=TAGS,
        operation_id="billing_settings_retrieve",
        summary="Read the studio's billing settings (wallets, gift cards, invoicing)",
        responses={200: SettingsOutputSerializer, **error_responses(401, 403)},
        examples=[OpenApiExample("Settings", value=_SETTINGS, response_only=True)],
    )
    def get(self, request):
        row = services.billing_settings_get(studio=self.studio)
        return Response(
            SettingsOutputSerializer(_settings_view(row), context=money_context(self.studio)).data
        )

    @extend_schema(
        tags=TAGS,
        operation_id="billing_settings_update",
        summary="Change the billing settings (wallets, gift cards, invoicing)",
        description=(
            "Amounts are in the settings' currency (the one sent, else the current one). "
            "Gift card limits are both given or both null. A new expiry applies to credit and "
            "cards made from then on. Invoicing: number prefixes are letters, digits, `-`, `_` "
            "and `{year}`; day lists are ascending whole days (0-365, at most 10); a late fee is "
            "fixed or a percent, not both; the tax id is checked for the country and stored "
            "compact. The late fee's amounts are in the settings' currency."
        ),
        request=SettingsUpdateInputSerializer,
        responses={
            200: SettingsOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                e400="`gift_card_limits_invalid`, amount codes (`amount_float`, ...), "
                "`currency_unknown`, `number_prefix_invalid`, `number_prefix_clash`, "
                "`late_fee_invalid` (a float percent, both kinds, out of range), `days_invalid`, "
                "`invalid` (texts, rounding, terms), "
                "`country_invalid`, `tax_id_invalid`, `validation_error`",
            ),
        },
        examples=[
            OpenApiExample(
                "Sell three cards or any amount from 20 to 500",
                value={
                    "gift_card_amounts": ["50.00", "100.00", "250.00"],
                    "gift_card_min": "20.00",
                    "gift_card_max": "500.00",
                    "wallet_credit_expiry_days": 365,
                },
                request_only=True,
            ),
            OpenApiExample("Settings", value=_SETTINGS, response_only=True),
        ],
    )
    def patch(self, request):
        data = self.SettingsUpdateInputSerializer.validate_or_raise(request.data)
        currency = (
            data.get("currency") or services.billing_settings_get(studio=self.studio).currency
        )
        for name in ("gift_card_min", "gift_card_max"):
            if data.get(name) is not None:
                data[name] = money_from_input(data[name], currency, field=name).amount
        for name in ("late_fee_fixed", "late_fee_cap"):
            if data.get(name) is not None:
                data[name] = money_from_input(data[name], currency, field=name, min_amount=0).amount
        if "gift_card_amounts" in data:
            data["gift_card_amounts"] = [
                money_from_input(value, currency, field="gift_card_amounts").amount
                for value in data["gift_card_amounts"]
            ]
        row = services.billing_settings_update(studio=self.studio, changes=data, by=request.user)
        return Response(
            SettingsOutputSerializer(_settings_view(row), context=money_context(self.studio)).data
        )


# --- Wallets --------------------------------------------------------------------------------


class WalletListParams(InputSerializer, PageParams):
    contact_id = serializers.UUIDField(required=False, help_text="A client's wallets.")
    currency = CurrencyField(required=False)


@outside_request_transaction  # see the module
class WalletListApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW, "POST": Perm.BILLING_MANAGE}

    class WalletOpenInputSerializer(InputSerializer):
        contact_id = serializers.UUIDField()
        currency = CurrencyField(required=False, help_text="Default: the studio's currency.")

    @extend_schema(
        tags=TAGS,
        operation_id="billing_wallets_list",
        summary="List the clients' wallets, newest first",
        parameters=[WalletListParams],
        responses={200: WalletPageSerializer, **error_responses(400, 401, 403)},
        examples=[
            OpenApiExample(
                "A page",
                value={"results": [_WALLET], "next": None, "previous": None},
                response_only=True,
            )
        ],
    )
    def get(self, request):
        params = WalletListParams.validate_or_raise(request.query_params)
        page = selectors.wallet_page(
            studio=self.studio,
            contact_id=params.get("contact_id"),
            currency=params.get("currency"),
            cursor=params.get("cursor"),
            page_size=params["page_size"],
        )
        items = WalletOutputSerializer(
            page.items, many=True, context=money_context(self.studio)
        ).data
        return Response(page_body(page, items))

    @extend_schema(
        tags=TAGS,
        operation_id="billing_wallets_open",
        summary="Open a client's wallet (or find the one they have)",
        description="One wallet per client and currency: opening it again answers it (200).",
        request=WalletOpenInputSerializer,
        responses={
            201: WalletOutputSerializer,
            200: WalletOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e404="No such contact in the studio.",
                e409="`contact_merged`, `contact_erased`",
            ),
        },
        examples=[
            OpenApiExample(
                "Open",
                value={"contact_id": "01939a4f-11aa-7c3d-8e2f-0a1b2c3d4e5f", "currency": "EUR"},
                request_only=True,
            ),
            OpenApiExample("The wallet", value=_WALLET, response_only=True),
        ],
    )
    def post(self, request):
        data = self.WalletOpenInputSerializer.validate_or_raise(request.data)
        contact = contact_get(studio=self.studio, contact_id=data["contact_id"])
        currency = (
            data.get("currency") or services.billing_settings_get(studio=self.studio).currency
        )
        existed = Wallet.objects.filter(
            studio=self.studio, contact=contact, currency=currency
        ).exists()
        wallet = services.wallet_for(studio=self.studio, contact=contact, currency=currency)
        return Response(
            WalletOutputSerializer(
                _wallet_fresh(self, wallet), context=money_context(self.studio)
            ).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )


class WalletDetailApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_wallets_retrieve",
        summary="Read a wallet: balance, held, available and the credit still to spend",
        responses={200: WalletDetailSerializer, **error_responses(401, 403, 404)},
        examples=[
            OpenApiExample("A wallet", value={**_WALLET, "lots": [_LOT]}, response_only=True)
        ],
    )
    def get(self, request, wallet_id):
        wallet = selectors.wallet_get(studio=self.studio, wallet_id=wallet_id)
        wallet.lots_open = selectors.wallet_open_lots(wallet=wallet)
        return Response(WalletDetailSerializer(wallet, context=money_context(self.studio)).data)


class WalletStatementParams(InputSerializer, PageParams):
    pass


class WalletEntriesApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_wallets_entries_list",
        summary="A wallet's statement: its account's entries, newest first",
        description="Signed as the ledger signs them: a credit (money in) is negative.",
        parameters=[WalletStatementParams],
        responses={200: StatementPageSerializer, **error_responses(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "A page",
                value={
                    "results": [
                        {
                            "id": "01939b20-5a6c-7000-8000-000000000002",
                            "amount": example_money(2500),
                            "side": "debit",
                            "transaction": {
                                "id": _TXN["id"],
                                "kind": "wallet_spend",
                                "memo": "Print order 42",
                                "posted_at": _TXN["posted_at"],
                            },
                        }
                    ],
                    "next": None,
                    "previous": None,
                },
                response_only=True,
            )
        ],
    )
    def get(self, request, wallet_id):
        wallet = selectors.wallet_get(studio=self.studio, wallet_id=wallet_id)
        params = WalletStatementParams.validate_or_raise(request.query_params)
        page = selectors.wallet_statement(
            wallet=wallet, cursor=params.get("cursor"), page_size=params["page_size"]
        )
        items = StatementEntrySerializer(
            page.items, many=True, context=money_context(self.studio)
        ).data
        return Response(page_body(page, items))


class _AmountInput(MoneyInputMixin, InputSerializer):
    amount = AmountField()
    currency = CurrencyField(help_text="The wallet's currency.")


@outside_request_transaction  # see the module
class WalletGrantApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    class WalletGrantInputSerializer(_AmountInput):
        reason = serializers.ChoiceField(choices=sorted(services.GRANT_REASONS))
        note = serializers.CharField(required=False, allow_blank=True, max_length=250)

    @extend_schema(
        tags=TAGS,
        operation_id="billing_wallets_grant",
        summary="Give the client credit (a referral reward, goodwill, a prepaid package)",
        description=(
            "Debits the studio's adjustment account and credits the wallet; the credit expires "
            "as the studio's settings say."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=WalletGrantInputSerializer,
        responses={
            201: WalletMoveSerializer,
            200: WalletMoveSerializer,
            **error_responses(
                400, 401, 403, 404, 409, e400=_E400_MONEY, e409="`idempotency_key_reused`"
            ),
        },
        examples=[
            OpenApiExample(
                "A referral reward",
                value={
                    "amount": "25.00",
                    "currency": "EUR",
                    "reason": "referral",
                    "note": "Sent us the Smiths",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Granted", value={"transaction": _GRANT_TXN, "wallet": _WALLET}, response_only=True
            ),
        ],
    )
    def post(self, request, wallet_id):
        key = idempotency_key_from(request, scope="wallet.grant")
        wallet = selectors.wallet_get(studio=self.studio, wallet_id=wallet_id)
        data = self.WalletGrantInputSerializer.validate_or_raise(request.data)
        result = services.wallet_grant(
            wallet=wallet,
            amount=data["amount"].amount,
            currency=data["amount"].currency,
            reason=data["reason"],
            note=data.get("note", ""),
            idempotency_key=key,
            by=request.user,
        )
        return _moved(self, wallet, result)


@outside_request_transaction  # see the module
class WalletSpendApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    class WalletSpendInputSerializer(_AmountInput):
        reference = serializers.CharField(max_length=300, help_text="What it pays for.")

    @extend_schema(
        tags=TAGS,
        operation_id="billing_wallets_spend",
        summary="Pay from the wallet (debit the wallet, credit revenue)",
        description="At most what is available (the balance less what holds reserve).",
        parameters=[IDEMPOTENCY_PARAMETER],
        request=WalletSpendInputSerializer,
        responses={
            201: WalletMoveSerializer,
            200: WalletMoveSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400=_E400_MONEY,
                e409="`insufficient_funds` (`available` says how much is), "
                "`idempotency_key_reused`",
            ),
        },
        examples=[
            OpenApiExample(
                "A print order",
                value={"amount": "25.00", "currency": "EUR", "reference": "Print order 42"},
                request_only=True,
            ),
            OpenApiExample(
                "Spent", value={"transaction": _TXN, "wallet": _WALLET}, response_only=True
            ),
        ],
    )
    def post(self, request, wallet_id):
        key = idempotency_key_from(request, scope="wallet.spend")
        wallet = selectors.wallet_get(studio=self.studio, wallet_id=wallet_id)
        data = self.WalletSpendInputSerializer.validate_or_raise(request.data)
        result = services.wallet_spend(
            wallet=wallet,
            amount=data["amount"].amount,
            currency=data["amount"].currency,
            reference=data["reference"],
            idempotency_key=key,
            by=request.user,
        )
        return _moved(self, wallet, result)


@outside_request_transaction  # see the module
class WalletRefundApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    class WalletRefundInputSerializer(_AmountInput):
        reference = serializers.CharField(max_length=300, help_text="What is refunded.")

    @extend_schema(
        tags=TAGS,
        operation_id="billing_wallets_refund",
        summary="Refund to the wallet instead of the card (debit refunds, credit the wallet)",
        parameters=[IDEMPOTENCY_PARAMETER],
        request=WalletRefundInputSerializer,
        responses={
            201: WalletMoveSerializer,
            200: WalletMoveSerializer,
            **error_responses(
                400, 401, 403, 404, 409, e400=_E400_MONEY, e409="`idempotency_key_reused`"
            ),
        },
        examples=[
            OpenApiExample(
                "A cancelled session",
                value={"amount": "80.00", "currency": "EUR", "reference": "Session 12 cancelled"},
                request_only=True,
            ),
            OpenApiExample(
                "Refunded",
                value={
                    "transaction": {**_TXN, "kind": "wallet_refund", "memo": "Session 12"},
                    "wallet": _WALLET,
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request, wallet_id):
        key = idempotency_key_from(request, scope="wallet.refund")
        wallet = selectors.wallet_get(studio=self.studio, wallet_id=wallet_id)
        data = self.WalletRefundInputSerializer.validate_or_raise(request.data)
        result = services.wallet_refund(
            wallet=wallet,
            amount=data["amount"].amount,
            currency=data["amount"].currency,
            reference=data["reference"],
            idempotency_key=key,
            by=request.user,
        )
        return _moved(self, wallet, result)


# --- Holds ----------------------------------------------------------------------------------


class HoldListParams(InputSerializer, PageParams):
    state = serializers.ChoiceField(choices=WalletHold.State.choices, required=False)


@outside_request_transaction  # see the module
class WalletHoldListApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW, "POST": Perm.BILLING_MANAGE}

    class HoldCreateInputSerializer(_AmountInput):
        reference = serializers.CharField(max_length=200, help_text="The checkout it is for.")
        expires_at = serializers.DateTimeField(
            help_text=f"When it is released if not captured (within {services.MAX_HOLD_DAYS} days)."
        )

    @extend_schema(
        tags=TAGS,
        operation_id="billing_wallets_holds_list",
        summary="A wallet's holds, newest first",
        parameters=[HoldListParams],
        responses={200: HoldPageSerializer, **error_responses(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "A page",
                value={"results": [_HOLD], "next": None, "previous": None},
                response_only=True,
            )
        ],
    )
    def get(self, request, wallet_id):
        wallet = selectors.wallet_get(studio=self.studio, wallet_id=wallet_id)
        params = HoldListParams.validate_or_raise(request.query_params)
        page = selectors.wallet_hold_page(
            wallet=wallet,
            state=params.get("state"),
            cursor=params.get("cursor"),
            page_size=params["page_size"],
        )
        items = HoldOutputSerializer(page.items, many=True, context=money_context(self.studio)).data
        return Response(page_body(page, items))

    @extend_schema(
        tags=TAGS,
        operation_id="billing_wallets_holds_create",
        summary="Reserve part of the wallet for a checkout in progress",
        description=(
            "The held amount cannot be spent elsewhere until the hold is captured, released "
            "or expires. The same `Idempotency-Key` again answers the same hold (200)."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=HoldCreateInputSerializer,
        responses={
            201: HoldOutputSerializer,
            200: HoldOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400=_E400_MONEY + ", `invalid_expiry`",
                e409="`insufficient_funds`, `idempotency_key_reused`",
            ),
        },
        examples=[
            OpenApiExample(
                "Hold for a checkout",
                value={
                    "amount": "20.00",
                    "currency": "EUR",
                    "reference": "Checkout 7f3a",
                    "expires_at": "2026-06-14T18:50:00Z",
                },
                request_only=True,
            ),
            OpenApiExample("The hold", value=_HOLD, response_only=True),
        ],
    )
    def post(self, request, wallet_id):
        key = idempotency_key_from(request, scope="wallet.hold")
        wallet = selectors.wallet_get(studio=self.studio, wallet_id=wallet_id)
        data = self.HoldCreateInputSerializer.validate_or_raise(request.data)
        result = services.wallet_hold(
            wallet=wallet,
            amount=data["amount"].amount,
            currency=data["amount"].currency,
            reference=data["reference"],
            expires_at=data["expires_at"],
            idempotency_key=key,
            by=request.user,
        )
        hold = selectors.wallet_hold_get(studio=self.studio, hold_id=result.hold.id)
        return Response(
            HoldOutputSerializer(hold, context=money_context(self.studio)).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


@outside_request_transaction  # see the module
class WalletHoldCaptureApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    class HoldCaptureInputSerializer(MoneyInputMixin, InputSerializer):
        amount = AmountField(required=False, help_text="Default: the whole hold.")
        currency = CurrencyField(required=False, help_text="With an amount: the wallet's.")

        def validate(self, attrs: dict) -> dict:
            if "amount" in attrs and "currency" not in attrs:
                raise serializers.ValidationError({"currency": ["Required with an amount."]})
            return super().validate(attrs)

    @extend_schema(
        tags=TAGS,
        operation_id="billing_wallet_holds_capture",
        summary="Spend a hold (all of it or less; the rest is released)",
        description=(
            "A hold is captured once: a retry answers the same transaction (200). Needs an "
            "`Idempotency-Key` like every money-moving request."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=HoldCaptureInputSerializer,
        responses={
            201: HoldCaptureSerializer,
            200: HoldCaptureSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400=_E400_MONEY + ", `capture_exceeds_hold`",
                e409="`hold_captured`, `hold_released`, `hold_expired`, "
                "`idempotency_key_reused` (captured before with another amount)",
            ),
        },
        examples=[
            OpenApiExample(
                "Capture less", value={"amount": "15.00", "currency": "EUR"}, request_only=True
            ),
            OpenApiExample(
                "Captured",
                value={
                    "transaction": {**_TXN, "amount": example_money(1500), "memo": "Checkout 7f3a"},
                    "hold": {
                        **_HOLD,
                        "state": "captured",
                        "captured": example_money(1500),
                        "capture_id": _TXN["id"],
                        "closed_at": "2026-06-14T18:25:00Z",
                    },
                    "wallet": {**_WALLET, "held": example_money(0)},
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request, hold_id):
        idempotency_key_from(request, scope="wallet.hold.capture")  # the hold's id keys it
        hold = selectors.wallet_hold_get(studio=self.studio, hold_id=hold_id)
        data = self.HoldCaptureInputSerializer.validate_or_raise(request.data)
        money = data.get("amount")
        if money is not None:
            services.currency_check(money.currency, expected=hold.wallet.currency)
        result = services.wallet_hold_capture(
            hold=hold, amount=money.amount if money else None, by=request.user
        )
        body = HoldCaptureSerializer(
            {
                "transaction": result.transaction,
                "hold": selectors.wallet_hold_get(studio=self.studio, hold_id=hold.id),
                "wallet": _wallet_fresh(self, hold.wallet),
            },
            context=money_context(self.studio),
        ).data
        return Response(
            body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        )


@outside_request_transaction  # see the module
class WalletHoldReleaseApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_wallet_holds_release",
        summary="Release a hold: its money can be spent again",
        description="Releasing a released hold answers it again.",
        request=None,
        responses={
            200: HoldOutputSerializer,
            **error_responses(401, 403, 404, 409, e409="`hold_captured`, `hold_expired`"),
        },
        examples=[
            OpenApiExample(
                "Released",
                value={**_HOLD, "state": "released", "closed_at": "2026-06-14T18:30:00Z"},
                response_only=True,
            )
        ],
    )
    def post(self, request, hold_id):
        hold = selectors.wallet_hold_get(studio=self.studio, hold_id=hold_id)
        services.wallet_hold_release(hold=hold, by=request.user)
        hold = selectors.wallet_hold_get(studio=self.studio, hold_id=hold.id)
        return Response(HoldOutputSerializer(hold, context=money_context(self.studio)).data)
