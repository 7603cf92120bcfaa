"""Saved cards: a contact's card kept at the provider for later (off-session) charges, saved
through a SetupIntent the contact confirms in the browser.

1. ``card_setup_start``: the studio's account must take charges; the contact's customer on it
   is found or made (one provider call, keyed by the account and the contact), then the
   SetupIntent is made with a key derived from the contact and the request's Idempotency-Key
   (a retried start answers the same SetupIntent). Nothing is stored but the customer: the
   client secret goes back to the caller for Stripe.js and is never kept.
2. ``card_setup_complete`` (the ``setup_intent.succeeded`` webhook, or a refresh): the
   SetupIntent is read from the provider (never trusted from an event's copy); succeeded, its
   card is recorded once (unique per provider payment method) with the brand, last digits and
   expiry the provider lists. A SetupIntent not succeeded records nothing.

Provider calls are made outside any transaction; each write is one short transaction.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.models import Studio, User
from billing.models.payments import ConnectedAccount, ProviderCustomer, SavedCard
from billing.payments import (
    IntentStatus,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    SetupResult,
)
from billing.services.payments.common import charges_account, logger, provider
from billing.services.payments.start import ProviderDown
from crm.models import Contact
from picpick.core.errors import ApplicationError, Conflict, NotFound


@dataclass(frozen=True)
class CardSetupStarted:
    """What the browser needs to confirm the SetupIntent with Stripe.js."""

    setup_id: str
    client_secret: str = field(repr=False)
    publishable_key: str
    account: str


@dataclass(frozen=True)
class CardSetupOutcome:
    """Where a SetupIntent is (the provider's status) and the card it saved, once succeeded
    (None also when it succeeded but the card was taken off the customer at the provider)."""

    setup_id: str
    status: str
    card: SavedCard | None

    @property
    def succeeded(self) -> bool:
        return self.status == IntentStatus.SUCCEEDED


def _setup_key(*, account: str, contact: Contact, idempotency_key: str) -> str:
    """The SetupIntent's key: the contact's and the request's (hashed: the API's key is up to
    100 characters and the provider's at most 255), on the account."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"card-setup:{account}:{contact.id}:{digest}"


def _contact_usable(contact: Contact) -> None:
    if contact.merged_into_id is not None:
        raise Conflict("This contact was merged into another.", code="contact_merged")
    if contact.erased_at is not None:
        raise Conflict("This contact was erased.", code="contact_erased")


def provider_customer_ensure(*, studio: Studio, contact: Contact, account: str) -> ProviderCustomer:
    """The contact as a customer of the studio's account: the row kept, else made at the
    provider once (keyed by the account and the contact, the same key a payment that saves a
    card uses, so both find the same customer) and kept."""
    row = ProviderCustomer.objects.filter(studio=studio, contact=contact).first()
    if row is not None and row.provider_account_id == account:
        return row
    try:
        customer = provider().customer_create(
            email=contact.email or "",
            name=" ".join(p for p in (contact.first_name, contact.last_name) if p),
            account=account,
            idempotency_key=f"customer:{account}:{contact.id}",
            metadata={"contact_id": str(contact.id), "studio_id": str(studio.id)},
        )
    except ProviderUnavailable as exc:
        raise ProviderDown("The card processor did not answer; try again in a moment.") from exc
    except ProviderRejected as exc:
        logger.error("customer for contact %s refused (%s)", contact.id, exc.code)
        raise ApplicationError(
            "The card processor refused this client.",
            code="card_setup_rejected",
            status=422,
            extra={"provider_code": exc.code},
        ) from exc
    if row is not None:
        # The studio moved to another account: the contact is this account's customer now.
        ProviderCustomer.objects.filter(pk=row.pk).exclude(provider_account_id=account).update(
            provider_customer_id=customer.id, provider_account_id=account
        )
        row.refresh_from_db()
        return row
    # A plain INSERT (no locking read first: MariaDB's gap locks deadlock racing upserts); a
    # racing start (or payment) of the same contact that kept it first wins, with the same
    # customer (same key).
    try:
        with transaction.atomic():
            return ProviderCustomer.objects.create(
                studio=studio,
                contact=contact,
                provider_customer_id=customer.id,
                provider_account_id=account,
            )
    except IntegrityError:
        return ProviderCustomer.objects.get(studio=studio, contact=contact)


def card_setup_start(
    *, studio: Studio, contact: Contact, by: User | None, idempotency_key: str
) -> CardSetupStarted:
    """Start saving a card for ``contact``: the SetupIntent's id and client secret (for
    Stripe.js), the publishable key and the connected account it is made on."""
    if contact.studio_id != studio.id:
        raise NotFound("No such contact.")
    _contact_usable(contact)
    account = charges_account(studio).provider_account_id
    customer = provider_customer_ensure(studio=studio, contact=contact, account=account)
    try:
        setup = provider().setup_intent_create(
            customer=customer.provider_customer_id,
            account=account,
            idempotency_key=_setup_key(
                account=account, contact=contact, idempotency_key=idempotency_key
            ),
            metadata={
                "studio_id": str(studio.id),
                "contact_id": str(contact.id),
                "purpose": "saved_card",
                "started_by": str(by.id) if by is not None else "",
            },
        )
    except ProviderUnavailable as exc:
        # The outcome is unknown: the same request (same key) finds the same SetupIntent.
        raise ProviderDown("The card processor did not answer; try again in a moment.") from exc
    except ProviderRejected as exc:
        if exc.code == "idempotency_error":
            raise Conflict(
                "This Idempotency-Key was used for another request.",
                code="idempotency_key_reused",
            ) from exc
        logger.error("card setup for contact %s refused (%s)", contact.id, exc.code)
        raise ApplicationError(
            "The card processor refused to save a card.",
            code="card_setup_rejected",
            status=422,
            extra={"provider_code": exc.code},
        ) from exc
    logger.info("card setup %s started for contact %s", setup.id, contact.id)
    return CardSetupStarted(
        setup_id=setup.id,
        client_secret=setup.client_secret or "",
        publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
        account=account,
    )


def _setup_read(*, account: str, setup_id: str) -> SetupResult:
    try:
        return provider().setup_intent_get(setup_id=setup_id, account=account)
    except ProviderUnavailable as exc:
        raise ProviderDown("The card processor did not answer; try again in a moment.") from exc
    except ProviderRejected as exc:
        if exc.code == "resource_missing":
            raise NotFound("No such card setup.") from exc
        raise


def card_setup_complete(
    *, studio: Studio, setup_id: str, contact: Contact | None = None
) -> CardSetupOutcome:
    """Follow a SetupIntent of the studio's account: succeeded, its card is recorded (once)
    for the contact of its customer. ``contact`` given (the API), a SetupIntent of another
    contact's customer is a 404. Idempotent: the same SetupIntent again answers the same card.
    """
    connected = ConnectedAccount.objects.filter(studio=studio).first()
    if connected is None or not str(setup_id).startswith("seti_") or len(setup_id) > 255:
        raise NotFound("No such card setup.")
    account = connected.provider_account_id
    setup = _setup_read(account=account, setup_id=setup_id)
    customer = (
        ProviderCustomer.objects.filter(
            studio=studio, provider_customer_id=setup.customer or "", provider_account_id=account
        ).first()
        if setup.customer
        else None
    )
    if customer is None or (contact is not None and customer.contact_id != contact.id):
        raise NotFound("No such card setup.")
    if setup.status != IntentStatus.SUCCEEDED or not setup.payment_method:
        return CardSetupOutcome(setup_id=setup.id, status=setup.status, card=None)
    card = _card_record(customer=customer, account=account, payment_method=setup.payment_method)
    return CardSetupOutcome(setup_id=setup.id, status=setup.status, card=card)


def _card_record(
    *, customer: ProviderCustomer, account: str, payment_method: str
) -> SavedCard | None:
    existing = SavedCard.objects.filter(
        studio_id=customer.studio_id, provider_payment_method_id=payment_method
    ).first()
    if existing is not None:
        return existing
    try:
        methods = provider().payment_methods_list(
            customer=customer.provider_customer_id, account=account
        )
    except ProviderUnavailable as exc:
        raise ProviderDown("The card processor did not answer; try again in a moment.") from exc
    except ProviderError:
        logger.exception("customer %s: cards not listed", customer.id)
        raise
    method = next((m for m in methods if m.id == payment_method), None)
    if method is None:
        # Succeeded, yet not on the customer: detached at the provider since. Nothing to keep.
        logger.warning("customer %s: the saved card is no longer on the customer", customer.id)
        return None
    card, created = SavedCard.objects.get_or_create(
        studio_id=customer.studio_id,
        provider_payment_method_id=method.id,
        defaults={
            "contact_id": customer.contact_id,
            "customer": customer,
            "brand": method.brand[:20],
            "last4": method.last4[:4],
            "exp_month": method.exp_month or None,
            "exp_year": method.exp_year or None,
        },
    )
    if created:
        logger.info("saved card %s recorded for contact %s", card.id, customer.contact_id)
    return card


def saved_cards_of(*, studio: Studio, contact: Contact) -> list[SavedCard]:
    """The contact's saved cards, newest first."""
    return list(
        SavedCard.objects.filter(studio=studio, contact=contact).order_by("-created_at", "-id")
    )


def saved_card_delete(*, studio: Studio, contact: Contact, card_id: uuid.UUID | str) -> None:
    """Forget a saved card (our record; the provider's copy stays on the customer). Another
    contact's or studio's card is a 404."""
    try:
        card_uuid = uuid.UUID(str(card_id))
    except ValueError:
        raise NotFound("No such card.") from None
    deleted, _ = SavedCard.objects.filter(studio=studio, contact=contact, id=card_uuid).delete()
    if not deleted:
        raise NotFound("No such card.")
    logger.info("saved card %s of contact %s deleted", card_uuid, contact.id)
