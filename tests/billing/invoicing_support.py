"""What the invoicing tests share (fixtures and helpers; no tests here): studio A's catalogue
and tax rates, a client with a job, helpers to make, issue and pay invoices through the
services, and to read the books.

Test modules import the fixture functions (``*_fixture``) to use them, with the payment
fixtures of ``tests.billing.test_payments_support`` (``shop``: studio A on a connected account
of the fake Stripe, EUR).
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from billing.models import Invoice
from billing.services.invoices import LineInput, invoice_create, invoice_issue, invoice_pay
from billing.services.ledger import account_for
from picpick.testing.factories import ContactFactory, JobFactory, TaxRateFactory


@pytest.fixture(name="vat")
def vat_fixture(studio_a):
    return TaxRateFactory(studio=studio_a, name="VAT", rate=Decimal("20"))


@pytest.fixture(name="client")
def client_fixture(studio_a):
    return ContactFactory(
        studio=studio_a,
        first_name="Jane",
        last_name="Doe",
        email="jane@example.com",
        address_line1="1 rue de la Paix",
        city="Paris",
        postal_code="75002",
        country="FR",
    )


@pytest.fixture(name="job")
def job_fixture(studio_a, client):
    job = JobFactory(studio=studio_a, name="Doe wedding")
    return job


def draft(studio, contact, *, lines=None, **fields) -> Invoice:
    """A draft of two lines (1,500.00 + 2 x 250.00, VAT 20% exclusive) unless told."""
    vat = [{"name": "VAT", "rate": "20"}]
    fields.setdefault("currency", "EUR")
    return invoice_create(
        studio=studio,
        contact=contact,
        lines=lines
        or [
            LineInput(name="Full day", unit_price=150_000, taxes=vat),
            LineInput(name="Album", unit_price=25_000, quantity=2, taxes=vat),
        ],
        **fields,
    )


def issued(studio, contact, **fields) -> Invoice:
    return invoice_issue(invoice=draft(studio, contact, **fields))


def pay(invoice: Invoice, amount: int, key: str | None = None, **changes):
    return invoice_pay(
        invoice=invoice,
        amount=amount,
        idempotency_key=key or f"test:{uuid.uuid4()}",
        payer_email=changes.pop("payer_email", "jane@example.com"),
        address=changes.pop("address", "203.0.113.9"),
        **changes,
    )


def owed(invoice: Invoice) -> int:
    """The invoice's receivable balance, read from the ledger."""
    invoice.receivable.refresh_from_db()
    return invoice.receivable.balance


def revenue(studio, currency: str = "EUR") -> int:
    return account_for(studio=studio, kind="revenue", currency=currency).balance
