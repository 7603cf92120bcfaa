"""What the autopay, reminder and late fee tests share (helpers; no tests here): a card saved
for a contact at the fake Stripe, an invoice with a deposit and a balance, a payment by hand,
and the studio's morning."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from billing.models import (
    ConnectedAccount,
    Instalment,
    Invoice,
    Payment,
    ProviderCustomer,
    SavedCard,
)
from billing.payments import payment_provider
from billing.services.invoices import invoice_issue
from billing.services.invoices.due import morning_of
from billing.services.payments import payment_refresh
from tests.billing.invoicing_support import draft, pay
from tests.billing.test_payments_support import confirm

DEPOSIT, BALANCE = 72_000, 168_000  # 30 % / 70 % of 2,400.00


def saved(contact, method: str = "pm_card_visa", last4: str = "4242") -> SavedCard:
    """A card kept for ``contact`` on the studio's account at the fake (its customer made there
    as the payment services make it)."""
    account = ConnectedAccount.objects.get(studio=contact.studio).provider_account_id
    customer = ProviderCustomer.objects.filter(contact=contact).first()
    if customer is None:
        made = payment_provider().customer_create(
            email=contact.email,
            name=contact.first_name,
            account=account,
            idempotency_key=f"customer:{account}:{contact.id}",
        )
        customer = ProviderCustomer.objects.create(
            studio=contact.studio,
            contact=contact,
            provider_customer_id=made.id,
            provider_account_id=account,
        )
    return SavedCard.objects.create(
        studio=contact.studio,
        contact=contact,
        customer=customer,
        provider_payment_method_id=method,
        brand="visa",
        last4=last4,
    )


def scheduled(studio, contact, *, balance_in: int = 30) -> tuple[Invoice, Instalment, Instalment]:
    """An issued invoice of 2,400.00: a 30 % deposit due today, the balance in ``balance_in``
    days."""
    due = timezone.now().date() + dt.timedelta(days=balance_in)
    invoice = invoice_issue(
        invoice=draft(
            studio,
            contact,
            schedule=[
                {"label": "Deposit", "percent": "30", "due": {"on": "issue"}},
                {
                    "label": "Balance",
                    "balance": True,
                    "due": {"on": "date", "date": due.isoformat()},
                },
            ],
        )
    )
    deposit, balance = invoice.instalments.order_by("position")
    return invoice, deposit, balance


def pay_by_hand(invoice: Invoice, amount: int, method: str = "pm_card_visa", **changes) -> Payment:
    payment = pay(invoice, amount, **changes).payment
    confirm(payment, method)
    return payment_refresh(payment=payment)


def at(studio, day: dt.date, minutes: int = 5) -> dt.datetime:
    """A sweep a few minutes after the studio's morning of ``day``."""
    return morning_of(studio, day) + dt.timedelta(minutes=minutes)


def fresh(row):
    row.refresh_from_db()
    return row
