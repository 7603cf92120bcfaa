"""What the wallet and gift card tests share (no tests here): studio A's billing in EUR, a
client contact, a wallet with credit, sums of the ledger that must hold after every step."""

from __future__ import annotations

import itertools

import pytest
from django.core.cache import cache
from django.db.models import Sum

from billing.models import LedgerAccount, LedgerEntry, LedgerTransaction, Wallet
from billing.services import wallets as services
from picpick.testing.factories import ContactFactory

STUDIO_A_HOST = "annasmith.localhost"
STUDIO_B_HOST = "bobsweddings.localhost"
_keys = itertools.count()


def key(prefix: str = "k") -> str:
    """A fresh idempotency key."""
    return f"{prefix}-{next(_keys)}"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Guess counters live in the cache: each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def euro_studio(studio_a):
    studio_a.default_currency = "EUR"
    studio_a.save(update_fields=["default_currency"])
    return studio_a


@pytest.fixture
def client_contact(euro_studio):
    return ContactFactory(
        studio=euro_studio, first_name="Jane", last_name="Doe", email="jane@example.com"
    )


@pytest.fixture
def wallet(euro_studio, client_contact) -> Wallet:
    return services.wallet_for(studio=euro_studio, contact=client_contact, currency="EUR")


def grant(wallet: Wallet, amount: int, **kwargs):
    return services.wallet_grant(
        wallet=wallet,
        amount=amount,
        reason=kwargs.pop("reason", "goodwill"),
        idempotency_key=kwargs.pop("idempotency_key", key("grant")),
        **kwargs,
    )


def balance(account_or_wallet) -> int:
    account_id = getattr(account_or_wallet, "account_id", None) or account_or_wallet.id
    return LedgerAccount.objects.get(id=account_id).balance


def available(wallet: Wallet) -> int:
    return balance(wallet) - Wallet.objects.get(id=wallet.id).held


def assert_ledger_sound(studio=None) -> None:
    """Every transaction sums to zero and matches its totals; every balance is the sum of its
    entries in its natural sign; no wallet or gift card account is below zero."""
    transactions = LedgerTransaction.objects.all()
    if studio is not None:
        transactions = transactions.filter(studio=studio)
    for txn in transactions:
        amounts = list(txn.entries.values_list("amount", flat=True))
        assert sum(amounts) == 0, txn
        assert sum(a for a in amounts if a > 0) == txn.amount == txn.debits == txn.credits
    accounts = LedgerAccount.objects.all()
    if studio is not None:
        accounts = accounts.filter(studio=studio)
    for account in accounts:
        total = LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] or 0
        natural = total if account.debit_normal else -total
        assert account.balance == natural, account
        if not account.may_go_negative:
            assert account.balance >= 0, account
    for row in Wallet.objects.select_related("account"):
        assert row.held >= 0
        assert row.account.balance - row.held >= 0, row
