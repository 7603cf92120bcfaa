"""Wallets: 200 spends at once, each thread on its own database connection (MariaDB).

Hot wallet: 200 spends of 10.00 against one wallet holding 150 of them. Each spend locks the
wallet's account (and revenue) and checks ``balance - held`` under that lock, so they queue:
exactly 150 succeed, 50 are refused ``insufficient_funds``. Spread: 200 spends over 20
wallets holding 10 each (all succeed; they queue only on the studio's revenue account).
Throughput is spends answered per second of wall time, from the release of the threads to
the last answer. Both are bounded by one lock: every spend of a studio credits its revenue
account, whose row it locks until it commits. Then the invariants over everything written:
every transaction's entries sum to zero and match its totals, every balance is the sum of its
entries, no wallet below zero or below what it holds back, and the expected number of spends
succeeded: 0 violations.

The spends come from 50 threads (4 each, all released at once): MariaDB's default
``max_connections`` (151) is shared with the other test runs on the server, so 200
simultaneous connections would be refused before a single spend was measured.

On SQLite every writer takes the one database lock; there is no row-lock race to measure, so
the concurrent part is skipped there (reported as a row, with the reason on stderr).
"""

from __future__ import annotations

import sys
import threading
import time

from bench import Result
from bench.django_env import fresh_database
from bench.seed import studio_with_owner

SPENDS = 200
THREADS = 50
SPEND = 1000  # 10.00
HOT_FUNDS = 150 * SPEND
SPREAD_WALLETS = 20
# Throughput is reported, not held to a target (the issue asks for the figure with 0 invariant
# violations, which is the row that passes or fails). A spend is one post under its accounts'
# locks (~10 ms here), so about 100 a second; spreading the spends over wallets does not raise
# that ceiling: every spend of a studio also credits (and locks) its one revenue account.
TARGET_HOT_PER_S = 0
TARGET_SPREAD_PER_S = 0


def _spends(wallet_ids: list, prefix: str) -> tuple[float, list]:
    """Run ``SPENDS`` spends (spend ``n`` from ``wallet_ids[n % len]``) from ``THREADS``
    threads released together; the seconds they took and each answer (a result or an error)."""
    from django.db import connections

    from billing.models import Wallet
    from billing.services.wallets import wallet_spend

    outcomes: list = [None] * SPENDS
    barrier = threading.Barrier(THREADS + 1)

    def work(thread: int) -> None:
        try:
            barrier.wait()
            for n in range(thread, SPENDS, THREADS):
                wallet = Wallet.objects.select_related("account", "studio").get(
                    id=wallet_ids[n % len(wallet_ids)]
                )
                try:
                    outcomes[n] = wallet_spend(
                        wallet=wallet,
                        amount=SPEND,
                        reference=f"order {n}",
                        idempotency_key=f"{prefix}:{n}",
                    )
                except Exception as error:  # counted: a refusal or a fault
                    outcomes[n] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, outcomes


def _funded_wallets(studio, count: int, amount: int) -> list:
    from billing.services.wallets import studio_account, wallet_for, wallet_grant
    from picpick.testing.factories import ContactFactory

    studio_account(studio=studio, kind="revenue", currency="EUR")
    ids = []
    for n in range(count):
        wallet = wallet_for(studio=studio, contact=ContactFactory(studio=studio), currency="EUR")
        wallet_grant(wallet=wallet, amount=amount, reason="prepaid", idempotency_key=f"seed{n}")
        ids.append(wallet.id)
    return ids


def _violations(studio, *, expected_spends: int) -> list[str]:
    from django.db.models import Sum

    from billing.models import LedgerAccount, LedgerEntry, LedgerTransaction, Wallet

    found = []
    for txn in LedgerTransaction.objects.filter(studio=studio).prefetch_related("entries"):
        amounts = [entry.amount for entry in txn.entries.all()]
        if sum(amounts) != 0 or txn.amount != sum(a for a in amounts if a > 0):
            found.append(f"transaction {txn.id} does not balance")
    sums = dict(
        LedgerEntry.objects.filter(studio=studio)
        .values_list("account_id")
        .annotate(total=Sum("amount"))
        .values_list("account_id", "total")
    )
    for account in LedgerAccount.objects.filter(studio=studio):
        raw = sums.get(account.id, 0)
        if account.balance != (raw if account.debit_normal else -raw):
            found.append(f"account {account.key}: balance {account.balance}, entries {raw}")
    for wallet in Wallet.objects.filter(studio=studio).select_related("account"):
        if wallet.account.balance < 0 or wallet.account.balance - wallet.held < 0:
            found.append(f"wallet {wallet.id} below zero")
    spends = LedgerTransaction.objects.filter(studio=studio, kind="wallet_spend").count()
    if spends != expected_spends:
        found.append(f"{spends} spends succeeded, not {expected_spends}")
    return found


def _refusals(outcomes: list) -> tuple[int, int, list]:
    from picpick.core.errors import Conflict

    succeeded = sum(1 for o in outcomes if hasattr(o, "transaction"))
    refused = sum(1 for o in outcomes if isinstance(o, Conflict) and o.code == "insufficient_funds")
    faults = [o for o in outcomes if isinstance(o, Exception) and not isinstance(o, Conflict)]
    return succeeded, refused, faults


def run() -> list[Result]:
    with fresh_database():
        from django.db import connection

        if connection.vendor == "sqlite":
            print(
                "wallets: SQLite serialises every writer (one database lock); the concurrent "
                "spends need MariaDB's row locks: set DATABASE_URL=mysql://...",
                file=sys.stderr,
            )
            return [Result(name="wallets.concurrency.skipped_on_sqlite", value=0, unit="runs",
                           target=0, ok=True)]  # fmt: skip

        hot_studio, _ = studio_with_owner(slug="bench-wallets-hot")
        hot = _funded_wallets(hot_studio, 1, HOT_FUNDS)
        hot_s, hot_outcomes = _spends(hot, "hot")
        hot_ok, hot_refused, hot_faults = _refusals(hot_outcomes)

        from picpick.testing.factories import StudioFactory

        spread_studio = StudioFactory(slug="bench-wallets-spread")
        spread = _funded_wallets(spread_studio, SPREAD_WALLETS, SPENDS // SPREAD_WALLETS * SPEND)
        spread_s, spread_outcomes = _spends(spread, "spread")
        spread_ok, _, spread_faults = _refusals(spread_outcomes)

        violations = (
            _violations(hot_studio, expected_spends=HOT_FUNDS // SPEND)
            + _violations(spread_studio, expected_spends=SPENDS)
            + [f"hot: {hot_refused} refused, not {SPENDS - HOT_FUNDS // SPEND}"]
            * (hot_refused != SPENDS - HOT_FUNDS // SPEND)
            + [f"fault: {fault!r}" for fault in hot_faults + spread_faults]
        )
        for violation in violations:
            print(f"wallets: {violation}", file=sys.stderr)
        return [
            Result(
                name="wallets.spend.hot_wallet.throughput",
                value=round(SPENDS / hot_s, 1),
                unit="spends/s",
                target=TARGET_HOT_PER_S,
                ok=SPENDS / hot_s >= TARGET_HOT_PER_S,
            ),
            Result(
                name="wallets.spend.hot_wallet.succeeded",
                value=hot_ok,
                unit="spends",
                target=HOT_FUNDS // SPEND,
                ok=hot_ok == HOT_FUNDS // SPEND,
            ),
            Result(
                name="wallets.spend.spread_20.throughput",
                value=round(SPENDS / spread_s, 1),
                unit="spends/s",
                target=TARGET_SPREAD_PER_S,
                ok=SPENDS / spread_s >= TARGET_SPREAD_PER_S,
            ),
            Result(
                name="wallets.spend.spread_20.succeeded",
                value=spread_ok,
                unit="spends",
                target=SPENDS,
                ok=spread_ok == SPENDS,
            ),
            Result(
                name="wallets.invariants.violations",
                value=len(violations),
                unit="violations",
                target=0,
                ok=not violations,
            ),
        ]
