"""Properties of the ledger under random sequences of posts and reversals (hypothesis).

Posts between random accounts (wallets and gift cards among them, which may never go negative),
with idempotency keys drawn from a small pool so they repeat, and reversals of earlier
transactions. After every step: each transaction's entries sum to zero and match its stored
sums, each stored balance is the sum of its entries in the account's natural sign (and what a
simple model of the books expects), no wallet or gift card is below zero, and a key names one
transaction.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from billing.models import LedgerAccount, LedgerEntry, LedgerTransaction
from billing.services.ledger import Leg, account_for, ledger_post, ledger_reverse
from picpick.core.errors import Conflict
from picpick.testing.factories import ContactFactory, StudioFactory

KINDS = ["provider_clearing", "revenue", "adjustment", "wallet", "gift_card"]
KEYS = [f"k{n}" for n in range(5)]

post = st.tuples(
    st.just("post"),
    st.permutations(range(len(KINDS))).map(lambda order: order[:3]),
    st.integers(min_value=1, max_value=400),
    st.integers(min_value=0, max_value=400),
    st.sampled_from(KEYS),
    st.sampled_from(["wallet_topup", "wallet_spend", "adjustment"]),
)
reverse = st.tuples(
    st.just("reverse"), st.integers(min_value=0, max_value=20), st.sampled_from(KEYS)
)
steps = st.lists(st.one_of(post, post, reverse), min_size=1, max_size=14)


def _books(studio) -> list[LedgerAccount]:
    contact = ContactFactory(studio=studio)
    return [
        account_for(
            studio=studio,
            kind=kind,
            currency="EUR",
            contact=contact if kind == "wallet" else None,
            reference="card" if kind == "gift_card" else "",
        )
        for kind in KINDS
    ]


def _legs(accounts, order, first: int, second: int) -> list[Leg]:
    """Debit the first account ``first + second``, credit the others what balances it."""
    legs = [Leg(accounts[order[0]], first + second), Leg(accounts[order[1]], -first)]
    if second:
        legs.append(Leg(accounts[order[2]], -second))
    return legs


def _check(studio, accounts, expected: dict) -> None:
    for txn in LedgerTransaction.objects.filter(studio=studio).prefetch_related("entries"):
        amounts = [entry.amount for entry in txn.entries.all()]
        assert sum(amounts) == 0 and len(amounts) >= 2
        assert txn.amount == txn.debits == txn.credits == sum(a for a in amounts if a > 0)
    sums = dict(
        LedgerEntry.objects.filter(studio=studio)
        .values_list("account_id")
        .annotate(total=Sum("amount"))
        .values_list("account_id", "total")
    )
    for account in LedgerAccount.objects.filter(studio=studio):
        raw = sums.get(account.id, 0)
        assert account.balance == (raw if account.debit_normal else -raw)
        assert account.balance == expected[account.id]
        if not account.may_go_negative:
            assert account.balance >= 0
    keys = Counter(
        LedgerTransaction.objects.filter(studio=studio).values_list("idempotency_key", flat=True)
    )
    assert all(count == 1 for count in keys.values())


def _natural(account: LedgerAccount, amount: int) -> int:
    return amount if account.debit_normal else -amount


@pytest.mark.django_db
@settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps)
def test_random_posts_and_reversals_keep_the_books_balanced(steps):
    studio = StudioFactory()
    accounts = _books(studio)
    by_id = {account.id: account for account in accounts}
    expected = {account.id: 0 for account in accounts}
    posted: dict[str, tuple[str, Counter]] = {}  # key -> (kind, legs) of what it posted
    transactions: list[LedgerTransaction] = []

    for step in steps:
        if step[0] == "post":
            _, order, first, second, key, kind = step
            legs = _legs(accounts, order, first, second)
            call = {"studio": studio, "kind": kind, "idempotency_key": key, "legs": legs}
            reverses = None
        else:
            _, index, key = step
            if not transactions:
                continue
            reverses = transactions[index % len(transactions)]
            legs = [Leg(e.account, -e.amount) for e in reverses.entries.select_related("account")]
            kind = "reversal"
            call = None
        shape = (kind, Counter((leg.account.id, leg.amount) for leg in legs))
        after = dict(expected)
        for leg in legs:
            after[leg.account.id] += _natural(by_id[leg.account.id], leg.amount)
        goes_negative = any(
            balance < 0 and not by_id[account_id].may_go_negative
            for account_id, balance in after.items()
        )

        try:
            if call is not None:
                result = ledger_post(**call)
            else:
                result = ledger_reverse(transaction=reverses, idempotency_key=key)
        except Conflict as error:
            event(error.code)
            if reverses is not None and reverses.reverses_id is not None:
                assert error.code == "is_reversal"
            elif key in posted:
                assert posted[key] != shape and error.code == "idempotency_key_reused"
            elif (
                reverses is not None
                and LedgerTransaction.objects.filter(reverses=reverses).exists()
            ):
                assert error.code == "already_reversed"
            else:
                assert goes_negative and error.code == "insufficient_funds"
        else:
            event("created" if result.created else "replayed")
            if key in posted:
                assert posted[key] == shape and not result.created
            else:
                assert result.created and not goes_negative
                assert not (reverses is not None and reverses.reverses_id is not None)
                posted[key] = shape
                expected = after
                transactions.append(result.transaction)
        _check(studio, accounts, expected)
