"""Posts racing on MariaDB's row locks and unique indexes (real threads, one connection each).

Every post locks its accounts in id order before reading, so opposite transfers queue instead
of deadlocking and a wallet's balance is read under its lock; a key posted twice at once is
one transaction (the second waits on the locks, or loses the unique index, and replays).
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection

from billing.models import LedgerAccount, LedgerEntry, LedgerTransaction
from billing.services import reconcile
from billing.services.ledger import account_for, credit, debit, ledger_post, ledger_reverse
from billing.services.reconcile import ledger_check
from picpick.core.errors import Conflict
from picpick.testing.factories import ContactFactory, StudioFactory
from tests.races import race

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="SQLite serialises all writers; the race needs MariaDB's row locks",
    ),
]


def _balances_match_entries(studio) -> None:
    for account in LedgerAccount.objects.filter(studio=studio):
        raw = sum(LedgerEntry.objects.filter(account=account).values_list("amount", flat=True))
        assert account.balance == (raw if account.debit_normal else -raw), account.key


def test_racing_posts_of_one_key_make_one_transaction():
    studio = StudioFactory()
    clearing = account_for(studio=studio, kind="provider_clearing", currency="EUR")
    revenue = account_for(studio=studio, kind="revenue", currency="EUR")

    def work(index: int):
        return ledger_post(
            studio=studio,
            kind="payment_received",
            idempotency_key="payment:42:captured",
            legs=[debit(clearing, 2500), credit(revenue, 2500)],
        )

    results = race(8, work)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({r.transaction.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert LedgerTransaction.objects.filter(studio=studio).count() == 1
    assert LedgerAccount.objects.get(id=revenue.id).balance == 2500
    _balances_match_entries(studio)


def test_racing_posts_of_one_key_on_other_accounts_make_one_transaction():
    """Disjoint accounts take no common lock: the unique key decides, the rest replay (409)."""
    studio = StudioFactory()
    pairs = [
        (
            account_for(studio=studio, kind="adjustment", currency="EUR", reference=f"a{n}"),
            account_for(studio=studio, kind="revenue", currency="EUR", reference=f"r{n}"),
        )
        for n in range(6)
    ]

    def work(index: int):
        source, target = pairs[index]
        return ledger_post(
            studio=studio,
            kind="adjustment",
            idempotency_key="same-key",
            legs=[debit(source, 100), credit(target, 100)],
        )

    results = race(6, work)
    made = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(made) == 1 and made[0].created, results
    assert all(isinstance(r, Conflict) and r.code == "idempotency_key_reused" for r in refused)
    assert LedgerTransaction.objects.filter(studio=studio).count() == 1
    assert LedgerEntry.objects.filter(studio=studio).count() == 2
    _balances_match_entries(studio)


def test_opposite_transfers_do_not_deadlock_and_balances_are_exact():
    studio = StudioFactory()
    a = account_for(studio=studio, kind="adjustment", currency="EUR", reference="a")
    b = account_for(studio=studio, kind="adjustment", currency="EUR", reference="b")
    rounds = 15

    def work(index: int):
        done = 0
        for n in range(rounds):
            source, target = (a, b) if index % 2 == 0 else (b, a)
            ledger_post(
                studio=studio,
                kind="adjustment",
                idempotency_key=f"t:{index}:{n}",
                legs=[debit(target, index + 1), credit(source, index + 1)],
            )
            done += 1
        return done

    workers = 6
    results = race(workers, work, timeout=120)
    assert results == [rounds] * workers, results  # no deadlock, no lock wait timeout
    # a receives from the odd workers (2, 4, 6 minor units a post), gives to the even (1, 3, 5).
    expected_a = rounds * (
        sum(i + 1 for i in range(workers) if i % 2)
        - sum(i + 1 for i in range(workers) if i % 2 == 0)
    )
    assert LedgerAccount.objects.get(id=a.id).balance == expected_a
    assert LedgerAccount.objects.get(id=b.id).balance == -expected_a
    assert LedgerTransaction.objects.filter(studio=studio).count() == workers * rounds
    _balances_match_entries(studio)


def test_a_wallet_never_goes_below_zero_under_50_concurrent_spends():
    studio = StudioFactory()
    wallet = account_for(
        studio=studio, kind="wallet", currency="EUR", contact=ContactFactory(studio=studio)
    )
    clearing = account_for(studio=studio, kind="provider_clearing", currency="EUR")
    revenue = account_for(studio=studio, kind="revenue", currency="EUR")
    ledger_post(
        studio=studio,
        kind="wallet_topup",
        idempotency_key="topup",
        legs=[debit(clearing, 2000), credit(wallet, 2000)],
    )

    def work(index: int):
        return ledger_post(
            studio=studio,
            kind="wallet_spend",
            idempotency_key=f"spend:{index}",
            legs=[debit(wallet, 150), credit(revenue, 150)],
        )

    results = race(50, work, timeout=120)
    outcomes = Counter(r.code if isinstance(r, Conflict) else type(r).__name__ for r in results)
    assert outcomes == {"PostResult": 13, "insufficient_funds": 37}, results  # 13 x 150 <= 2000
    assert LedgerAccount.objects.get(id=wallet.id).balance == 2000 - 13 * 150
    assert LedgerAccount.objects.get(id=revenue.id).balance == 13 * 150
    _balances_match_entries(studio)


def test_racing_reversals_of_one_transaction_make_one():
    studio = StudioFactory()
    clearing = account_for(studio=studio, kind="provider_clearing", currency="EUR")
    revenue = account_for(studio=studio, kind="revenue", currency="EUR")
    original = ledger_post(
        studio=studio,
        kind="payment_received",
        idempotency_key="p",
        legs=[debit(clearing, 500), credit(revenue, 500)],
    ).transaction

    def work(index: int):
        return ledger_reverse(
            transaction=LedgerTransaction.objects.get(id=original.id),
            idempotency_key=f"reverse:{index}",
        )

    results = race(6, work)
    made = [r for r in results if not isinstance(r, Exception)]
    assert len(made) == 1, results
    assert all(
        isinstance(r, Conflict) and r.code == "already_reversed" for r in results if r not in made
    )
    assert LedgerTransaction.objects.filter(studio=studio, kind="reversal").count() == 1
    assert LedgerAccount.objects.get(id=revenue.id).balance == 0
    _balances_match_entries(studio)


def test_racing_account_for_makes_one_account():
    studio = StudioFactory()
    contact = ContactFactory(studio=studio)

    def work(index: int):
        return account_for(studio=studio, kind="wallet", currency="EUR", contact=contact).id

    results = race(8, work)
    assert len(set(results)) == 1, results
    assert LedgerAccount.objects.filter(studio=studio).count() == 1


def test_the_check_beside_running_posts_finds_no_drift(monkeypatch):
    """A balance and its entries are read in one statement: posts landing between the
    check's reads are seen whole or not at all."""
    monkeypatch.setattr(reconcile, "ACCOUNTS_CHUNK", 1)
    monkeypatch.setattr(reconcile, "TRANSACTIONS_CHUNK", 3)
    studio = StudioFactory()
    accounts = [
        account_for(studio=studio, kind="adjustment", currency="EUR", reference=f"a{n}")
        for n in range(4)
    ]

    def work(index: int):
        if index == 0:
            return [ledger_check(studio=studio).ok for _ in range(15)]
        for n in range(40):
            source, target = accounts[(index + n) % 4], accounts[(index + n + 1) % 4]
            ledger_post(
                studio=studio,
                kind="adjustment",
                idempotency_key=f"p:{index}:{n}",
                legs=[debit(target, 10 + n), credit(source, 10 + n)],
            )
        return "posted"

    results = race(4, work, timeout=120)
    assert results[1:] == ["posted"] * 3, results
    assert results[0] == [True] * 15, results
    assert ledger_check(studio=studio).ok
