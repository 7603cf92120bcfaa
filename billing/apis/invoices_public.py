"""The invoice page's payment in the API (``/api/v1/billing/public/invoices/<token>/payments/``,
anonymous, on the studio's own site only).

The card step of the client's invoice page (``billing.invoice_pages``) calls it with what the
client chose: it pays through ``invoice_pay`` (wallet credit and a gift card first, then the
card for the rest with the tip) and answers the client secret Stripe.js confirms the card
payment with, or none when the credit covered it all. An ``Idempotency-Key`` per attempt, so a
double click or a retried request spends the credit and starts the card payment once. The
invoice is the one the page's signed link names, on this studio's site (another studio's link,
a forged one: 404). Starts are counted per client address and studio, as the other public
payment starts.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.models import Studio
from billing.apis.common import IDEMPOTENCY_PARAMETER, idempotency_key_from
from billing.apis.fields import (
    AmountField,
    MoneyOutputSerializer,
    example_money,
    money_context,
    money_from_input,
)
from billing.apis.payments import PublicPaymentSerializer
from billing.models import Invoice
from billing.money import Money
from billing.services.invoices import invoice_pay, receivable_balance
from billing.services.invoices.links import invoice_for_link
from billing.services.payments import public, status_token
from picpick.core.apis import PublicAPIView, site_studio_id
from picpick.core.clientaddr import client_address
from picpick.core.openapi import error_responses
from picpick.core.serializers import InputSerializer
from picpick.core.transactions import outside_request_transaction

PUBLIC_TAGS = ["billing-public"]
_PAYMENT_ID = "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4c01"


class InvoiceStateSerializer(serializers.Serializer):
    number = serializers.CharField()
    status = serializers.ChoiceField(choices=Invoice.Status.choices)
    balance = MoneyOutputSerializer(help_text="What is still owed on it now.")


class InvoicePaymentStartedSerializer(serializers.Serializer):
    invoice = InvoiceStateSerializer()
    wallet_applied = MoneyOutputSerializer(help_text="Wallet credit paid on it by this request.")
    gift_card_applied = MoneyOutputSerializer(help_text="Gift card paid on it by this request.")
    payment = PublicPaymentSerializer(
        allow_null=True, help_text="The card payment to confirm; null when credit paid it all."
    )
    client_secret = serializers.CharField(
        allow_blank=True,
        help_text="For Stripe.js `confirmCardPayment` on this page only; empty without a card "
        "payment.",
    )
    publishable_key = serializers.CharField()
    stripe_account = serializers.CharField(help_text="Stripe.js's `stripeAccount` option.")
    status_url = serializers.CharField(
        allow_blank=True, help_text="The card payment's status (with its token)."
    )
    receipt_url = serializers.CharField(
        help_text="Where the page goes next: the payment's page on the studio's site (the "
        "invoice's page when no card payment was needed)."
    )


_STARTED_EXAMPLE = {
    "invoice": {
        "number": "INV-2026-0007",
        "status": "partially_paid",
        "balance": example_money(190000),
    },
    "wallet_applied": example_money(2000),
    "gift_card_applied": example_money(0),
    "payment": {
        "id": _PAYMENT_ID,
        "purpose": "invoice",
        "state": "created",
        "final": False,
        "amount": example_money(58000),
        "last_error_code": "",
        "last_decline_code": "",
    },
    "client_secret": "pi_3QxYz2AbCdEfGhIj_secret_AbCdEfGhIjKlMnOpQrStUv",
    "publishable_key": "pk_live_51AbCdEf",
    "stripe_account": "acct_1QxYz2AbCdEfGhIj",
    "status_url": f"/api/v1/billing/public/payments/{_PAYMENT_ID}/?t=9f2c…",
    "receipt_url": f"/invoices/eyJpIjoi…/payments/{_PAYMENT_ID}/?t=9f2c…",
}


def _site_studio(request) -> Studio:
    studio_id = site_studio_id(request)
    studio = None
    if studio_id is not None:
        studio = Studio.objects.filter(pk=studio_id, deleted_at__isnull=True).first()
    return public.site_studio_required(studio)


@outside_request_transaction
class PublicInvoicePaymentApi(PublicAPIView):
    throttle_classes: list = []  # counted per address and studio by the service

    class InvoicePaymentInputSerializer(InputSerializer):
        amount = AmountField(help_text="What to pay on the invoice, at most its balance.")
        tip = AmountField(required=False, help_text="Added to the card payment, if allowed.")
        use_wallet = serializers.BooleanField(
            default=False, help_text="Use the client's wallet credit first."
        )
        gift_card_code = serializers.CharField(
            max_length=64, required=False, allow_blank=True, help_text="Redeemed next."
        )
        save_card = serializers.BooleanField(
            default=False, help_text="Keep the card for the next instalments (autopay)."
        )
        email = serializers.CharField(
            max_length=254, required=False, allow_blank=True, help_text="For the receipt."
        )
        name = serializers.CharField(max_length=200, required=False, allow_blank=True)

    @extend_schema(
        tags=PUBLIC_TAGS,
        operation_id="public_billing_invoice_payment",
        summary="Pay an invoice from its page (on the studio's site, with its link's token)",
        description="Wallet credit and a gift card are applied first when asked, then the "
        "rest (and the tip) is a card payment to confirm in the browser with Stripe.js. The "
        "same Idempotency-Key again answers the same payment and spends nothing twice.",
        parameters=[IDEMPOTENCY_PARAMETER],
        request=InvoicePaymentInputSerializer,
        responses={
            200: InvoicePaymentStartedSerializer,
            **error_responses(
                400,
                404,
                409,
                422,
                429,
                503,
                e400="`amount_*`, `tip_invalid`, `tips_not_allowed`, `invalid_email`, "
                "`currency_mismatch`, `idempotency_key_required`, `validation_error`.",
                e404="Not on a studio's site, `invoice_link_invalid`, `gift_card_not_found`.",
                e409="`amount_exceeds_balance`, `invoice_void`, `invoice_paid`, "
                "`invoice_uncollectible`, `payments_not_enabled`, `idempotency_key_reused`, "
                "`gift_card_*`.",
                e422="`payment_rejected` by the provider.",
                e429="Too many payments started or wrong gift card codes; Retry-After says when.",
                e503="`provider_unavailable`: send the same request again (same key) soon.",
            ),
        },
        examples=[
            OpenApiExample(
                "The deposit, €20 of it from the wallet",
                value={
                    "amount": "600.00",
                    "use_wallet": True,
                    "email": "jane@example.com",
                    "save_card": True,
                },
                request_only=True,
            ),
            OpenApiExample("Started", value=_STARTED_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request, token: str):
        studio = _site_studio(request)
        key = idempotency_key_from(request, "public-invoice-payment")
        data = self.InvoicePaymentInputSerializer.validate_or_raise(request.data)
        invoice = invoice_for_link(studio=studio, token=token)
        amount = money_from_input(data["amount"], invoice.currency).amount
        tip = money_from_input(
            data.get("tip", 0), invoice.currency, field="tip", min_amount=0
        ).amount
        address = client_address(request)
        public.start_allowed(studio=studio, address=address)
        bill_to = invoice.bill_to or {}
        result = invoice_pay(
            invoice=invoice,
            amount=amount,
            idempotency_key=key,
            payer_email=data.get("email") or str(bill_to.get("email") or invoice.contact.email),
            payer_name=data.get("name") or str(bill_to.get("name") or ""),
            address=address,
            tip=tip,
            use_wallet=data["use_wallet"],
            gift_card_code=data.get("gift_card_code", ""),
            save_card=data["save_card"],
        )
        paid = result.invoice
        payment = result.payment
        page = f"/invoices/{token}/"
        status_url = receipt_url = ""
        if payment is not None:
            payment.studio = studio
            secret_token = status_token(payment)
            status_url = f"/api/v1/billing/public/payments/{payment.id}/?t={secret_token}"
            receipt_url = f"{page}payments/{payment.id}/?t={secret_token}"
        body = {
            "invoice": {
                "number": paid.number,
                "status": paid.status,
                "balance": Money(receivable_balance(paid), paid.currency),
            },
            "wallet_applied": Money(result.wallet_applied, paid.currency),
            "gift_card_applied": Money(result.gift_card_applied, paid.currency),
            "payment": payment,
            "client_secret": result.client_secret,
            "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
            "stripe_account": payment.provider_account_id if payment is not None else "",
            "status_url": status_url,
            "receipt_url": receipt_url or page,
        }
        response = Response(
            InvoicePaymentStartedSerializer(body, context=money_context(studio)).data
        )
        response["Cache-Control"] = "private, no-store"
        return response
