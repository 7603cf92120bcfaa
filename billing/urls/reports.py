"""Report routes (under /api/v1/billing/)."""

from django.urls import path

from billing.apis import reports

urlpatterns = [
    path(
        "reports/receivables-aging/",
        reports.ReceivablesAgingApi.as_view(),
        name="billing-report-aging",
    ),
    path("reports/revenue/", reports.RevenueReportApi.as_view(), name="billing-report-revenue"),
    path("reports/payments/", reports.PaymentsReportApi.as_view(), name="billing-report-payments"),
    path("reports/tax/", reports.TaxReportApi.as_view(), name="billing-report-tax"),
]
