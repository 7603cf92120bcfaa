"""Invoices: drafts, issuing (numbers, postings, schedules), status from the ledger,
corrections (credit notes, void, write-off), paying, and one-off invoices for other services.
One module per sub-domain; the public names are re-exported here."""

from billing.services.invoices.autopay import (
    autopay_attempt_apply,
    autopay_charge,
    autopay_due,
    autopay_from_payment,
    instalment_autopay_set,
    invoice_autopay_set,
)
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
from billing.services.invoices.late_fees import late_fee_apply, late_fees_due
from billing.services.invoices.links import invoice_link_read, invoice_link_token, invoice_link_url
from billing.services.invoices.numbering import counter_ready, number_format, number_take
from billing.services.invoices.one_off import invoice_one_off
from billing.services.invoices.paying import (
    INVOICE_PAYMENT_CLOSED_HOOKS,
    INVOICE_PAYMENT_HOOKS,
    OFFLINE_METHODS,
    InvoicePayResult,
    invoice_pay,
    invoice_payment_record,
    payable_check,
)
from billing.services.invoices.reminders import reminder_send, reminders_due
from billing.services.invoices.schedule_edit import invoice_schedule_update
from billing.services.invoices.schedules import PartSpec, parts_check
from billing.services.invoices.sending import InvoiceSent, invoice_send
from billing.services.invoices.status import (
    invoice_status_sync,
    paid_of,
    receivable_balance,
    status_of,
)

__all__ = [
    "INVOICE_PAYMENT_CLOSED_HOOKS",
    "INVOICE_PAYMENT_HOOKS",
    "OFFLINE_METHODS",
    "InvoicePayResult",
    "InvoiceSent",
    "LineInput",
    "PartSpec",
    "autopay_attempt_apply",
    "autopay_charge",
    "autopay_due",
    "autopay_from_payment",
    "counter_ready",
    "credit_note_create",
    "instalment_autopay_set",
    "invoice_autopay_set",
    "invoice_create",
    "invoice_discard",
    "invoice_issue",
    "invoice_link_read",
    "invoice_link_token",
    "invoice_link_url",
    "invoice_one_off",
    "invoice_pay",
    "invoice_payment_record",
    "invoice_schedule_update",
    "invoice_send",
    "invoice_status_sync",
    "invoice_update",
    "invoice_void",
    "invoice_write_off",
    "late_fee_apply",
    "late_fees_due",
    "lines_compute",
    "number_format",
    "number_take",
    "overpaid_to_wallet",
    "paid_of",
    "parts_check",
    "payable_check",
    "receivable_balance",
    "reminder_send",
    "reminders_due",
    "status_of",
]
