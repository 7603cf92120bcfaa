"""The ledger: posting one transaction under its balance locks, and checking a million entries.

Post: ``ledger_post`` of a two-entry transaction (a payment: provider clearing to revenue, or a
wallet top-up) among 40 accounts of one studio, into the ledger the check left (a million
entries), each post its own database transaction: the accounts locked in id order, the
idempotency key looked up, the transaction and its entries inserted, both balances written,
committed. 50 warm-up posts, then 500 timed. Target: p95 <= 10 ms.

Check: ``ledger_check`` (every stored balance and every transaction recomputed from the
entries) over 1,000,000 entries: 500,000 two-entry transactions over 3,000 accounts of 3
studios, seeded with ``bulk_create`` in batches with the balances they add up to, then
settled and analysed. Target: <= 60 s; the rate (entries/s) is reported beside it.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
import uuid

from bench import Result, percentile
from bench.django_env import fresh_database, settle_database
from bench.seed import studio_with_owner

POST_ACCOUNTS = 40
WARMUP = 50
POSTS = 500
TARGET_POST_P95_MS = 10

CHECK_STUDIOS = 3
CHECK_ACCOUNTS = 3_000
CHECK_TRANSACTIONS = 500_000
SEED_BATCH = 10_000
TARGET_CHECK_S = 60

# Kinds that may go negative: the seed moves money at random, not as a business would.
SEED_KINDS = ["provider_clearing", "revenue", "adjustment", "provider_fees", "tax_payable"]


def _bench_posts() -> list[Result]:
    from billing.services.ledger import account_for, credit, debit, ledger_post
    from picpick.testing.factories import ContactFactory

    studio, _ = studio_with_owner(slug="bench-ledger-post")
    rng = random.Random(20_261_207)
    clearing = account_for(studio=studio, kind="provider_clearing", currency="EUR")
    revenue = [
        account_for(studio=studio, kind="revenue", currency="EUR", reference=f"line-{n}")
        for n in range(POST_ACCOUNTS // 2)
    ]
    wallets = [
        account_for(
            studio=studio, kind="wallet", currency="EUR", contact=ContactFactory(studio=studio)
        )
        for _ in range(POST_ACCOUNTS // 2 - 1)
    ]

    def post(n: int) -> None:
        amount = rng.randrange(100, 50_000)
        if n % 2:
            target, kind = rng.choice(revenue), "payment_received"
        else:
            target, kind = rng.choice(wallets), "wallet_topup"
        result = ledger_post(
            studio=studio,
            kind=kind,
            idempotency_key=f"bench:{n}",
            legs=[debit(clearing, amount), credit(target, amount)],
            source=("payment", uuid.uuid4()),
        )
        if not result.created:
            raise AssertionError(f"post {n} was not created")

    for n in range(WARMUP):
        post(n)
    gc.collect()
    gc.freeze()
    timings_ms = []
    for n in range(WARMUP, WARMUP + POSTS):
        started = time.perf_counter()
        post(n)
        timings_ms.append((time.perf_counter() - started) * 1000)
    gc.unfreeze()
    return [
        Result.at_most(
            "ledger.post.median", statistics.median(timings_ms), "ms", TARGET_POST_P95_MS
        ),
        Result.at_most("ledger.post.p95", percentile(timings_ms, 0.95), "ms", TARGET_POST_P95_MS),
    ]


def _seed_check(rng: random.Random) -> int:
    """500,000 balanced two-entry transactions and the balances they add up to; entries made."""
    from django.utils import timezone

    from billing.models import LedgerAccount, LedgerEntry, LedgerTransaction
    from picpick.core.ids import uuid7
    from picpick.testing.factories import StudioFactory

    studios = [StudioFactory(slug=f"bench-ledger-check-{n}") for n in range(CHECK_STUDIOS)]
    accounts = [
        LedgerAccount(
            studio=studios[n % CHECK_STUDIOS],
            kind=SEED_KINDS[n % len(SEED_KINDS)],
            currency="EUR",
            key=f"{SEED_KINDS[n % len(SEED_KINDS)]}:seed-{n}:EUR",
            name=f"Seed {n}",
        )
        for n in range(CHECK_ACCOUNTS)
    ]
    LedgerAccount.objects.bulk_create(accounts, batch_size=1_000)
    by_studio: dict = {}
    for account in accounts:
        by_studio.setdefault(account.studio_id, []).append(account)
    balances = {account.id: 0 for account in accounts}
    debit_normal = {account.id: account.debit_normal for account in accounts}
    now = timezone.now()
    made = 0
    for start in range(0, CHECK_TRANSACTIONS, SEED_BATCH):
        transactions, entries = [], []
        for n in range(start, min(start + SEED_BATCH, CHECK_TRANSACTIONS)):
            studio = studios[n % CHECK_STUDIOS]
            source, target = rng.sample(by_studio[studio.id], 2)
            amount = rng.randrange(1, 100_000)
            txn = LedgerTransaction(
                id=uuid7(),
                studio=studio,
                kind="adjustment",
                currency="EUR",
                amount=amount,
                debits=amount,
                credits=amount,
                idempotency_key=f"seed:{n}",
                posted_at=now,
            )
            transactions.append(txn)
            for account, signed in ((target, amount), (source, -amount)):
                entries.append(
                    LedgerEntry(
                        id=uuid7(),
                        studio=studio,
                        transaction=txn,
                        account=account,
                        amount=signed,
                        currency="EUR",
                    )
                )
                balances[account.id] += signed if debit_normal[account.id] else -signed
        LedgerTransaction.objects.bulk_create(transactions, batch_size=SEED_BATCH)
        LedgerEntry.objects.bulk_create(entries, batch_size=SEED_BATCH)
        made += len(entries)
    for account in accounts:
        account.balance = balances[account.id]
    # Accounts are not append-only: their balances are written with a plain bulk update here.
    LedgerAccount.objects.bulk_update(accounts, ["balance"], batch_size=1_000)
    return made


def _bench_check() -> list[Result]:
    from django.db import connection

    from billing.services.reconcile import ledger_check

    rng = random.Random(20_261_208)
    started = time.perf_counter()
    entries = _seed_check(rng)
    with connection.cursor() as cursor:
        tables = "billing_ledgeraccount, billing_ledgertransaction, billing_ledgerentry"
        cursor.execute("ANALYZE" if connection.vendor == "sqlite" else f"ANALYZE TABLE {tables}")
        if connection.vendor != "sqlite":
            cursor.fetchall()
    seed_s = time.perf_counter() - started
    settle_database()
    gc.collect()
    gc.freeze()
    started = time.perf_counter()
    run = ledger_check()
    check_s = time.perf_counter() - started
    gc.unfreeze()
    if not run.ok or run.entries_checked != entries:
        raise AssertionError(
            f"the check of the seed found {run.drift_count} drift(s) and "
            f"{run.entries_checked} of {entries} entries"
        )
    return [
        Result(name="ledger.check.seed_1m", value=round(seed_s, 1), unit="s", target=0, ok=True),
        Result.at_most("ledger.check.1m_entries", check_s, "s", TARGET_CHECK_S),
        Result(
            name="ledger.check.rate",
            value=round(entries / check_s),
            unit="entries/s",
            target=round(entries / TARGET_CHECK_S),
            ok=check_s <= TARGET_CHECK_S,
        ),
    ]


def run() -> list[Result]:
    with fresh_database():
        # The check first, over exactly the seed; then posts, into a ledger of a million entries.
        return _bench_check() + _bench_posts()
