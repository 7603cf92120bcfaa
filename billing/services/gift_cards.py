"""Gift cards: sold on the studio's site (the payments seam) or issued by the studio, delivered
by email, redeemed by code, expired to breakage.

Life of a card: ``pending_payment`` (``gift_card_prepare``, before the charge) -> ``active``
(``gift_card_activate``, in the payment's own database transaction, or ``gift_card_issue``) ->
``used`` (redeemed to zero), ``expired`` (the sweep) or ``void``. A card that was never paid
(``gift_card_abandon``) is void too.

Codes: 16 characters of Crockford's base32 from ``secrets`` (80 bits), shown as
``XXXX-XXXX-XXXX-XXXX``. What people type is normalised (case, dashes, spaces; O is 0, I and
L are 1) before it is hashed, so a misread character still finds the card. The code is never
stored in clear: ``code_hash`` is an HMAC-SHA256 under a key derived from
``PICPICK_GIFT_CARD_KEY`` (one indexed read finds a card; a stolen table gives no code), and
``code_sealed`` keeps it Fernet-encrypted only until the delivery email is sent. Nobody can
show a code again after that: ``gift_card_resend`` gives the card a new code (the old one
stops working) and sends it.

Guessing: a wrong code costs one slot of the client address (``PICPICK_GIFT_CARD_GUESSES_PER_
ADDRESS`` per ``..._GUESS_WINDOW_SECONDS``) and one of the studio's ceiling (per hour), taken
before the lookup and given back when the code was right, counted atomically in the cache.

Void (the studio's): a card the studio issued can be voided whatever is left on it (the rest
goes back to the adjustment account it came from). A card a client bought cannot: its money is
the buyer's, so it is refunded through the payment (payments' side), not voided here.

Lock order: the card's ledger account (through the ledger), then the card row.
"""

from __future__ import annotations

import base64
import calendar
import datetime as dt
import hashlib
import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError
from django.db import transaction as db_transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Studio, User
from billing.models import GiftCard, LedgerAccount, LedgerEntry, LedgerTransaction
from billing.money import Money, currency_valid, money_format
from billing.services.ledger import (
    PostResult,
    account_for,
    accounts_lock,
    credit,
    debit,
    ledger_post,
)
from billing.services.wallets import (
    amount_check,
    billing_settings_get,
    currency_check,
    studio_account,
    text_clean,
)
from domains.selectors import studio_site_url
from picpick.core import ratelimit
from picpick.core.email import email_send_on_commit
from picpick.core.errors import ApplicationError, Conflict, NotFound, RateLimited
from picpick.core.ids import uuid7

logger = logging.getLogger(__name__)

Kind = LedgerAccount.Kind
TxKind = LedgerTransaction.Kind
State = GiftCard.State
Origin = GiftCard.Origin

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O, U
CODE_LENGTH = 16
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
MAX_MESSAGE = 1000
MAX_DELIVER_DAYS = 366
# A card issued with no recipient keeps its sealed code this long, so that a retried issue
# (the same Idempotency-Key, its first answer lost) can show the code again; then it is gone.
ISSUE_REPLAY = dt.timedelta(hours=1)
SWEEP_BATCH = 500


# --- codes ----------------------------------------------------------------------------------


def code_generate() -> str:
    """A new code, grouped for people: ``7K3M-0QXR-9TBW-C2HD``."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def code_normalise(typed: str) -> str | None:
    """The 16 characters a typed code stands for, or None when it cannot be one."""
    if not isinstance(typed, str) or len(typed) > 64:
        return None
    text = "".join(typed.split()).replace("-", "").upper().translate(_READ_AS)
    if len(text) != CODE_LENGTH or any(char not in ALPHABET for char in text):
        return None
    return text


def _base_key() -> bytes:
    key = settings.PICPICK_GIFT_CARD_KEY or settings.SECRET_KEY
    return hashlib.sha256(f"picpick gift cards:{key}".encode()).digest()


def _derived(purpose: str) -> bytes:
    return hmac.new(_base_key(), purpose.encode(), hashlib.sha256).digest()


def code_hash(normalised: str) -> str:
    return hmac.new(_derived("code-hash"), normalised.encode(), hashlib.sha256).hexdigest()


def _fernet() -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derived("code-seal")))


def code_seal(code: str) -> str:
    return _fernet().encrypt(code.encode()).decode()


def code_unseal(sealed: str) -> str | None:
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def _new_code() -> tuple[str, str]:
    code = code_generate()
    return code, code_hash(code_normalise(code))  # type: ignore[arg-type]


# --- helpers --------------------------------------------------------------------------------


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """``moment`` plus whole calendar months (31 January + 1 month = the last of February)."""
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _email(value: str, *, field: str, required: bool) -> str:
    value = text_clean(value, field=field, max_length=254, required=required).lower()
    if value:
        try:
            validate_email(value)
        except ValidationError as exc:
            raise ApplicationError(
                f"{field} is not a valid email address.",
                code="invalid",
                fields={field: ["Not a valid email address."]},
            ) from exc
    return value


def _deliver_at(value: dt.datetime | None, *, now: dt.datetime) -> dt.datetime:
    if value is None or value <= now:
        return now
    if value > now + dt.timedelta(days=MAX_DELIVER_DAYS):
        raise ApplicationError(
            f"A card is delivered within {MAX_DELIVER_DAYS} days.",
            code="invalid",
            fields={"deliver_at": ["Too far ahead."]},
        )
    return value


def _card_account(*, studio: Studio, card_id: uuid.UUID, currency: str, last4: str):
    return account_for(
        studio=studio,
        kind=Kind.GIFT_CARD,
        currency=currency,
        reference=str(card_id),
        name=f"Gift card …{last4}",
    )


def _card_locked(card: GiftCard) -> GiftCard:
    row = GiftCard.objects.select_for_update().select_related("account").get(id=card.id)
    row.studio = card.studio
    return row


def _deliver_soon(card: GiftCard) -> None:
    from billing.tasks.gift_cards import gift_card_deliver_soon

    card_id = card.id
    db_transaction.on_commit(lambda: gift_card_deliver_soon(card_id), robust=True)


def gift_card_amount_allowed(*, studio: Studio, amount: int) -> bool:
    options = billing_settings_get(studio=studio)
    if amount in options.gift_card_amounts:
        return True
    low, high = options.gift_card_min, options.gift_card_max
    return low is not None and high is not None and low <= amount <= high


# --- the payments seam: a card bought on the studio's site ---------------------------------


def gift_card_prepare(
    *,
    studio: Studio,
    amount: int,
    currency: str,
    buyer_name: str,
    buyer_email: str,
    recipient_name: str,
    recipient_email: str,
    message: str = "",
    deliver_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> GiftCard:
    """A card to be paid for (state ``pending_payment``), before the charge: the amount is one
    the studio sells (its list, or within its limits), in its currency. Payments credit
    ``card.account`` with the amount paid, then call ``gift_card_activate``."""
    amount_check(amount)
    options = billing_settings_get(studio=studio)
    currency_check(currency, expected=options.currency)
    if not gift_card_amount_allowed(studio=studio, amount=amount):
        raise ApplicationError(
            "The studio does not sell a gift card of this amount.",
            code="gift_card_amount_not_offered",
            fields={"amount": ["Not offered."]},
        )
    now = now or timezone.now()
    fields = {
        "buyer_name": text_clean(buyer_name, field="buyer_name", max_length=200, required=True),
        "buyer_email": _email(buyer_email, field="buyer_email", required=True),
        "recipient_name": text_clean(recipient_name, field="recipient_name", max_length=200),
        "recipient_email": _email(recipient_email, field="recipient_email", required=False),
        "message": text_clean(message, field="message", max_length=MAX_MESSAGE),
        "deliver_at": _deliver_at(deliver_at, now=now),
    }
    with db_transaction.atomic():
        return _card_create(
            studio=studio,
            origin=Origin.PURCHASED,
            state=State.PENDING_PAYMENT,
            amount=amount,
            currency=currency,
            fields=fields,
        )[0]


def _card_create(
    *, studio: Studio, origin: str, state: str, amount: int, currency: str, fields: dict
) -> tuple[GiftCard, str]:
    """The card row and its ledger account, with a fresh code (returned, in clear, once)."""
    for _ in range(3):  # 80 random bits: a collision is a curiosity, not a plan
        code, hashed = _new_code()
        if not GiftCard.objects.filter(code_hash=hashed).exists():
            break
    card_id = uuid7()
    account = _card_account(studio=studio, card_id=card_id, currency=currency, last4=code[-4:])
    card = GiftCard.objects.create(
        id=card_id,
        studio=studio,
        code_hash=hashed,
        code_last4=code[-4:],
        code_sealed=code_seal(code),
        origin=origin,
        state=state,
        initial_amount=amount,
        currency=currency,
        account=account,
        **fields,
    )
    return card, code


def gift_card_activate(
    *, card: GiftCard, transaction: LedgerTransaction, now: dt.datetime | None = None
) -> GiftCard:
    """The payments seam, in the payment's database transaction: ``transaction`` credited the
    card's account with its amount; the card becomes ``active`` (its expiry counted from now)
    and its delivery email is scheduled. Called again for the same transaction: the card."""
    now = now or timezone.now()
    with db_transaction.atomic():
        return _activate(card=card, funding=transaction, now=now)


def _activate(*, card: GiftCard, funding: LedgerTransaction, now: dt.datetime) -> GiftCard:
    row = _card_locked(card)
    if row.state == State.ACTIVE and row.funding_id == funding.id:
        return row
    if row.state != State.PENDING_PAYMENT:
        raise Conflict(f"This gift card is {row.state}.", code="gift_card_not_pending")
    credited = -(
        LedgerEntry.objects.filter(transaction=funding, account_id=row.account_id)
        .aggregate(total=Sum("amount"))
        .get("total")
        or 0
    )
    balance = LedgerAccount.objects.get(id=row.account_id).balance
    if credited != row.initial_amount or balance != row.initial_amount:
        raise Conflict(
            "The payment did not put the card's amount on it.",
            code="gift_card_payment_mismatch",
            extra={"credited": credited, "amount": row.initial_amount},
        )
    months = billing_settings_get(studio=row.studio).gift_card_expiry_months
    row.state = State.ACTIVE
    row.activated_at = now
    row.funding = funding
    row.expires_at = add_months(now, months) if months else None
    row.deliver_at = max(row.deliver_at or now, now)
    row.save(
        update_fields=["state", "activated_at", "funding", "expires_at", "deliver_at", "updated_at"]
    )
    if row.deliver_at <= now:
        _deliver_soon(row)
    return row


def gift_card_abandon(*, card: GiftCard, now: dt.datetime | None = None) -> GiftCard:
    """The payments seam: the payment failed; the pending card is void (its code forgotten).
    Abandoning a void card again is a no-op; a card with money on it cannot be abandoned."""
    now = now or timezone.now()
    with db_transaction.atomic():
        accounts_lock([card.account])
        row = _card_locked(card)
        if row.state == State.VOID:
            return row
        if row.state != State.PENDING_PAYMENT:
            raise Conflict(f"This gift card is {row.state}.", code="gift_card_not_pending")
        if LedgerAccount.objects.get(id=row.account_id).balance != 0:
            raise Conflict("Money arrived on this gift card.", code="gift_card_funded")
        row.state = State.VOID
        row.void_reason = "The payment did not complete."
        row.code_sealed = ""
        row.closed_at = now
        row.save(update_fields=["state", "void_reason", "code_sealed", "closed_at", "updated_at"])
    return row


# --- the studio's side ----------------------------------------------------------------------


@dataclass(frozen=True)
class IssueResult:
    card: GiftCard
    code: str | None  # shown once (and on a retried issue while the code is still sealed)
    created: bool


def gift_card_issue(
    *,
    studio: Studio,
    amount: int,
    currency: str,
    idempotency_key: str,
    recipient_name: str = "",
    recipient_email: str = "",
    message: str = "",
    deliver_at: dt.datetime | None = None,
    by: User | None = None,
    now: dt.datetime | None = None,
) -> IssueResult:
    """The studio gives a card (a giveaway): debit its adjustment account, credit the card.
    Any amount (not only those it sells), in any currency. The code is in the answer once;
    with a recipient email it is also emailed to them (then forgotten)."""
    amount_check(amount)
    if not currency_valid(currency):
        raise ApplicationError(
            f"Unknown currency {currency!r}.",
            code="currency_unknown",
            fields={"currency": ["Unknown currency."]},
        )
    now = now or timezone.now()
    key = f"gift-card-issue:{idempotency_key}"
    fields = {
        "recipient_name": text_clean(recipient_name, field="recipient_name", max_length=200),
        "recipient_email": _email(recipient_email, field="recipient_email", required=False),
        "message": text_clean(message, field="message", max_length=MAX_MESSAGE),
    }
    existing = GiftCard.objects.filter(studio=studio, idempotency_key=key).first()
    if existing is not None:
        return _issue_replay(existing, amount=amount, currency=currency, fields=fields)
    fields["deliver_at"] = (
        _deliver_at(deliver_at, now=now) if fields["recipient_email"] else now + ISSUE_REPLAY
    )
    months = billing_settings_get(studio=studio).gift_card_expiry_months
    adjustment = studio_account(studio=studio, kind=Kind.ADJUSTMENT, currency=currency)
    try:
        with db_transaction.atomic():
            card, code = _card_create(
                studio=studio,
                origin=Origin.ISSUED,
                state=State.ACTIVE,
                amount=amount,
                currency=currency,
                fields={
                    **fields,
                    "idempotency_key": key,
                    "created_by": by,
                    "activated_at": now,
                    "expires_at": add_months(now, months) if months else None,
                },
            )
            result = ledger_post(
                studio=studio,
                kind=TxKind.ADJUSTMENT,
                idempotency_key=f"gift-card-issue:{card.id}",
                legs=[debit(adjustment, amount), credit(card.account, amount)],
                memo="Gift card issued by the studio",
                by=by,
                source=("gift_card", card.id),
            )
            card.funding = result.transaction
            card.save(update_fields=["funding", "updated_at"])
            if card.recipient_email and card.deliver_at <= now:
                _deliver_soon(card)
    except IntegrityError:
        existing = GiftCard.objects.filter(studio=studio, idempotency_key=key).first()
        if existing is None:
            raise
        return _issue_replay(existing, amount=amount, currency=currency, fields=fields)
    logger.info(
        "gift card issued",
        extra={"studio": str(studio.id), "card": str(card.id), "amount": amount},
    )
    return IssueResult(card=card, code=code, created=True)


def _issue_replay(card: GiftCard, *, amount: int, currency: str, fields: dict) -> IssueResult:
    same = (card.initial_amount, card.currency, card.recipient_email) == (
        amount,
        currency,
        fields["recipient_email"],
    )
    if not same:
        raise Conflict(
            "This Idempotency-Key was used to issue another card.", code="idempotency_key_reused"
        )
    code = code_unseal(card.code_sealed) if card.code_sealed else None
    return IssueResult(card=card, code=code, created=False)


def gift_card_void(
    *, card: GiftCard, reason: str = "", by: User | None = None, now: dt.datetime | None = None
) -> GiftCard:
    """Void a card the studio issued: what is left goes back to the adjustment account.
    A bought card is refused (``gift_card_purchased``: refund its payment instead); voiding a
    void card is a no-op."""
    reason = text_clean(reason, field="reason", max_length=300)
    now = now or timezone.now()
    if card.origin == Origin.PURCHASED:
        raise Conflict(
            "A card a client bought is refunded through its payment, not voided.",
            code="gift_card_purchased",
        )
    adjustment = studio_account(studio=card.studio, kind=Kind.ADJUSTMENT, currency=card.currency)
    with db_transaction.atomic():
        locked = accounts_lock([card.account, adjustment])
        row = _card_locked(card)
        if row.state == State.VOID:
            return row
        if row.state != State.ACTIVE:
            raise Conflict(f"This gift card is {row.state}.", code=f"gift_card_{row.state}")
        left = locked[row.account_id].balance
        if left > 0:
            ledger_post(
                studio=row.studio,
                kind=TxKind.ADJUSTMENT,
                idempotency_key=f"gift-card-void:{row.id}",
                legs=[debit(row.account, left), credit(adjustment, left)],
                memo=f"Gift card voided: {reason}" if reason else "Gift card voided",
                by=by,
                source=("gift_card", row.id),
            )
        row.state = State.VOID
        row.void_reason = reason
        row.code_sealed = ""
        row.closed_at = now
        row.save(update_fields=["state", "void_reason", "code_sealed", "closed_at", "updated_at"])
    logger.info("gift card voided", extra={"card": str(row.id), "amount": left})
    return row


def gift_card_resend(
    *,
    card: GiftCard,
    recipient_email: str | None = None,
    by: User | None = None,
    now: dt.datetime | None = None,
) -> GiftCard:
    """Send an active card again (the recipient lost the email, or another address): the card
    gets a new code, the old one stops working, and the new one is emailed now."""
    now = now or timezone.now()
    with db_transaction.atomic():
        row = _card_locked(card)
        if row.state != State.ACTIVE:
            raise Conflict(f"This gift card is {row.state}.", code=f"gift_card_{row.state}")
        email = _email(recipient_email or "", field="recipient_email", required=False)
        email = email or row.recipient_email or row.buyer_email
        if not email:
            raise ApplicationError(
                "The card has no recipient email; give one.",
                code="recipient_email_required",
                fields={"recipient_email": ["Required."]},
            )
        code, hashed = _new_code()
        row.code_hash = hashed
        row.code_last4 = code[-4:]
        row.code_sealed = code_seal(code)
        row.recipient_email = email
        row.deliver_at = now
        row.delivered_at = None
        row.save(
            update_fields=[
                "code_hash",
                "code_last4",
                "code_sealed",
                "recipient_email",
                "deliver_at",
                "delivered_at",
                "updated_at",
            ]
        )
        _deliver_soon(row)
    logger.info(
        "gift card code replaced and resent",
        extra={"card": str(row.id), "by": str(by.id) if by else None},
    )
    return row


# --- delivery -------------------------------------------------------------------------------


def gift_card_deliver(*, card_id: uuid.UUID, now: dt.datetime | None = None) -> bool:
    """Email an active card whose time has come to its recipient (or buyer), with the code,
    amount, message, expiry and the studio's balance page, then forget the code; a card with
    no one to tell (issued without a recipient) just forgets it. Once per card: claimed
    under the card's row lock."""
    now = now or timezone.now()
    with db_transaction.atomic():
        row = (
            GiftCard.objects.select_for_update().select_related("studio").filter(id=card_id).first()
        )
        if row is None or row.state != State.ACTIVE or row.delivered_at is not None:
            return False
        if row.deliver_at is None or row.deliver_at > now:
            return False
        if LedgerAccount.objects.get(id=row.account_id).balance == 0:
            # Refunded in full before its day (the payment's refund debits the card): nothing
            # to give, so no code is sent; the card is void with the reason.
            row.state = State.VOID
            row.void_reason = "Refunded before delivery."
            row.code_sealed = ""
            row.closed_at = now
            row.save(
                update_fields=["state", "void_reason", "code_sealed", "closed_at", "updated_at"]
            )
            return False
        to = row.recipient_email or row.buyer_email
        code = code_unseal(row.code_sealed) if row.code_sealed else None
        sent = False
        if to and code is None:
            logger.error(
                "gift card delivery without a readable code (resend it: a new code is made)",
                extra={"card": str(row.id), "studio": str(row.studio_id)},
            )
        elif to:
            email_send_on_commit(
                subject=f"A gift card for you from {row.studio.name}"[:200],
                body=_delivery_body(row, code=code),  # type: ignore[arg-type]
                to=[to],
            )
            sent = True
        row.delivered_at = now
        row.code_sealed = ""
        row.save(update_fields=["delivered_at", "code_sealed", "updated_at"])
    return sent


def _delivery_body(card: GiftCard, *, code: str) -> str:
    amount = money_format(Money(card.initial_amount, card.currency), card.studio.locale or "en")
    greeting = f"Hi {card.recipient_name}," if card.recipient_name else "Hello,"
    sender = f"{card.buyer_name} sends you" if card.buyer_name else f"{card.studio.name} sends you"
    parts = [greeting, "", f"{sender} a gift card of {amount} at {card.studio.name}."]
    if card.message:
        parts += ["", card.message]
    parts += ["", f"Your code: {code}"]
    if card.expires_at is not None:
        parts.append(f"Valid until: {card.expires_at.date().isoformat()}")
    parts += [
        "",
        f"Check its balance any time: {studio_site_url(studio=card.studio)}/gift-card/",
        "",
        card.studio.name,
    ]
    return "\n".join(parts) + "\n"


def gift_card_deliveries(*, now: dt.datetime | None = None) -> int:
    """The sweep: every active card whose delivery time has come and that was not delivered.
    The number of emails queued."""
    now = now or timezone.now()
    ids = list(
        GiftCard.objects.filter(state=State.ACTIVE, delivered_at__isnull=True, deliver_at__lte=now)
        .order_by("deliver_at")
        .values_list("id", flat=True)[:SWEEP_BATCH]
    )
    return sum(1 for card_id in ids if gift_card_deliver(card_id=card_id, now=now))


# --- redemption -----------------------------------------------------------------------------


def _guess_keys(*, studio: Studio, address: str) -> tuple[str, str]:
    client = ratelimit.client_hash(address, purpose="gift-card")
    return f"gift-card-code:{studio.id}:{client}", f"gift-card-code:{studio.id}:all"


def _guess_take(*, studio: Studio, address: str) -> tuple[str, str]:
    """A guess slot of the client address, then one of the studio's ceiling, taken before the
    code is looked up (given back when it was right: only wrong codes count). The address comes
    first: one that used its own guesses takes nothing from the studio's ceiling."""
    per_address, per_studio = _guess_keys(studio=studio, address=address)
    wait = ratelimit.take(
        [(per_address, settings.PICPICK_GIFT_CARD_GUESSES_PER_ADDRESS)],
        window=settings.PICPICK_GIFT_CARD_GUESS_WINDOW_SECONDS,
    )
    scope = "address"
    if wait is None:
        scope = "studio"
        wait = ratelimit.take(
            [(per_studio, settings.PICPICK_GIFT_CARD_GUESSES_PER_STUDIO)], window=3600
        )
        if wait is not None:
            ratelimit.give_back(per_address, window=settings.PICPICK_GIFT_CARD_GUESS_WINDOW_SECONDS)
    if wait is not None:
        logger.warning(
            "gift card code guesses exhausted per %s",
            scope,
            extra={"studio": str(studio.id), "scope": scope},
        )
        raise RateLimited(
            "Too many wrong codes. Wait a few minutes and try again.",
            retry_after=wait,
            code="too_many_attempts",
        )
    return per_address, per_studio


def _guess_right(keys: tuple[str, str]) -> None:
    ratelimit.give_back(keys[0], window=settings.PICPICK_GIFT_CARD_GUESS_WINDOW_SECONDS)
    ratelimit.give_back(keys[1], window=3600)


def gift_card_by_code(*, studio: Studio, code: str, address: str) -> GiftCard:
    """The studio's card with this code (one indexed read), counted against the guess limits;
    404 ``gift_card_not_found`` for a wrong code, 429 once too many were wrong."""
    keys = _guess_take(studio=studio, address=address)
    normalised = code_normalise(code)
    card = None
    if normalised is not None:
        card = (
            GiftCard.objects.filter(code_hash=code_hash(normalised), studio=studio)
            .select_related("account")
            .first()
        )
    if card is None:
        raise NotFound("No gift card has this code.", code="gift_card_not_found")
    _guess_right(keys)
    card.studio = studio
    return card


def _usable(card: GiftCard, *, now: dt.datetime) -> None:
    if card.state == State.ACTIVE and card.expires_at is not None and card.expires_at <= now:
        raise Conflict("This gift card has expired.", code="gift_card_expired")
    if card.state != State.ACTIVE:
        raise Conflict(f"This gift card is {card.state}.", code=f"gift_card_{card.state}")


@dataclass(frozen=True)
class RedeemResult:
    card: GiftCard
    posted: PostResult


def gift_card_redeem(
    *,
    studio: Studio,
    code: str,
    amount: int,
    reference: str,
    idempotency_key: str,
    address: str,
    currency: str | None = None,
    by: User | None = None,
    now: dt.datetime | None = None,
    to: LedgerAccount | None = None,
) -> RedeemResult:
    """Pay ``amount`` with the card of ``code`` (debit the card, credit revenue, or ``to``: an
    invoice's receivable when the card pays an invoice); what is left
    stays on the card, and a card redeemed to zero is ``used``. 404 for a wrong code (rate
    limited), 409 for a card that is not active (``gift_card_expired``, ``gift_card_void``,
    ``gift_card_pending_payment``, ``gift_card_used``) or holds less (``insufficient_funds``)."""
    amount_check(amount)
    reference = text_clean(reference, field="reference", max_length=300, required=True)
    card = gift_card_by_code(studio=studio, code=code, address=address)
    currency_check(currency, expected=card.currency)
    now = now or timezone.now()
    hashed = card.code_hash

    def guard(locked: dict) -> None:
        row = _card_locked(card)
        if row.code_hash != hashed:  # the code was replaced (resent) meanwhile
            raise NotFound("No gift card has this code.", code="gift_card_not_found")
        _usable(row, now=now)
        balance = locked[card.account_id].balance
        if amount > balance:
            raise Conflict(
                "The gift card holds less than this.",
                code="insufficient_funds",
                extra={"available": balance, "currency": card.currency},
            )

    target = to or studio_account(studio=studio, kind=Kind.REVENUE, currency=card.currency)
    with db_transaction.atomic():
        posted = ledger_post(
            studio=studio,
            kind=TxKind.GIFT_CARD_REDEEMED,
            idempotency_key=f"gift-card-redeem:{idempotency_key}",
            legs=[debit(card.account, amount), credit(target, amount)],
            memo=reference,
            by=by,
            source=("gift_card", card.id),
            before_apply=guard,
        )
        row = _card_locked(card)
        if posted.created and LedgerAccount.objects.get(id=row.account_id).balance == 0:
            row.state = State.USED
            row.closed_at = now
            row.save(update_fields=["state", "closed_at", "updated_at"])
    return RedeemResult(card=row, posted=posted)


def gift_cards_expire(*, now: dt.datetime | None = None) -> int:
    """The sweep: active cards past their expiry; what is left on each goes to breakage
    (once: the card's id is the key, and the card is closed in the same transaction)."""
    now = now or timezone.now()
    ids = list(
        GiftCard.objects.filter(state=State.ACTIVE, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("id", flat=True)[:SWEEP_BATCH]
    )
    return sum(1 for card_id in ids if _card_expire(card_id=card_id, now=now))


def _card_expire(*, card_id: uuid.UUID, now: dt.datetime) -> bool:
    card = GiftCard.objects.select_related("account", "studio").get(id=card_id)
    breakage = studio_account(studio=card.studio, kind=Kind.BREAKAGE, currency=card.currency)
    with db_transaction.atomic():
        locked = accounts_lock([card.account, breakage])
        row = _card_locked(card)
        if row.state != State.ACTIVE or row.expires_at is None or row.expires_at > now:
            return False
        left = locked[row.account_id].balance
        if left > 0:
            ledger_post(
                studio=row.studio,
                kind=TxKind.GIFT_CARD_EXPIRED,
                idempotency_key=f"gift-card-expire:{row.id}",
                legs=[debit(row.account, left), credit(breakage, left)],
                memo="Gift card expired",
                source=("gift_card", row.id),
            )
        row.state = State.EXPIRED
        row.code_sealed = ""
        row.closed_at = now
        row.save(update_fields=["state", "code_sealed", "closed_at", "updated_at"])
    logger.info("gift card expired", extra={"card": str(card_id), "amount": left})
    return True
