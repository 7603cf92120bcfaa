"""Invoices as documents: list them, make a draft, read one in full, change or discard a
draft.

A draft's lines are sent whole (``PATCH`` with ``lines`` replaces them all); every write
recomputes the totals. Prices and amounts are billing's money shape in the invoice's currency;
quantities, percents and tax rates are exact decimal strings or integers. A JSON number with
a fraction anywhere is a 400 with its code (``amount_float``, ``quantity_invalid``,
``discount_invalid``, ``tax_rate_invalid``) and nothing is written. An issued invoice is never
edited (409 ``invoice_not_draft``): correct it with a credit note, or void it.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from billing.apis.fields import CurrencyField, money_context
from billing.apis.invoices.fields import (
    SCHEDULE_HELP,
    DiscountInputSerializer,
    LanguageField,
    LineInputSerializer,
    ScheduleField,
    discount_fields,
    line_inputs,
    schedule_amounts,
)
from billing.apis.invoices.outputs import (
    CONTACT,
    DETAIL,
    DRAFT_SUMMARY,
    SUMMARY,
    InvoiceDetailSerializer,
    InvoicePageSerializer,
    InvoiceSummarySerializer,
)
from billing.models import Invoice
from billing.selectors import invoices as selectors
from billing.services import invoices as services
from billing.services.invoices.common import MAX_LINES
from billing.services.wallets import billing_settings_get
from crm.selectors.contacts import contact_get
from crm.selectors.jobs import job_get_plain
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body
from picpick.core.serializers import InputSerializer

TAGS = ["billing"]
E400_LINES = (
    "`amount_float`, `amount_invalid`, `amount_precision`, `amount_too_large`, "
    "`currency_unknown`, `currency_mismatch` (a catalogue item in another currency), "
    "`quantity_invalid` (a float, negative, more than 3 decimals), `price_invalid`, "
    "`discount_invalid` (a float, both kinds, above the total), `tax_rate_invalid` (a float, "
    "above 100%), `tax_mixed`, `line_name_invalid`, `too_many_lines`, `schedule_invalid`, "
    "`language_invalid`, `validation_error`"
)


def detail_body(view: StudioAPIView, invoice_id) -> dict:
    """The full answer of one invoice, read again (a fixed number of queries)."""
    invoice = selectors.invoice_detail(studio=view.studio, invoice_id=invoice_id)
    return InvoiceDetailSerializer(invoice, context=money_context(view.studio)).data


def _fields(data: dict, *, currency: str) -> dict:
    """The draft fields the services take, from the input (``discount`` as its two fields,
    the schedule's amounts in minor units); only those sent."""
    fields = {
        name: data[name]
        for name in ("title", "notes", "language", "due_date", "event_date", "allow_tips")
        if name in data
    }
    if "discount" in data:
        fields.update(discount_fields(data["discount"], currency=currency, field="discount"))
    if "schedule" in data:
        fields["schedule"] = schedule_amounts(data["schedule"] or [], currency=currency)
    return fields


class _DraftInput(InputSerializer):
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    language = LanguageField(required=False)
    due_date = serializers.DateField(
        required=False, allow_null=True, help_text="Default: issue date + the payment terms."
    )
    event_date = serializers.DateField(
        required=False, allow_null=True, help_text="Default: the job's event day."
    )
    discount = DiscountInputSerializer(
        required=False, allow_null=True, help_text="On the whole invoice; null: none."
    )
    allow_tips = serializers.BooleanField(required=False)
    schedule = ScheduleField(required=False, allow_null=True, help_text=SCHEDULE_HELP)


class InvoiceListParams(InputSerializer, PageParams):
    status = serializers.ChoiceField(choices=Invoice.Status.choices, required=False)
    kind = serializers.ChoiceField(choices=Invoice.Kind.choices, required=False)
    contact_id = serializers.UUIDField(required=False)
    job_id = serializers.UUIDField(required=False)
    overdue = serializers.BooleanField(
        required=False, allow_null=True, help_text="true: open with an instalment past due."
    )
    issued_from = serializers.DateField(required=False)
    issued_to = serializers.DateField(required=False)
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=40, help_text="A number prefix, any case."
    )


class InvoiceListApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW, "POST": Perm.BILLING_MANAGE}

    class InvoiceCreateInputSerializer(_DraftInput):
        contact_id = serializers.UUIDField(help_text="The client billed.")
        job_id = serializers.UUIDField(required=False, allow_null=True)
        currency = CurrencyField(
            required=False, help_text="Default: the studio's billing currency."
        )
        lines = LineInputSerializer(many=True, required=False, max_length=MAX_LINES)

    @extend_schema(
        tags=TAGS,
        operation_id="billing_invoices_list",
        summary="List invoices and credit notes, newest first",
        parameters=[InvoiceListParams],
        responses={200: InvoicePageSerializer, **error_responses(400, 401, 403)},
        examples=[
            OpenApiExample(
                "A page",
                value={"results": [SUMMARY, DRAFT_SUMMARY], "next": None, "previous": None},
                response_only=True,
            )
        ],
    )
    def get(self, request):
        params = InvoiceListParams.validate_or_raise(request.query_params)
        page = selectors.invoice_page(
            studio=self.studio,
            status=params.get("status"),
            kind=params.get("kind"),
            contact_id=params.get("contact_id"),
            job_id=params.get("job_id"),
            overdue=params.get("overdue"),
            issued_from=params.get("issued_from"),
            issued_to=params.get("issued_to"),
            number_prefix=params.get("q") or None,
            cursor=params.get("cursor"),
            page_size=params["page_size"],
        )
        items = InvoiceSummarySerializer(
            page.items, many=True, context=money_context(self.studio)
        ).data
        return Response(page_body(page, items))

    @extend_schema(
        tags=TAGS,
        operation_id="billing_invoices_create",
        summary="Make a draft invoice (nothing is posted until it is issued)",
        description=(
            "Each line names a catalogue item (its name, description, price and taxes fill "
            "what is not sent) or is free text with a price. Taxes are copies "
            "(`taxes`) or the studio's rates (`tax_rate_ids`); neither: the item's."
        ),
        request=InvoiceCreateInputSerializer,
        responses={
            201: InvoiceDetailSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                e400=E400_LINES,
                e404="`not_found` (the contact, the job), `contact_not_found` (merged), "
                "`catalogue_item_not_found`, `tax_rate_not_found`",
            ),
        },
        examples=[
            OpenApiExample(
                "A package and prints, 30% deposit",
                value={
                    "contact_id": CONTACT["id"],
                    "job_id": SUMMARY["job_id"],
                    "currency": "EUR",
                    "title": "Doe wedding",
                    "lines": [
                        {"catalogue_item_id": "01939d20-5a6b-7c8d-9e0f-a1b2c3d4e5f6"},
                        {
                            "name": "Prints 20x30",
                            "quantity": "12",
                            "unit_price": "8.50",
                            "discount": {"percent": "10"},
                            "taxes": [{"name": "VAT", "rate": "20"}],
                        },
                    ],
                    "schedule": [
                        {"label": "Deposit", "percent": "30", "due": {"on": "acceptance"}},
                        {
                            "label": "Balance",
                            "balance": True,
                            "due": {"on": "before_event", "days": 14},
                        },
                    ],
                    "allow_tips": True,
                },
                request_only=True,
            ),
            OpenApiExample(
                "Made",
                value={**DETAIL, **DRAFT_SUMMARY, "instalments": [], "payments": [], "history": []},
                response_only=True,
            ),
        ],
    )
    def post(self, request):
        data = self.InvoiceCreateInputSerializer.validate_or_raise(request.data)
        contact = contact_get(studio=self.studio, contact_id=data["contact_id"])
        job = None
        if data.get("job_id"):
            job = job_get_plain(studio=self.studio, job_id=data["job_id"])
        currency = data.get("currency") or billing_settings_get(studio=self.studio).currency
        invoice = services.invoice_create(
            studio=self.studio,
            contact=contact,
            job=job,
            currency=currency,
            lines=line_inputs(data.get("lines", []), currency=currency),
            by=request.user,
            **_fields(data, currency=currency),
        )
        return Response(detail_body(self, invoice.id), status=status.HTTP_201_CREATED)


class InvoiceDetailApi(StudioAPIView):
    permissions = {
        "GET": Perm.BILLING_VIEW,
        "PATCH": Perm.BILLING_MANAGE,
        "DELETE": Perm.BILLING_MANAGE,
    }

    class InvoiceUpdateInputSerializer(_DraftInput):
        job_id = serializers.UUIDField(required=False, allow_null=True)
        currency = CurrencyField(required=False, help_text="Prices sent are read in it.")
        lines = LineInputSerializer(
            many=True, required=False, max_length=MAX_LINES, help_text="Replaces every line."
        )

    @extend_schema(
        tags=TAGS,
        operation_id="billing_invoices_retrieve",
        summary="Read an invoice in full: lines, taxes, schedule, payments, what is owed",
        description=(
            "`balance_due` is the invoice's receivable balance in the ledger; `paid` what it "
            "asks for less that. `history` lists the receivable's entries (issue, card, wallet "
            "and gift card payments, refunds, credit notes, late fees)."
        ),
        responses={200: InvoiceDetailSerializer, **error_responses(401, 403, 404)},
        examples=[OpenApiExample("An invoice", value=DETAIL, response_only=True)],
    )
    def get(self, request, invoice_id):
        return Response(detail_body(self, invoice_id))

    @extend_schema(
        tags=TAGS,
        operation_id="billing_invoices_update",
        summary="Change a draft (an issued invoice is never edited)",
        request=InvoiceUpdateInputSerializer,
        responses={
            200: InvoiceDetailSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400=E400_LINES,
                e409="`invoice_not_draft`: issued; credit or void it instead",
            ),
        },
        examples=[
            OpenApiExample(
                "Another discount, a later due date",
                value={"discount": {"amount": "100.00"}, "due_date": "2026-06-30"},
                request_only=True,
            ),
            OpenApiExample("Changed", value={**DETAIL, **DRAFT_SUMMARY}, response_only=True),
        ],
    )
    def patch(self, request, invoice_id):
        invoice = selectors.invoice_get(studio=self.studio, invoice_id=invoice_id)
        data = self.InvoiceUpdateInputSerializer.validate_or_raise(request.data)
        currency = data.get("currency") or invoice.currency
        changes = _fields(data, currency=currency)
        if "currency" in data:
            changes["currency"] = currency
        if "job_id" in data:
            changes["job"] = (
                job_get_plain(studio=self.studio, job_id=data["job_id"]) if data["job_id"] else None
            )
        lines = None
        if "lines" in data:
            lines = line_inputs(data["lines"], currency=currency)
        services.invoice_update(invoice=invoice, lines=lines, by=request.user, **changes)
        return Response(detail_body(self, invoice.id))

    @extend_schema(
        tags=TAGS,
        operation_id="billing_invoices_discard",
        summary="Discard a draft (an issued invoice is voided instead)",
        responses={
            204: OpenApiResponse(description="Discarded."),
            **error_responses(401, 403, 404, 409, e409="`invoice_not_draft`"),
        },
    )
    def delete(self, request, invoice_id):
        invoice = selectors.invoice_get(studio=self.studio, invoice_id=invoice_id)
        services.invoice_discard(invoice=invoice)
        return Response(status=status.HTTP_204_NO_CONTENT)
