"""What a payment's intent at the provider means for our row and the studio's books.

The provider's intent is the truth about the money; our row follows it. Every path that learns
something (the start's answer, a client's status poll, a webhook, the sweeper) reads the
intent and calls ``payment_apply_intent``, which is idempotent: applying the same intent twice,
or an older one after a newer one, changes nothing twice.

``requires_action`` (3-D Secure) is shown to the client and never treated as paid. A decline
fails the payment AND cancels its intent at the provider, so the intent can never succeed
afterwards (a client who tries another card starts a new payment); that is what makes giving
up a gift card on a decline safe.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing.models.gift_cards import GiftCard
from billing.models.ledger import LedgerAccount, LedgerTransaction
from billing.models.payments import Payment, ProviderCustomer, SavedCard
from billing.models.wallets import Wallet
from billing.payments import Intent, IntentStatus, ProviderError, ProviderRejected
from billing.services.gift_cards import gift_card_abandon, gift_card_activate
from billing.services.ledger import Leg, account_for, credit, debit, ledger_post
from billing.services.payments.common import logger, provider
from billing.services.payments.purposes import purpose_lock, purpose_of
from billing.services.wallets import wallet_credit_recorded, wallet_lot_expiry

_STATES = {
    IntentStatus.REQUIRES_PAYMENT_METHOD: Payment.State.CREATED,
    IntentStatus.REQUIRES_CONFIRMATION: Payment.State.CREATED,
    IntentStatus.REQUIRES_ACTION: Payment.State.REQUIRES_ACTION,
    IntentStatus.PROCESSING: Payment.State.PROCESSING,
    IntentStatus.REQUIRES_CAPTURE: Payment.State.PROCESSING,
}


def _reload(payment: Payment) -> Payment:
    studio = payment.studio
    payment = Payment.objects.get(pk=payment.pk)
    payment.studio = studio
    return payment


def payment_intent_attach(*, payment: Payment, intent: Intent) -> Payment:
    """Keep the intent's id on a payment that has none yet (the start's answer, or the
    intent found by its metadata after a crash lost the answer)."""
    if payment.intent_id is None:
        Payment.objects.filter(pk=payment.pk, intent_id__isnull=True).update(
            intent_id=intent.id, claim_token=None, claimed_at=None
        )
        payment = _reload(payment)
    return payment


def payment_apply_intent(*, payment: Payment, intent: Intent) -> Payment:
    """Our payment after the provider's ``intent`` (idempotent)."""
    payment = payment_intent_attach(payment=payment, intent=intent)
    if payment.intent_id != intent.id:
        logger.error(
            "payment %s has intent %s, was given %s: ignored",
            payment.id,
            payment.intent_id,
            intent.id,
        )
        return payment
    if intent.status == IntentStatus.SUCCEEDED:
        return payment_succeeded(payment=payment, intent=intent)
    if payment.state in Payment.FINAL:
        return payment  # only a success moves a finished payment (money taken is booked)
    declined = bool(intent.last_error_code or intent.last_decline_code)
    if intent.status == IntentStatus.CANCELED:
        # Canceled after a decline (ours, when we learned of it) is the decline's failure.
        state = Payment.State.FAILED if declined else Payment.State.CANCELED
        return _close(payment, state, intent=intent)
    if intent.status == IntentStatus.REQUIRES_PAYMENT_METHOD and declined:
        return payment_fail(payment=payment, intent=intent)
    state = _STATES.get(intent.status)
    if state is None:
        logger.error("payment %s: intent status %r unknown", payment.id, intent.status)
        return payment
    Payment.objects.filter(pk=payment.pk, state__in=Payment.OPEN).update(
        state=state,
        refreshed_at=timezone.now(),
        last_error_code=intent.last_error_code or "",
        last_decline_code=intent.last_decline_code or "",
    )
    return _reload(payment)


def payment_refresh(*, payment: Payment) -> Payment:
    """Ask the provider where the payment's intent is, and follow it."""
    if payment.intent_id is None:
        from billing.services.payments.start import payment_intent_ensure

        payment, _ = payment_intent_ensure(payment=payment)
        if payment.intent_id is None:
            return payment
    intent = provider().payment_intent_get(
        intent_id=payment.intent_id, account=payment.provider_account_id
    )
    return payment_apply_intent(payment=payment, intent=intent)


# --- success ---------------------------------------------------------------------------------
def _known_fee(payment: Payment, intent: Intent) -> int | None:
    """The provider's fee in the payment's currency, or None while unknown (or when the
    account settles in another currency: the books of a payment stay in its currency)."""
    if intent.fee is None:
        return None
    if intent.fee_currency and intent.fee_currency != payment.currency:
        logger.warning(
            "payment %s: fee in %s, payment in %s: fee not booked",
            payment.id,
            intent.fee_currency,
            payment.currency,
        )
        return None
    return intent.fee


def _target(payment: Payment) -> tuple[LedgerAccount, Wallet | GiftCard | None]:
    """The account the paid amount is credited to: the wallet's, the gift card's, or what a
    registered purpose says (an invoice's receivable)."""
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
    return card.account, card


def payment_succeeded(*, payment: Payment, intent: Intent) -> Payment:
    """Book a payment the provider collected, exactly once.

    One transaction: the claim (a conditional UPDATE on ``posted_transaction IS NULL``: a
    second caller waits on the row, then finds it posted and does nothing), the posting
    (``payment_received``, key ``payment-succeeded:<id>``)::

        debit  provider_clearing   amount - fees   (the money the provider holds for the studio)
        debit  provider_fees       fees            (the provider's fee + PicPick's application fee)
        credit wallet | gift_card  amount          (what the studio now owes the client)

    then the wallets' bookkeeping of that credit (a wallet lot, or the card's activation).
    A fee the provider does not know yet is booked later (``payment_fee_record``).
    """
    fee = _known_fee(payment, intent)
    now = timezone.now()
    with transaction.atomic():
        claimed = Payment.objects.filter(pk=payment.pk, posted_transaction__isnull=True).update(
            state=Payment.State.SUCCEEDED,
            fee=fee,
            succeeded_at=now,
            finished_at=now,
            refreshed_at=now,
            last_error_code="",
            last_decline_code="",
        )
        if not claimed:
            payment = _reload(payment)
        else:
            payment = _reload(payment)
            purpose_lock(payment)  # e.g. the invoice's row, before the ledger's accounts
            target, holder = _target(payment)
            fees = (fee or 0) + (payment.application_fee or 0)
            result = ledger_post(
                studio=payment.studio,
                kind=LedgerTransaction.Kind.PAYMENT_RECEIVED,
                idempotency_key=f"payment-succeeded:{payment.id}",
                legs=_received_legs(payment, target, fees),
                memo=f"Card payment {intent.id} ({payment.get_purpose_display().lower()})",
                source=("payment", payment.id),
            )
            if isinstance(holder, Wallet):
                wallet_credit_recorded(
                    wallet=holder,
                    amount=payment.amount,
                    transaction=result.transaction,
                    expires_at=wallet_lot_expiry(wallet=holder),
                )
            elif holder is not None:
                gift_card_activate(card=holder, transaction=result.transaction)
            Payment.objects.filter(pk=payment.pk).update(posted_transaction=result.transaction)
            payment.posted_transaction = result.transaction
            purpose = purpose_of(payment)
            if purpose is not None:
                purpose.succeeded(payment, result.transaction)
            logger.info("payment %s succeeded and posted (%s)", payment.id, result.transaction.id)
    if claimed and payment.save_card:
        saved_card_record(payment=payment, intent=intent)
    if payment.fee is None:
        payment = payment_fee_record(payment=payment, intent=intent)
    return payment


def _received_legs(payment: Payment, target: LedgerAccount, fees: int) -> list[Leg]:
    studio, currency = payment.studio, payment.currency
    clearing = account_for(studio=studio, kind="provider_clearing", currency=currency)
    net = payment.amount - fees
    tip = payment.tip or 0
    legs = [credit(target, payment.amount - tip)]
    if tip:
        purpose = purpose_of(payment)
        tips = purpose.tips(payment) if purpose is not None else None
        if tips is None:
            raise ValueError(f"payment {payment.id} has a tip but its purpose takes none")
        legs.append(credit(tips, tip))
    if net > 0:
        legs.append(debit(clearing, net))
    elif net < 0:  # fees above a tiny charge: the studio's balance pays the rest
        legs.append(credit(clearing, -net))
    if fees:
        legs.append(
            debit(account_for(studio=studio, kind="provider_fees", currency=currency), fees)
        )
    return legs


def payment_fee_record(*, payment: Payment, intent: Intent) -> Payment:
    """The provider's fee of a payment booked without it (unknown at the success): ``fee``,
    debit provider_fees, credit provider_clearing; once (key ``payment-fee:<id>``)."""
    fee = _known_fee(payment, intent)
    if fee is None or payment.posted_transaction_id is None:
        return payment
    with transaction.atomic():
        if not Payment.objects.filter(pk=payment.pk, fee__isnull=True).update(fee=fee):
            return _reload(payment)
        if fee:
            studio, currency = payment.studio, payment.currency
            result = ledger_post(
                studio=studio,
                kind=LedgerTransaction.Kind.FEE,
                idempotency_key=f"payment-fee:{payment.id}",
                legs=[
                    debit(account_for(studio=studio, kind="provider_fees", currency=currency), fee),
                    credit(
                        account_for(studio=studio, kind="provider_clearing", currency=currency),
                        fee,
                    ),
                ],
                memo=f"Card fee of payment {payment.intent_id}",
                source=("payment", payment.id),
            )
            Payment.objects.filter(pk=payment.pk).update(fee_transaction=result.transaction)
    return _reload(payment)


# --- failure and cancellation ----------------------------------------------------------------
def _close(
    payment: Payment, state: str, *, intent: Intent | None = None, code: str = ""
) -> Payment:
    """An open, unpaid payment ends (failed or canceled); its gift card is given up."""
    with transaction.atomic():
        closed = Payment.objects.filter(
            pk=payment.pk, state__in=Payment.OPEN, posted_transaction__isnull=True
        ).update(
            state=state,
            finished_at=timezone.now(),
            refreshed_at=timezone.now(),
            claim_token=None,
            claimed_at=None,
            last_error_code=(intent.last_error_code if intent else None)
            or code
            or F("last_error_code"),
            last_decline_code=(intent.last_decline_code if intent else None)
            or F("last_decline_code"),
        )
        if closed and payment.purpose == Payment.Purpose.GIFT_CARD and payment.reference_id:
            card = GiftCard.objects.get(pk=payment.reference_id, studio_id=payment.studio_id)
            gift_card_abandon(card=card)
        purpose = purpose_of(payment)
        if closed and purpose is not None:
            transaction.on_commit(lambda: purpose.closed(_reload(payment)))
    if closed:
        logger.info(
            "payment %s %s (%s)", payment.id, state, code or getattr(intent, "last_error_code", "")
        )
    return _reload(payment)


def payment_fail(*, payment: Payment, intent: Intent | None = None, code: str = "") -> Payment:
    """A declined (or refused) payment: its intent is canceled at the provider first, so it
    cannot be paid later; if the provider says it was paid after all, it is booked instead."""
    if payment.intent_id and payment.state in Payment.OPEN:
        canceled = _cancel_at_provider(payment)
        if canceled.paid:
            return payment_succeeded(payment=payment, intent=canceled)
    return _close(payment, Payment.State.FAILED, intent=intent, code=code)


def payment_cancel(*, payment: Payment, code: str = "abandoned") -> Payment:
    """Give up an open payment (abandoned by the client): the intent is canceled first."""
    if payment.intent_id and payment.state in Payment.OPEN:
        canceled = _cancel_at_provider(payment)
        if canceled.paid:
            return payment_succeeded(payment=payment, intent=canceled)
    return _close(payment, Payment.State.CANCELED, code=code)


def _cancel_at_provider(payment: Payment) -> Intent:
    """The intent canceled (or as it is, when it can no longer be: paid, already canceled).
    ``ProviderUnavailable`` propagates: the caller (a webhook, the sweeper) tries again."""
    try:
        return provider().payment_intent_cancel(
            intent_id=payment.intent_id,
            account=payment.provider_account_id,
            idempotency_key=f"pay-cancel:{payment.id}",
        )
    except ProviderRejected:
        return provider().payment_intent_get(
            intent_id=payment.intent_id, account=payment.provider_account_id
        )


def saved_card_record(*, payment: Payment, intent: Intent) -> SavedCard | None:
    """The card a payment saved (``save_card``), recorded for later charges: brand, last
    digits and expiry as the provider lists them on the contact's customer. A failure here
    is logged; the payment stands."""
    customer = ProviderCustomer.objects.filter(
        studio_id=payment.studio_id, contact_id=payment.contact_id
    ).first()
    if customer is None or not intent.payment_method:
        return None
    try:
        methods = provider().payment_methods_list(
            customer=customer.provider_customer_id, account=payment.provider_account_id
        )
    except ProviderError as exc:
        logger.warning("payment %s: saved card not listed (%s)", payment.id, exc.code)
        return None
    method = next((m for m in methods if m.id == intent.payment_method), None)
    if method is None:
        logger.warning("payment %s: the provider kept no card", payment.id)
        return None
    card, _ = SavedCard.objects.get_or_create(
        studio_id=payment.studio_id,
        provider_payment_method_id=method.id,
        defaults={
            "contact_id": payment.contact_id,
            "customer": customer,
            "brand": method.brand[:20],
            "last4": method.last4[:4],
            "exp_month": method.exp_month or None,
            "exp_year": method.exp_year or None,
        },
    )
    return card
