"""The studio's invoices and credit notes in the API (under /api/v1/billing/invoices/).

Reads need ``billing.view``; writes ``billing.manage``. Another studio's invoice is a 404.
One module per part: ``documents`` (list, drafts, read), ``actions`` (issue, void, write off,
credit, schedule, send), ``payments`` (card payments, refunds, the PDF); ``fields`` reads the
input, ``outputs`` writes the answers.
"""

from billing.apis.invoices.actions import (
    InvoiceCreditNoteApi,
    InvoiceIssueApi,
    InvoiceScheduleApi,
    InvoiceSendApi,
    InvoiceVoidApi,
    InvoiceWriteOffApi,
)
from billing.apis.invoices.documents import InvoiceDetailApi, InvoiceListApi
from billing.apis.invoices.payments import InvoicePaymentListApi, InvoicePdfApi, InvoiceRefundApi

__all__ = [
    "InvoiceCreditNoteApi",
    "InvoiceDetailApi",
    "InvoiceIssueApi",
    "InvoiceListApi",
    "InvoicePaymentListApi",
    "InvoicePdfApi",
    "InvoiceRefundApi",
    "InvoiceScheduleApi",
    "InvoiceSendApi",
    "InvoiceVoidApi",
    "InvoiceWriteOffApi",
]
