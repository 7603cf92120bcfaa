"""Invoice routes (under /api/v1/billing/)."""

from django.urls import path

from billing.apis import invoices

_ONE = "invoices/<uuid:invoice_id>/"

urlpatterns = [
    path("invoices/", invoices.InvoiceListApi.as_view(), name="billing-invoices"),
    path(_ONE, invoices.InvoiceDetailApi.as_view(), name="billing-invoice"),
    path(f"{_ONE}issue/", invoices.InvoiceIssueApi.as_view(), name="billing-invoice-issue"),
    path(f"{_ONE}void/", invoices.InvoiceVoidApi.as_view(), name="billing-invoice-void"),
    path(
        f"{_ONE}write-off/",
        invoices.InvoiceWriteOffApi.as_view(),
        name="billing-invoice-write-off",
    ),
    path(
        f"{_ONE}credit-notes/",
        invoices.InvoiceCreditNoteApi.as_view(),
        name="billing-invoice-credit-notes",
    ),
    path(
        f"{_ONE}schedule/", invoices.InvoiceScheduleApi.as_view(), name="billing-invoice-schedule"
    ),
    path(f"{_ONE}send/", invoices.InvoiceSendApi.as_view(), name="billing-invoice-send"),
    path(f"{_ONE}pdf/", invoices.InvoicePdfApi.as_view(), name="billing-invoice-pdf"),
    path(
        f"{_ONE}payments/",
        invoices.InvoicePaymentListApi.as_view(),
        name="billing-invoice-payments",
    ),
    path(f"{_ONE}refunds/", invoices.InvoiceRefundApi.as_view(), name="billing-invoice-refunds"),
]
