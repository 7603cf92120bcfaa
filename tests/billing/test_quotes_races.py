"""Quotes accepted at once, on MariaDB's row locks (real threads, one connection each): one
quote accepted by several clicks makes one invoice; several quotes of a studio with nothing
made yet (no counter, no accounts) accepted together all succeed with gapless numbers; an
acceptance racing the studio's withdrawal ends one way or the other, never both."""

from __future__ import annotations

import pytest
from django.db import connection

from billing.models import Invoice, LedgerTransaction, Quote
from billing.services.invoices.common import today_of
from billing.services.quotes import quote_accept, quote_withdraw
from billing.services.reconcile import ledger_check
from crm.models import StageChange, TimelineEvent
from picpick.core.errors import Conflict
from tests.billing.test_quotes_support import (  # noqa: F401 (fixtures)
    booked_fixture,
    item,
    jane_fixture,
    pipeline_fixture,
    sent_quote,
    wedding_fixture,
)
from tests.races import race

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="SQLite serialises all writers; the race needs MariaDB's row locks",
    ),
]


def _accept(quote: Quote, index: int) -> Invoice:
    return quote_accept(
        quote=quote,
        accepted_name=f"Jane {index}",
        address="203.0.113.9",
        user_agent="race",
        package_id=item(quote, "Full day" if index % 2 else "Half day").id,
    )


def test_clicks_accepting_one_quote_at_once_make_one_invoice(studio_a, jane, wedding, booked):
    quote = sent_quote(studio_a, jane, wedding, accept_stage=booked)
    results = race(6, lambda index: _accept(quote, index))
    invoices = [r for r in results if isinstance(r, Invoice)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(invoices) == 1, results
    assert len(refused) == 5 and {r.code for r in refused} == {"quote_accepted"}, results
    assert Invoice.objects.count() == 1
    assert LedgerTransaction.objects.filter(kind="invoice_issued").count() == 1
    quote.refresh_from_db()
    assert quote.invoice_id == invoices[0].id and quote.state == Quote.State.ACCEPTED
    assert StageChange.objects.filter(job=wedding, to_stage=booked).count() == 1
    assert TimelineEvent.objects.filter(kind="quote_accepted").count() == 1
    assert ledger_check().ok


def test_quotes_of_a_fresh_studio_accepted_together_all_invoice_with_gapless_numbers(
    studio_a, jane
):
    quotes = [sent_quote(studio_a, jane) for _ in range(5)]
    results = race(5, lambda index: _accept(quotes[index], index))
    assert all(isinstance(r, Invoice) for r in results), results
    year = today_of(studio_a).year
    assert sorted(r.number for r in results) == [f"INV-{year}-{n:04d}" for n in range(1, 6)]
    assert Quote.objects.filter(state=Quote.State.ACCEPTED).count() == 5
    assert ledger_check().ok


def test_an_acceptance_racing_the_withdrawal_ends_one_way(studio_a, jane):
    for _ in range(3):
        quote = sent_quote(studio_a, jane)

        def work(index: int, quote=quote):
            return _accept(quote, 1) if index == 0 else quote_withdraw(quote=quote)

        accepted, withdrawn = race(2, work)
        quote.refresh_from_db()
        if quote.state == Quote.State.ACCEPTED:
            assert isinstance(accepted, Invoice), accepted
            assert isinstance(withdrawn, Conflict) and withdrawn.code == "quote_accepted"
            assert quote.invoice_id == accepted.id
        else:
            assert quote.state == Quote.State.WITHDRAWN
            assert isinstance(accepted, Conflict) and accepted.code == "quote_withdrawn"
            assert quote.invoice_id is None
    assert Invoice.objects.count() == Quote.objects.filter(state="accepted").count()
