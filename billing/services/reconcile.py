"""The ledger check: every stored balance and every transaction, recomputed from the entries.

The ledger service keeps balances as it posts; this verifies them independently, in the
database, the way an auditor would:

- accounts: the sum of each account's entries (``GROUP BY account``), in its natural sign,
  must equal its stored ``balance``, and its entries must be in its currency;
- transactions: each one's entries must sum to zero, their debits and credits must equal its
  stored ``debits``, ``credits`` and ``amount``, and be in its currency (``GROUP BY
  transaction``).

Both walk their table in chunks of consecutive ids, each chunk one aggregate query answered
from an index that holds every column it reads (``billing_entry_account``,
``billing_entry_transaction``): a million entries are read once each, in index order, and no
more than a chunk is in memory. What differs is a drift; the run is recorded
(``LedgerCheckRun``, with the first ``MAX_DRIFTS`` listed) and logged as an ERROR.

The check takes no locks and may run beside posts. A chunk of accounts reads each balance
and the sum of its entries in one statement (one snapshot), and a post commits its balances
with its entries; a transaction's entries commit with it and never change. So a post landing
mid-check is seen whole or not at all, and never reported as a drift.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from django.db.models import BigIntegerField, Case, Count, Max, Min, Q, QuerySet, Sum, When
from django.utils import timezone

from billing.models import LedgerAccount, LedgerCheckRun, LedgerEntry, LedgerTransaction

if TYPE_CHECKING:
    from accounts.models import Studio

logger = logging.getLogger(__name__)

ACCOUNTS_CHUNK = 2_000
TRANSACTIONS_CHUNK = 5_000

# progress(stage, done, total): "accounts" or "transactions", rows checked so far, rows in all.
Progress = Callable[[str, int, int], None]


class _Drifts:
    """Every drift counted, the first ``LedgerCheckRun.MAX_DRIFTS`` kept (memory stays flat
    however broken the ledger is)."""

    def __init__(self) -> None:
        self.count = 0
        self.listed: list[dict] = []

    def append(self, drift: dict) -> None:
        self.count += 1
        if len(self.listed) < LedgerCheckRun.MAX_DRIFTS:
            self.listed.append(drift)


def _chunks(queryset: QuerySet, fields: list[str], size: int) -> Iterator[list[tuple]]:
    """Rows of ``queryset`` (``fields``, id first) in id order, ``size`` at a time (keyset)."""
    last = None
    while True:
        rows = queryset if last is None else queryset.filter(id__gt=last)
        chunk = list(rows.order_by("id").values_list(*fields)[:size])
        if not chunk:
            return
        yield chunk
        last = chunk[-1][0]


def _ids_filter(field: str, chunk: list[tuple], scoped: bool) -> Q:
    """The chunk's rows of the entries: a range of the index when every row of it is the
    chunk's (a check of all studios), the chunk's ids themselves when other studios' rows may
    sit between them."""
    if scoped:
        return Q(**{f"{field}__in": [row[0] for row in chunk]})
    return Q(**{f"{field}__gte": chunk[0][0], f"{field}__lte": chunk[-1][0]})


def _check_accounts(
    studio: Studio | None,
    run: LedgerCheckRun,
    drifts: _Drifts,
    progress: Progress | None,
    total: int,
) -> None:
    accounts = LedgerAccount.objects.all()
    if studio is not None:
        accounts = accounts.filter(studio=studio)
    # Each stored balance and the sum of its entries in one statement, so both come from one
    # snapshot: a post committing between two reads would look like a drift.
    accounts = accounts.annotate(
        total=Sum("entries__amount"),
        low=Min("entries__currency"),
        high=Max("entries__currency"),
    )
    fields = ["id", "balance", "kind", "currency", "total", "low", "high"]
    for chunk in _chunks(accounts, fields, ACCOUNTS_CHUNK):
        for account_id, balance, kind, currency, total_amount, low, high in chunk:
            if total_amount is None:  # no entries yet
                total_amount, low, high = 0, currency, currency
            computed = total_amount if kind in LedgerAccount.DEBIT_NORMAL else -total_amount
            if computed != balance:
                drifts.append(
                    {
                        "type": "balance",
                        "account_id": str(account_id),
                        "stored": balance,
                        "computed": computed,
                    }
                )
            if low != currency or high != currency:
                drifts.append(
                    {
                        "type": "account_currency",
                        "account_id": str(account_id),
                        "currency": currency,
                        "entries": sorted({low, high}),
                    }
                )
        run.accounts_checked += len(chunk)
        if progress is not None:
            progress("accounts", run.accounts_checked, total)


def _check_transactions(
    studio: Studio | None,
    run: LedgerCheckRun,
    drifts: _Drifts,
    progress: Progress | None,
    total: int,
) -> None:
    transactions = LedgerTransaction.objects.all()
    if studio is not None:
        transactions = transactions.filter(studio=studio)
    debit_sum = Sum(
        Case(When(amount__gt=0, then="amount"), default=0, output_field=BigIntegerField())
    )
    fields = ["id", "amount", "debits", "credits", "currency"]
    for chunk in _chunks(transactions, fields, TRANSACTIONS_CHUNK):
        sums: dict[Any, tuple] = {
            row[0]: row[1:]
            for row in (
                LedgerEntry.objects.filter(_ids_filter("transaction_id", chunk, studio is not None))
                .values("transaction_id")
                .annotate(
                    total=Sum("amount"),
                    debit_total=debit_sum,
                    count=Count("id"),
                    low=Min("currency"),
                    high=Max("currency"),
                )
                .values_list("transaction_id", "total", "debit_total", "count", "low", "high")
                .order_by()
            )
        }
        for txn_id, amount, debits, credits, currency in chunk:
            entries_sum, debit_total, count, low, high = sums.get(txn_id, (0, 0, 0, None, None))
            credit_total = debit_total - entries_sum
            if (
                count < 2
                or entries_sum != 0
                or debit_total != debits
                or credit_total != credits
                or not amount == debits == credits
                or low != currency
                or high != currency
            ):
                drifts.append(
                    {
                        "type": "transaction",
                        "transaction_id": str(txn_id),
                        "stored": {
                            "amount": amount,
                            "debits": debits,
                            "credits": credits,
                            "currency": currency,
                        },
                        "computed": {
                            "sum": entries_sum,
                            "debits": debit_total,
                            "credits": credit_total,
                            "entries": count,
                            "currencies": sorted({c for c in (low, high) if c is not None}),
                        },
                    }
                )
            run.entries_checked += count
        run.transactions_checked += len(chunk)
        if progress is not None:
            progress("transactions", run.transactions_checked, total)


def ledger_check(
    *, studio: Studio | None = None, progress: Progress | None = None
) -> LedgerCheckRun:
    """Check ``studio``'s ledger (every studio's without one); the run, recorded.

    ``run.ok`` is False when any balance or transaction drifted; ``run.drifts`` lists the first
    ``LedgerCheckRun.MAX_DRIFTS`` (``drift_count`` counts all). A drift is logged as an ERROR
    with the same details.
    """
    run = LedgerCheckRun(studio=studio, started_at=timezone.now())
    drifts = _Drifts()
    accounts = LedgerAccount.objects.all()
    transactions = LedgerTransaction.objects.all()
    if studio is not None:
        accounts, transactions = accounts.filter(studio=studio), transactions.filter(studio=studio)
    _check_accounts(studio, run, drifts, progress, accounts.count())
    _check_transactions(studio, run, drifts, progress, transactions.count())
    run.finished_at = timezone.now()
    run.drift_count = drifts.count
    run.drifts = drifts.listed
    run.ok = drifts.count == 0
    run.save()
    if not run.ok:
        logger.error(
            "ledger check %s: %d drift(s) in %s (%d accounts, %d transactions, %d entries "
            "checked); first: %s",
            run.id,
            drifts.count,
            f"studio {studio.id}" if studio is not None else "all studios",
            run.accounts_checked,
            run.transactions_checked,
            run.entries_checked,
            drifts.listed[:20],
        )
    else:
        logger.info(
            "ledger check %s ok: %d accounts, %d transactions, %d entries",
            run.id,
            run.accounts_checked,
            run.transactions_checked,
            run.entries_checked,
        )
    return run
