"""Client wallets: credit a contact holds with the studio, moved only through the ledger.

A wallet's money is its ledger account's balance; every move is one ``ledger_post`` with a
deterministic idempotency key, so a retried request is the same transaction. Beside the
ledger the wallet keeps two things, both changed only while its account row is locked:

- ``held``: the sum of its active holds. What can be spent is ``available = balance - held``,
  checked in ``before_apply`` (under the ledger's locks), so 50 concurrent spends of a wallet
  holding ten of them make exactly ten.
- credit lots: each credit with its expiry. A spend takes the lots that expire first (the
  never-expiring ones last); the expiry sweep moves what is left of an expired lot to
  breakage, once per lot (its key is the lot's id and the lot is closed in the same
  transaction).

Lock order (every function here, and the payments seam: they post first, which locks the
account, then call ``wallet_credit_recorded``): the ledger accounts (``accounts_lock``, by id),
then the wallet row, then its hold or lot rows. Nothing locks a wallet row before its account.

A generic ledger reversal (the ledger's own reverse endpoint) knows neither holds nor lots:
``wallet_transaction_reverse`` is the wallet-aware one (it keeps ``available`` from going
below zero and the lots in step); the generic one leaves lots that overstate or understate
the balance, which the sweeps absorb (an expiry never takes more than is there).
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings as django_settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from accounts.models import Studio, User
from billing.models import (
    BillingSettings,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Wallet,
    WalletCreditLot,
    WalletHold,
)
from billing.money import MAX_MINOR, Money, currency_valid, money_format
from billing.services.ledger import (
    Leg,
    PostResult,
    account_for,
    accounts_lock,
    credit,
    debit,
    ledger_post,
)
from billing.tax_ids import TaxIdError, tax_id_check
from crm.countries import country_valid
from crm.models import Contact
from domains.selectors import studio_site_url
from picpick.core.email import email_send_on_commit
from picpick.core.errors import ApplicationError, Conflict, NotFound

logger = logging.getLogger(__name__)

Kind = LedgerAccount.Kind
TxKind = LedgerTransaction.Kind
HoldState = WalletHold.State

# Why the studio gives credit (the grant's memo starts with the label).
GRANT_REASONS = {
    "referral": "Referral reward",
    "goodwill": "Goodwill",
    "prepaid": "Prepaid package",
    "other": "Other",
}
MAX_HOLD_DAYS = 30
MAX_GIFT_CARD_AMOUNTS = 20
SWEEP_BATCH = 500
# The client's wallet page link (in the expiry reminder): signed with this salt.
WALLET_LINK_SALT = "billing.wallet-page"


# --- input checks ---------------------------------------------------------------------------


def amount_check(amount: Any, *, field: str = "amount") -> int:
    """A positive ``int`` of minor units up to ``MAX_MINOR``, or the 400 saying what is wrong."""
    if type(amount) is not int:  # bool, float, Decimal, str: never
        code = "amount_float" if isinstance(amount, float) else "amount_invalid"
        raise ApplicationError(
            "An amount is an integer of minor units.", code=code, fields={field: ["Invalid."]}
        )
    if amount <= 0:
        raise ApplicationError(
            "The amount must be more than zero.",
            code="amount_not_positive",
            fields={field: ["Must be more than zero."]},
        )
    if amount > MAX_MINOR:
        raise ApplicationError(
            f"The amount is larger than {MAX_MINOR} minor units.",
            code="amount_too_large",
            fields={field: ["Too large."]},
        )
    return amount


def currency_check(currency: str | None, *, expected: str) -> None:
    """``currency`` (when given) is ``expected``: a wallet or card holds one currency."""
    if currency is None or currency == expected:
        return
    if not currency_valid(currency):
        raise ApplicationError(
            f"Unknown currency {currency!r}.",
            code="currency_unknown",
            fields={"currency": ["Unknown currency."]},
        )
    raise ApplicationError(
        f"This holds {expected}, not {currency}.",
        code="currency_mismatch",
        fields={"currency": [f"Must be {expected}."]},
    )


def text_clean(value: str, *, field: str, max_length: int, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ApplicationError(
            f"{field} is required.", code="invalid", fields={field: ["Required."]}
        )
    if len(value) > max_length:
        raise ApplicationError(
            f"{field} is longer than {max_length} characters.",
            code="invalid",
            fields={field: [f"At most {max_length} characters."]},
        )
    return value


def studio_account(*, studio: Studio, kind: str, currency: str) -> LedgerAccount:
    """One of the studio's own accounts (revenue, adjustment, refunds, breakage), made if new.

    Called before the posting's transaction, not in it: a new account made inside a posting
    that then fails (``insufficient_funds``) is rolled back with it, and InnoDB answers every
    request that queued behind that insert with a deadlock. Made on its own, it is committed
    at once and the postings only read it. (Inside a caller's transaction it is made there.)
    """
    return account_for(studio=studio, kind=kind, currency=currency)


# --- the studio's billing settings ----------------------------------------------------------


def billing_settings_get(*, studio: Studio) -> BillingSettings:
    """The studio's settings, made with the defaults the first time (race-safe)."""
    found = BillingSettings.objects.filter(studio=studio).first()
    if found is not None:
        found.studio = studio
        return found
    try:
        with transaction.atomic():
            made = BillingSettings.objects.create(studio=studio, currency=studio.default_currency)
    except IntegrityError:
        made = BillingSettings.objects.get(studio=studio)
    made.studio = studio
    return made


_SETTINGS_FIELDS = {
    "currency",
    "wallet_credit_expiry_days",
    "wallet_expiry_reminder_days",
    "gift_card_amounts",
    "gift_card_min",
    "gift_card_max",
    "gift_card_expiry_months",
    # invoicing
    "invoice_prefix",
    "credit_note_prefix",
    "quote_prefix",
    "number_padding",
    "rounding",
    "payment_terms_days",
    "dunning_days",
    "reminder_days_before",
    "remind_on_due",
    "reminder_days_overdue",
    "late_fee_fixed",
    "late_fee_percent",
    "late_fee_every_days",
    "late_fee_cap",
    "late_fee_grace_days",
    "legal_name",
    "address",
    "country",
    "tax_id",
    "invoice_footer",
}


def billing_settings_update(
    *, studio: Studio, changes: dict[str, Any], by: User | None = None
) -> BillingSettings:
    """Change the settings named in ``changes``; the whole result is checked (limits both or
    neither, min <= max, amounts positive and unique) before anything is saved. Credit lots
    and gift cards made before keep the expiry they were given."""
    unknown = set(changes) - _SETTINGS_FIELDS
    if unknown:
        raise ApplicationError(f"Unknown settings: {sorted(unknown)}.", code="invalid")
    with transaction.atomic():
        current = billing_settings_get(studio=studio)
        row = BillingSettings.objects.select_for_update().get(id=current.id)
        row.studio = studio
        for name, value in changes.items():
            setattr(row, name, value)
        _settings_check(row)
        row.save(update_fields=[*sorted(changes), "updated_at"])
    logger.info(
        "billing settings changed",
        extra={
            "studio": str(studio.id),
            "by": str(by.id) if by else None,
            "fields": sorted(changes),
        },
    )
    return row


def _settings_check(row: BillingSettings) -> None:
    if not currency_valid(row.currency):
        raise ApplicationError(
            f"Unknown currency {row.currency!r}.",
            code="currency_unknown",
            fields={"currency": ["Unknown currency."]},
        )
    amounts = row.gift_card_amounts
    if not isinstance(amounts, list) or len(amounts) > MAX_GIFT_CARD_AMOUNTS:
        raise ApplicationError(
            f"Gift card amounts are a list of at most {MAX_GIFT_CARD_AMOUNTS}.",
            code="invalid",
            fields={"gift_card_amounts": ["Invalid list."]},
        )
    for amount in amounts:
        amount_check(amount, field="gift_card_amounts")
    if len(set(amounts)) != len(amounts):
        raise ApplicationError(
            "Gift card amounts are listed once each.",
            code="invalid",
            fields={"gift_card_amounts": ["Duplicate amount."]},
        )
    row.gift_card_amounts = sorted(amounts)
    low, high = row.gift_card_min, row.gift_card_max
    if (low is None) != (high is None):
        raise ApplicationError(
            "Give both gift card limits or neither.",
            code="gift_card_limits_invalid",
            fields={"gift_card_min": ["Both or neither."], "gift_card_max": ["Both or neither."]},
        )
    if low is not None:
        amount_check(low, field="gift_card_min")
        amount_check(high, field="gift_card_max")
        if low > high:
            raise ApplicationError(
                "The gift card minimum is above the maximum.",
                code="gift_card_limits_invalid",
                fields={"gift_card_min": ["Above the maximum."]},
            )
    _invoicing_check(row)


_PREFIX = re.compile(r"(?:[A-Za-z0-9_-]|\{year\})*")
_DAY_LISTS = ("dunning_days", "reminder_days_before", "reminder_days_overdue")
_TEXTS = {"legal_name": 200, "address": 1000, "invoice_footer": 2000}


def _bad(field: str, message: str, code: str = "invalid") -> ApplicationError:
    return ApplicationError(message, code=code, fields={field: [message]})


def _whole(value: Any, field: str, low: int, high: int, *, null: bool = False) -> None:
    if value is None and null:
        return
    if type(value) is not int or not low <= value <= high:
        raise _bad(field, f"{field} is a whole number from {low} to {high}.")


def _invoicing_check(row: BillingSettings) -> None:
    """The invoicing settings: numbers' prefixes and padding, rounding, the reminder and
    dunning days, the late fee, and the studio's country and tax id as invoices print them."""
    prefixes = {}
    for field in ("invoice_prefix", "credit_note_prefix", "quote_prefix"):
        value = getattr(row, field)
        if not isinstance(value, str) or len(value) > 20 or not _PREFIX.fullmatch(value):
            raise _bad(
                field,
                "A prefix is at most 20 letters, digits, '-' or '_', and may hold {year}.",
                "number_prefix_invalid",
            )
        prefixes[field] = value.replace("{year}", "2000")
    # Invoices and credit notes share one table of numbers: neither series may make the other's.
    first, second = prefixes["invoice_prefix"], prefixes["credit_note_prefix"]
    if first.startswith(second) or second.startswith(first):
        raise _bad(
            "credit_note_prefix",
            "The invoice and credit note prefixes differ, neither beginning with the other.",
            "number_prefix_clash",
        )
    _whole(row.number_padding, "number_padding", 1, 10)
    if row.rounding not in ("half_even", "half_up"):
        raise _bad("rounding", "Rounding is half_even or half_up.")
    _whole(row.payment_terms_days, "payment_terms_days", 0, 365)
    for field in _DAY_LISTS:
        days = getattr(row, field)
        if (
            not isinstance(days, list)
            or len(days) > 10
            or any(type(day) is not int or not 0 <= day <= 365 for day in days)
            or any(later <= earlier for earlier, later in itertools.pairwise(days))
        ):
            raise _bad(
                field, "At most 10 whole days from 0 to 365, in ascending order.", "days_invalid"
            )
    if not isinstance(row.remind_on_due, bool):
        raise _bad("remind_on_due", "true or false.")
    _late_fee_check(row)
    for field, limit in _TEXTS.items():
        setattr(row, field, text_clean(getattr(row, field), field=field, max_length=limit))
    row.country = (row.country or "").strip().upper()
    if row.country and not country_valid(row.country):
        raise _bad("country", "An ISO 3166 country code such as FR.", "country_invalid")
    try:
        row.tax_id = tax_id_check(country=row.country, value=row.tax_id or "")
    except TaxIdError as exc:
        raise _bad("tax_id", exc.message, exc.code) from None


def _late_fee_check(row: BillingSettings) -> None:
    fixed, percent = row.late_fee_fixed, row.late_fee_percent
    if fixed is not None and percent is not None:
        raise _bad(
            "late_fee_percent",
            "A late fee is a fixed amount or a percent, not both.",
            "late_fee_invalid",
        )
    if fixed is not None and (type(fixed) is not int or not 0 <= fixed <= MAX_MINOR):
        raise _bad(
            "late_fee_fixed",
            "A fixed late fee is a whole amount of minor units, >= 0.",
            "late_fee_invalid",
        )
    if percent is not None:
        if isinstance(percent, float | bool):
            raise _bad(
                "late_fee_percent",
                "A percent is a decimal string, never a float.",
                "late_fee_invalid",
            )
        try:
            percent = Decimal(str(percent))
        except ArithmeticError:
            raise _bad("late_fee_percent", "A percent is a number.", "late_fee_invalid") from None
        places = -int(percent.as_tuple().exponent) if percent.is_finite() else 99
        if places > 4 or not 0 <= percent <= 100:
            raise _bad(
                "late_fee_percent",
                "A percent from 0 to 100 with at most 4 decimals.",
                "late_fee_invalid",
            )
        row.late_fee_percent = percent
    cap = row.late_fee_cap
    if cap is not None and (type(cap) is not int or not 0 <= cap <= MAX_MINOR):
        raise _bad(
            "late_fee_cap", "A cap is a whole amount of minor units, >= 0.", "late_fee_invalid"
        )
    _whole(row.late_fee_every_days, "late_fee_every_days", 1, 365, null=True)
    _whole(row.late_fee_grace_days, "late_fee_grace_days", 0, 365)


# --- wallets --------------------------------------------------------------------------------


def wallet_for(*, studio: Studio, contact: Contact, currency: str) -> Wallet:
    """The contact's wallet in ``currency``, opened if it has none (race-safe: two first
    credits at once make one wallet). Its ``account`` is the ledger account to credit."""
    if contact.studio_id != studio.id:
        raise NotFound("Contact not found.")
    if not currency_valid(currency):
        raise ApplicationError(
            f"Unknown currency {currency!r}.",
            code="currency_unknown",
            fields={"currency": ["Unknown currency."]},
        )
    found = _wallet_find(studio=studio, contact=contact, currency=currency)
    if found is not None:
        return found
    if contact.merged_into_id is not None:
        raise Conflict("This contact was merged into another.", code="contact_merged")
    if contact.erased_at is not None:
        raise Conflict("This contact was erased.", code="contact_erased")
    name = f"Wallet of {contact}"[:120]
    account = account_for(
        studio=studio, kind=Kind.WALLET, currency=currency, contact=contact, name=name
    )
    try:
        with transaction.atomic():
            wallet = Wallet.objects.create(
                studio=studio, contact=contact, currency=currency, account=account
            )
    except IntegrityError:
        wallet = _wallet_find(studio=studio, contact=contact, currency=currency)
        if wallet is None:
            raise
        return wallet
    wallet.studio = studio
    wallet.contact = contact
    return wallet


def _wallet_find(*, studio: Studio, contact: Contact, currency: str) -> Wallet | None:
    wallet = (
        Wallet.objects.filter(studio=studio, contact=contact, currency=currency)
        .select_related("account")
        .first()
    )
    if wallet is not None:
        wallet.studio = studio
        wallet.contact = contact
    return wallet


def wallet_lot_expiry(*, wallet: Wallet, now: dt.datetime | None = None) -> dt.datetime | None:
    """When a credit made now to ``wallet`` expires under the studio's settings (None: never)."""
    days = billing_settings_get(studio=wallet.studio).wallet_credit_expiry_days
    if days is None:
        return None
    return (now or timezone.now()) + dt.timedelta(days=days)


def _lot_create(
    *,
    wallet: Wallet,
    amount: int,
    source: LedgerTransaction,
    expires_at: dt.datetime | None,
) -> WalletCreditLot:
    remind_at = None
    if expires_at is not None:
        days = billing_settings_get(studio=wallet.studio).wallet_expiry_reminder_days
        remind_at = expires_at - dt.timedelta(days=days)
    return WalletCreditLot.objects.create(
        studio_id=wallet.studio_id,
        wallet=wallet,
        amount=amount,
        remaining=amount,
        is_open=True,
        expires_at=expires_at,
        remind_at=remind_at,
        source=source,
    )


def _lots_consume(*, wallet: Wallet, amount: int, first_source: uuid.UUID | None = None) -> None:
    """Take ``amount`` off the wallet's open lots: those of ``first_source`` first (a reversed
    credit), then the first to expire, the never-expiring last. Credit no lot records (a
    generic reversal of a spend) is taken last, so a shortfall here is not an error."""
    lots = list(
        WalletCreditLot.objects.select_for_update()
        .filter(wallet=wallet, is_open=True)
        .order_by(F("expires_at").asc(nulls_last=True), "id")
    )
    if first_source is not None:
        lots.sort(key=lambda lot: lot.source_id != first_source)  # stable: keeps the order
    left = amount
    changed = []
    for lot in lots:
        if left == 0:
            break
        take = min(lot.remaining, left)
        lot.remaining -= take
        lot.is_open = lot.remaining > 0
        left -= take
        changed.append(lot)
    if changed:
        WalletCreditLot.objects.bulk_update(changed, ["remaining", "is_open"])


def _wallet_locked(wallet: Wallet) -> Wallet:
    """The wallet row, locked (after its account: see the module's lock order)."""
    row = Wallet.objects.select_for_update().get(id=wallet.id)
    row.studio = wallet.studio
    return row


def _available_check(*, wallet: Wallet, locked: dict, amount: int) -> None:
    row = _wallet_locked(wallet)
    balance = locked[wallet.account_id].balance
    available = balance - row.held
    if amount > available:
        raise Conflict(
            "The wallet does not hold enough available credit.",
            code="insufficient_funds",
            extra={"available": available, "currency": wallet.currency},
        )


def wallet_credit_recorded(
    *,
    wallet: Wallet,
    amount: int,
    transaction: LedgerTransaction,
    expires_at: dt.datetime | None = None,
) -> WalletCreditLot:
    """The payments seam: ``transaction`` (theirs, in this same database transaction) credited
    ``amount`` to ``wallet.account``; record it as a credit lot expiring at ``expires_at``
    (``wallet_lot_expiry`` gives the studio's). Called again for the same transaction it
    returns the lot already recorded."""
    amount_check(amount)
    existing = WalletCreditLot.objects.filter(wallet=wallet, source=transaction).first()
    if existing is not None:
        return existing
    credited = -(
        LedgerEntry.objects.filter(transaction=transaction, account_id=wallet.account_id)
        .aggregate(total=Sum("amount"))
        .get("total")
        or 0
    )
    if transaction.studio_id != wallet.studio_id or credited != amount:
        raise Conflict(
            "The transaction did not credit this amount to the wallet.",
            code="wallet_credit_mismatch",
            extra={"credited": credited, "amount": amount},
        )
    return _lot_create(wallet=wallet, amount=amount, source=transaction, expires_at=expires_at)


def wallet_grant(
    *,
    wallet: Wallet,
    amount: int,
    reason: str,
    idempotency_key: str,
    note: str = "",
    currency: str | None = None,
    by: User | None = None,
    now: dt.datetime | None = None,
) -> PostResult:
    """The studio gives the client credit (debit the studio's adjustment account, credit the
    wallet), expiring as the studio's settings say."""
    amount_check(amount)
    currency_check(currency, expected=wallet.currency)
    if reason not in GRANT_REASONS:
        raise ApplicationError(
            f"The reason is one of {sorted(GRANT_REASONS)}.",
            code="invalid_reason",
            fields={"reason": ["Unknown reason."]},
        )
    note = text_clean(note, field="note", max_length=250)
    memo = f"{GRANT_REASONS[reason]}: {note}" if note else GRANT_REASONS[reason]
    return _credit_with_lot(
        wallet=wallet,
        source_kind=Kind.ADJUSTMENT,
        kind=TxKind.WALLET_GRANT,
        amount=amount,
        idempotency_key=f"wallet-grant:{idempotency_key}",
        memo=memo,
        by=by,
        now=now,
    )


def _credit_with_lot(
    *,
    wallet: Wallet,
    source_kind: str,
    kind: str,
    amount: int,
    idempotency_key: str,
    memo: str,
    by: User | None,
    now: dt.datetime | None,
    source: LedgerAccount | None = None,
) -> PostResult:
    """Credit the wallet from the studio's ``source_kind`` account (or ``source``), and a
    credit lot with the studio's expiry when the posting is new (a replayed key adds no second
    lot)."""
    if source is None:
        source = studio_account(studio=wallet.studio, kind=source_kind, currency=wallet.currency)
    # Read (and on first use made) before the posting, like the studio's accounts.
    expires_at = wallet_lot_expiry(wallet=wallet, now=now)
    with transaction.atomic():
        result = ledger_post(
            studio=wallet.studio,
            kind=kind,
            idempotency_key=idempotency_key,
            legs=[debit(source, amount), credit(wallet.account, amount)],
            memo=memo,
            by=by,
            source=("wallet", wallet.id),
        )
        if result.created:
            _lot_create(
                wallet=wallet, amount=amount, source=result.transaction, expires_at=expires_at
            )
    return result


def wallet_credit_from(
    *,
    wallet: Wallet,
    source: LedgerAccount,
    amount: int,
    idempotency_key: str,
    reference: str,
    by: User | None = None,
    now: dt.datetime | None = None,
) -> PostResult:
    """Credit the wallet from one of the studio's own accounts (debit ``source``): an invoice
    paid twice over leaves its receivable in credit, and the excess becomes the client's
    wallet credit (kind ``overpayment``), with a credit lot like a top-up."""
    amount_check(amount)
    reference = text_clean(reference, field="reference", max_length=300, required=True)
    return _credit_with_lot(
        wallet=wallet,
        source_kind=source.kind,
        kind=TxKind.OVERPAYMENT,
        amount=amount,
        idempotency_key=f"wallet-credit:{idempotency_key}",
        memo=reference,
        by=by,
        now=now,
        source=source,
    )


def wallet_refund(
    *,
    wallet: Wallet,
    amount: int,
    idempotency_key: str,
    reference: str,
    by: User | None = None,
    currency: str | None = None,
    now: dt.datetime | None = None,
) -> PostResult:
    """Money given back as wallet credit instead of to the card (debit refunds, credit the
    wallet); a credit lot with the studio's expiry, like a top-up."""
    amount_check(amount)
    currency_check(currency, expected=wallet.currency)
    reference = text_clean(reference, field="reference", max_length=300, required=True)
    return _credit_with_lot(
        wallet=wallet,
        source_kind=Kind.REFUNDS,
        kind=TxKind.WALLET_REFUND,
        amount=amount,
        idempotency_key=f"wallet-refund:{idempotency_key}",
        memo=reference,
        by=by,
        now=now,
    )


def wallet_spend(
    *,
    wallet: Wallet,
    amount: int,
    reference: str,
    idempotency_key: str,
    by: User | None = None,
    currency: str | None = None,
    to: LedgerAccount | None = None,
) -> PostResult:
    """Pay ``amount`` from the wallet for ``reference`` (debit the wallet, credit revenue, or
    ``to``: an invoice's receivable when the wallet pays an invoice). Refused with 409
    ``insufficient_funds`` beyond ``balance - held``, checked under the ledger's lock of the
    wallet's account."""
    amount_check(amount)
    currency_check(currency, expected=wallet.currency)
    reference = text_clean(reference, field="reference", max_length=300, required=True)
    target = to or studio_account(studio=wallet.studio, kind=Kind.REVENUE, currency=wallet.currency)
    with transaction.atomic():
        result = ledger_post(
            studio=wallet.studio,
            kind=TxKind.WALLET_SPEND,
            idempotency_key=f"wallet-spend:{idempotency_key}",
            legs=[debit(wallet.account, amount), credit(target, amount)],
            memo=reference,
            by=by,
            source=("wallet", wallet.id),
            before_apply=lambda locked: _available_check(
                wallet=wallet, locked=locked, amount=amount
            ),
        )
        if result.created:
            _lots_consume(wallet=wallet, amount=amount)
    return result


# --- holds ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldResult:
    hold: WalletHold
    created: bool


def wallet_hold(
    *,
    wallet: Wallet,
    amount: int,
    reference: str,
    expires_at: dt.datetime,
    idempotency_key: str,
    by: User | None = None,
    currency: str | None = None,
    now: dt.datetime | None = None,
) -> HoldResult:
    """Reserve ``amount`` of the wallet for a checkout in progress until ``expires_at``; the
    same key again is the same hold (another request with it is a 409)."""
    amount_check(amount)
    currency_check(currency, expected=wallet.currency)
    reference = text_clean(reference, field="reference", max_length=200, required=True)
    now = now or timezone.now()
    if expires_at <= now or expires_at > now + dt.timedelta(days=MAX_HOLD_DAYS):
        raise ApplicationError(
            f"A hold expires in the future, within {MAX_HOLD_DAYS} days.",
            code="invalid_expiry",
            fields={"expires_at": ["Out of range."]},
        )
    key = f"wallet-hold:{idempotency_key}"
    with transaction.atomic():
        locked = accounts_lock([wallet.account])
        row = _wallet_locked(wallet)
        existing = WalletHold.objects.filter(
            studio_id=wallet.studio_id, idempotency_key=key
        ).first()
        if existing is not None:
            if (existing.wallet_id, existing.amount, existing.reference) != (
                wallet.id,
                amount,
                reference,
            ):
                raise Conflict(
                    "This Idempotency-Key was used for another hold.",
                    code="idempotency_key_reused",
                )
            return HoldResult(hold=existing, created=False)
        available = locked[wallet.account_id].balance - row.held
        if amount > available:
            raise Conflict(
                "The wallet does not hold enough available credit.",
                code="insufficient_funds",
                extra={"available": available, "currency": wallet.currency},
            )
        try:
            with transaction.atomic():
                hold = WalletHold.objects.create(
                    studio_id=wallet.studio_id,
                    wallet=wallet,
                    amount=amount,
                    reference=reference,
                    expires_at=expires_at,
                    idempotency_key=key,
                    created_by=by,
                )
        except IntegrityError:
            # The same key, for a hold of another wallet, committed first.
            raise Conflict(
                "This Idempotency-Key was used for another hold.", code="idempotency_key_reused"
            ) from None
        Wallet.objects.filter(id=wallet.id).update(held=F("held") + amount)
    return HoldResult(hold=hold, created=True)


def _hold_refuse(hold: WalletHold, *, now: dt.datetime) -> None:
    if hold.state != HoldState.HELD:
        raise Conflict(f"This hold was {hold.state}.", code=f"hold_{hold.state}")
    if hold.expires_at <= now:
        raise Conflict("This hold has expired.", code="hold_expired")


def wallet_hold_capture(
    *,
    hold: WalletHold,
    amount: int | None = None,
    by: User | None = None,
    now: dt.datetime | None = None,
) -> PostResult:
    """Spend the held amount, or less (the rest is released): once per hold, whatever the
    request (a retried capture of the same amount answers the same transaction)."""
    amount = hold.amount if amount is None else amount
    amount_check(amount)
    if amount > hold.amount:
        raise ApplicationError(
            "A capture takes at most the held amount.",
            code="capture_exceeds_hold",
            fields={"amount": [f"At most {hold.amount}."]},
        )
    now = now or timezone.now()
    wallet = hold.wallet
    current = WalletHold.objects.filter(id=hold.id).values_list("state", "captured_amount")[0]
    if current[0] == HoldState.CAPTURED and current[1] != amount:
        # Captured before with another amount: say so (the ledger would answer a reused key).
        raise Conflict("This hold was captured.", code="hold_captured")

    def guard(locked: dict) -> None:
        _wallet_locked(wallet)
        row = WalletHold.objects.select_for_update().get(id=hold.id)
        _hold_refuse(row, now=now)

    revenue = studio_account(studio=wallet.studio, kind=Kind.REVENUE, currency=wallet.currency)
    with transaction.atomic():
        result = ledger_post(
            studio=wallet.studio,
            kind=TxKind.WALLET_SPEND,
            idempotency_key=f"wallet-hold-capture:{hold.id}",
            legs=[debit(wallet.account, amount), credit(revenue, amount)],
            memo=hold.reference,
            by=by,
            source=("wallet", wallet.id),
            before_apply=guard,
        )
        if result.created:
            WalletHold.objects.filter(id=hold.id).update(
                state=HoldState.CAPTURED,
                captured_amount=amount,
                capture=result.transaction,
                closed_at=now,
                updated_at=now,
            )
            Wallet.objects.filter(id=wallet.id).update(held=F("held") - hold.amount)
            _lots_consume(wallet=wallet, amount=amount)
    return result


def _hold_close(*, hold_id: uuid.UUID, state: str, now: dt.datetime) -> WalletHold | None:
    """Release or expire one held hold; None when it was no longer held (or, for the sweep,
    not yet expired)."""
    with transaction.atomic():
        hold = WalletHold.objects.select_related("wallet__account").get(id=hold_id)
        accounts_lock([hold.wallet.account])
        _wallet_locked(hold.wallet)
        row = WalletHold.objects.select_for_update().get(id=hold_id)
        if row.state != HoldState.HELD:
            return None
        if state == HoldState.EXPIRED and row.expires_at > now:
            return None
        row.state = state
        row.closed_at = now
        row.save(update_fields=["state", "closed_at", "updated_at"])
        Wallet.objects.filter(id=row.wallet_id).update(held=F("held") - row.amount)
    return row


def wallet_hold_release(
    *, hold: WalletHold, by: User | None = None, now: dt.datetime | None = None
) -> WalletHold:
    """Give the held amount back to what can be spent. Releasing a released hold is a no-op;
    a captured or expired one is a 409."""
    closed = _hold_close(hold_id=hold.id, state=HoldState.RELEASED, now=now or timezone.now())
    row = WalletHold.objects.get(id=hold.id)
    if closed is None and row.state != HoldState.RELEASED:
        raise Conflict(f"This hold was {row.state}.", code=f"hold_{row.state}")
    return row


def holds_expire(*, now: dt.datetime | None = None) -> int:
    """The sweep: release every hold whose time has passed (state "expired"). Each in its own
    transaction, so a long run holds no lock for long; a hold closed meanwhile is skipped."""
    now = now or timezone.now()
    ids = list(
        WalletHold.objects.filter(state=HoldState.HELD, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("id", flat=True)[:SWEEP_BATCH]
    )
    return sum(
        1 for hold_id in ids if _hold_close(hold_id=hold_id, state=HoldState.EXPIRED, now=now)
    )


# --- expiry ---------------------------------------------------------------------------------


def credits_expire(*, now: dt.datetime | None = None) -> int:
    """The sweep: each open lot past its expiry gives what is left of it to breakage (debit
    the wallet, credit breakage), exactly once (the lot's id is the key; the lot is closed in
    the same transaction). The number of lots closed."""
    now = now or timezone.now()
    ids = list(
        WalletCreditLot.objects.filter(is_open=True, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("id", flat=True)[:SWEEP_BATCH]
    )
    return sum(1 for lot_id in ids if _lot_expire(lot_id=lot_id, now=now))


def _lot_expire(*, lot_id: uuid.UUID, now: dt.datetime) -> bool:
    lot = WalletCreditLot.objects.select_related("wallet__account", "wallet__studio").get(id=lot_id)
    wallet = lot.wallet
    breakage = studio_account(studio=wallet.studio, kind=Kind.BREAKAGE, currency=wallet.currency)
    with transaction.atomic():
        locked = accounts_lock([wallet.account, breakage])
        row = _wallet_locked(wallet)
        lot = WalletCreditLot.objects.select_for_update().get(id=lot_id)
        if not lot.is_open or lot.expires_at is None or lot.expires_at > now:
            return False
        if row.held > 0:
            # A checkout in progress holds this money: the lot expires once it has ended.
            return False
        take = min(lot.remaining, locked[wallet.account_id].balance)
        if take > 0:
            ledger_post(
                studio=wallet.studio,
                kind=TxKind.WALLET_EXPIRED,
                idempotency_key=f"wallet-expire:{lot.id}",
                legs=[debit(wallet.account, take), credit(breakage, take)],
                memo="Wallet credit expired",
                source=("wallet", wallet.id),
            )
        lot.remaining = 0
        lot.is_open = False
        lot.expired_at = now
        lot.expired_amount = take
        lot.save(
            update_fields=["remaining", "is_open", "expired_at", "expired_amount", "updated_at"]
        )
    logger.info(
        "wallet credit expired",
        extra={"wallet": str(wallet.id), "lot": str(lot_id), "amount": take},
    )
    return True


def wallet_link_token(*, wallet: Wallet) -> str:
    """The signed token of the client's wallet page link (all the contact's wallets)."""
    return signing.dumps(
        {"s": str(wallet.studio_id), "c": str(wallet.contact_id)}, salt=WALLET_LINK_SALT
    )


def wallet_link_read(token: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(studio id, contact id) of a wallet page token; None when forged, malformed or older
    than ``PICPICK_WALLET_LINK_DAYS``."""
    try:
        data = signing.loads(
            token,
            salt=WALLET_LINK_SALT,
            max_age=dt.timedelta(days=django_settings.PICPICK_WALLET_LINK_DAYS),
        )
        return uuid.UUID(data["s"]), uuid.UUID(data["c"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def wallet_link_url(*, wallet: Wallet) -> str:
    return f"{studio_site_url(studio=wallet.studio)}/wallet/{wallet_link_token(wallet=wallet)}/"


def expiry_reminders(*, now: dt.datetime | None = None) -> int:
    """The sweep: one email per wallet whose credit expires within the studio's reminder days
    (each lot reminded once: claimed under its row lock). The number of emails queued."""
    now = now or timezone.now()
    wallet_ids = list(
        WalletCreditLot.objects.filter(
            is_open=True, remind_at__lte=now, reminded_at__isnull=True, expires_at__gt=now
        )
        .values_list("wallet_id", flat=True)
        .distinct()[:SWEEP_BATCH]
    )
    return sum(1 for wallet_id in wallet_ids if _wallet_remind(wallet_id=wallet_id, now=now))


def _wallet_remind(*, wallet_id: uuid.UUID, now: dt.datetime) -> bool:
    wallet = Wallet.objects.select_related("studio", "contact").get(id=wallet_id)
    with transaction.atomic():
        lots = list(
            WalletCreditLot.objects.select_for_update()
            .filter(
                wallet_id=wallet_id,
                is_open=True,
                remind_at__lte=now,
                reminded_at__isnull=True,
                expires_at__gt=now,
            )
            .order_by("expires_at", "id")
        )
        if not lots:
            return False
        WalletCreditLot.objects.filter(id__in=[lot.id for lot in lots]).update(
            reminded_at=now, updated_at=now
        )
        to = wallet.contact.email
        if not to:
            logger.info(
                "wallet expiry reminder skipped: the contact has no email",
                extra={"wallet": str(wallet.id)},
            )
            return False
        email_send_on_commit(
            subject=f"Your credit with {wallet.studio.name} expires soon"[:200],
            body=_reminder_body(wallet=wallet, lots=lots),
            to=[to],
        )
    return True


def _reminder_body(*, wallet: Wallet, lots: list[WalletCreditLot]) -> str:
    lines = []
    for lot in lots:
        when = timezone.localtime(lot.expires_at, _zone(wallet.studio)).strftime("%d %B %Y")
        amount = money_format(Money(lot.remaining, wallet.currency), wallet.studio.locale or "en")
        lines.append(f"  {amount} on {when}")
    name = wallet.contact.first_name or "there"
    return (
        f"Hi {name},\n\n"
        f"Part of your credit with {wallet.studio.name} expires soon:\n\n"
        + "\n".join(lines)
        + "\n\nUse it before then. Your balance and history:\n"
        + f"{wallet_link_url(wallet=wallet)}\n\n{wallet.studio.name}\n"
    )


def _zone(studio: Studio):
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(studio.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


# --- reversal -------------------------------------------------------------------------------


def wallet_transaction_reverse(
    *,
    wallet: Wallet,
    transaction_id: uuid.UUID,
    idempotency_key: str,
    by: User | None = None,
    memo: str = "",
    now: dt.datetime | None = None,
) -> PostResult:
    """Undo a posting that moved this wallet's money (a grant, a refund, a top-up, a spend),
    keeping the wallet's rules the generic reversal does not know: taking credit back may not
    leave ``available`` below zero (a hold keeps its money), and the lots follow (a reversed
    credit closes its own lot first; a reversed spend is a new credit with today's expiry)."""
    original = LedgerTransaction.objects.filter(
        studio_id=wallet.studio_id, id=transaction_id
    ).first()
    if original is None:
        raise NotFound("Transaction not found.")
    entries = list(LedgerEntry.objects.filter(transaction=original).select_related("account"))
    own = sum(entry.amount for entry in entries if entry.account_id == wallet.account_id)
    if own == 0:
        raise NotFound("This transaction did not move this wallet's money.")
    # Credit-normal: a credit (negative entry) raised the balance; its reversal lowers it.
    lowers = -own if own < 0 else 0
    memo = text_clean(memo, field="memo", max_length=300)
    expires_at = wallet_lot_expiry(wallet=wallet, now=now)  # for a reversed spend's new credit

    def guard(locked: dict) -> None:
        if lowers:
            _available_check(wallet=wallet, locked=locked, amount=lowers)

    with transaction.atomic():
        result = ledger_post(
            studio=wallet.studio,
            kind=TxKind.REVERSAL,
            idempotency_key=f"wallet-reverse:{idempotency_key}",
            legs=[Leg(account=entry.account, amount=-entry.amount) for entry in entries],
            memo=memo or f"Reversal of {original.kind}",
            by=by,
            source=("wallet", wallet.id),
            reverses=original,
            before_apply=guard,
        )
        if result.created:
            if lowers:
                _lots_consume(wallet=wallet, amount=lowers, first_source=original.id)
            else:
                _lot_create(
                    wallet=wallet,
                    amount=own,
                    source=result.transaction,
                    expires_at=expires_at,
                )
    return result


__all__ = [
    "GRANT_REASONS",
    "HoldResult",
    "amount_check",
    "billing_settings_get",
    "billing_settings_update",
    "credits_expire",
    "currency_check",
    "expiry_reminders",
    "holds_expire",
    "studio_account",
    "text_clean",
    "wallet_credit_recorded",
    "wallet_for",
    "wallet_grant",
    "wallet_hold",
    "wallet_hold_capture",
    "wallet_hold_release",
    "wallet_link_read",
    "wallet_link_token",
    "wallet_link_url",
    "wallet_lot_expiry",
    "wallet_refund",
    "wallet_spend",
    "wallet_transaction_reverse",
]
