"""Reads of the ledger, scoped to the studio: another studio's account or transaction is a 404.

Lists are keyset pages (``picpick.core.pagination``), each read from an index in its order:
accounts by ``(studio, kind, currency)``, an account's statement by ``(account, -id)`` (entry
ids are UUIDv7, so id order is posting order), transactions by ``(studio, -posted_at, -id)``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Prefetch, QuerySet

from accounts.models import Studio
from billing.models import LedgerAccount, LedgerEntry, LedgerTransaction
from picpick.core.pagination import DEFAULT_PAGE_SIZE, Page, paginate
from picpick.core.selectors import studio_object_or_404

ACCOUNT_ORDERING = ["kind", "currency", "id"]
STATEMENT_ORDERING = ["-id"]
TRANSACTION_ORDERING = ["-posted_at", "-id"]


def account_page(
    *,
    studio: Studio,
    kind: str | None = None,
    currency: str | None = None,
    contact_id: uuid.UUID | None = None,
    cursor: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """The studio's accounts by kind and currency."""
    accounts = LedgerAccount.objects.filter(studio=studio)
    if kind:
        accounts = accounts.filter(kind=kind)
    if currency:
        accounts = accounts.filter(currency=currency)
    if contact_id:
        accounts = accounts.filter(contact_id=contact_id)
    return paginate(accounts, ordering=ACCOUNT_ORDERING, cursor=cursor, page_size=page_size)


def account_get(*, studio: Studio, account_id: Any) -> LedgerAccount:
    return studio_object_or_404(
        LedgerAccount.objects.all(),
        studio=studio,
        object_id=account_id,
        message="Account not found.",
    )


def account_statement_page(
    *,
    account: LedgerAccount,
    cursor: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """The account's entries, newest first, each with its transaction (kind, memo, time).

    Read by the account alone (it was fetched through the studio-scoped get): a ``studio =``
    term could lead the planner off the ``(account, -id)`` index.
    """
    entries = LedgerEntry.objects.filter(account=account).select_related("transaction")
    return paginate(entries, ordering=STATEMENT_ORDERING, cursor=cursor, page_size=page_size)


def _transactions() -> QuerySet[LedgerTransaction]:
    return LedgerTransaction.objects.select_related("reversed_by")


def transaction_page(
    *,
    studio: Studio,
    kind: str | None = None,
    source_type: str | None = None,
    source_id: uuid.UUID | None = None,
    cursor: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """The studio's transactions, newest first; by kind, or by what they were for."""
    transactions = _transactions().filter(studio=studio)
    if kind:
        transactions = transactions.filter(kind=kind)
    if source_type:
        transactions = transactions.filter(source_type=source_type)
    if source_id:
        transactions = transactions.filter(source_id=source_id)
    return paginate(transactions, ordering=TRANSACTION_ORDERING, cursor=cursor, page_size=page_size)


def transaction_get(*, studio: Studio, transaction_id: Any) -> LedgerTransaction:
    """One transaction with its entries (in posting order) and their accounts."""
    entries = LedgerEntry.objects.select_related("account").order_by("id")
    return studio_object_or_404(
        _transactions().prefetch_related(Prefetch("entries", queryset=entries)),
        studio=studio,
        object_id=transaction_id,
        message="Transaction not found.",
    )
