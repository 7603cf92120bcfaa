"""An invoice's money and document: its card payments, a refund of one, its PDF.

Refunds go through the payment services (``billing.services.payments.refund_create``): to the
card (through the provider) or as the client's wallet credit, never more than what is left of
the payment, each keyed by the request's ``Idempotency-Key``; the invoice's status follows
(the payment services call back into the invoice's bookkeeping). They run outside the request
transaction: the refund is booked, then sent to the provider with no transaction open.

The PDF is the one stored when the invoice was issued (its SHA-256 checked on the way out);
when it is not stored yet (the task has not run) it is drawn and stored now.
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
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
    money_output,
    studio_locale,
)
from billing.apis.invoices.outputs import (
    PAYMENT,
    InvoicePaymentPageSerializer,
    InvoicePaymentSerializer,
)
from billing.apis.payments import RefundOutputSerializer, refund_answer
from billing.documents import invoice_pdf_ensure, pdf_open
from billing.models import Refund
from billing.money import Money
from billing.selectors import invoices as selectors
from billing.services.invoices import OFFLINE_METHODS, invoice_payment_record, receivable_balance
from picpick.core.apis import StudioAPIView
from picpick.core.errors import ApplicationError, Conflict
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body
from picpick.core.serializers import InputSerializer
from picpick.core.transactions import outside_request_transaction

TAGS = ["billing"]
METHOD_CHOICES = sorted(OFFLINE_METHODS)


class InvoicePaymentParams(InputSerializer, PageParams):
    pass


class InvoicePaymentListApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW, "POST": Perm.BILLING_MANAGE}

    class InvoicePaymentRecordSerializer(InputSerializer):
        amount = AmountField(help_text="What the client paid the studio directly.")
        currency = CurrencyField(required=False, help_text="The invoice's.")
        method = serializers.ChoiceField(choices=METHOD_CHOICES)
        reference = serializers.CharField(
            required=False, allow_blank=True, max_length=100, help_text="E.g. the transfer's."
        )
        received_on = serializers.DateField(required=False, help_text="Default: today.")

    class InvoicePaymentRecordedSerializer(serializers.Serializer):
        transaction_id = serializers.UUIDField(help_text="The ledger posting (`invoice_paid`).")
        invoice_status = serializers.CharField()
        balance = MoneyOutputSerializer(help_text="What is still owed.")

    @extend_schema(
        tags=TAGS,
        operation_id="billing_invoices_payments_list",
        summary="The invoice's card payments, newest first, each with its refunds",
        description=(
            "Any state (a declined or abandoned attempt too). Wallet credit and gift cards "
            "applied to the invoice are in its `history`."
        ),
        parameters=[InvoicePaymentParams],
        responses={200: InvoicePaymentPageSerializer, **error_responses(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "A page",
                value={"results": [PAYMENT], "next": None, "previous": None},
                response_only=True,
            )
        ],
    )
    def get(self, request, invoice_id):
        invoice = selectors.invoice_get(studio=self.studio, invoice_id=invoice_id)
        params = InvoicePaymentParams.validate_or_raise(request.query_params)
        page = selectors.invoice_payment_page(
            invoice=invoice, cursor=params.get("cursor"), page_size=params["page_size"]
        )
        items = InvoicePaymentSerializer(
            page.items, many=True, context=money_context(self.studio)
        ).data
        return Response(page_body(page, items))

    @extend_schema(
        tags=TAGS,
        operation_id="billing_invoices_payments_record",
        summary="Record money the client paid the studio directly (bank transfer, cash, cheque)",
        description=(
            "Booked once per `Idempotency-Key` (debit the studio's `bank` account, credit the "
            "invoice's receivable); the invoice's status and schedule follow. Never more than "
            "what is owed."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=InvoicePaymentRecordSerializer,
        responses={
            201: InvoicePaymentRecordedSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400="amount codes, `currency_mismatch`, `invalid_method`, "
                "`idempotency_key_required`, `validation_error`",
                e409="`amount_exceeds_balance` (`balance`), `invoice_paid`, `invoice_void`, "
                "`invoice_uncollectible`",
            ),
        },
        examples=[
            OpenApiExample(
                "A bank transfer",
                value={
                    "amount": "720.00",
                    "currency": "EUR",
                    "method": "bank_transfer",
                    "reference": "SEPA 2026-12-07 Doe",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Recorded",
                value={
                    "transaction_id": "01a2518a-1f00-7a3b-9c2d-4e5f60718293",
                    "invoice_status": "partially_paid",
                    "balance": example_money(168_000),
                },
                response_only=True,
            ),
        ],
    )
    @outside_request_transaction
    def post(self, request, invoice_id):
        invoice = selectors.invoice_get(studio=self.studio, invoice_id=invoice_id)
        key = idempotency_key_from(request, "invoice.record")
        data = self.InvoicePaymentRecordSerializer.validate_or_raise(request.data)
        money = money_from_input(data["amount"], data.get("currency") or invoice.currency)
        if money.currency != invoice.currency:
            raise ApplicationError(
                f"The invoice is in {invoice.currency}.",
                code="currency_mismatch",
                fields={"currency": [f"Must be {invoice.currency}."]},
            )
        posted = invoice_payment_record(
            invoice=invoice,
            amount=money.amount,
            method=data["method"],
            reference=data.get("reference", ""),
            received_on=data.get("received_on"),
            idempotency_key=key,
            by=request.user,
        )
        invoice.refresh_from_db()
        balance = receivable_balance(invoice)
        body = {
            "transaction_id": posted.id,
            "invoice_status": invoice.status,
            "balance": money_output(
                Money(balance, invoice.currency), locale=studio_locale(self.studio)
            ),
        }
        return Response(body, status=status.HTTP_201_CREATED)


_REFUND = {
    "id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4c11",
    "amount": {**PAYMENT["amount"], "amount": 20_000, "decimal": "200.00", "formatted": "€200.00"},
    "destination": "wallet",
    "state": "succeeded",
    "provider_refund_id": None,
    "reason": "Second photographer cancelled",
    "last_error_code": "",
    "created_at": "2026-06-01T10:00:00Z",
    "succeeded_at": "2026-06-01T10:00:00Z",
}


@outside_request_transaction  # see the module
class InvoiceRefundApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    class InvoiceRefundInputSerializer(InputSerializer):
        payment_id = serializers.UUIDField(help_text="A card payment of this invoice.")
        amount = AmountField(required=False, help_text="Omitted: all that is left of the payment.")
        currency = CurrencyField(required=False, help_text="The invoice's.")
        to = serializers.ChoiceField(
            choices=Refund.Destination.choices,
            default=Refund.Destination.CARD,
            help_text="`card` (through the provider) or `wallet` (the client's credit).",
        )
        reason = serializers.CharField(required=False, allow_blank=True, max_length=300)

    @extend_schema(
        tags=TAGS,
        operation_id="billing_invoices_refunds_create",
        summary="Refund a card payment of the invoice, to the card or the client's wallet",
        description=(
            "What is refunded is owed again on the invoice (its status follows); a tip is "
            "given back last. Sent again with the same `Idempotency-Key` it answers the same "
            "refund (200)."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=InvoiceRefundInputSerializer,
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
                e400="amount codes, `currency_mismatch`, `idempotency_key_required`, "
                "`idempotency_key_invalid`, `validation_error`",
                e404="`payment_not_found`: not a card payment of this invoice",
                e409="`payment_not_refundable`, `payment_fully_refunded`, "
                "`refund_exceeds_payment` (`remaining`), `idempotency_key_reused`",
                e422="`refund_rejected` by the provider (nothing refunded)",
                e503="`provider_unavailable`: booked; a retry with the same key sends it",
            ),
        },
        examples=[
            OpenApiExample(
                "Part of it, as wallet credit",
                value={
                    "payment_id": PAYMENT["id"],
                    "amount": "200.00",
                    "currency": "EUR",
                    "to": "wallet",
                    "reason": "Second photographer cancelled",
                },
                request_only=True,
            ),
            OpenApiExample("Refunded", value=_REFUND, response_only=True),
        ],
    )
    def post(self, request, invoice_id):
        invoice = selectors.invoice_get(studio=self.studio, invoice_id=invoice_id)
        key = idempotency_key_from(request, "invoice.refund")
        data = self.InvoiceRefundInputSerializer.validate_or_raise(request.data)
        payment = selectors.invoice_payment_get(invoice=invoice, payment_id=data["payment_id"])
        return refund_answer(
            self, request, payment=payment, data=data, key=key, default_currency=invoice.currency
        )


class InvoicePdfApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW}

    def perform_content_negotiation(self, request, force=False):
        # The answer is a PDF; errors are JSON (the first renderer).
        renderer = self.get_renderers()[0]
        return renderer, renderer.media_type

    @extend_schema(
        tags=TAGS,
        operation_id="billing_invoices_pdf",
        summary="The invoice's PDF, as stored when it was issued",
        description=(
            "The document of record (checked against its SHA-256, in `X-Content-SHA256`). Not "
            "stored yet: drawn and stored now. A draft has none."
        ),
        responses={
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The PDF file."
            ),
            **error_responses(
                401,
                403,
                404,
                409,
                e409="`invoice_not_issued`: a draft",
            ),
        },
    )
    def get(self, request, invoice_id):
        invoice = selectors.invoice_get(studio=self.studio, invoice_id=invoice_id)
        if invoice.number is None:
            raise Conflict("A draft has no PDF: issue it first.", code="invoice_not_issued")
        if not invoice.pdf_sha256:
            invoice = invoice_pdf_ensure(invoice_id=invoice.id)
        data = pdf_open(invoice=invoice)
        response = HttpResponse(data, content_type="application/pdf")
        name = "".join(c if c.isalnum() or c in "-_" else "-" for c in invoice.number)
        response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
        response["X-Content-SHA256"] = invoice.pdf_sha256
        response["Cache-Control"] = "private, no-store"
        return response
