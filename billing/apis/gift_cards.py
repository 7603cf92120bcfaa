"""The studio's gift cards: list and read them (never their code), their statements, issue one
(the code is in that answer only), redeem one by its code, send one again, void one.

Reads need ``billing.view``; writes ``billing.manage``. Issuing and redeeming move money and
need an ``Idempotency-Key`` header (the same key again answers the first result, 200).

The writing views run outside the request transaction, each service one transaction of its
own (``billing.apis.wallets`` says why).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from billing.apis.common import IDEMPOTENCY_PARAMETER, idempotency_key_from
from billing.apis.fields import (
    AmountField,
    CurrencyField,
    MoneyInputMixin,
    MoneyOutputSerializer,
    example_money,
    money_context,
)
from billing.apis.ledger import (
    StatementEntrySerializer,
    StatementPageSerializer,
    TransactionOutputSerializer,
)
from billing.models import GiftCard
from billing.selectors import gift_cards as selectors
from billing.services import gift_cards as services
from picpick.core.apis import StudioAPIView
from picpick.core.clientaddr import client_address
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body
from picpick.core.serializers import InputSerializer
from picpick.core.transactions import outside_request_transaction

TAGS = ["billing"]


# --- Output ---------------------------------------------------------------------------------


class GiftCardOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=GiftCard.State.choices)
    origin = serializers.ChoiceField(
        choices=GiftCard.Origin.choices, help_text="Bought by a client, or issued by the studio."
    )
    code_last4 = serializers.CharField(help_text="The code's last 4 characters (never the code).")
    initial = MoneyOutputSerializer(source="initial_money", help_text="Its value when given.")
    balance = MoneyOutputSerializer(source="balance_money", help_text="What is left on it.")
    currency = serializers.CharField()
    account_id = serializers.UUIDField(help_text="The card's ledger account.")
    buyer_name = serializers.CharField()
    buyer_email = serializers.CharField()
    recipient_name = serializers.CharField()
    recipient_email = serializers.CharField()
    message = serializers.CharField()
    deliver_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True, help_text="Null: never expires.")
    activated_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True, help_text="Used up, expired or void.")
    void_reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class GiftCardPageSerializer(serializers.Serializer):
    results = GiftCardOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class GiftCardIssuedSerializer(serializers.Serializer):
    card = GiftCardOutputSerializer()
    code = serializers.CharField(
        allow_null=True,
        help_text="The card's code: shown in this answer only (and to a retry with the same "
        "key while it is still kept: until it is emailed, or for an hour without a "
        "recipient). Null when it is no longer kept.",
    )


class GiftCardRedeemedSerializer(serializers.Serializer):
    card = GiftCardOutputSerializer(help_text="The card after the redemption.")
    transaction = TransactionOutputSerializer()


# --- Examples -------------------------------------------------------------------------------


_CARD_ID = "01939c10-2c3d-7e4f-8a5b-6c7d8e9f0a1b"
_CARD = {
    "id": _CARD_ID,
    "state": "active",
    "origin": "purchased",
    "code_last4": "C2HD",
    "initial": example_money(10_000),
    "balance": example_money(6500),
    "currency": "EUR",
    "account_id": "01939c10-2c3d-7e4f-8a5b-000000000001",
    "buyer_name": "Ann Buyer",
    "buyer_email": "ann@example.com",
    "recipient_name": "Rita",
    "recipient_email": "rita@example.com",
    "message": "Happy birthday!",
    "deliver_at": "2026-06-20T08:00:00Z",
    "delivered_at": "2026-06-20T08:00:40Z",
    "expires_at": "2028-06-14T18:20:05Z",
    "activated_at": "2026-06-14T18:20:05Z",
    "closed_at": None,
    "void_reason": "",
    "created_at": "2026-06-14T18:19:30Z",
}
_ISSUED = {
    **_CARD,
    "origin": "issued",
    "initial": example_money(5000),
    "balance": example_money(5000),
    "buyer_name": "",
    "buyer_email": "",
    "message": "Thank you for the referral!",
    "delivered_at": None,
}
_TXN = {
    "id": "01939c20-5a6b-7c8d-9e0f-a1b2c3d4e5f6",
    "kind": "gift_card_redeemed",
    "amount": example_money(3500),
    "memo": "Session 12",
    "source_type": "gift_card",
    "source_id": _CARD_ID,
    "posted_at": "2026-07-01T10:00:00Z",
    "created_by_id": "01939a40-1111-7222-8333-444455556666",
    "reverses_id": None,
    "reversed_by_id": None,
}


def _card(view: StudioAPIView, card_id) -> GiftCard:
    return selectors.gift_card_get(studio=view.studio, card_id=card_id)


# --- Views ----------------------------------------------------------------------------------


class GiftCardListParams(InputSerializer, PageParams):
    state = serializers.ChoiceField(choices=GiftCard.State.choices, required=False)
    origin = serializers.ChoiceField(choices=GiftCard.Origin.choices, required=False)


@outside_request_transaction  # see the module
class GiftCardListApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW, "POST": Perm.BILLING_MANAGE}

    class GiftCardIssueInputSerializer(MoneyInputMixin, InputSerializer):
        amount = AmountField()
        currency = CurrencyField()
        recipient_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
        recipient_email = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=254,
            help_text="Given: the card is emailed to them (then its code is forgotten).",
        )
        message = serializers.CharField(
            required=False, allow_blank=True, max_length=services.MAX_MESSAGE
        )
        deliver_at = serializers.DateTimeField(
            required=False, allow_null=True, help_text="When to email it (default: now)."
        )

    @extend_schema(
        tags=TAGS,
        operation_id="billing_gift_cards_list",
        summary="List the studio's gift cards, newest first",
        parameters=[GiftCardListParams],
        responses={200: GiftCardPageSerializer, **error_responses(400, 401, 403)},
        examples=[
            OpenApiExample(
                "A page",
                value={"results": [_CARD], "next": None, "previous": None},
                response_only=True,
            )
        ],
    )
    def get(self, request):
        params = GiftCardListParams.validate_or_raise(request.query_params)
        page = selectors.gift_card_page(
            studio=self.studio,
            state=params.get("state"),
            origin=params.get("origin"),
            cursor=params.get("cursor"),
            page_size=params["page_size"],
        )
        items = GiftCardOutputSerializer(
            page.items, many=True, context=money_context(self.studio)
        ).data
        return Response(page_body(page, items))

    @extend_schema(
        tags=TAGS,
        operation_id="billing_gift_cards_issue",
        summary="Issue a gift card (a giveaway): the studio pays for it",
        description=(
            "Debits the studio's adjustment account and credits the card; any amount and "
            "currency. The code is in this answer only: keep it or give a recipient email."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=GiftCardIssueInputSerializer,
        responses={
            201: GiftCardIssuedSerializer,
            200: GiftCardIssuedSerializer,
            **error_responses(
                400,
                401,
                403,
                409,
                e400="`amount_float`, `amount_invalid`, `amount_precision`, "
                "`amount_too_large`, `currency_unknown`, `idempotency_key_required`, "
                "`idempotency_key_invalid`, `invalid` (an email), `validation_error`",
                e409="`idempotency_key_reused`",
            ),
        },
        examples=[
            OpenApiExample(
                "A referral thank-you",
                value={
                    "amount": "50.00",
                    "currency": "EUR",
                    "recipient_name": "Rita",
                    "recipient_email": "rita@example.com",
                    "message": "Thank you for the referral!",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Issued",
                value={"card": _ISSUED, "code": "7K3M-0QXR-9TBW-C2HD"},
                response_only=True,
            ),
        ],
    )
    def post(self, request):
        key = idempotency_key_from(request, scope="gift_card.issue")
        data = self.GiftCardIssueInputSerializer.validate_or_raise(request.data)
        result = services.gift_card_issue(
            studio=self.studio,
            amount=data["amount"].amount,
            currency=data["amount"].currency,
            idempotency_key=key,
            recipient_name=data.get("recipient_name", ""),
            recipient_email=data.get("recipient_email", ""),
            message=data.get("message", ""),
            deliver_at=data.get("deliver_at"),
            by=request.user,
        )
        body = GiftCardIssuedSerializer(
            {"card": _card(self, result.card.id), "code": result.code},
            context=money_context(self.studio),
        ).data
        response = Response(
            body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        )
        response["Cache-Control"] = "no-store"  # it holds a code
        return response


class GiftCardDetailApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_gift_cards_retrieve",
        summary="Read a gift card (never its code)",
        responses={200: GiftCardOutputSerializer, **error_responses(401, 403, 404)},
        examples=[OpenApiExample("A card", value=_CARD, response_only=True)],
    )
    def get(self, request, card_id):
        return Response(
            GiftCardOutputSerializer(_card(self, card_id), context=money_context(self.studio)).data
        )


class GiftCardStatementParams(InputSerializer, PageParams):
    pass


class GiftCardEntriesApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_gift_cards_entries_list",
        summary="A gift card's history: its account's entries, newest first",
        description="The sale or issue (a credit), each redemption, the expiry or void.",
        parameters=[GiftCardStatementParams],
        responses={200: StatementPageSerializer, **error_responses(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "A page",
                value={
                    "results": [
                        {
                            "id": "01939c20-5a6c-7000-8000-000000000001",
                            "amount": example_money(3500),
                            "side": "debit",
                            "transaction": {
                                "id": _TXN["id"],
                                "kind": "gift_card_redeemed",
                                "memo": "Session 12",
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
    def get(self, request, card_id):
        card = _card(self, card_id)
        params = GiftCardStatementParams.validate_or_raise(request.query_params)
        page = selectors.gift_card_statement(
            card=card, cursor=params.get("cursor"), page_size=params["page_size"]
        )
        items = StatementEntrySerializer(
            page.items, many=True, context=money_context(self.studio)
        ).data
        return Response(page_body(page, items))


@outside_request_transaction  # see the module
class GiftCardRedeemApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    class GiftCardRedeemInputSerializer(MoneyInputMixin, InputSerializer):
        code = serializers.CharField(max_length=64, help_text="As printed; case and dashes free.")
        amount = AmountField()
        currency = CurrencyField(help_text="The card's currency.")
        reference = serializers.CharField(max_length=300, help_text="What it pays for.")

    @extend_schema(
        tags=TAGS,
        operation_id="billing_gift_cards_redeem",
        summary="Pay with a gift card, by its code (debit the card, credit revenue)",
        description=(
            "What is left stays on the card; a card redeemed to zero is `used`. Wrong codes "
            "are limited per client address and per studio (429 with `Retry-After`)."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=GiftCardRedeemInputSerializer,
        responses={
            201: GiftCardRedeemedSerializer,
            200: GiftCardRedeemedSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                429,
                e400="amount codes (`amount_float`, ...), `currency_mismatch`, "
                "`idempotency_key_required`, `idempotency_key_invalid`, `validation_error`",
                e404="`gift_card_not_found`: no card has this code",
                e409="`gift_card_expired`, `gift_card_void`, `gift_card_used`, "
                "`gift_card_pending_payment`, `insufficient_funds` (`available`), "
                "`idempotency_key_reused`",
                e429="`too_many_attempts`: too many wrong codes",
            ),
        },
        examples=[
            OpenApiExample(
                "Pay a session",
                value={
                    "code": "7k3m-0qxr-9tbw-c2hd",
                    "amount": "35.00",
                    "currency": "EUR",
                    "reference": "Session 12",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Redeemed", value={"card": _CARD, "transaction": _TXN}, response_only=True
            ),
        ],
    )
    def post(self, request):
        key = idempotency_key_from(request, scope="gift_card.redeem")
        data = self.GiftCardRedeemInputSerializer.validate_or_raise(request.data)
        result = services.gift_card_redeem(
            studio=self.studio,
            code=data["code"],
            amount=data["amount"].amount,
            currency=data["amount"].currency,
            reference=data["reference"],
            idempotency_key=key,
            address=client_address(request),
            by=request.user,
        )
        body = GiftCardRedeemedSerializer(
            {"card": _card(self, result.card.id), "transaction": result.posted.transaction},
            context=money_context(self.studio),
        ).data
        return Response(
            body, status=status.HTTP_201_CREATED if result.posted.created else status.HTTP_200_OK
        )


@outside_request_transaction  # see the module
class GiftCardResendApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    class GiftCardResendInputSerializer(InputSerializer):
        recipient_email = serializers.CharField(
            required=False, allow_blank=True, max_length=254, help_text="Default: the same."
        )

    @extend_schema(
        tags=TAGS,
        operation_id="billing_gift_cards_resend",
        summary="Email an active card again, with a new code",
        description=(
            "Codes are not kept after they are emailed, so the card gets a new one (the old "
            "code stops working) and it is emailed now."
        ),
        request=GiftCardResendInputSerializer,
        responses={
            200: GiftCardOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400="`recipient_email_required`, `invalid`",
                e409="`gift_card_used`, `gift_card_expired`, `gift_card_void`, "
                "`gift_card_pending_payment`",
            ),
        },
        examples=[
            OpenApiExample(
                "To a new address", value={"recipient_email": "rita@example.org"}, request_only=True
            ),
            OpenApiExample("The card", value=_CARD, response_only=True),
        ],
    )
    def post(self, request, card_id):
        card = _card(self, card_id)
        data = self.GiftCardResendInputSerializer.validate_or_raise(request.data)
        services.gift_card_resend(
            card=card, recipient_email=data.get("recipient_email") or None, by=request.user
        )
        return Response(
            GiftCardOutputSerializer(_card(self, card_id), context=money_context(self.studio)).data
        )


@outside_request_transaction  # see the module
class GiftCardVoidApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    class GiftCardVoidInputSerializer(InputSerializer):
        reason = serializers.CharField(required=False, allow_blank=True, max_length=300)

    @extend_schema(
        tags=TAGS,
        operation_id="billing_gift_cards_void",
        summary="Void a card the studio issued (what is left goes back to the studio)",
        description=(
            "Only cards the studio issued: a card a client bought is their money and is "
            "refunded through its payment. Voiding a void card answers it again."
        ),
        request=GiftCardVoidInputSerializer,
        responses={
            200: GiftCardOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e409="`gift_card_purchased`, `gift_card_used`, `gift_card_expired`, "
                "`gift_card_pending_payment`",
            ),
        },
        examples=[
            OpenApiExample("Why", value={"reason": "Giveaway cancelled"}, request_only=True),
            OpenApiExample(
                "Void",
                value={
                    **_ISSUED,
                    "state": "void",
                    "balance": example_money(0),
                    "closed_at": "2026-06-21T09:00:00Z",
                    "void_reason": "Giveaway cancelled",
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request, card_id):
        card = _card(self, card_id)
        data = self.GiftCardVoidInputSerializer.validate_or_raise(request.data)
        services.gift_card_void(card=card, reason=data.get("reason", ""), by=request.user)
        return Response(
            GiftCardOutputSerializer(_card(self, card_id), context=money_context(self.studio)).data
        )
