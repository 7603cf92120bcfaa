"""Invoices: drafts, issuing (numbers, postings, schedules), status from the ledger,
corrections (credit notes, void, write-off), paying, and one-off invoices for other services.
One module per sub-domain; the public names are re-exported here."""

from billing.services.invoices.close import (
    credit_note_create,
    invoice_void,
    invoice_write_off,
    overpaid_to_wallet,
)
from billing.services.invoices.drafts import (
    LineInput,
    invoice_create,
    invoice_discard,
    invoice_update,
    lines_compute,
)
from billing.services.invoices.issue import invoice_issue
from billing.services.invoices.links import invoice_link_read, invoice_link_token, invoice_link_url
from billing.services.invoices.numbering import counter_ready, number_format, number_take
from billing.services.invoices.one_off import invoice_one_off
from billing.services.invoices.paying import (
    INVOICE_PAYMENT_CLOSED_HOOKS,
    INVOICE_PAYMENT_HOOKS,
    InvoicePayResult,
    invoice_pay,
    payable_check,
)
from billing.services.invoices.schedule_edit import invoice_schedule_update
from billing.services.invoices.schedules import PartSpec, parts_check
from billing.services.invoices.status import (
    invoice_status_sync,
    paid_of,
    receivable_balance,
    status_of,
)

__all__ = [
    "INVOICE_PAYMENT_CLOSED_HOOKS",
    "INVOICE_PAYMENT_HOOKS",
    "InvoicePayResult",
    "LineInput",
    "PartSpec",
    "counter_ready",
    "credit_note_create",
    "invoice_create",
    "invoice_discard",
    "invoice_issue",
    "invoice_link_read",
    "invoice_link_token",
    "invoice_link_url",
    "invoice_one_off",
    "invoice_pay",
    "invoice_schedule_update",
    "invoice_status_sync",
    "invoice_update",
    "invoice_void",
    "invoice_write_off",
    "lines_compute",
    "number_format",
    "number_take",
    "overpaid_to_wallet",
    "paid_of",
    "parts_check",
    "payable_check",
    "receivable_balance",
    "status_of",
]
