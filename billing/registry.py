"""What billing plugs into the hooks of the apps below it, registered once from
``BillingConfig.ready``: the CRM's contact delete (refused for a contact with money history)
and merge (the merged contact's wallets, accounts, payments and cards follow); the invoice as
a purpose of card payments (``billing.services.payments.purposes``); and autopay's hooks on
invoice payments (an attempt's outcome, a card saved for the rest of the schedule)."""

from __future__ import annotations

from collections.abc import Callable

from billing.services.contacts import contact_delete_guard, contact_money_merge
from billing.services.invoices.autopay import autopay_payment_booked, autopay_payment_closed
from billing.services.invoices.paying import (
    INVOICE_PAYMENT_CLOSED_HOOKS,
    INVOICE_PAYMENT_HOOKS,
    purpose_invoice_register,
)
from crm.services.contacts.hooks import CONTACT_DELETE_GUARDS, CONTACT_MERGE_HOOKS


def register() -> None:
    """Called from BillingConfig.ready."""
    _register(CONTACT_DELETE_GUARDS, contact_delete_guard)
    _register(CONTACT_MERGE_HOOKS, contact_money_merge)
    purpose_invoice_register()
    _register(INVOICE_PAYMENT_HOOKS, autopay_payment_booked)
    _register(INVOICE_PAYMENT_CLOSED_HOOKS, autopay_payment_closed)


def _register(hooks: list, hook: Callable) -> None:
    if hook not in hooks:  # ready() may run twice (tests that reload apps)
        hooks.append(hook)
