"""The studio's ledger: accounts and their statements, transactions, and reversing one.

Reads need ``billing.view``; a reversal moves money and needs ``billing.manage`` and an
``Idempotency-Key`` header (a retried request answers the same reversal, 200 instead of 201).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from billing.apis.common import IDEMPOTENCY_PARAMETER, idempotency_key_from
from billing.apis.fields import CurrencyField, MoneyOutputSerializer, studio_locale
from billing.models import LedgerAccount, LedgerEntry, LedgerTransaction, Wallet
from billing.selectors import ledger as selectors
from billing.services.ledger import MEMO_MAX_LENGTH, ledger_reverse
from billing.services.wallets import wallet_transaction_reverse
from picpick.core.apis import StudioAPIView
from picpick.core.errors import Conflict
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body
from picpick.core.serializers import InputSerializer

TAGS = ["billing"]


def _kinds(choices: type) -> str:
    return "One of: " + ", ".join(f"`{value}`" for value in choices.values)


# --- Output -------------------------------------------------------------------------------------
class AccountOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    # Strings, not enums: the kinds grow (invoices, payouts) without breaking clients.
    kind = serializers.CharField(help_text=_kinds(LedgerAccount.Kind))
    currency = serializers.CharField()
    key = serializers.CharField(help_text="Unique in the studio: kind, holder and currency.")
    name = serializers.CharField()
    contact_id = serializers.UUIDField(allow_null=True, help_text="The holder of a wallet.")
    reference = serializers.CharField(help_text="Another holder: a gift card's id.")
    balance = MoneyOutputSerializer(
        source="balance_money",
        help_text="In the account's natural sign: what a wallet holds, what revenue earned.",
    )
    debit_normal = serializers.BooleanField(
        help_text="Whether debits raise the balance (else credits do)."
    )
    may_go_negative = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class AccountPageSerializer(serializers.Serializer):
    results = AccountOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class TransactionBriefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField(help_text=_kinds(LedgerTransaction.Kind))
    memo = serializers.CharField()
    posted_at = serializers.DateTimeField()


class StatementEntrySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    amount = MoneyOutputSerializer(source="money", help_text="Signed: + debit, - credit.")
    side = serializers.SerializerMethodField()
    transaction = TransactionBriefSerializer()

    def get_side(self, entry: LedgerEntry) -> str:
        return "debit" if entry.is_debit else "credit"


class StatementPageSerializer(serializers.Serializer):
    results = StatementEntrySerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class EntryAccountSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    key = serializers.CharField()
    name = serializers.CharField()


class TransactionEntrySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    account = EntryAccountSerializer()
    amount = MoneyOutputSerializer(source="money", help_text="Signed: + debit, - credit.")
    side = serializers.SerializerMethodField()

    def get_side(self, entry: LedgerEntry) -> str:
        return "debit" if entry.is_debit else "credit"


class TransactionOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField(help_text=_kinds(LedgerTransaction.Kind))
    amount = MoneyOutputSerializer(
        source="money", help_text="The sum of the debits, which is the sum of the credits."
    )
    memo = serializers.CharField()
    source_type = serializers.CharField(help_text="What it was for: `payment`, `gift_card`, ...")
    source_id = serializers.UUIDField(allow_null=True)
    posted_at = serializers.DateTimeField()
    created_by_id = serializers.UUIDField(allow_null=True)
    reverses_id = serializers.UUIDField(
        allow_null=True, help_text="The transaction this one reverses."
    )
    reversed_by_id = serializers.SerializerMethodField(
        help_text="The reversal of this transaction, if any."
    )

    def get_reversed_by_id(self, txn: LedgerTransaction) -> str | None:
        reversal = getattr(txn, "reversed_by", None)
        return str(reversal.id) if reversal is not None else None


class TransactionPageSerializer(serializers.Serializer):
    results = TransactionOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class TransactionDetailSerializer(TransactionOutputSerializer):
    entries = TransactionEntrySerializer(many=True, help_text="In posting order; sum to zero.")


# --- Examples -----------------------------------------------------------------------------------
_EUR_12 = {"amount": 1200, "currency": "EUR", "decimal": "12.00", "formatted": "€12.00"}
_EUR_12_NEG = {"amount": -1200, "currency": "EUR", "decimal": "-12.00", "formatted": "-€12.00"}
_ACCOUNT = {
    "id": "01939a61-0c1d-7e2f-8a3b-4c5d6e7f8091",
    "kind": "wallet",
    "currency": "EUR",
    "key": "wallet:01939a4f-11aa-7c3d-8e2f-0a1b2c3d4e5f:EUR",
    "name": "Wallet EUR",
    "contact_id": "01939a4f-11aa-7c3d-8e2f-0a1b2c3d4e5f",
    "reference": "",
    "balance": _EUR_12,
    "debit_normal": False,
    "may_go_negative": False,
    "created_at": "2026-06-01T09:30:00Z",
}
_TXN_ID = "01939a70-5a6b-7c8d-9e0f-a1b2c3d4e5f6"
_TXN = {
    "id": _TXN_ID,
    "kind": "wallet_topup",
    "amount": _EUR_12,
    "memo": "Top-up by card",
    "source_type": "payment",
    "source_id": "01939a6f-0102-7304-8506-a7b8c9d0e1f2",
    "posted_at": "2026-06-14T18:20:05Z",
    "created_by_id": None,
    "reverses_id": None,
    "reversed_by_id": None,
}
_ENTRIES = [
    {
        "id": "01939a70-5a6c-7000-8000-000000000001",
        "account": {
            "id": "01939a60-aaaa-7bbb-8ccc-dddddddddddd",
            "kind": "provider_clearing",
            "key": "provider_clearing:EUR",
            "name": "Provider clearing EUR",
        },
        "amount": _EUR_12,
        "side": "debit",
    },
    {
        "id": "01939a70-5a6c-7000-8000-000000000002",
        "account": {
            "id": _ACCOUNT["id"],
            "kind": "wallet",
            "key": _ACCOUNT["key"],
            "name": "Wallet EUR",
        },
        "amount": _EUR_12_NEG,
        "side": "credit",
    },
]
_REVERSAL = {
    **_TXN,
    "id": "01939a75-0000-7111-8222-333344445555",
    "kind": "reversal",
    "memo": "Top-up charged twice",
    "posted_at": "2026-06-14T18:41:00Z",
    "created_by_id": "01939a40-1111-7222-8333-444455556666",
    "reverses_id": _TXN_ID,
    "entries": [
        {**_ENTRIES[0], "amount": _EUR_12_NEG, "side": "credit"},
        {**_ENTRIES[1], "amount": _EUR_12, "side": "debit"},
    ],
}
_CURSOR = "eyJ2IjpbeyJ0IjoidSIsInYiOiIwMTkzOWE3MC01YTZjLTcwMDAtODAwMC0wMDAwMDAwMDAwMDEifV19..."


# --- Views --------------------------------------------------------------------------------------
class AccountListParams(InputSerializer, PageParams):
    kind = serializers.ChoiceField(choices=LedgerAccount.Kind.choices, required=False)
    currency = CurrencyField(required=False)
    contact_id = serializers.UUIDField(required=False, help_text="A client's accounts.")


class AccountListApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_accounts_list",
        summary="List the studio's ledger accounts by kind and currency",
        parameters=[AccountListParams],
        responses={200: AccountPageSerializer, **error_responses(400, 401, 403)},
        examples=[
            OpenApiExample(
                "A page",
                value={"results": [_ACCOUNT], "next": None, "previous": None},
                response_only=True,
            )
        ],
    )
    def get(self, request):
        params = AccountListParams.validate_or_raise(request.query_params)
        page = selectors.account_page(
            studio=self.studio,
            kind=params.get("kind"),
            currency=params.get("currency"),
            contact_id=params.get("contact_id"),
            cursor=params.get("cursor"),
            page_size=params["page_size"],
        )
        context = {"locale": studio_locale(self.studio)}
        return Response(
            page_body(page, AccountOutputSerializer(page.items, many=True, context=context).data)
        )


class AccountDetailApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_accounts_retrieve",
        summary="Read a ledger account and its balance",
        responses={200: AccountOutputSerializer, **error_responses(401, 403, 404)},
        examples=[OpenApiExample("A wallet", value=_ACCOUNT, response_only=True)],
    )
    def get(self, request, account_id):
        account = selectors.account_get(studio=self.studio, account_id=account_id)
        context = {"locale": studio_locale(self.studio)}
        return Response(AccountOutputSerializer(account, context=context).data)


class StatementParams(InputSerializer, PageParams):
    pass


class AccountEntriesApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_accounts_entries_list",
        summary="An account's statement: its entries, newest first",
        parameters=[StatementParams],
        responses={200: StatementPageSerializer, **error_responses(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "A page",
                value={
                    "results": [
                        {
                            "id": _ENTRIES[1]["id"],
                            "amount": _EUR_12_NEG,
                            "side": "credit",
                            "transaction": {
                                "id": _TXN_ID,
                                "kind": "wallet_topup",
                                "memo": "Top-up by card",
                                "posted_at": "2026-06-14T18:20:05Z",
                            },
                        }
                    ],
                    "next": _CURSOR,
                    "previous": None,
                },
                response_only=True,
            )
        ],
    )
    def get(self, request, account_id):
        account = selectors.account_get(studio=self.studio, account_id=account_id)
        params = StatementParams.validate_or_raise(request.query_params)
        page = selectors.account_statement_page(
            account=account, cursor=params.get("cursor"), page_size=params["page_size"]
        )
        context = {"locale": studio_locale(self.studio)}
        return Response(
            page_body(page, StatementEntrySerializer(page.items, many=True, context=context).data)
        )


class TransactionListParams(InputSerializer, PageParams):
    kind = serializers.ChoiceField(choices=LedgerTransaction.Kind.choices, required=False)
    source_type = serializers.CharField(
        required=False, max_length=30, help_text="`payment`, `gift_card`, `wallet`, ..."
    )
    source_id = serializers.UUIDField(required=False)


class TransactionListApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_transactions_list",
        summary="List the studio's ledger transactions, newest first",
        parameters=[TransactionListParams],
        responses={200: TransactionPageSerializer, **error_responses(400, 401, 403)},
        examples=[
            OpenApiExample(
                "A page",
                value={"results": [_TXN], "next": _CURSOR, "previous": None},
                response_only=True,
            )
        ],
    )
    def get(self, request):
        params = TransactionListParams.validate_or_raise(request.query_params)
        page = selectors.transaction_page(
            studio=self.studio,
            kind=params.get("kind"),
            source_type=params.get("source_type"),
            source_id=params.get("source_id"),
            cursor=params.get("cursor"),
            page_size=params["page_size"],
        )
        context = {"locale": studio_locale(self.studio)}
        return Response(
            page_body(
                page, TransactionOutputSerializer(page.items, many=True, context=context).data
            )
        )


class TransactionDetailApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_transactions_retrieve",
        summary="Read a ledger transaction with its entries",
        responses={200: TransactionDetailSerializer, **error_responses(401, 403, 404)},
        examples=[
            OpenApiExample(
                "A wallet top-up", value={**_TXN, "entries": _ENTRIES}, response_only=True
            )
        ],
    )
    def get(self, request, transaction_id):
        txn = selectors.transaction_get(studio=self.studio, transaction_id=transaction_id)
        context = {"locale": studio_locale(self.studio)}
        return Response(TransactionDetailSerializer(txn, context=context).data)


class TransactionReverseApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    class TransactionReverseInputSerializer(InputSerializer):
        memo = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=MEMO_MAX_LENGTH,
            help_text="Why; shown on the reversal (default: which transaction it reverses).",
        )

    @extend_schema(
        tags=TAGS,
        operation_id="billing_transactions_reverse",
        summary="Reverse a transaction: post its entries negated",
        description=(
            "Posts a `reversal` transaction of the negated entries: every balance the "
            "transaction moved moves back. A transaction is reversed at most once and a "
            "reversal is not reversed. Retrying with the same `Idempotency-Key` answers the "
            "same reversal with 200 (201 the first time)."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=TransactionReverseInputSerializer,
        responses={
            201: TransactionDetailSerializer,
            200: TransactionDetailSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400="`idempotency_key_required`, `idempotency_key_invalid`, `validation_error`",
                e409="`already_reversed`, `is_reversal`, `insufficient_funds` (its money was "
                "spent: a wallet or gift card would go below zero; `account_id` says which), "
                "`idempotency_key_reused`",
            ),
        },
        examples=[
            OpenApiExample("Why", value={"memo": "Top-up charged twice"}, request_only=True),
            OpenApiExample("The reversal", value=_REVERSAL, response_only=True),
        ],
    )
    def post(self, request, transaction_id):
        key = idempotency_key_from(request, scope="ledger.reverse")
        txn = selectors.transaction_get(studio=self.studio, transaction_id=transaction_id)
        data = self.TransactionReverseInputSerializer.validate_or_raise(request.data)
        result = _reverse(txn, key=key, by=request.user, memo=data.get("memo", ""))
        reversal = selectors.transaction_get(
            studio=self.studio, transaction_id=result.transaction.id
        )
        context = {"locale": studio_locale(self.studio)}
        return Response(
            TransactionDetailSerializer(reversal, context=context).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


def _reverse(txn, *, key: str, by, memo: str):
    """The reversal that keeps every holder's rules: a posting that moved a wallet's money goes
    through the wallet's own reversal (holds keep their money, the credit lots follow); one on
    a gift card is refused (void the card, or refund its payment); anything else is the
    ledger's plain reversal."""
    kinds = {entry.account.kind: entry.account for entry in txn.entries.select_related("account")}
    if LedgerAccount.Kind.GIFT_CARD in kinds:
        raise Conflict(
            "This posting moved a gift card's money: void the card or refund its payment.",
            code="gift_card_posting",
        )
    wallet_account = kinds.get(LedgerAccount.Kind.WALLET)
    wallet = Wallet.objects.filter(account_id=wallet_account.id).first() if wallet_account else None
    if wallet is not None:
        return wallet_transaction_reverse(
            wallet=wallet, transaction_id=txn.id, idempotency_key=key, by=by, memo=memo
        )
    return ledger_reverse(transaction=txn, idempotency_key=key, by=by, memo=memo)
