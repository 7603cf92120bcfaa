"""Invoice numbers under load, on MariaDB's row locks (real threads, one connection each): 100
drafts of a studio that has issued nothing yet (no counter row, no accounts) issued by 8
threads at once get the numbers 1 to 100, each once, with no gap; every issue is posted once
and the ledger balances."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from billing.models import DocumentCounter, Invoice, LedgerTransaction
from billing.services.invoices import invoice_issue
from billing.services.reconcile import ledger_check
from picpick.testing.factories import ContactFactory
from tests.billing.invoicing_support import draft
from tests.races import race

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="SQLite serialises all writers; the race needs MariaDB's row locks",
    ),
]

INVOICES = 100
THREADS = 8


def test_a_hundred_invoices_issued_at_once_are_numbered_1_to_100(studio_a):
    contacts = [ContactFactory(studio=studio_a) for _ in range(4)]
    drafts = [draft(studio_a, contacts[n % 4]) for n in range(INVOICES)]

    def work(index: int) -> list[str]:
        numbers = []
        for invoice in drafts[index::THREADS]:
            numbers.append(invoice_issue(invoice=invoice).number)
        return numbers

    results = race(THREADS, work, timeout=600)
    failures = [r for r in results if isinstance(r, Exception)]
    assert not failures, failures
    year = timezone.now().year
    numbers = sorted(number for batch in results for number in batch)
    assert numbers == [f"INV-{year}-{n:04d}" for n in range(1, INVOICES + 1)]
    stored = Invoice.objects.filter(studio=studio_a).values_list("number", flat=True)
    assert sorted(stored) == numbers
    assert DocumentCounter.objects.get(studio=studio_a, series="invoice", year=year).last == 100
    assert (
        LedgerTransaction.objects.filter(studio=studio_a, kind="invoice_issued").count() == INVOICES
    )
    assert ledger_check().ok
