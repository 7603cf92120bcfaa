"""What is done to an invoice: issue it, void it, write it off, credit it, change its schedule,
send it to the client.

Issuing, voiding, writing off and crediting post to the ledger: those views run outside the
request transaction, each service being one transaction of its own that makes the accounts
and the number counter it needs first, committed on their own (``billing.services.invoices.
issue`` says why: made inside a transaction that then fails, InnoDB deadlocks whoever queued
behind the insert). Each is safe to repeat: a second issue or void is a 409 saying so.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from billing.apis.fields import money_context
from billing.apis.invoices.documents import detail_body
from billing.apis.invoices.fields import (
    SCHEDULE_HELP,
    LineInputSerializer,
    ScheduleField,
    line_inputs,
    schedule_amounts,
)
from billing.apis.invoices.outputs import (
    DETAIL,
    INSTALMENTS,
    INVOICE_ID,
    SUMMARY,
    InvoiceDetailSerializer,
    InvoiceSummarySerializer,
)
from billing.models import Invoice
from billing.selectors import invoices as selectors
from billing.services import invoices as services
from billing.services.invoices.common import MAX_LINES
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.serializers import InputSerializer
from picpick.core.transactions import outside_request_transaction

TAGS = ["billing"]
_E409_CLOSED = "`invoice_void`, `invoice_uncollectible`, `invoice_not_issued`"
_ISSUED = {
    **DETAIL,
    "status": "open",
    "paid": {**SUMMARY["total"], "amount": 0, "decimal": "0.00", "formatted": "€0.00"},
    "balance_due": SUMMARY["total"],
    "payments": [],
    "history": DETAIL["history"][:1],
    "instalments": [{**INSTALMENTS[0], "paid": INSTALMENTS[1]["paid"], "state": "pending"}],
}


def _invoice(view: StudioAPIView, invoice_id) -> Invoice:
    return selectors.invoice_get(studio=view.studio, invoice_id=invoice_id)


class _ReasonInput(InputSerializer):
    reason = serializers.CharField(max_length=300, help_text="Kept with the invoice.")


@outside_request_transaction  # see the module
class InvoiceIssueApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_invoices_issue",
        summary="Issue a draft: its number, its posting, its instalments, its PDF",
        description=(
            "The number is the next of the year's series (`INV-2026-0001`; prefix and padding "
            "by setting), gapless. The invoice's receivable is debited its total against "
            "revenue (per catalogue item) and tax payable (per rate); the schedule becomes "
            "instalments; the PDF is drawn and stored soon after. From then on the invoice "
            "is never edited."
        ),
        request=None,
        responses={
            200: InvoiceDetailSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400="`schedule_invalid`, `event_date_required` (instalments due around the event)",
                e409="`invoice_not_draft` (issued already), `invoice_empty` (no lines)",
            ),
        },
        examples=[OpenApiExample("Issued", value=_ISSUED, response_only=True)],
    )
    def post(self, request, invoice_id):
        invoice = _invoice(self, invoice_id)
        services.invoice_issue(invoice=invoice, by=request.user)
        return Response(detail_body(self, invoice.id))


@outside_request_transaction  # see the module
class InvoiceVoidApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_invoices_void",
        summary="Void an invoice nothing was paid or credited on (its postings reversed)",
        request=_ReasonInput,
        responses={
            200: InvoiceDetailSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400="`reason_required`, `invalid`, `validation_error`",
                e409=f"`invoice_has_payments` (refund or credit it instead), {_E409_CLOSED}",
            ),
        },
        examples=[
            OpenApiExample("Why", value={"reason": "Wrong client"}, request_only=True),
            OpenApiExample(
                "Void",
                value={
                    **_ISSUED,
                    "status": "void",
                    "balance_due": {**_ISSUED["paid"]},
                    "voided_at": "2026-05-03T09:00:00Z",
                    "void_reason": "Wrong client",
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request, invoice_id):
        invoice = _invoice(self, invoice_id)
        data = _ReasonInput.validate_or_raise(request.data)
        services.invoice_void(invoice=invoice, reason=data["reason"], by=request.user)
        return Response(detail_body(self, invoice.id))


@outside_request_transaction  # see the module
class InvoiceWriteOffApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    class WriteOffInputSerializer(InputSerializer):
        reason = serializers.CharField(required=False, allow_blank=True, max_length=300)

    @extend_schema(
        tags=TAGS,
        operation_id="billing_invoices_write_off",
        summary="Write off what is still owed (uncollectible): it moves to bad debt",
        request=WriteOffInputSerializer,
        responses={
            200: InvoiceDetailSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e409=f"`invoice_paid` (nothing owed), {_E409_CLOSED}",
            ),
        },
        examples=[
            OpenApiExample("Why", value={"reason": "Client vanished"}, request_only=True),
            OpenApiExample(
                "Written off",
                value={
                    **DETAIL,
                    "status": "uncollectible",
                    "uncollectible_at": "2026-12-01T09:00:00Z",
                    "void_reason": "Client vanished",
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request, invoice_id):
        invoice = _invoice(self, invoice_id)
        data = self.WriteOffInputSerializer.validate_or_raise(request.data)
        services.invoice_write_off(invoice=invoice, reason=data.get("reason", ""), by=request.user)
        return Response(detail_body(self, invoice.id))


@outside_request_transaction  # see the module
class InvoiceCreditNoteApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    class CreditNoteInputSerializer(InputSerializer):
        reason = serializers.CharField(max_length=300, help_text="Printed on the credit note.")
        lines = LineInputSerializer(
            many=True,
            required=False,
            max_length=MAX_LINES,
            help_text="What is credited; omitted: every line of the invoice (a full credit).",
        )

    @extend_schema(
        tags=TAGS,
        operation_id="billing_invoices_credit_notes_create",
        summary="Issue a credit note against an invoice (part of it, or all)",
        description=(
            "A document of its own (`CN-2026-0001`), linked to the invoice: its revenue and "
            "taxes are taken back and the invoice asks for less. Money already paid beyond what "
            "the invoice then asks for becomes the client's wallet credit."
        ),
        request=CreditNoteInputSerializer,
        responses={
            201: InvoiceDetailSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400="the line codes (`amount_float`, `quantity_invalid`, ...), `reason_required`",
                e409=f"`credit_exceeds_invoice` (`creditable`), `invoice_empty`, {_E409_CLOSED}",
            ),
        },
        examples=[
            OpenApiExample(
                "One album less",
                value={
                    "reason": "One album less",
                    "lines": [
                        {
                            "name": "Album",
                            "unit_price": "250.00",
                            "taxes": [{"name": "VAT", "rate": "20"}],
                        }
                    ],
                },
                request_only=True,
            ),
            OpenApiExample(
                "The credit note",
                value={
                    **DETAIL,
                    "id": "0193b000-7c1e-7b0a-9c52-000000000099",
                    "kind": "credit_note",
                    "number": "CN-2026-0003",
                    "status": "paid",
                    "credit_for_id": INVOICE_ID,
                    "title": "Credit note for INV-2026-0042",
                    "notes": "One album less",
                    "instalments": [],
                    "payments": [],
                    "history": [],
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request, invoice_id):
        invoice = _invoice(self, invoice_id)
        data = self.CreditNoteInputSerializer.validate_or_raise(request.data)
        lines = None
        if "lines" in data:
            lines = line_inputs(data["lines"], currency=invoice.currency)
        note = services.credit_note_create(
            invoice=invoice, lines=lines, reason=data["reason"], by=request.user
        )
        return Response(detail_body(self, note.id), status=status.HTTP_201_CREATED)


class InvoiceScheduleApi(StudioAPIView):
    permissions = {"PUT": Perm.BILLING_MANAGE}

    class ScheduleInputSerializer(InputSerializer):
        schedule = ScheduleField(help_text=SCHEDULE_HELP)

    @extend_schema(
        tags=TAGS,
        operation_id="billing_invoices_schedule_update",
        summary="Replace the payment schedule (an open invoice keeps its paid instalments)",
        description=(
            "A draft's planned schedule is replaced. On an issued invoice the paid "
            "instalments stay and the new parts split what is left; money paid on a partly "
            "paid instalment is applied again, in due order. No new part is due before today."
        ),
        request=ScheduleInputSerializer,
        responses={
            200: InvoiceDetailSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400="`schedule_invalid`, `event_date_required`, amount codes",
                e409=f"`invoice_paid`, `autopay_in_progress` (a charge under way), {_E409_CLOSED}",
            ),
        },
        examples=[
            OpenApiExample(
                "The balance in two",
                value={
                    "schedule": [
                        {
                            "label": "Second payment",
                            "amount": "840.00",
                            "due": {"on": "date", "date": "2026-07-01"},
                        },
                        {
                            "label": "Balance",
                            "balance": True,
                            "due": {"on": "before_event", "days": 7},
                        },
                    ]
                },
                request_only=True,
            ),
            OpenApiExample("Rescheduled", value=DETAIL, response_only=True),
        ],
    )
    def put(self, request, invoice_id):
        invoice = _invoice(self, invoice_id)
        data = self.ScheduleInputSerializer.validate_or_raise(request.data)
        parts = schedule_amounts(data["schedule"], currency=invoice.currency)
        if invoice.number is None:
            services.invoice_update(invoice=invoice, schedule=parts, by=request.user)
        else:
            services.invoice_schedule_update(invoice=invoice, parts=parts, by=request.user)
        return Response(detail_body(self, invoice.id))


class InvoiceSendApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    class SendInputSerializer(InputSerializer):
        to = serializers.EmailField(required=False, help_text="Default: the client's email.")
        message = serializers.CharField(
            required=False, allow_blank=True, max_length=2000, help_text="Added to the email."
        )

    class SentSerializer(serializers.Serializer):
        sent_to = serializers.EmailField()
        url = serializers.URLField(help_text="The invoice's page on the studio's site.")
        invoice = InvoiceSummarySerializer()

    @extend_schema(
        tags=TAGS,
        operation_id="billing_invoices_send",
        summary="Email the client the link to the invoice's page (view, pay, download the PDF)",
        request=SendInputSerializer,
        responses={
            200: SentSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e409="`invoice_not_issued`, `invoice_void`, `email_missing` (the client has "
                "no email and none was given)",
            ),
        },
        examples=[
            OpenApiExample(
                "With a word", value={"message": "See you on the 29th!"}, request_only=True
            ),
            OpenApiExample(
                "Sent",
                value={
                    "sent_to": "jane@example.com",
                    "url": "https://lumiere.picpick.photo/invoices/eyJpIjoiMDE5M2IwMDAifQ:1t2X/",
                    "invoice": SUMMARY,
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request, invoice_id):
        invoice = _invoice(self, invoice_id)
        data = self.SendInputSerializer.validate_or_raise(request.data)
        sent = services.invoice_send(
            invoice=invoice, to=data.get("to"), message=data.get("message", ""), by=request.user
        )
        body = self.SentSerializer(
            {
                "sent_to": sent.to,
                "url": sent.url,
                "invoice": _invoice(self, invoice.id),
            },
            context=money_context(self.studio),
        ).data
        return Response(body)
