"""Posting to the ledger: validation, balances in natural sign, idempotency, reversals."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction

from billing.models import LedgerAccount, LedgerEntry, LedgerTransaction
from billing.money import MAX_MINOR
from billing.services.ledger import (
    Leg,
    PostResult,
    account_for,
    accounts_lock,
    credit,
    debit,
    ledger_post,
    ledger_reverse,
)
from picpick.core.errors import ApplicationError, Conflict
from picpick.testing.factories import ContactFactory, StudioFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def studio():
    return StudioFactory()


@pytest.fixture
def books(studio):
    contact = ContactFactory(studio=studio)
    return {
        "clearing": account_for(studio=studio, kind="provider_clearing", currency="EUR"),
        "revenue": account_for(studio=studio, kind="revenue", currency="EUR"),
        "wallet": account_for(studio=studio, kind="wallet", currency="EUR", contact=contact),
        "usd": account_for(studio=studio, kind="revenue", currency="USD"),
        "contact": contact,
    }


def _balance(account: LedgerAccount) -> int:
    return LedgerAccount.objects.get(id=account.id).balance


def _snapshot(studio) -> tuple:
    return (
        LedgerTransaction.objects.filter(studio=studio).count(),
        LedgerEntry.objects.filter(studio=studio).count(),
        sorted(LedgerAccount.objects.filter(studio=studio).values_list("id", "balance")),
    )


def _topup(studio, books, amount: int, key: str = "topup") -> PostResult:
    return ledger_post(
        studio=studio,
        kind="wallet_topup",
        idempotency_key=key,
        legs=[debit(books["clearing"], amount), credit(books["wallet"], amount)],
    )


# --- Accounts -----------------------------------------------------------------------------------
def test_account_for_makes_one_account_per_key(studio, books):
    again = account_for(studio=studio, kind="revenue", currency="EUR")
    assert again.id == books["revenue"].id
    assert books["revenue"].key == "revenue:EUR"
    assert books["wallet"].key == f"wallet:{books['contact'].id}:EUR"
    card = account_for(studio=studio, kind="gift_card", currency="EUR", reference="card-1")
    assert card.key == "gift_card:card-1:EUR"
    assert LedgerAccount.objects.filter(studio=studio).count() == 5


def test_wallets_and_gift_cards_may_not_go_negative(studio, books):
    card = account_for(studio=studio, kind="gift_card", currency="EUR", reference="c")
    assert not books["wallet"].may_go_negative and not card.may_go_negative
    assert books["revenue"].may_go_negative and books["clearing"].may_go_negative


def test_another_studios_account_of_the_same_key_is_its_own(studio, books):
    other = account_for(studio=StudioFactory(), kind="revenue", currency="EUR")
    assert other.id != books["revenue"].id


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"kind": "savings", "currency": "EUR"}, "invalid_account"),
        ({"kind": "revenue", "currency": "eur"}, "currency_unknown"),
        ({"kind": "revenue", "currency": "ZZZ"}, "currency_unknown"),
        ({"kind": "wallet", "currency": "EUR"}, "invalid_account"),  # no contact
        ({"kind": "receivable", "currency": "EUR"}, "invalid_account"),
        ({"kind": "gift_card", "currency": "EUR"}, "invalid_account"),  # no reference
        ({"kind": "adjustment", "currency": "EUR", "reference": "a:b"}, "invalid_account"),
        ({"kind": "adjustment", "currency": "EUR", "reference": "x" * 65}, "invalid_account"),
    ],
)
def test_account_for_refuses_what_it_cannot_name(studio, fields, code):
    with pytest.raises(ApplicationError) as info:
        account_for(studio=studio, **fields)
    assert info.value.code == code
    assert not LedgerAccount.objects.filter(studio=studio).exists()


def test_account_for_refuses_another_studios_contact(studio):
    with pytest.raises(ApplicationError) as info:
        account_for(studio=studio, kind="wallet", currency="EUR", contact=ContactFactory())
    assert info.value.code == "invalid_account"


@pytest.mark.parametrize("amount", [0, -5, 1.5, True, "10", MAX_MINOR + 1])
def test_debit_and_credit_take_a_positive_int(books, amount):
    for make in (debit, credit):
        with pytest.raises(ApplicationError) as info:
            make(books["revenue"], amount)
        assert info.value.code == "invalid_amount"


def test_credit_negates():
    assert credit(LedgerAccount(), 5).amount == -5 and debit(LedgerAccount(), 5).amount == 5


def test_accounts_lock_returns_fresh_rows_by_id(studio, books):
    LedgerAccount.objects.filter(id=books["revenue"].id).update(balance=42)
    with transaction.atomic():
        locked = accounts_lock([books["wallet"], books["revenue"].id, books["revenue"]])
    assert set(locked) == {books["wallet"].id, books["revenue"].id}
    assert locked[books["revenue"].id].balance == 42


# --- Posting ------------------------------------------------------------------------------------
def test_a_post_writes_balanced_entries_and_natural_balances(studio, books):
    user = UserFactory()
    source_id = uuid.uuid4()
    result = ledger_post(
        studio=studio,
        kind="payment_received",
        idempotency_key="payment:1",
        legs=[debit(books["clearing"], 1500), credit(books["revenue"], 1500)],
        memo="Smith wedding deposit",
        by=user,
        source=("payment", source_id),
    )
    txn = result.transaction
    assert result.created
    assert (txn.amount, txn.debits, txn.credits, txn.currency) == (1500, 1500, 1500, "EUR")
    assert (txn.source_type, txn.source_id, txn.created_by, txn.memo) == (
        "payment",
        source_id,
        user,
        "Smith wedding deposit",
    )
    entries = sorted(txn.entries.values_list("account_id", "amount"))
    assert entries == sorted([(books["clearing"].id, 1500), (books["revenue"].id, -1500)])
    # Both grow: the clearing account (debit-normal) by its debit, revenue by its credit.
    assert _balance(books["clearing"]) == 1500
    assert _balance(books["revenue"]) == 1500


def test_a_wallet_rises_with_credits_and_falls_with_debits(studio, books):
    _topup(studio, books, 2000)
    ledger_post(
        studio=studio,
        kind="wallet_spend",
        idempotency_key="spend",
        legs=[debit(books["wallet"], 1200), credit(books["revenue"], 1200)],
    )
    assert _balance(books["wallet"]) == 800
    assert _balance(books["clearing"]) == 2000
    assert _balance(books["revenue"]) == 1200


def test_more_than_two_legs(studio, books):
    fees = account_for(studio=studio, kind="provider_fees", currency="EUR")
    ledger_post(
        studio=studio,
        kind="payment_received",
        idempotency_key="p",
        legs=[debit(books["clearing"], 970), debit(fees, 30), credit(books["revenue"], 1000)],
    )
    assert (_balance(books["clearing"]), _balance(fees), _balance(books["revenue"])) == (
        970,
        30,
        1000,
    )


def _legs(books, name):
    r, c, w, usd = books["revenue"], books["clearing"], books["wallet"], books["usd"]
    return {
        "one leg": [Leg(c, 0)],
        "no legs": [],
        "unbalanced": [debit(c, 1000), credit(r, 999)],
        "same side": [debit(c, 10), debit(r, 10)],
        "two currencies": [debit(c, 10), credit(usd, 10)],
        "zero leg": [debit(c, 10), credit(r, 10), Leg(w, 0)],
        "bool amount": [Leg(c, True), Leg(r, -1)],
        "float amount": [Leg(c, 10.0), Leg(r, -10.0)],
        "huge amount": [Leg(c, MAX_MINOR + 1), Leg(r, -MAX_MINOR - 1)],
        "not a leg": [(c, 10), (r, -10)],
        "unsaved account": [debit(LedgerAccount(studio=c.studio, currency="EUR"), 5), credit(r, 5)],
    }[name]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("no legs", "unbalanced"),
        ("one leg", "unbalanced"),
        ("unbalanced", "unbalanced"),
        ("same side", "unbalanced"),
        ("two currencies", "currency_mismatch"),
        ("zero leg", "invalid_amount"),
        ("bool amount", "invalid_amount"),
        ("float amount", "invalid_amount"),
        ("huge amount", "invalid_amount"),
        ("not a leg", "invalid_amount"),
        ("unsaved account", "invalid_account"),
    ],
)
def test_bad_legs_are_refused_and_nothing_is_written(studio, books, name, code):
    _topup(studio, books, 100)
    before = _snapshot(studio)
    with pytest.raises(ApplicationError) as info:
        ledger_post(
            studio=studio, kind="adjustment", idempotency_key="bad", legs=_legs(books, name)
        )
    assert info.value.code == code
    assert info.value.status_code == 400
    assert _snapshot(studio) == before


def test_another_studios_account_is_refused(studio, books):
    theirs = account_for(studio=StudioFactory(), kind="revenue", currency="EUR")
    before = _snapshot(studio)
    with pytest.raises(ApplicationError) as info:
        ledger_post(
            studio=studio,
            kind="adjustment",
            idempotency_key="k",
            legs=[debit(books["clearing"], 5), credit(theirs, 5)],
        )
    assert info.value.code == "invalid_account"
    assert _snapshot(studio) == before
    assert _balance(theirs) == 0


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"kind": "gift"}, "invalid_kind"),
        ({"idempotency_key": ""}, "idempotency_key_invalid"),
        ({"idempotency_key": "k" * 201}, "idempotency_key_invalid"),
        ({"memo": "m" * 301}, "validation_error"),
        ({"source": ("payment", "not-a-uuid")}, "invalid_source"),
        ({"source": ("", uuid.uuid4())}, "invalid_source"),
    ],
)
def test_bad_fields_are_refused_and_nothing_is_written(studio, books, fields, code):
    before = _snapshot(studio)
    post = {
        "studio": studio,
        "kind": "adjustment",
        "idempotency_key": "k",
        "legs": [debit(books["clearing"], 5), credit(books["revenue"], 5)],
        **fields,
    }
    with pytest.raises(ApplicationError) as info:
        ledger_post(**post)
    assert info.value.code == code
    assert _snapshot(studio) == before


def test_a_wallet_never_goes_below_zero(studio, books):
    _topup(studio, books, 1000)
    before = _snapshot(studio)
    with pytest.raises(Conflict) as info:
        ledger_post(
            studio=studio,
            kind="wallet_spend",
            idempotency_key="spend",
            legs=[debit(books["wallet"], 1001), credit(books["revenue"], 1001)],
        )
    assert info.value.code == "insufficient_funds"
    assert info.value.extra == {"account_id": str(books["wallet"].id)}
    assert _snapshot(studio) == before
    # Exactly what is there can be spent.
    ledger_post(
        studio=studio,
        kind="wallet_spend",
        idempotency_key="spend",
        legs=[debit(books["wallet"], 1000), credit(books["revenue"], 1000)],
    )
    assert _balance(books["wallet"]) == 0


def test_other_accounts_may_go_negative(studio, books):
    ledger_post(
        studio=studio,
        kind="refund",
        idempotency_key="early-refund",
        legs=[debit(books["revenue"], 300), credit(books["clearing"], 300)],
    )
    assert _balance(books["revenue"]) == -300 and _balance(books["clearing"]) == -300


def test_before_apply_sees_the_locked_rows_and_can_refuse(studio, books):
    _topup(studio, books, 500)
    seen = {}

    def check(locked):
        seen.update({account_id: row.balance for account_id, row in locked.items()})
        raise Conflict("held for an order", code="wallet_held")

    before = _snapshot(studio)
    with pytest.raises(Conflict) as info:
        ledger_post(
            studio=studio,
            kind="wallet_spend",
            idempotency_key="s",
            legs=[debit(books["wallet"], 100), credit(books["revenue"], 100)],
            before_apply=check,
        )
    assert info.value.code == "wallet_held"
    assert seen == {books["wallet"].id: 500, books["revenue"].id: 0}
    assert _snapshot(studio) == before


# --- Idempotency --------------------------------------------------------------------------------
def test_the_same_key_twice_is_one_transaction(studio, books):
    first = _topup(studio, books, 700, key="topup:1")
    # The same legs in another order are the same posting.
    again = ledger_post(
        studio=studio,
        kind="wallet_topup",
        idempotency_key="topup:1",
        legs=[credit(books["wallet"], 700), debit(books["clearing"], 700)],
    )
    assert first.created and not again.created
    assert again.transaction.id == first.transaction.id
    assert LedgerTransaction.objects.filter(studio=studio).count() == 1
    assert _balance(books["wallet"]) == 700


@pytest.mark.parametrize("change", ["amount", "account", "kind"])
def test_the_same_key_with_another_posting_is_a_conflict(studio, books, change):
    first = _topup(studio, books, 700, key="topup:1")
    before = _snapshot(studio)
    amount = 701 if change == "amount" else 700
    source = books["revenue"] if change == "account" else books["clearing"]
    kind = "wallet_grant" if change == "kind" else "wallet_topup"
    with pytest.raises(Conflict) as info:
        ledger_post(
            studio=studio,
            kind=kind,
            idempotency_key="topup:1",
            legs=[debit(source, amount), credit(books["wallet"], amount)],
        )
    assert info.value.code == "idempotency_key_reused"
    assert info.value.extra == {"transaction_id": str(first.transaction.id)}
    assert _snapshot(studio) == before


def test_keys_are_per_studio(studio, books):
    _topup(studio, books, 100, key="same")
    other = StudioFactory()
    a = account_for(studio=other, kind="provider_clearing", currency="EUR")
    b = account_for(studio=other, kind="revenue", currency="EUR")
    result = ledger_post(
        studio=other, kind="adjustment", idempotency_key="same", legs=[debit(a, 5), credit(b, 5)]
    )
    assert result.created


# --- Reversals ----------------------------------------------------------------------------------
def test_a_reversal_posts_the_negated_legs(studio, books):
    user = UserFactory()
    source_id = uuid.uuid4()
    original = ledger_post(
        studio=studio,
        kind="payment_received",
        idempotency_key="p",
        legs=[debit(books["clearing"], 900), credit(books["revenue"], 900)],
        source=("payment", source_id),
    ).transaction
    result = ledger_reverse(transaction=original, idempotency_key="rev", by=user, memo="Oops")
    reversal = result.transaction
    assert result.created
    assert (reversal.kind, reversal.reverses_id, reversal.amount) == ("reversal", original.id, 900)
    assert (reversal.source_type, reversal.source_id, reversal.memo) == (
        "payment",
        source_id,
        "Oops",
    )
    assert sorted(reversal.entries.values_list("account_id", "amount")) == sorted(
        [(books["clearing"].id, -900), (books["revenue"].id, 900)]
    )
    assert sum(reversal.entries.values_list("amount", flat=True)) == 0
    assert _balance(books["clearing"]) == 0 and _balance(books["revenue"]) == 0
    original.refresh_from_db()
    assert original.reversed_by == reversal


def test_a_reversal_retried_with_its_key_is_the_same_reversal(studio, books):
    original = _topup(studio, books, 300).transaction
    first = ledger_reverse(transaction=original, idempotency_key="rev")
    again = ledger_reverse(transaction=original, idempotency_key="rev")
    assert not again.created and again.transaction.id == first.transaction.id
    assert _balance(books["wallet"]) == 0


def test_a_transaction_is_reversed_once(studio, books):
    original = _topup(studio, books, 300).transaction
    ledger_reverse(transaction=original, idempotency_key="rev")
    before = _snapshot(studio)
    with pytest.raises(Conflict) as info:
        ledger_reverse(transaction=original, idempotency_key="rev-2")
    assert info.value.code == "already_reversed"
    assert _snapshot(studio) == before


def test_a_reversal_is_not_reversed(studio, books):
    original = _topup(studio, books, 300).transaction
    reversal = ledger_reverse(transaction=original, idempotency_key="rev").transaction
    before = _snapshot(studio)
    with pytest.raises(Conflict) as info:
        ledger_reverse(transaction=reversal, idempotency_key="rev-rev")
    assert info.value.code == "is_reversal"
    assert _snapshot(studio) == before


def test_reversing_a_spent_top_up_is_insufficient_funds(studio, books):
    topup = _topup(studio, books, 1000).transaction
    ledger_post(
        studio=studio,
        kind="wallet_spend",
        idempotency_key="spend",
        legs=[debit(books["wallet"], 600), credit(books["revenue"], 600)],
    )
    before = _snapshot(studio)
    with pytest.raises(Conflict) as info:
        ledger_reverse(transaction=topup, idempotency_key="rev")
    assert info.value.code == "insufficient_funds"
    assert info.value.extra["account_id"] == str(books["wallet"].id)
    assert _snapshot(studio) == before


def test_ledger_post_refuses_a_reversal_of_another_studios_transaction(studio, books):
    other = StudioFactory()
    a = account_for(studio=other, kind="provider_clearing", currency="EUR")
    b = account_for(studio=other, kind="revenue", currency="EUR")
    theirs = ledger_post(
        studio=other, kind="adjustment", idempotency_key="x", legs=[debit(a, 5), credit(b, 5)]
    ).transaction
    with pytest.raises(ApplicationError) as info:
        ledger_post(
            studio=studio,
            kind="reversal",
            idempotency_key="r",
            legs=[debit(books["revenue"], 5), credit(books["clearing"], 5)],
            reverses=theirs,
        )
    assert info.value.code == "invalid_reverses"


# --- No public service writes an unbalanced transaction -----------------------------------------
def test_no_public_service_writes_an_unbalanced_transaction(studio, books):
    """ledger_post refuses legs that do not sum to zero (above, every shape); a reversal is
    the negation of a balanced transaction, so it balances; the database refuses the rest
    (test_ledger_models). Here: every transaction the services wrote balances."""
    topup = _topup(studio, books, 1000).transaction
    with pytest.raises(ApplicationError):
        ledger_post(
            studio=studio,
            kind="adjustment",
            idempotency_key="u",
            legs=[debit(books["clearing"], 10), credit(books["revenue"], 9)],
        )
    ledger_reverse(transaction=topup, idempotency_key="rev")
    for txn in LedgerTransaction.objects.filter(studio=studio).prefetch_related("entries"):
        amounts = [e.amount for e in txn.entries.all()]
        assert sum(amounts) == 0
        assert txn.debits == txn.credits == txn.amount == sum(a for a in amounts if a > 0)


def test_entries_keep_the_posting_order_even_within_a_millisecond(studio, books):
    """Ids order statements and legs; UUIDv7s of one millisecond alone would not."""
    fees = account_for(studio=studio, kind="provider_fees", currency="EUR")
    posted = []
    for n in range(30):
        legs = [credit(books["revenue"], 100 + n), debit(fees, 1), debit(books["clearing"], 99 + n)]
        posted.append(
            ledger_post(studio=studio, kind="fee", idempotency_key=f"o{n}", legs=legs).transaction
        )
        entries = list(posted[-1].entries.order_by("id").values_list("amount", flat=True))
        assert entries == [leg.amount for leg in legs]
    statement = list(
        LedgerEntry.objects.filter(account=fees).order_by("-id").values_list("transaction_id")
    )
    assert [row[0] for row in statement] == [txn.id for txn in reversed(posted)]
