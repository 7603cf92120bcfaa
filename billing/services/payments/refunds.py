"""Refunds of a client's card payment: back to the card (through the provider) or as credit
in the client's wallet.

The accounting, per what the payment bought (all kind ``refund``):

* a wallet top-up refunded to the card: the credit the client bought leaves the wallet through
  the wallets' own ``wallet_spend`` (which keeps their rules: only credit neither spent nor
  held, 409 ``insufficient_funds`` otherwise, and the credit lots in step), then the refund
  posting moves it out: debit revenue (what the spend credited), credit provider_clearing (the
  money leaves the studio's provider balance). Net: wallet down, clearing down, revenue
  unchanged. (One posting, debit wallet / credit clearing, would need a wallets seam that
  consumes lots: asked for.)
* a gift card refunded to the card: debit the GIFT CARD's account, credit provider_clearing;
  only what is left on the card can be refunded.
* a gift card refunded as wallet credit (the payment's contact's wallet): the wallets'
  ``wallet_refund`` (debit refunds, credit the wallet) and a release posting (debit the gift
  card, credit refunds): refunds nets to zero, the card's balance becomes the wallet's.
* a wallet top-up refunded "to the wallet" is refused: the money is already there.

The provider keeps its fee on a refunded charge, so clearing is credited the full refunded
amount and provider_fees is left as it was.

A card refund is BOOKED FIRST, in the same transaction that checks what is left of the
payment under the payment's row lock: so the wallet credit cannot be spent while the refund
is on its way, and two refunds can never together pass the payment. The provider call comes
after, outside any transaction, keyed ``refund:<refund id>``; if the provider refuses, the
booking is reversed (``ledger_reverse``) and the amount given back to the payment.
"""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from billing.models.gift_cards import GiftCard
from billing.models.ledger import LedgerAccount, LedgerTransaction
from billing.models.payments import Payment, Refund
from billing.models.wallets import Wallet
from billing.payments import ProviderRejected, ProviderUnavailable, RefundResult
from billing.services.ledger import (
    Leg,
    account_for,
    credit,
    debit,
    ledger_post,
    ledger_reverse,
)
from billing.services.payments.common import (
    CLAIM_TIMEOUT,
    amount_check,
    fingerprint,
    logger,
    provider,
)
from billing.services.payments.purposes import purpose_lock, purpose_of
from billing.services.payments.start import ProviderDown
from billing.services.wallets import (
    wallet_for,
    wallet_refund,
    wallet_spend,
    wallet_transaction_reverse,
)
from picpick.core.errors import ApplicationError, Conflict


def _liability(payment: Payment) -> tuple[LedgerAccount, Wallet | None]:
    """The account the payment credited (what the studio owes the client for it, or, for a
    registered purpose, the account it paid: an invoice's receivable)."""
    purpose = purpose_of(payment)
    if purpose is not None:
        return purpose.target(payment), None
    if payment.purpose == Payment.Purpose.WALLET_TOPUP:
        wallet = Wallet.objects.select_related("account").get(
            pk=payment.reference_id, studio_id=payment.studio_id
        )
        return wallet.account, wallet
    card = GiftCard.objects.select_related("account").get(
        pk=payment.reference_id, studio_id=payment.studio_id
    )
    return card.account, None


def _take_back(
    payment: Payment,
    liability: LedgerAccount,
    wallet: Wallet | None,
    amount: int,
    *,
    key: str,
    by: User | None = None,
) -> tuple[LedgerAccount, LedgerTransaction | None]:
    """The refunded amount taken off what the payment bought, and the account the refund
    posting debits: a wallet's credit leaves through ``wallet_spend`` (its rules and lots),
    landing in revenue, which the refund debits; a gift card's account is debited directly."""
    if wallet is None:
        return liability, None
    spent = wallet_spend(
        wallet=wallet,
        amount=amount,
        reference=f"Refund to the card of payment {payment.intent_id}",
        idempotency_key=key,
        by=by,
    )
    revenue = account_for(studio=payment.studio, kind="revenue", currency=payment.currency)
    return revenue, spent.transaction


def refund_create(
    *,
    payment: Payment,
    idempotency_key: str,
    amount: int | None = None,
    to: str = Refund.Destination.CARD,
    reason: str = "",
    by: User | None = None,
) -> Refund:
    """Refund ``amount`` (None: all that is left) of a succeeded payment, to the card or the
    wallet. The same ``idempotency_key`` again is the same refund (resumed if its provider call
    did not finish)."""
    if to not in Refund.Destination.values:
        raise ApplicationError(
            "A refund goes to the card or the wallet.",
            code="invalid_destination",
            fields={"to": ["card or wallet."]},
        )
    if amount is not None:
        amount_check(amount, payment.currency)
    asked = fingerprint(payment=payment.id, amount=amount, to=to)
    refund = _existing(payment, idempotency_key, asked)
    if refund is None:
        try:
            refund = _book(
                payment=payment,
                amount=amount,
                to=to,
                reason=reason,
                by=by,
                key=idempotency_key,
                asked=asked,
            )
        except IntegrityError:
            refund = _existing(payment, idempotency_key, asked)
            if refund is None:
                raise
    if refund.destination == Refund.Destination.CARD and refund.state == Refund.State.PENDING:
        refund = refund_send(refund=refund)
    return refund


def _existing(payment: Payment, key: str, asked: str) -> Refund | None:
    refund = Refund.objects.filter(studio_id=payment.studio_id, idempotency_key=key).first()
    if refund is None:
        return None
    if refund.request_fingerprint != asked:
        raise Conflict(
            "This Idempotency-Key was used for another refund.", code="idempotency_key_reused"
        )
    refund.payment = payment
    return refund


def _book(
    *,
    payment: Payment,
    amount: int | None,
    to: str,
    reason: str,
    by: User | None,
    key: str,
    asked: str,
) -> Refund:
    studio = payment.studio
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        purpose_lock(payment)  # e.g. the invoice's row, before the ledger's accounts
        if locked.state != Payment.State.SUCCEEDED or locked.posted_transaction_id is None:
            raise Conflict(
                "Only a succeeded payment can be refunded.", code="payment_not_refundable"
            )
        remaining = locked.amount - locked.refunded_amount
        if remaining <= 0:
            raise Conflict("This payment is refunded in full.", code="payment_fully_refunded")
        amount = remaining if amount is None else amount
        if amount > remaining:
            raise Conflict(
                "The refund is more than what is left of the payment.",
                code="refund_exceeds_payment",
                extra={"remaining": remaining},
            )
        if to == Refund.Destination.WALLET:
            if payment.purpose == Payment.Purpose.WALLET_TOPUP:
                raise Conflict(
                    "A wallet top-up's money is in the wallet already: refund it to the card.",
                    code="refund_destination_invalid",
                )
            if payment.contact_id is None:
                raise Conflict(
                    "This payment has no contact whose wallet could take the refund.",
                    code="refund_needs_contact",
                )
        refund = Refund.objects.create(
            studio=studio,
            payment=payment,
            amount=amount,
            currency=payment.currency,
            destination=to,
            idempotency_key=key,
            request_fingerprint=asked,
            reason=(reason or "")[:300],
            created_by=by,
        )
        Payment.objects.filter(pk=payment.pk).update(refunded_amount=F("refunded_amount") + amount)
        liability, wallet = _liability(payment)
        if to == Refund.Destination.CARD:
            source, released = _take_back(
                payment, liability, wallet, amount, key=f"refund:{refund.id}", by=by
            )
            result = ledger_post(
                studio=studio,
                kind=LedgerTransaction.Kind.REFUND,
                idempotency_key=f"refund:{refund.id}",
                legs=[
                    *_sources(locked, source, amount),
                    credit(
                        account_for(
                            studio=studio, kind="provider_clearing", currency=payment.currency
                        ),
                        amount,
                    ),
                ],
                memo=f"Refund to the card of payment {payment.intent_id}",
                source=("payment", payment.id),
                by=by,
            )
            Refund.objects.filter(pk=refund.pk).update(
                ledger_transaction=result.transaction, release_transaction=released
            )
        else:
            refunds = account_for(studio=studio, kind="refunds", currency=payment.currency)
            release = ledger_post(
                studio=studio,
                kind=LedgerTransaction.Kind.REFUND,
                idempotency_key=f"refund-release:{refund.id}",
                legs=[*_sources(locked, liability, amount), credit(refunds, amount)],
                memo=f"Gift card of payment {payment.intent_id} refunded as wallet credit",
                source=("payment", payment.id),
                by=by,
            )
            contact = payment.contact
            target = wallet_for(studio=studio, contact=contact, currency=payment.currency)
            credited = wallet_refund(
                wallet=target,
                amount=amount,
                idempotency_key=f"refund-wallet:{refund.id}",
                reference=f"payment:{payment.id}",
                by=by,
            )
            now = timezone.now()
            Refund.objects.filter(pk=refund.pk).update(
                ledger_transaction=credited.transaction,
                release_transaction=release.transaction,
                state=Refund.State.SUCCEEDED,
                succeeded_at=now,
                finished_at=now,
            )
        purpose = purpose_of(payment)
        if purpose is not None:
            refund.refresh_from_db()
            purpose.refunded(payment, refund)
    refund.refresh_from_db()
    refund.payment = payment
    logger.info("refund %s of payment %s booked (%s %s)", refund.id, payment.id, amount, to)
    return refund


def _sources(locked: Payment, account: LedgerAccount, amount: int) -> list[Leg]:
    """The debit legs a refund of ``amount`` takes back from: the paid account, and for a
    payment with a tip, the tip's account once the rest is given back (the tip last).
    ``locked`` is the payment as read under its lock, before this refund was counted."""
    tip = locked.tip or 0
    purpose = purpose_of(locked)
    tips = purpose.tips(locked) if tip and purpose is not None else None
    if tips is None:
        return [debit(account, amount)]
    left_of_main = max(0, (locked.amount - tip) - locked.refunded_amount)
    main = min(amount, left_of_main)
    legs = [debit(account, main)] if main else []
    if amount - main:
        legs.append(debit(tips, amount - main))
    return legs


def refund_send(*, refund: Refund) -> Refund:
    """A booked card refund sent to the provider (claimed; no transaction open during the
    call; keyed ``refund:<id>`` so a retry never refunds twice)."""
    payment = refund.payment
    token = uuid.uuid4()
    now = timezone.now()
    claimed = (
        Refund.objects.filter(
            pk=refund.pk, state=Refund.State.PENDING, provider_refund_id__isnull=True
        )
        .filter(Q(claim_token__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
        .update(claim_token=token, claimed_at=now)
    )
    if not claimed:
        refund.refresh_from_db()
        if refund.provider_refund_id and refund.state == Refund.State.PENDING:
            return refund_refresh(refund=refund)
        return refund
    try:
        result = provider().refund_create(
            intent_id=payment.intent_id,
            account=payment.provider_account_id,
            idempotency_key=f"refund:{refund.id}",
            amount=refund.amount,
            currency=refund.currency,
            metadata={"refund_id": str(refund.id), "payment_id": str(payment.id)},
        )
    except ProviderUnavailable as exc:
        Refund.objects.filter(pk=refund.pk, claim_token=token).update(
            claim_token=None, claimed_at=None
        )
        raise ProviderDown(
            "The card processor did not answer; the refund is booked and will be sent.",
            extra={"refund_id": str(refund.id)},
        ) from exc
    except ProviderRejected as exc:
        refund = refund_fail(refund=refund, code=exc.code)
        raise ApplicationError(
            "The card processor refused this refund.",
            code="refund_rejected",
            status=422,
            extra={"provider_code": exc.code, "refund_id": str(refund.id)},
        ) from exc
    return refund_apply(refund=refund, result=result)


def refund_refresh(*, refund: Refund) -> Refund:
    if not refund.provider_refund_id:
        return refund
    result = provider().refund_get(
        refund_id=refund.provider_refund_id, account=refund.payment.provider_account_id
    )
    return refund_apply(refund=refund, result=result)


def refund_apply(*, refund: Refund, result: RefundResult) -> Refund:
    """Our refund after the provider's (idempotent)."""
    Refund.objects.filter(pk=refund.pk, provider_refund_id__isnull=True).update(
        provider_refund_id=result.id, claim_token=None, claimed_at=None
    )
    if result.status == "succeeded":
        now = timezone.now()
        Refund.objects.filter(pk=refund.pk, state=Refund.State.PENDING).update(
            state=Refund.State.SUCCEEDED, succeeded_at=now, finished_at=now
        )
    elif result.status in ("failed", "canceled"):
        return refund_fail(refund=refund, code=result.failure_reason or result.status)
    payment = refund.payment
    refund.refresh_from_db()
    refund.payment = payment
    return refund


def refund_fail(*, refund: Refund, code: str) -> Refund:
    """A card refund that did not happen: its booking reversed, the amount given back to the
    payment (once: the state moves under a conditional UPDATE)."""
    payment = refund.payment
    with transaction.atomic():
        purpose_lock(payment)  # e.g. the invoice's row, before the ledger's accounts
        failed = Refund.objects.filter(
            pk=refund.pk, state__in=[Refund.State.PENDING, Refund.State.SUCCEEDED]
        ).update(
            state=Refund.State.FAILED,
            last_error_code=(code or "")[:64],
            finished_at=timezone.now(),
            claim_token=None,
            claimed_at=None,
        )
        if failed:
            refund.refresh_from_db()
            if refund.ledger_transaction_id:
                ledger_reverse(
                    transaction=refund.ledger_transaction,
                    idempotency_key=f"refund-failed:{refund.id}",
                    memo=f"Refund {refund.id} failed at the card processor",
                )
            if refund.release_transaction_id and payment.purpose == Payment.Purpose.WALLET_TOPUP:
                _, wallet = _liability(payment)
                wallet_transaction_reverse(
                    wallet=wallet,
                    transaction_id=refund.release_transaction_id,
                    idempotency_key=f"refund-failed:{refund.id}",
                    memo=f"Refund {refund.id} failed at the card processor: credit back",
                )
            Payment.objects.filter(pk=payment.pk).update(
                refunded_amount=F("refunded_amount") - refund.amount
            )
            purpose = purpose_of(payment)
            if purpose is not None:
                purpose.refunded(payment, refund)
            logger.warning("refund %s of payment %s failed (%s)", refund.id, payment.id, code)
    refund.refresh_from_db()
    refund.payment = payment
    return refund


def refund_sync(*, payment: Payment, result: RefundResult, refund_id: str | None = None) -> Refund:
    """A refund the provider reports (a webhook): ours is followed; one made elsewhere (the
    provider's dashboard) is recorded and booked like ours, except that money which is no
    longer on the wallet or card is booked to ``refunds`` (the studio gave it back anyway)."""
    refund = Refund.objects.filter(provider_refund_id=result.id).first()
    if refund is None and refund_id:
        refund = Refund.objects.filter(
            pk=_uuid(refund_id), payment=payment, provider_refund_id__isnull=True
        ).first()
    if refund is not None:
        refund.payment = payment
        return refund_apply(refund=refund, result=result)
    if result.status not in ("succeeded", "pending"):
        return None
    return _record_external(payment, result)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _record_external(payment: Payment, result: RefundResult) -> Refund:
    studio = payment.studio
    key = f"provider-refund:{result.id}"
    try:
        with transaction.atomic():
            locked = Payment.objects.select_for_update().get(pk=payment.pk)
            purpose_lock(payment)
            amount = min(result.amount, locked.amount - locked.refunded_amount)
            if amount <= 0 or result.currency != payment.currency:
                logger.error(
                    "refund %s of payment %s: %s %s does not fit the payment",
                    result.id,
                    payment.id,
                    result.amount,
                    result.currency,
                )
                return None
            now = timezone.now()
            succeeded = result.status == "succeeded"
            refund = Refund.objects.create(
                studio=studio,
                payment=payment,
                amount=amount,
                currency=payment.currency,
                destination=Refund.Destination.CARD,
                state=Refund.State.SUCCEEDED if succeeded else Refund.State.PENDING,
                provider_refund_id=result.id,
                idempotency_key=key,
                reason="Made at the card processor",
                succeeded_at=now if succeeded else None,
                finished_at=now if succeeded else None,
            )
            Payment.objects.filter(pk=payment.pk).update(
                refunded_amount=F("refunded_amount") + amount
            )
            liability, wallet = _liability(payment)
            clearing = account_for(
                studio=studio, kind="provider_clearing", currency=payment.currency
            )
            released = None
            try:
                with transaction.atomic():
                    source, released = _take_back(
                        payment, liability, wallet, amount, key=f"refund:{refund.id}"
                    )
                    posted = ledger_post(
                        studio=studio,
                        kind=LedgerTransaction.Kind.REFUND,
                        idempotency_key=f"refund:{refund.id}",
                        legs=[*_sources(locked, source, amount), credit(clearing, amount)],
                        memo=f"Refund {result.id} made at the card processor",
                        source=("payment", payment.id),
                    )
            except Conflict as exc:
                if exc.code != "insufficient_funds":
                    raise
                # The credit is spent already: the studio gave the money back anyway.
                released = None
                posted = ledger_post(
                    studio=studio,
                    kind=LedgerTransaction.Kind.REFUND,
                    idempotency_key=f"refund:{refund.id}",
                    legs=[
                        debit(
                            account_for(studio=studio, kind="refunds", currency=payment.currency),
                            amount,
                        ),
                        credit(clearing, amount),
                    ],
                    memo=f"Refund {result.id} made at the card processor (credit already used)",
                    source=("payment", payment.id),
                )
            Refund.objects.filter(pk=refund.pk).update(
                ledger_transaction=posted.transaction, release_transaction=released
            )
            purpose = purpose_of(payment)
            if purpose is not None:
                purpose.refunded(payment, refund)
    except IntegrityError:
        refund = Refund.objects.get(provider_refund_id=result.id)
        refund.payment = payment
        return refund_apply(refund=refund, result=result)
    logger.warning("refund %s of payment %s was made at the card processor", result.id, payment.id)
    refund.refresh_from_db()
    refund.payment = payment
    return refund
