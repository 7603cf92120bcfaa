"""Starting a card payment: our row first, then the provider's intent, outside any transaction.

1. Checks, then ONE short transaction: what the payment is for (the wallet, or a gift card
   prepared in ``pending_payment``) and the ``created`` payment row, unique per studio by the
   request's Idempotency-Key.
2. The claim (a committed conditional UPDATE), then the provider call with NO transaction or
   lock open, keyed ``pay:<payment id>``: a retry (a double click, a timeout, a crash, the
   sweeper) sends the same key and gets the same intent, never a second charge.
3. The answer applied atomically (the intent's id and state).

The client secret the page confirms with comes from the provider's answer (or is read again
from the provider on a retried start); it is never stored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Studio, User
from billing.models.payments import Payment, ProviderCustomer
from billing.payments import (
    CardDeclined,
    Intent,
    ProviderRejected,
    ProviderUnavailable,
    application_fee,
)
from billing.services.gift_cards import gift_card_prepare
from billing.services.payments.common import (
    CLAIM_TIMEOUT,
    amount_check,
    charges_account,
    currency_check,
    email_check,
    fingerprint,
    logger,
    payment_intent_key,
    provider,
)
from billing.services.payments.outcome import _close, payment_apply_intent, payment_intent_attach
from billing.services.wallets import billing_settings_get, wallet_for
from crm.models import Contact
from picpick.core.errors import ApplicationError, Conflict


@dataclass(frozen=True)
class GiftCardOrder:
    """What a gift card bought by card is: who it is for, the message, when it is sent."""

    recipient_name: str
    recipient_email: str
    message: str = ""
    deliver_at: datetime | None = None


class ProviderDown(ApplicationError):
    status_code = 503
    default_code = "provider_unavailable"


def accepted_currency(studio: Studio) -> str:
    """The currency the studio takes card payments in: its billing settings' currency."""
    return billing_settings_get(studio=studio).currency


def payment_start(
    *,
    studio: Studio,
    purpose: str,
    amount: int,
    currency: str,
    payer_email: str,
    idempotency_key: str,
    contact: Contact | None = None,
    payer_name: str = "",
    reference_id: uuid.UUID | None = None,
    save_card: bool = False,
    gift_card: GiftCardOrder | None = None,
    description: str = "",
    tip: int = 0,
    payment_method_id: str = "",
    by: User | None = None,
) -> tuple[Payment, str]:
    """Start (or, with the same ``idempotency_key``, resume) a card payment; the payment and
    the client secret the client's page confirms it with (Stripe.js).

    An invoice's payment (``purpose="invoice"``, ``reference_id`` the invoice) may carry a
    ``tip`` (part of ``amount``). With ``payment_method_id`` (a saved card of the contact) the
    charge is made off-session at once (autopay): no page confirms it."""
    if purpose not in Payment.Purpose.values:
        raise ApplicationError(
            f"Unknown purpose {purpose!r}.",
            code="invalid_purpose",
            fields={"purpose": [f"One of {', '.join(Payment.Purpose.values)}."]},
        )
    currency = currency_check(studio, currency, accepted=accepted_currency(studio))
    amount = amount_check(amount, currency)
    payer_email = email_check(payer_email)
    payer_name = (payer_name or "").strip()[:200]
    if contact is not None and contact.studio_id != studio.id:
        raise ApplicationError("No such contact.", code="contact_not_found", status=404)
    if purpose == Payment.Purpose.WALLET_TOPUP and contact is None:
        raise ApplicationError(
            "A wallet top-up is for a contact.",
            code="contact_required",
            fields={"contact_id": ["Required for a wallet top-up."]},
        )
    if save_card and contact is None:
        raise ApplicationError(
            "A card is saved for a contact.",
            code="contact_required",
            fields={"contact_id": ["Required to save the card."]},
        )
    if purpose == Payment.Purpose.GIFT_CARD and gift_card is None:
        raise ApplicationError("A gift card needs its recipient.", code="gift_card_required")
    if purpose == Payment.Purpose.INVOICE and (reference_id is None or contact is None):
        raise ApplicationError("An invoice payment names its invoice.", code="invalid_purpose")
    if type(tip) is not int or tip < 0 or tip >= amount:
        raise ApplicationError(
            "A tip is a whole number of minor units, less than the amount.",
            code="tip_invalid",
            fields={"tip": ["Invalid."]},
        )
    if tip and purpose != Payment.Purpose.INVOICE:
        raise ApplicationError("Only an invoice's payment takes a tip.", code="tip_invalid")
    if payment_method_id and contact is None:
        raise ApplicationError(
            "An off-session charge is made on a contact's saved card.", code="contact_required"
        )
    account = charges_account(studio)
    asked = fingerprint(
        purpose=purpose,
        amount=amount,
        currency=currency,
        contact=contact.id if contact else None,
        payer_email=payer_email,
        reference_id=reference_id,
        gift_card=gift_card.__dict__ if gift_card else None,
        save_card=save_card,
        tip=tip,
        payment_method=payment_method_id,
    )
    payment = _existing(studio, idempotency_key, asked)
    if payment is None:
        try:
            payment = _create(
                studio=studio,
                purpose=purpose,
                amount=amount,
                currency=currency,
                contact=contact,
                payer_email=payer_email,
                payer_name=payer_name,
                reference_id=reference_id,
                gift_card=gift_card,
                idempotency_key=idempotency_key,
                fingerprint=asked,
                account_id=account.provider_account_id,
                description=description,
                save_card=save_card,
                tip=tip,
                payment_method_id=payment_method_id,
                by=by,
            )
        except IntegrityError:
            # The same key raced in (a double click): the winner's row is the payment.
            payment = _existing(studio, idempotency_key, asked)
            if payment is None:
                raise
    payment, intent = payment_intent_ensure(payment=payment)
    return payment, (intent.client_secret or "") if intent else ""


def _existing(studio: Studio, key: str, asked: str) -> Payment | None:
    payment = Payment.objects.filter(studio=studio, idempotency_key=key).first()
    if payment is None:
        return None
    if payment.request_fingerprint != asked:
        raise Conflict(
            "This Idempotency-Key was used for another payment.", code="idempotency_key_reused"
        )
    payment.studio = studio
    return payment


def _create(
    *,
    studio: Studio,
    purpose: str,
    amount: int,
    currency: str,
    contact: Contact | None,
    payer_email: str,
    payer_name: str,
    reference_id: uuid.UUID | None,
    gift_card: GiftCardOrder | None,
    idempotency_key: str,
    fingerprint: str,
    account_id: str,
    description: str,
    save_card: bool,
    tip: int,
    payment_method_id: str,
    by: User | None,
) -> Payment:
    with transaction.atomic():
        if purpose == Payment.Purpose.INVOICE:
            description = description or "Invoice"
        elif purpose == Payment.Purpose.GIFT_CARD:
            card = gift_card_prepare(
                studio=studio,
                amount=amount,
                currency=currency,
                buyer_name=payer_name,
                buyer_email=payer_email,
                recipient_name=gift_card.recipient_name,
                recipient_email=gift_card.recipient_email,
                message=gift_card.message,
                deliver_at=gift_card.deliver_at,
            )
            reference_id = card.id
            description = description or "Gift card"
        else:
            wallet = wallet_for(studio=studio, contact=contact, currency=currency)
            reference_id = wallet.id
            description = description or "Wallet top-up"
        payment = Payment.objects.create(
            studio=studio,
            contact=contact,
            purpose=purpose,
            reference_id=reference_id,
            amount=amount,
            currency=currency,
            application_fee=application_fee(amount),
            provider_account_id=account_id,
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint,
            payer_email=payer_email,
            payer_name=payer_name,
            description=description[:300],
            save_card=save_card,
            tip=tip,
            off_session=bool(payment_method_id),
            payment_method_id=payment_method_id,
            created_by=by,
        )
    logger.info("payment %s created (%s, %s %s)", payment.id, purpose, amount, currency)
    return payment


def payment_intent_ensure(*, payment: Payment) -> tuple[Payment, Intent | None]:
    """The payment's intent at the provider: read back when known, else created under a claim
    with the payment's own key (so a lost answer is found again, not charged twice)."""
    if payment.intent_id:
        intent = provider().payment_intent_get(
            intent_id=payment.intent_id, account=payment.provider_account_id
        )
        return payment_apply_intent(payment=payment, intent=intent), intent
    if payment.state != Payment.State.CREATED:
        return payment, None  # failed before any intent existed
    token = uuid.uuid4()
    now = timezone.now()
    claimed = (
        Payment.objects.filter(pk=payment.pk, intent_id__isnull=True, state=Payment.State.CREATED)
        .filter(Q(claim_token__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
        .update(claim_token=token, claimed_at=now)
    )
    if not claimed:
        payment.refresh_from_db()
        if payment.intent_id:
            return payment_intent_ensure(payment=payment)
        raise Conflict(
            "This payment is being started; ask again in a moment.", code="payment_in_progress"
        )
    intent = _intent_create(payment, token)
    payment = _intent_attach(payment, intent)
    return payment_apply_intent(payment=payment, intent=intent), intent


def _intent_create(payment: Payment, token: uuid.UUID) -> Intent:
    try:
        customer = (
            provider_customer_for(payment)
            if payment.save_card or payment.payment_method_id
            else None
        )
        off_session = bool(payment.payment_method_id)
        return provider().payment_intent_create(
            amount=payment.amount,
            currency=payment.currency,
            account=payment.provider_account_id,
            idempotency_key=payment_intent_key(payment),
            customer=customer,
            save_method=payment.save_card and not off_session,
            payment_method=payment.payment_method_id or None,
            off_session=off_session,
            confirm=off_session,
            application_fee=payment.application_fee,
            description=payment.description,
            metadata={
                "payment_id": str(payment.id),
                "studio_id": str(payment.studio_id),
                "purpose": payment.purpose,
            },
        )
    except ProviderUnavailable as exc:
        # The outcome is unknown: the claim is given back; a retry (same key) finds the intent.
        Payment.objects.filter(pk=payment.pk, claim_token=token).update(
            claim_token=None, claimed_at=None
        )
        raise ProviderDown(
            "The card processor did not answer; try again in a moment.",
            extra={"payment_id": str(payment.id)},
        ) from exc
    except (ProviderRejected, CardDeclined) as exc:
        decline = getattr(exc, "decline_code", None) or ""
        _close(payment, Payment.State.FAILED, code=exc.code)
        if decline:  # the issuer's reason (insufficient_funds, ...), kept for dunning emails
            Payment.objects.filter(pk=payment.pk).update(last_decline_code=decline[:64])
        raise ApplicationError(
            "The card processor refused this payment.",
            code="payment_rejected",
            status=422,
            extra={
                "provider_code": exc.code,
                "decline_code": decline,
                "payment_id": str(payment.id),
            },
        ) from exc


def _intent_attach(payment: Payment, intent: Intent) -> Payment:
    """The provider's answer kept (a separate step: a worker killed between the provider's
    answer and this leaves the intent to be found by its metadata or the payment's key)."""
    return payment_intent_attach(payment=payment, intent=intent)


def provider_customer_for(payment: Payment) -> str:
    """The payment's contact as a customer of the studio's account (made once, keyed by the
    account and the contact: the provider call is never repeated with other details)."""
    row = ProviderCustomer.objects.filter(
        studio_id=payment.studio_id, contact_id=payment.contact_id
    ).first()
    account = payment.provider_account_id
    if row is not None and row.provider_account_id == account:
        return row.provider_customer_id
    contact = Contact.objects.get(pk=payment.contact_id)
    customer = provider().customer_create(
        email=contact.email or payment.payer_email,
        name=" ".join(p for p in (contact.first_name, contact.last_name) if p),
        account=account,
        idempotency_key=f"customer:{account}:{contact.id}",
        metadata={"contact_id": str(contact.id), "studio_id": str(payment.studio_id)},
    )
    if row is not None:  # the studio moved to another account: the contact's customer there
        ProviderCustomer.objects.filter(id=row.id).update(
            provider_customer_id=customer.id, provider_account_id=account
        )
        return customer.id
    # A plain insert (update_or_create's locking read deadlocked racing first payments on
    # MariaDB); a racing first payment of the same contact that inserted first keeps its row.
    try:
        with transaction.atomic():
            ProviderCustomer.objects.create(
                studio_id=payment.studio_id,
                contact=contact,
                provider_customer_id=customer.id,
                provider_account_id=account,
            )
    except IntegrityError:
        pass
    return customer.id
