"""The invoicing reports (``billing.view``): receivables aging, revenue by period and by
catalogue item, payments and refunds by period, tax collected per rate. How each is computed
(from the ledger, in one aggregate query) is ``billing.selectors.reports``'s.

``?format=csv`` answers the same rows as a CSV file (``text/csv``): a header row, one row per
line of the report, amounts as decimal strings in their currency (``1234.50``) with the
currency's code in its own column. ``format`` is this API's own parameter, not DRF's renderer
override; errors are JSON either way.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.permissions import Perm
from billing.apis.fields import example_money, money_context
from billing.apis.invoices.outputs import AmountOf
from billing.money import Money
from billing.selectors import reports as selectors
from billing.services.invoices.common import today_of
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.serializers import InputSerializer

TAGS = ["billing"]
_E400 = "`period_invalid` (backwards, too long, an unknown interval), `validation_error`"
_CSV = OpenApiResponse(OpenApiTypes.STR, description="The report as CSV (`?format=csv`).")


# --- Parameters -------------------------------------------------------------------------------


class _FormatParams(InputSerializer):
    format = serializers.ChoiceField(
        choices=["json", "csv"], default="json", help_text="`csv`: the rows as a CSV file."
    )


class AgingParams(_FormatParams):
    as_of = serializers.DateField(
        required=False, help_text="The day days past due are counted to; default: today."
    )


class PeriodParams(_FormatParams):
    start = serializers.DateField(
        required=False,
        help_text="The first day; default: the start of the period 11 months, 7 quarters or "
        "4 years before `end`'s.",
    )
    end = serializers.DateField(required=False, help_text="The last day; default: today.")
    interval = serializers.ChoiceField(choices=selectors.INTERVALS, default="month")


def _periods(view: StudioAPIView, params: dict) -> list[selectors.Period]:
    end = params.get("end") or today_of(view.studio)
    start = params.get("start")
    interval = params["interval"]
    if start is None:
        back = {"month": 11, "quarter": 21, "year": 48}[interval]
        month = end.year * 12 + end.month - 1 - back
        if interval == "quarter":
            month -= month % 3
        if interval == "year":
            month -= month % 12
        start = dt.date(month // 12, month % 12 + 1, 1)
    return selectors.periods_of(start=start, end=end, interval=interval)


# --- Output -----------------------------------------------------------------------------------


class PeriodSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="`2026-05`, `2026-Q2`, `2026`.")
    start = serializers.DateField()
    end = serializers.DateField(help_text="The last day counted.")


class AgingRowSerializer(serializers.Serializer):
    currency = serializers.CharField()
    current = AmountOf(help_text="Not due yet, or due today.")
    days_1_30 = AmountOf()
    days_31_60 = AmountOf()
    days_61_90 = AmountOf()
    days_over_90 = AmountOf()
    total = AmountOf()
    invoices = serializers.IntegerField(help_text="Open invoices with something unpaid.")
    instalments = serializers.IntegerField()


class AgingSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    rows = AgingRowSerializer(many=True, help_text="One per currency.")


class RevenueRowSerializer(serializers.Serializer):
    period = serializers.CharField(allow_blank=True)
    currency = serializers.CharField()
    source = serializers.ChoiceField(
        choices=["item", "other", "tips", "late_fees"],
        allow_blank=True,
        help_text="`item`: a catalogue item's (a package or an item); `other`: lines without one.",
    )
    catalogue_item_id = serializers.UUIDField(allow_null=True)
    name = serializers.CharField(allow_blank=True)
    kind = serializers.CharField(allow_blank=True, help_text="`package` or `item` for an item.")
    revenue = AmountOf(help_text="Net of credit notes and voids.")


class RevenuePeriodSerializer(serializers.Serializer):
    period = serializers.CharField()
    currency = serializers.CharField()
    revenue = AmountOf()


class RevenueSerializer(serializers.Serializer):
    interval = serializers.CharField()
    periods = PeriodSerializer(many=True)
    rows = RevenueRowSerializer(many=True, help_text="Per period, currency and item.")
    by_period = RevenuePeriodSerializer(many=True, help_text="Per period and currency.")
    by_item = RevenueRowSerializer(
        many=True, help_text="Per item over the whole range (`period` empty), largest first."
    )


class PaymentsRowSerializer(serializers.Serializer):
    period = serializers.CharField()
    currency = serializers.CharField()
    card = AmountOf(help_text="Paid by card.")
    wallet = AmountOf(help_text="Paid from the client's wallet credit.")
    gift_card = AmountOf(help_text="Paid by gift card.")
    received = AmountOf(help_text="card + wallet + gift card.")
    refunded = AmountOf(help_text="Given back, to the card or the wallet.")
    to_wallet = AmountOf(help_text="Paid beyond what was owed, moved to the client's wallet.")
    net = AmountOf(help_text="received - refunded - to_wallet.")
    tips = AmountOf(help_text="Tips, net of tips refunded (not in the other columns).")


class PaymentsSerializer(serializers.Serializer):
    interval = serializers.CharField()
    periods = PeriodSerializer(many=True)
    rows = PaymentsRowSerializer(many=True, help_text="Per period and currency.")


class TaxRowSerializer(serializers.Serializer):
    period = serializers.CharField(allow_blank=True)
    currency = serializers.CharField()
    tax = serializers.CharField(help_text="The tax payable account: `VAT-20`.")
    name = serializers.CharField()
    rate = serializers.CharField(help_text="A percent: `20`, `9.975`.")
    collected = AmountOf(help_text="Charged on invoices issued.")
    given_back = AmountOf(help_text="Taken back by credit notes and voids.")
    net = AmountOf()


class TaxSerializer(serializers.Serializer):
    interval = serializers.CharField()
    periods = PeriodSerializer(many=True)
    rows = TaxRowSerializer(many=True, help_text="Per period, currency and rate.")
    by_tax = TaxRowSerializer(many=True, help_text="Per rate over the whole range.")


# --- CSV --------------------------------------------------------------------------------------


def _csv(
    filename: str, header: Sequence[str], rows: Iterable, columns: Sequence[str]
) -> HttpResponse:
    """One header row, then each row's ``columns``; an int column named in ``_AMOUNTS`` is
    written as a decimal string of the row's currency."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        values = []
        for column in columns:
            value = getattr(row, column)
            if column in _AMOUNTS:
                value = Money(value, row.currency).decimal_str()
            values.append("" if value is None else value)
        writer.writerow(values)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


_AGING_HEADER = ["currency", "current", "1-30", "31-60", "61-90", "over 90", "total", "invoices"]
_AGING_HEADER.append("instalments")
_AMOUNTS = {
    *selectors.AGING_BUCKETS,
    "total",
    "revenue",
    "card",
    "wallet",
    "gift_card",
    "received",
    "refunded",
    "to_wallet",
    "net",
    "tips",
    "collected",
    "given_back",
}


# --- Examples ---------------------------------------------------------------------------------

_PERIODS = [
    {"label": "2026-04", "start": "2026-04-01", "end": "2026-04-30"},
    {"label": "2026-05", "start": "2026-05-01", "end": "2026-05-31"},
]
_ITEM_ID = "01939d20-5a6b-7c8d-9e0f-a1b2c3d4e5f6"
_REVENUE_ROW = {
    "period": "2026-05",
    "currency": "EUR",
    "source": "item",
    "catalogue_item_id": _ITEM_ID,
    "name": "Full day wedding",
    "kind": "package",
    "revenue": example_money(750_000),
}


# --- Views ------------------------------------------------------------------------------------


class _ReportApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW}

    def perform_content_negotiation(self, request, force=False):
        # ``?format=`` is this view's own (json/csv), not DRF's renderer override, which would
        # answer 404 to csv; a CSV body is an HttpResponse, errors are JSON.
        renderer = self.get_renderers()[0]
        return renderer, renderer.media_type


class ReceivablesAgingApi(_ReportApi):
    @extend_schema(
        tags=TAGS,
        operation_id="billing_reports_receivables_aging",
        summary="What open invoices still owe, by days past due (per currency)",
        description=(
            "Each unpaid instalment counts in the bucket of its own due date: current (not "
            "due yet), 1-30, 31-60, 61-90 and over 90 days past due. Amounts are what is "
            "unpaid now (the instalments' paid amounts follow the ledger); `as_of` moves the "
            "day days are counted to and leaves out invoices issued after it."
        ),
        parameters=[AgingParams],
        responses={
            (200, "application/json"): AgingSerializer,
            (200, "text/csv"): _CSV,
            **error_responses(400, 401, 403),
        },
        examples=[
            OpenApiExample(
                "Aging",
                value={
                    "as_of": "2026-06-30",
                    "rows": [
                        {
                            "currency": "EUR",
                            "current": example_money(1_250_000),
                            "days_1_30": example_money(168_000),
                            "days_31_60": example_money(0),
                            "days_61_90": example_money(45_000),
                            "days_over_90": example_money(12_000),
                            "total": example_money(1_475_000),
                            "invoices": 14,
                            "instalments": 19,
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        params = AgingParams.validate_or_raise(request.query_params)
        today = today_of(self.studio)
        as_of = params.get("as_of") or today
        rows = selectors.receivables_aging(studio=self.studio, as_of=as_of, today=today)
        if params["format"] == "csv":
            return _csv(
                f"receivables-aging-{as_of}.csv",
                _AGING_HEADER,
                rows,
                ["currency", *selectors.AGING_BUCKETS, "total", "invoices", "instalments"],
            )
        body = AgingSerializer({"as_of": as_of, "rows": rows}, context=money_context(self.studio))
        return Response(body.data)


class RevenueReportApi(_ReportApi):
    @extend_schema(
        tags=TAGS,
        operation_id="billing_reports_revenue",
        summary="Revenue of invoices by period and by catalogue item (package)",
        description=(
            "From the ledger's revenue entries of invoices (each catalogue item has its own "
            "revenue account), tips and late fees; credit notes and voids take revenue back "
            "when they are posted."
        ),
        parameters=[PeriodParams],
        responses={
            (200, "application/json"): RevenueSerializer,
            (200, "text/csv"): _CSV,
            **error_responses(400, 401, 403, e400=_E400),
        },
        examples=[
            OpenApiExample(
                "Revenue",
                value={
                    "interval": "month",
                    "periods": _PERIODS,
                    "rows": [_REVENUE_ROW],
                    "by_period": [
                        {"period": "2026-05", "currency": "EUR", "revenue": example_money(750_000)}
                    ],
                    "by_item": [{**_REVENUE_ROW, "period": ""}],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        params = PeriodParams.validate_or_raise(request.query_params)
        periods = _periods(self, params)
        report = selectors.revenue_report(studio=self.studio, periods=periods)
        if params["format"] == "csv":
            columns = ["period", "currency", "source", "catalogue_item_id", "name", "kind"]
            return _csv(
                f"revenue-{periods[0].start}-{periods[-1].end}.csv",
                [*columns, "revenue"],
                report.rows,
                [*columns, "revenue"],
            )
        body = RevenueSerializer(
            {
                "interval": params["interval"],
                "periods": periods,
                "rows": report.rows,
                "by_period": report.by_period,
                "by_item": report.by_item,
            },
            context=money_context(self.studio),
        )
        return Response(body.data)


class PaymentsReportApi(_ReportApi):
    @extend_schema(
        tags=TAGS,
        operation_id="billing_reports_payments",
        summary="Invoice payments (card, wallet, gift card) and refunds by period",
        description=(
            "From the ledger's entries on invoices' receivables, by the kind of posting: "
            "what was booked, so a refund the provider refused (reversed) counts for nothing. "
            "Tips are apart (they are not part of what an invoice asks for)."
        ),
        parameters=[PeriodParams],
        responses={
            (200, "application/json"): PaymentsSerializer,
            (200, "text/csv"): _CSV,
            **error_responses(400, 401, 403, e400=_E400),
        },
        examples=[
            OpenApiExample(
                "Payments",
                value={
                    "interval": "month",
                    "periods": _PERIODS,
                    "rows": [
                        {
                            "period": "2026-05",
                            "currency": "EUR",
                            "card": example_money(420_000),
                            "wallet": example_money(25_000),
                            "gift_card": example_money(10_000),
                            "received": example_money(455_000),
                            "refunded": example_money(20_000),
                            "to_wallet": example_money(0),
                            "net": example_money(435_000),
                            "tips": example_money(5_000),
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        params = PeriodParams.validate_or_raise(request.query_params)
        periods = _periods(self, params)
        report = selectors.payments_report(studio=self.studio, periods=periods)
        columns = ["period", "currency", "card", "wallet", "gift_card", "received", "refunded"]
        columns += ["to_wallet", "net", "tips"]
        if params["format"] == "csv":
            return _csv(
                f"payments-{periods[0].start}-{periods[-1].end}.csv", columns, report.rows, columns
            )
        body = PaymentsSerializer(
            {"interval": params["interval"], "periods": periods, "rows": report.rows},
            context=money_context(self.studio),
        )
        return Response(body.data)


class TaxReportApi(_ReportApi):
    @extend_schema(
        tags=TAGS,
        operation_id="billing_reports_tax",
        summary="Tax collected per tax and rate, by period",
        description=(
            "From the ledger's tax payable accounts (one per tax and rate): collected when "
            "invoices are issued, given back by credit notes and voids."
        ),
        parameters=[PeriodParams],
        responses={
            (200, "application/json"): TaxSerializer,
            (200, "text/csv"): _CSV,
            **error_responses(400, 401, 403, e400=_E400),
        },
        examples=[
            OpenApiExample(
                "Tax",
                value={
                    "interval": "quarter",
                    "periods": [{"label": "2026-Q2", "start": "2026-04-01", "end": "2026-06-30"}],
                    "rows": [
                        {
                            "period": "2026-Q2",
                            "currency": "EUR",
                            "tax": "VAT-20",
                            "name": "VAT",
                            "rate": "20",
                            "collected": example_money(150_000),
                            "given_back": example_money(5_000),
                            "net": example_money(145_000),
                        }
                    ],
                    "by_tax": [
                        {
                            "period": "",
                            "currency": "EUR",
                            "tax": "VAT-20",
                            "name": "VAT",
                            "rate": "20",
                            "collected": example_money(150_000),
                            "given_back": example_money(5_000),
                            "net": example_money(145_000),
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        params = PeriodParams.validate_or_raise(request.query_params)
        periods = _periods(self, params)
        report = selectors.tax_report(studio=self.studio, periods=periods)
        columns = ["period", "currency", "tax", "name", "rate", "collected", "given_back", "net"]
        if params["format"] == "csv":
            return _csv(
                f"tax-{periods[0].start}-{periods[-1].end}.csv", columns, report.rows, columns
            )
        body = TaxSerializer(
            {
                "interval": params["interval"],
                "periods": periods,
                "rows": report.rows,
                "by_tax": report.by_tax,
            },
            context=money_context(self.studio),
        )
        return Response(body.data)
