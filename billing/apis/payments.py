"""Card payments in the API.

The studio's side (``billing.view`` to read, ``billing.manage`` to refund): payments with their
refunds and disputes, a refund (``Idempotency-Key`` required; a retried request answers the
same refund, 200 instead of 201), a refresh from the provider, and the disputes.

The client pages' side (``/api/v1/billing/public/...``, anonymous, on the studio's own site,
rate-limited per client address and studio): start a gift card purchase or a wallet top-up
(an ``Idempotency-Key`` per attempt; the answer carries the client secret Stripe.js confirms
the payment with) and read a payment's status with its token (asking the provider when the
payment is still open, so a receipt page sees the outcome without waiting for a webhook).

Views that call the provider run outside the request transaction (the services claim, call,
then apply in their own short transactions).
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from billing.apis.common import IDEMPOTENCY_PARAMETER, idempotency_key_from
from billing.apis.fields import (
    AmountField,
    CurrencyField,
    MoneyOutputSerializer,
    example_money,
    money_context,
    money_from_input,
)
from billing.models import Payment, Refund
from billing.payments import ProviderError
from billing.selectors import payments as selectors
from billing.services import payments as services
from billing.services.payments import public
from picpick.core.apis import PublicAPIView, StudioAPIView, site_studio_id
from picpick.core.clientaddr import client_address
from picpick.core.errors import ApplicationError
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body
from picpick.core.serializers import InputSerializer
from picpick.core.transactions import outside_request_transaction

logger = logging.getLogger("billing.payments")

TAGS = ["billing"]
PUBLIC_TAGS = ["billing-public"]

_PAYMENT_ID = "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4c01"


_REFUND_EXAMPLE = {
    "id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4c11",
    "amount": example_money(2000),
    "destination": "card",
    "state": "succeeded",
    "provider_refund_id": "re_3QxYz2AbCdEfGhIj",
    "reason": "Session moved",
    "last_error_code": "",
    "created_at": "2026-12-08T10:00:00Z",
    "succeeded_at": "2026-12-08T10:00:01Z",
}
_DISPUTE_EXAMPLE = {
    "id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4c21",
    "payment_id": _PAYMENT_ID,
    "provider_dispute_id": "dp_3QxYz2AbCdEfGhIj",
    "amount": example_money(5000),
    "reason": "fraudulent",
    "status": "needs_response",
    "funds_withdrawn": True,
    "funds_reinstated": False,
    "created_at": "2026-12-09T10:00:00Z",
    "closed_at": None,
}
_PAYMENT_EXAMPLE = {
    "id": _PAYMENT_ID,
    "purpose": "gift_card",
    "state": "succeeded",
    "amount": example_money(5000),
    "fee": example_money(175),
    "application_fee": None,
    "refunded": example_money(2000),
    "refundable": example_money(3000),
    "contact_id": None,
    "reference_id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4c31",
    "intent_id": "pi_3QxYz2AbCdEfGhIj",
    "payer_email": "jane@example.com",
    "payer_name": "Jane Doe",
    "description": "Gift card",
    "last_error_code": "",
    "last_decline_code": "",
    "posted_transaction_id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4c41",
    "created_at": "2026-12-07T10:00:00Z",
    "succeeded_at": "2026-12-07T10:00:20Z",
    "finished_at": "2026-12-07T10:00:20Z",
}
_PAYMENT_DETAIL_EXAMPLE = {
    **_PAYMENT_EXAMPLE,
    "refunds": [_REFUND_EXAMPLE],
    "disputes": [],
}


# --- Output -------------------------------------------------------------------------------------
class RefundOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    amount = MoneyOutputSerializer(source="money")
    destination = serializers.ChoiceField(choices=Refund.Destination.choices)
    state = serializers.ChoiceField(choices=Refund.State.choices)
    provider_refund_id = serializers.CharField(allow_null=True)
    reason = serializers.CharField()
    last_error_code = serializers.CharField()
    created_at = serializers.DateTimeField()
    succeeded_at = serializers.DateTimeField(allow_null=True)


class DisputeOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    payment_id = serializers.UUIDField()
    provider_dispute_id = serializers.CharField()
    amount = MoneyOutputSerializer(source="money")
    reason = serializers.CharField()
    status = serializers.CharField(help_text="The provider's: needs_response, won, lost, ...")
    funds_withdrawn = serializers.SerializerMethodField()
    funds_reinstated = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)

    def get_funds_withdrawn(self, dispute) -> bool:
        return dispute.withdrawn_transaction_id is not None

    def get_funds_reinstated(self, dispute) -> bool:
        return dispute.reinstated_transaction_id is not None


class PaymentOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    purpose = serializers.ChoiceField(choices=Payment.Purpose.choices)
    state = serializers.ChoiceField(
        choices=Payment.State.choices,
        help_text="`requires_action`: the client must authenticate (3-D Secure); not paid.",
    )
    amount = MoneyOutputSerializer(source="money")
    fee = MoneyOutputSerializer(
        source="fee_money", allow_null=True, help_text="The provider's fee, once known."
    )
    application_fee = MoneyOutputSerializer(
        source="application_fee_money", allow_null=True, help_text="PicPick's fee."
    )
    refunded = MoneyOutputSerializer(source="refunded_money", help_text="Refunded or on its way.")
    refundable = MoneyOutputSerializer(source="refundable_money")
    contact_id = serializers.UUIDField(allow_null=True)
    reference_id = serializers.UUIDField(
        allow_null=True, help_text="The wallet topped up, or the gift card bought."
    )
    intent_id = serializers.CharField(allow_null=True)
    payer_email = serializers.CharField()
    payer_name = serializers.CharField()
    description = serializers.CharField()
    last_error_code = serializers.CharField(help_text="The provider's, after a decline.")
    last_decline_code = serializers.CharField(help_text="The bank's reason for a decline.")
    posted_transaction_id = serializers.UUIDField(
        allow_null=True, help_text="The ledger transaction of the success."
    )
    created_at = serializers.DateTimeField()
    succeeded_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class PaymentDetailSerializer(PaymentOutputSerializer):
    refunds = RefundOutputSerializer(many=True)
    disputes = DisputeOutputSerializer(many=True)


class PaymentPageSerializer(serializers.Serializer):
    results = PaymentOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class DisputePageSerializer(serializers.Serializer):
    results = DisputeOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


def _detail(payment: Payment) -> dict:
    context = money_context(payment.studio)
    body = dict(PaymentOutputSerializer(payment, context=context).data)
    refunds = selectors.payment_refunds(payment=payment)
    disputes = selectors.payment_disputes(payment=payment)
    body["refunds"] = RefundOutputSerializer(refunds, many=True, context=context).data
    body["disputes"] = DisputeOutputSerializer(disputes, many=True, context=context).data
    return body


# --- The studio's side --------------------------------------------------------------------------
class PaymentListApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW}

    class PaymentQuerySerializer(PageParams):
        state = serializers.ChoiceField(choices=Payment.State.choices, required=False)
        purpose = serializers.ChoiceField(choices=Payment.Purpose.choices, required=False)
        contact_id = serializers.UUIDField(required=False)

    @extend_schema(
        tags=TAGS,
        operation_id="billing_payments_list",
        summary="List the studio's card payments, newest first",
        parameters=[PaymentQuerySerializer],
        responses={200: PaymentPageSerializer, **error_responses(400, 401, 403)},
        examples=[
            OpenApiExample(
                "Payments",
                value={"results": [_PAYMENT_EXAMPLE], "next": None, "previous": None},
                response_only=True,
            )
        ],
    )
    def get(self, request):
        query = self.PaymentQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        page = selectors.payment_list(
            studio=self.studio,
            state=data.get("state"),
            purpose=data.get("purpose"),
            contact_id=data.get("contact_id"),
            cursor=data.get("cursor"),
            page_size=data["page_size"],
        )
        results = PaymentOutputSerializer(
            page.items, many=True, context=money_context(self.studio)
        ).data
        return Response(page_body(page, results))


class PaymentDetailApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_payments_retrieve",
        summary="Read a card payment with its refunds and disputes",
        responses={200: PaymentDetailSerializer, **error_responses(401, 403, 404)},
        examples=[OpenApiExample("Payment", value=_PAYMENT_DETAIL_EXAMPLE, response_only=True)],
    )
    def get(self, request, payment_id):
        payment = selectors.payment_get(studio=self.studio, payment_id=payment_id)
        return Response(_detail(payment))


@outside_request_transaction
class PaymentRefreshApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_payments_refresh",
        summary="Ask the provider where a payment is, and follow it",
        description="What the webhooks and the sweeper do on their own; for support. A "
        "succeeded intent is booked (once).",
        request=None,
        responses={200: PaymentDetailSerializer, **error_responses(401, 403, 404, 503)},
        examples=[OpenApiExample("Payment", value=_PAYMENT_DETAIL_EXAMPLE, response_only=True)],
    )
    def post(self, request, payment_id):
        payment = selectors.payment_get(studio=self.studio, payment_id=payment_id)
        try:
            payment = services.payment_refresh(payment=payment)
        except ProviderError as exc:
            raise services.ProviderDown(
                "The card processor did not answer; try again in a moment."
            ) from exc
        payment.studio = self.studio
        return Response(_detail(payment))


@outside_request_transaction
class PaymentRefundApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    class RefundInputSerializer(InputSerializer):
        amount = AmountField(
            required=False,
            help_text="Omitted: all that is left. With `currency` (the payment's).",
        )
        currency = CurrencyField(required=False)
        to = serializers.ChoiceField(
            choices=Refund.Destination.choices,
            default=Refund.Destination.CARD,
            help_text="`card` (through the provider) or `wallet` (the payment's contact's "
            "wallet credit; for a gift card bought by a contact).",
        )
        reason = serializers.CharField(required=False, allow_blank=True, max_length=300)

    @extend_schema(
        tags=TAGS,
        operation_id="billing_payments_refund",
        summary="Refund a payment, in full or in part, to the card or the wallet",
        description="Never more than what is left of the payment (two refunds together "
        "neither). A wallet top-up is refunded to the card from credit still in the wallet "
        "(not spent, not held); a gift card from what is left on it. The refund is booked, "
        "then sent to the provider; refused there, it is reversed.",
        parameters=[IDEMPOTENCY_PARAMETER],
        request=RefundInputSerializer,
        responses={
            201: RefundOutputSerializer,
            200: RefundOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                422,
                503,
                e400="`amount_*`, `currency_unknown`, `currency_mismatch`, "
                "`idempotency_key_required`, `invalid_destination`.",
                e409="`payment_not_refundable`, `payment_fully_refunded`, "
                "`refund_exceeds_payment` (`remaining`), `insufficient_funds` (the credit "
                "was spent), `refund_destination_invalid`, `refund_needs_contact`, "
                "`idempotency_key_reused`.",
                e422="`refund_rejected` by the provider (nothing refunded).",
                e503="`provider_unavailable`: booked, and sent again by a retry (same key) "
                "or the sweeper.",
            ),
        },
        examples=[
            OpenApiExample(
                "Part of it, to the card",
                value={"amount": "20.00", "currency": "EUR", "reason": "Session moved"},
                request_only=True,
            ),
            OpenApiExample("Refunded", value=_REFUND_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request, payment_id):
        payment = selectors.payment_get(studio=self.studio, payment_id=payment_id)
        key = idempotency_key_from(request, "refund")
        data = self.RefundInputSerializer.validate_or_raise(request.data)
        return refund_answer(
            self, request, payment=payment, data=data, key=key, default_currency=""
        )


def refund_answer(
    view: StudioAPIView,
    request,
    *,
    payment: Payment,
    data: dict,
    key: str,
    default_currency: str,
) -> Response:
    """The refund a validated request asks for (``amount`` and ``currency`` optional, ``to``,
    ``reason``), made once per key: 201, or 200 when the key was seen (the same refund)."""
    amount = None
    if "amount" in data:
        money = money_from_input(data["amount"], data.get("currency") or default_currency)
        if money.currency != payment.currency:
            raise ApplicationError(
                f"The payment is in {payment.currency}.",
                code="currency_mismatch",
                fields={"currency": [f"Must be {payment.currency}."]},
            )
        amount = money.amount
    existed = Refund.objects.filter(studio=view.studio, idempotency_key=key).exists()
    refund = services.refund_create(
        payment=payment,
        amount=amount,
        to=data["to"],
        reason=data.get("reason", ""),
        by=request.user,
        idempotency_key=key,
    )
    return Response(
        RefundOutputSerializer(refund, context=money_context(view.studio)).data,
        status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
    )


class DisputeListApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_disputes_list",
        summary="List the studio's disputes (chargebacks), newest first",
        parameters=[PageParams],
        responses={200: DisputePageSerializer, **error_responses(400, 401, 403)},
        examples=[
            OpenApiExample(
                "Disputes",
                value={"results": [_DISPUTE_EXAMPLE], "next": None, "previous": None},
                response_only=True,
            )
        ],
    )
    def get(self, request):
        query = PageParams(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = selectors.dispute_list(
            studio=self.studio,
            cursor=query.validated_data.get("cursor"),
            page_size=query.validated_data["page_size"],
        )
        results = DisputeOutputSerializer(
            page.items, many=True, context=money_context(self.studio)
        ).data
        return Response(page_body(page, results))


# --- The client pages' side ---------------------------------------------------------------------
class PublicPaymentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    purpose = serializers.ChoiceField(choices=Payment.Purpose.choices)
    state = serializers.ChoiceField(choices=Payment.State.choices)
    final = serializers.SerializerMethodField(help_text="Whether the state can still change.")
    amount = MoneyOutputSerializer(source="money")
    last_error_code = serializers.CharField()
    last_decline_code = serializers.CharField()

    def get_final(self, payment) -> bool:
        return payment.state in Payment.FINAL


class PaymentStartedSerializer(serializers.Serializer):
    payment = PublicPaymentSerializer()
    client_secret = serializers.CharField(
        help_text="For Stripe.js `confirmCardPayment` on this page only; never store it."
    )
    publishable_key = serializers.CharField()
    stripe_account = serializers.CharField(help_text="Stripe.js's `stripeAccount` option.")
    status_url = serializers.CharField(help_text="This payment's status (with its token).")
    receipt_url = serializers.CharField(help_text="The receipt page on the studio's site.")


_PUBLIC_PAYMENT = {
    "id": _PAYMENT_ID,
    "purpose": "gift_card",
    "state": "created",
    "final": False,
    "amount": example_money(5000),
    "last_error_code": "",
    "last_decline_code": "",
}
_STARTED_EXAMPLE = {
    "payment": _PUBLIC_PAYMENT,
    "client_secret": "pi_3QxYz2AbCdEfGhIj_secret_AbCdEfGhIjKlMnOpQrStUv",
    "publishable_key": "pk_live_51AbCdEf",
    "stripe_account": "acct_1QxYz2AbCdEfGhIj",
    "status_url": f"/api/v1/billing/public/payments/{_PAYMENT_ID}/?t=9f2c…",
    "receipt_url": f"/pay/{_PAYMENT_ID}/?t=9f2c…",
}
_START_ERRORS = error_responses(
    400,
    404,
    409,
    422,
    429,
    503,
    e400="`amount_*`, `currency_unknown`, `currency_not_accepted`, "
    "`gift_card_amount_not_offered`, `invalid_email`, `idempotency_key_required`, "
    "`validation_error`.",
    e404="Not on a studio's site, or `wallet_link_invalid`.",
    e409="`payments_not_enabled` (the studio takes no card payments), "
    "`idempotency_key_reused`, `payment_in_progress`.",
    e422="`payment_rejected` by the provider.",
    e429="`too_many_payments` from this address or for this studio; Retry-After says when.",
    e503="`provider_unavailable`: send the same request again (same key) in a moment.",
)


def _started(payment: Payment, secret: str) -> dict:
    token = services.status_token(payment)
    return {
        "payment": payment,
        "client_secret": secret,
        "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "stripe_account": payment.provider_account_id,
        "status_url": f"/api/v1/billing/public/payments/{payment.id}/?t={token}",
        "receipt_url": f"/pay/{payment.id}/?t={token}",
    }


def _public_studio(request):
    from accounts.models import Studio

    studio_id = site_studio_id(request)
    studio = None
    if studio_id is not None:
        studio = Studio.objects.filter(pk=studio_id, deleted_at__isnull=True).first()
    return public.site_studio_required(studio)


def _deliver_at(day: dt.date | None, studio) -> dt.datetime | None:
    """A delivery day is 9:00 in the studio's time zone (None: as soon as it is paid)."""
    if day is None:
        return None
    moment = dt.datetime.combine(day, dt.time(9, 0), tzinfo=ZoneInfo(studio.timezone))
    return max(moment, timezone.now())


@outside_request_transaction
class PublicGiftCardPurchaseApi(PublicAPIView):
    throttle_classes: list = []  # counted per address and studio by the service

    class GiftCardPurchaseInputSerializer(InputSerializer):
        amount = AmountField(help_text="One of the studio's amounts, or within its limits.")
        currency = CurrencyField()
        buyer_name = serializers.CharField(max_length=200)
        buyer_email = serializers.CharField(max_length=254)
        recipient_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
        recipient_email = serializers.CharField(max_length=254, required=False, allow_blank=True)
        message = serializers.CharField(max_length=1000, required=False, allow_blank=True)
        deliver_on = serializers.DateField(
            required=False, allow_null=True, help_text="Emailed that day (default: once paid)."
        )

    @extend_schema(
        tags=PUBLIC_TAGS,
        operation_id="public_billing_gift_card_purchase",
        summary="Start buying a gift card by card (on the studio's site)",
        description="Prepares the card (pending payment) and the payment; confirm it in the "
        "browser with Stripe.js (`client_secret`, `publishable_key`, `stripe_account`). The card "
        "is activated and sent once the payment succeeds; a declined payment voids it.",
        parameters=[IDEMPOTENCY_PARAMETER],
        request=GiftCardPurchaseInputSerializer,
        responses={201: PaymentStartedSerializer, 200: PaymentStartedSerializer, **_START_ERRORS},
        examples=[
            OpenApiExample(
                "A €50 card",
                value={
                    "amount": 5000,
                    "currency": "EUR",
                    "buyer_name": "Jane Doe",
                    "buyer_email": "jane@example.com",
                    "recipient_name": "Sam Doe",
                    "recipient_email": "sam@example.com",
                    "message": "Happy birthday!",
                    "deliver_on": "2026-12-24",
                },
                request_only=True,
            ),
            OpenApiExample("Started", value=_STARTED_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request):
        studio = _public_studio(request)
        key = idempotency_key_from(request, "public-payment")
        data = self.GiftCardPurchaseInputSerializer.validate_or_raise(request.data)
        money = money_from_input(data["amount"], data["currency"])
        public.start_allowed(studio=studio, address=client_address(request))
        existed = Payment.objects.filter(studio=studio, idempotency_key=key).exists()
        payment, secret = services.payment_start(
            studio=studio,
            purpose=Payment.Purpose.GIFT_CARD,
            amount=money.amount,
            currency=money.currency,
            payer_email=data["buyer_email"],
            payer_name=data["buyer_name"],
            idempotency_key=key,
            gift_card=services.GiftCardOrder(
                recipient_name=data.get("recipient_name", ""),
                recipient_email=data.get("recipient_email", ""),
                message=data.get("message", ""),
                deliver_at=_deliver_at(data.get("deliver_on"), studio),
            ),
        )
        payment.studio = studio
        return Response(
            PaymentStartedSerializer(_started(payment, secret), context=money_context(studio)).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )


@outside_request_transaction
class PublicWalletTopUpApi(PublicAPIView):
    throttle_classes: list = []

    class WalletTopUpInputSerializer(InputSerializer):
        token = serializers.CharField(
            max_length=1000, help_text="The client's wallet link token (from its page's URL)."
        )
        amount = AmountField()
        currency = CurrencyField()
        email = serializers.CharField(
            max_length=254,
            required=False,
            allow_blank=True,
            help_text="For the receipt (default: the contact's).",
        )

    @extend_schema(
        tags=PUBLIC_TAGS,
        operation_id="public_billing_wallet_top_up",
        summary="Start a wallet top-up by card (on the studio's site, from the wallet link)",
        description="The wallet is the link's contact's, in the studio's currency; it is "
        "credited once the payment succeeds.",
        parameters=[IDEMPOTENCY_PARAMETER],
        request=WalletTopUpInputSerializer,
        responses={201: PaymentStartedSerializer, 200: PaymentStartedSerializer, **_START_ERRORS},
        examples=[
            OpenApiExample(
                "€25",
                value={"token": "eyJzIjoi…", "amount": "25.00", "currency": "EUR"},
                request_only=True,
            ),
            OpenApiExample(
                "Started",
                value={
                    **_STARTED_EXAMPLE,
                    "payment": {**_PUBLIC_PAYMENT, "purpose": "wallet_topup"},
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request):
        studio = _public_studio(request)
        key = idempotency_key_from(request, "public-payment")
        data = self.WalletTopUpInputSerializer.validate_or_raise(request.data)
        money = money_from_input(data["amount"], data["currency"])
        contact = public.wallet_link_contact(studio=studio, token=data["token"])
        public.start_allowed(studio=studio, address=client_address(request))
        existed = Payment.objects.filter(studio=studio, idempotency_key=key).exists()
        name = " ".join(part for part in (contact.first_name, contact.last_name) if part)
        payment, secret = services.payment_start(
            studio=studio,
            purpose=Payment.Purpose.WALLET_TOPUP,
            amount=money.amount,
            currency=money.currency,
            contact=contact,
            payer_email=data.get("email") or contact.email,
            payer_name=name,
            idempotency_key=key,
        )
        payment.studio = studio
        return Response(
            PaymentStartedSerializer(_started(payment, secret), context=money_context(studio)).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )


@outside_request_transaction
class PublicPaymentStatusApi(PublicAPIView):
    throttle_classes: list = []

    @extend_schema(
        tags=PUBLIC_TAGS,
        operation_id="public_billing_payment_status",
        summary="A payment's state, for the client's receipt page",
        description="Needs the payment's token (`t`, from the start's answer). While the "
        "payment is open the provider is asked (at most every few seconds), so the state "
        "follows the card without waiting for a webhook; `succeeded` means booked.",
        parameters=[
            OpenApiParameter("t", str, OpenApiParameter.QUERY, required=True, description="Token.")
        ],
        responses={200: PublicPaymentSerializer, **error_responses(404, 429)},
        examples=[
            OpenApiExample(
                "Paid",
                value={**_PUBLIC_PAYMENT, "state": "succeeded", "final": True},
                response_only=True,
            )
        ],
    )
    def get(self, request, payment_id):
        public.status_allowed(address=client_address(request))
        payment = selectors.public_payment_get(
            payment_id=payment_id, studio_id=site_studio_id(request)
        )
        if not services.status_token_valid(payment, request.query_params.get("t", "")):
            raise ApplicationError("No such payment.", code="not_found", status=404)
        # At most one provider call per payment every few seconds, however many pages poll.
        refresh_slot = f"pay-refresh:{payment.id}"
        every = int(services.REFRESH_EVERY.total_seconds())
        if payment.state in Payment.OPEN and cache.add(refresh_slot, 1, timeout=every):
            studio = payment.studio
            try:
                payment = services.payment_refresh(payment=payment)
            except ProviderError as exc:  # the page asks again; the sweeper and webhooks too
                logger.warning("payment %s status refresh failed: %s", payment.id, exc.code)
            payment.studio = studio
        response = Response(
            PublicPaymentSerializer(payment, context=money_context(payment.studio)).data
        )
        response["Cache-Control"] = "private, no-store"
        return response
