"""Posting to the ledger: the one way money moves in PicPick.

Every movement is ``ledger_post``: two or more legs (+ debit, - credit, minor units) on accounts
of one studio and one currency, summing to zero. In one transaction it

1. locks every account it touches, in one fixed order (by id, ``accounts_lock``), so two posts
   over the same accounts queue instead of deadlocking, and balances are read fresh;
2. looks the idempotency key up (after the locks: a retry racing its original waits for it and
   then finds it): the same key with the same kind and legs returns the first transaction
   (``created=False``), with anything else it is a 409;
3. lets the caller check its own rules under those locks (``before_apply``: a wallet's holds);
4. computes each account's new natural balance, refusing one that may not go negative
   (wallets, gift cards) with ``insufficient_funds``;
5. inserts the transaction and its entries and writes the balances.

Any error leaves nothing written. Corrections are reversals (``ledger_reverse``): the negated
legs as a new transaction, at most one per transaction.

How callers use it::

    wallet = account_for(studio=studio, kind="wallet", currency="EUR", contact=contact)
    revenue = account_for(studio=studio, kind="revenue", currency="EUR")
    ledger_post(
        studio=studio,
        kind="wallet_spend",
        idempotency_key=f"order:{order.id}:wallet",
        legs=[debit(wallet, 1500), credit(revenue, 1500)],
        source=("order", order.id),
    )

Row locks need MariaDB's InnoDB; on SQLite every transaction takes the database's write lock
at BEGIN (``transaction_mode=IMMEDIATE``), which serialises posts just the same.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import LedgerAccount, LedgerEntry, LedgerTransaction
from billing.money import MAX_MINOR, currency_valid
from picpick.core.errors import ApplicationError, Conflict
from picpick.core.ids import uuid7

if TYPE_CHECKING:
    from accounts.models import Studio, User
    from crm.models import Contact

logger = logging.getLogger(__name__)

KEY_MAX_LENGTH = 200
MEMO_MAX_LENGTH = 300
SOURCE_TYPE_MAX_LENGTH = 30
_REFERENCE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


@dataclass(frozen=True)
class Leg:
    """One side of a posting: ``amount`` minor units, + debit, - credit."""

    account: LedgerAccount
    amount: int


@dataclass(frozen=True)
class PostResult:
    transaction: LedgerTransaction
    created: bool  # False: the idempotency key was posted before; nothing moved this time


def _positive_amount(amount: object) -> int:
    if type(amount) is not int or amount <= 0 or amount > MAX_MINOR:
        raise ApplicationError(
            f"A leg's amount is a positive integer of minor units up to {MAX_MINOR}.",
            code="invalid_amount",
        )
    return amount


def debit(account: LedgerAccount, amount: int) -> Leg:
    """A debit leg of ``amount`` (> 0) minor units."""
    return Leg(account=account, amount=_positive_amount(amount))


def credit(account: LedgerAccount, amount: int) -> Leg:
    """A credit leg of ``amount`` (> 0) minor units (stored negated)."""
    return Leg(account=account, amount=-_positive_amount(amount))


# --- Accounts -----------------------------------------------------------------------------------
def _account_key(kind: str, currency: str, contact: Contact | None, reference: str) -> str:
    parts = [kind]
    if contact is not None:
        parts.append(str(contact.id))
    if reference:
        parts.append(reference)
    parts.append(currency)
    return ":".join(parts)


def account_for(
    *,
    studio: Studio,
    kind: str,
    currency: str,
    contact: Contact | None = None,
    reference: str = "",
    name: str = "",
) -> LedgerAccount:
    """The studio's account of this kind, currency and holder, made on first use.

    One per (kind, holder, currency), named by a key built here ("revenue:EUR",
    "wallet:<contact id>:EUR", "gift_card:<reference>:EUR"); two callers making the same one
    at once get the same row (the key is unique per studio). Receivable and wallet accounts
    are per contact; a gift card's names its card in ``reference``. Wallet and gift card
    balances may never go negative.
    """
    if kind not in LedgerAccount.Kind.values:
        raise ApplicationError(f"Unknown account kind {kind!r}.", code="invalid_account")
    if not currency_valid(currency):
        raise ApplicationError(
            f"Unknown currency {currency!r}.",
            code="currency_unknown",
            fields={"currency": ["Use an upper-case ISO 4217 code such as EUR."]},
        )
    if kind in LedgerAccount.PER_CONTACT and contact is None:
        raise ApplicationError(f"A {kind} account belongs to a contact.", code="invalid_account")
    if contact is not None and contact.studio_id != studio.id:
        raise ApplicationError("The contact is another studio's.", code="invalid_account")
    if kind == LedgerAccount.Kind.GIFT_CARD and not reference:
        raise ApplicationError("A gift card account names its card.", code="invalid_account")
    if reference and not _REFERENCE.fullmatch(reference):
        # No ':' (the key's separator), so two holders never build the same key.
        raise ApplicationError(
            "A reference is 1-64 letters, digits, '.', '_' or '-'.", code="invalid_account"
        )
    key = _account_key(kind, currency, contact, reference)
    if len(key) > LedgerAccount._meta.get_field("key").max_length:
        raise ApplicationError("The account's reference is too long.", code="invalid_account")

    found = LedgerAccount.objects.filter(studio=studio, key=key).first()
    if found is None:
        try:
            with transaction.atomic():
                found = LedgerAccount.objects.create(
                    studio=studio,
                    kind=kind,
                    currency=currency,
                    key=key,
                    contact=contact,
                    reference=reference,
                    may_go_negative=kind not in LedgerAccount.NEVER_NEGATIVE,
                    name=name[:200] or f"{LedgerAccount.Kind(kind).label} {currency}",
                )
        except IntegrityError:
            # Made by a racing caller since our read (its insert committed first).
            found = LedgerAccount.objects.filter(studio=studio, key=key).first()
            if found is None:
                raise
    found.studio = studio
    return found


def accounts_lock(accounts: Iterable[LedgerAccount | uuid.UUID]) -> dict[uuid.UUID, LedgerAccount]:
    """Lock these accounts' rows (``SELECT ... FOR UPDATE``) in one fixed order, by id, and
    return them fresh, by id. Inside a transaction only.

    The only place account rows are locked: a post locks all its accounts here before reading
    anything, so whatever the order of its legs (A->B or B->A), two posts over the same
    accounts take the locks in the same order and one waits for the other instead of
    deadlocking. A caller that needs other rows of its own locked too (a wallet's holds)
    locks them after, in ``before_apply``.
    """
    ids = sorted({a.id if isinstance(a, LedgerAccount) else a for a in accounts})
    rows = LedgerAccount.objects.select_for_update().filter(id__in=ids).order_by("id")
    return {row.id: row for row in rows}


# --- Posting ------------------------------------------------------------------------------------
_ids_lock = threading.Lock()
_last_id = 0


def _increasing_ids(count: int) -> list[uuid.UUID]:
    """UUIDv7s, each above every one this process made before.

    Entries are read in id order (a statement, a transaction's legs), and two UUIDv7 of the
    same millisecond are ordered by their random bits: a transaction's legs, or two posts to
    one account within a millisecond, would come back shuffled. One past the last id when the
    clock has not moved keeps them in posting order (the random part has 62 bits: carrying out
    of it would need 2**62 ids in one millisecond).
    """
    global _last_id
    ids = []
    with _ids_lock:
        for _ in range(count):
            value = max(uuid7().int, _last_id + 1)
            _last_id = value
            ids.append(uuid.UUID(int=value))
    return ids


def _validate_legs(studio: Studio, legs: list[Leg]) -> str:
    """The legs' one currency; raises on anything that would not be a sound transaction."""
    if not isinstance(legs, list | tuple) or len(legs) < 2:
        raise ApplicationError(
            "A transaction has at least two legs (a debit and a credit).", code="unbalanced"
        )
    currencies = set()
    for leg in legs:
        if not isinstance(leg, Leg):
            raise ApplicationError(
                "Each leg is a billing.services.ledger.Leg.", code="invalid_amount"
            )
        if type(leg.amount) is not int or leg.amount == 0 or abs(leg.amount) > MAX_MINOR:
            raise ApplicationError(
                f"A leg's amount is a non-zero integer of minor units, at most {MAX_MINOR} "
                "either way.",
                code="invalid_amount",
            )
        account = leg.account
        if (
            not isinstance(account, LedgerAccount)
            or account._state.adding
            or account.studio_id != studio.id
        ):
            raise ApplicationError(
                "Each leg's account is a saved account of this studio.", code="invalid_account"
            )
        currencies.add(account.currency)
    if len(currencies) != 1:
        raise ApplicationError(
            f"A transaction moves one currency, not {', '.join(sorted(currencies))}.",
            code="currency_mismatch",
        )
    if sum(leg.amount for leg in legs) != 0:
        raise ApplicationError(
            "The legs do not balance: the debits must equal the credits.", code="unbalanced"
        )
    return currencies.pop()


def _validate_fields(
    kind: str,
    idempotency_key: str,
    memo: str,
    source: tuple[str, uuid.UUID] | None,
) -> None:
    if kind not in LedgerTransaction.Kind.values:
        raise ApplicationError(f"Unknown transaction kind {kind!r}.", code="invalid_kind")
    if not isinstance(idempotency_key, str) or not 0 < len(idempotency_key) <= KEY_MAX_LENGTH:
        raise ApplicationError(
            f"The idempotency key is 1-{KEY_MAX_LENGTH} characters.",
            code="idempotency_key_invalid",
        )
    if not isinstance(memo, str) or len(memo) > MEMO_MAX_LENGTH:
        raise ApplicationError(
            f"A memo is at most {MEMO_MAX_LENGTH} characters.",
            code="validation_error",
            fields={"memo": [f"At most {MEMO_MAX_LENGTH} characters."]},
        )
    if source is not None:
        source_type, source_id = source
        if (
            not isinstance(source_type, str)
            or not 0 < len(source_type) <= SOURCE_TYPE_MAX_LENGTH
            or not isinstance(source_id, uuid.UUID)
        ):
            raise ApplicationError(
                "A source is (type, UUID), the type 1-30 characters.", code="invalid_source"
            )


def _same_posting(txn: LedgerTransaction, kind: str, legs: list[Leg]) -> bool:
    entries = Counter(txn.entries.values_list("account_id", "amount"))
    return txn.kind == kind and entries == Counter((leg.account.id, leg.amount) for leg in legs)


def _replay(txn: LedgerTransaction, kind: str, legs: list[Leg]) -> PostResult:
    if not _same_posting(txn, kind, legs):
        raise Conflict(
            "This idempotency key was used for another transaction.",
            code="idempotency_key_reused",
            extra={"transaction_id": str(txn.id)},
        )
    return PostResult(transaction=txn, created=False)


def ledger_post(
    *,
    studio: Studio,
    kind: str,
    idempotency_key: str,
    legs: list[Leg],
    memo: str = "",
    by: User | None = None,
    source: tuple[str, uuid.UUID] | None = None,
    reverses: LedgerTransaction | None = None,
    before_apply: Callable[[dict[uuid.UUID, LedgerAccount]], None] | None = None,
) -> PostResult:
    """Post one balanced transaction (see the module), or return the one this key posted.

    Errors, nothing written on any: 400 ``unbalanced``, ``currency_mismatch``,
    ``invalid_amount``, ``invalid_account``, ``invalid_kind``, ``idempotency_key_invalid``,
    ``invalid_source``; 409 ``idempotency_key_reused``, ``insufficient_funds`` (``account_id``
    in the error), ``already_reversed``, ``is_reversal``; whatever ``before_apply`` raises.
    """
    _validate_fields(kind, idempotency_key, memo, source)
    currency = _validate_legs(studio, legs)
    if reverses is not None and reverses.studio_id != studio.id:
        raise ApplicationError(
            "The reversed transaction is another studio's.", code="invalid_reverses"
        )
    if reverses is not None and reverses.reverses_id is not None:
        raise Conflict("A reversal is not reversed; post a new transaction.", code="is_reversal")
    try:
        with transaction.atomic():
            locked = accounts_lock(leg.account for leg in legs)
            for leg in legs:
                row = locked.get(leg.account.id)
                if row is None or row.studio_id != studio.id or row.currency != currency:
                    raise ApplicationError(
                        "Each leg's account is a saved account of this studio.",
                        code="invalid_account",
                    )
            existing = LedgerTransaction.objects.filter(
                studio=studio, idempotency_key=idempotency_key
            ).first()
            if existing is not None:
                return _replay(existing, kind, legs)
            if (
                reverses is not None
                and LedgerTransaction.objects.filter(reverses_id=reverses.id).exists()
            ):
                raise Conflict("This transaction was reversed already.", code="already_reversed")
            if before_apply is not None:
                before_apply(locked)

            balances = {account_id: row.balance for account_id, row in locked.items()}
            for leg in legs:
                row = locked[leg.account.id]
                balances[row.id] += leg.amount if row.debit_normal else -leg.amount
            for account_id, balance in balances.items():
                row = locked[account_id]
                if balance < 0 and not row.may_go_negative:
                    raise Conflict(
                        f"Not enough in {row.name or row.key}: this would leave it below zero.",
                        code="insufficient_funds",
                        extra={"account_id": str(account_id)},
                    )

            amount = sum(leg.amount for leg in legs if leg.amount > 0)
            now = timezone.now()
            txn = LedgerTransaction.objects.create(
                studio=studio,
                kind=kind,
                currency=currency,
                amount=amount,
                debits=amount,
                credits=-sum(leg.amount for leg in legs if leg.amount < 0),
                idempotency_key=idempotency_key,
                reverses=reverses,
                source_type=source[0] if source else "",
                source_id=source[1] if source else None,
                memo=memo,
                created_by=by,
                posted_at=now,
            )
            LedgerEntry.objects.bulk_create(
                LedgerEntry(
                    id=entry_id,
                    studio=studio,
                    transaction=txn,
                    account_id=leg.account.id,
                    amount=leg.amount,
                    currency=currency,
                )
                for entry_id, leg in zip(_increasing_ids(len(legs)), legs, strict=True)
            )
            for account_id, balance in balances.items():
                if balance != locked[account_id].balance:
                    # Plain writes of values computed under the lock (AppendOnlyQuerySet is
                    # not this model's manager: accounts are not append-only, their balances
                    # move here and only here).
                    LedgerAccount.objects.filter(id=account_id).update(
                        balance=balance, updated_at=now
                    )
    except IntegrityError:
        # A post of the same key by another request inserted first (its accounts differ from
        # ours, or the locks would have queued us behind it): answer as a replay would.
        winner = LedgerTransaction.objects.filter(
            studio=studio, idempotency_key=idempotency_key
        ).first()
        if winner is None:
            if (
                reverses is not None
                and LedgerTransaction.objects.filter(reverses_id=reverses.id).exists()
            ):
                raise Conflict(
                    "This transaction was reversed already.", code="already_reversed"
                ) from None
            raise
        return _replay(winner, kind, legs)
    txn.studio = studio
    return PostResult(transaction=txn, created=True)


def ledger_reverse(
    *,
    transaction: LedgerTransaction,
    idempotency_key: str,
    by: User | None = None,
    memo: str = "",
) -> PostResult:
    """Undo ``transaction`` with a new one of its negated legs (kind ``reversal``).

    The same key again returns the same reversal. 409 ``already_reversed`` for a second
    reversal, ``is_reversal`` for a reversal's; the balance rules apply as to any post
    (reversing a wallet top-up whose money was spent is ``insufficient_funds``).
    """
    original = transaction
    if original.reverses_id is not None:
        raise Conflict("A reversal is not reversed; post a new transaction.", code="is_reversal")
    entries = list(original.entries.select_related("account").order_by("id"))
    legs = [Leg(account=entry.account, amount=-entry.amount) for entry in entries]
    source = (original.source_type, original.source_id) if original.source_id else None
    return ledger_post(
        studio=original.studio,
        kind=LedgerTransaction.Kind.REVERSAL,
        idempotency_key=idempotency_key,
        legs=legs,
        memo=memo or f"Reversal of {original.kind} {original.id}",
        by=by,
        source=source,
        reverses=original,
    )
