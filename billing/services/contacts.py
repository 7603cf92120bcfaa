"""Billing's side of the CRM's contact delete and merge (registered into the CRM's hooks from
``BillingConfig.ready``, see ``billing.registry``).

Delete: a contact any billing row points at (its ledger accounts, wallets, payments, saved
cards, provider customer: all ``PROTECT``) is refused with 409 ``contact_has_money_history``;
the studio erases the person instead (GDPR), which keeps the money history.

Merge (inside the CRM's transaction, both contacts locked, after the CRM's own moves):

- a wallet of the merged contact with a checkout in progress (``held > 0``) refuses the whole
  merge, 409 ``wallet_has_holds``;
- a per-contact account (wallet, receivable) in a currency the survivor has none of is handed
  over: its ``contact`` and its ``key`` (which names the contact) now the survivor's, so
  ``account_for(contact=survivor)`` finds it, with its wallet row when it is a wallet's;
- else its balance moves to the survivor's account with one ``adjustment`` posting (key
  ``contact-merge:<merged id>:<kind>:<currency>``, memo "contacts merged"), and a wallet's
  open credit lots move with it (what is left of each, its expiry and its reminder state):
  the merged wallet stays on the tombstone, empty, with its history. Top-up payments of that
  wallet now name the survivor's (a later card refund of one takes the credit back from
  where it now is, and a top-up still in flight credits the survivor's wallet);
- payments name the survivor. The provider customer too, unless the survivor has one already
  (one per contact and studio): then the survivor's is kept and the merged contact's stays
  on the tombstone, with the cards saved on it (a saved card is charged through its own
  customer at the provider, so it belongs where its customer is). Other saved cards follow
  the customer to the survivor.

Lock order, as everywhere money moves: payment rows (as a refund or a success locks its
payment before posting), then the ledger accounts (``accounts_lock``, by id, all at once),
then the wallet rows (by id), then their lot rows. A wallet spend racing the merge either
commits first (the merge then moves what is left) or waits and finds the merged wallet empty
(``insufficient_funds``), or spends from the handed-over wallet, now the survivor's.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Studio, User
from billing.models import (
    Invoice,
    LedgerAccount,
    LedgerTransaction,
    Payment,
    ProviderCustomer,
    Quote,
    SavedCard,
    Wallet,
    WalletCreditLot,
)
from billing.services.ledger import accounts_lock, credit, debit, ledger_post
from crm.models import Contact
from picpick.core.errors import Conflict

logger = logging.getLogger(__name__)

MERGE_MEMO = "contacts merged"


# --- delete -------------------------------------------------------------------------------------
def contact_delete_guard(contact: Contact) -> None:
    """409 ``contact_has_money_history`` when any billing row points at the contact."""
    rows = (
        LedgerAccount.objects.filter(studio_id=contact.studio_id, contact=contact),
        Wallet.objects.filter(studio_id=contact.studio_id, contact=contact),
        # Payment.contact is PROTECT (and nullable): a payment keeps its payer.
        Payment.objects.filter(studio_id=contact.studio_id, contact=contact),
        SavedCard.objects.filter(studio_id=contact.studio_id, contact=contact),
        ProviderCustomer.objects.filter(studio_id=contact.studio_id, contact=contact),
        # Quotes and invoices (drafts too) are PROTECT: documents keep their client.
        Quote.objects.filter(studio_id=contact.studio_id, contact=contact),
        Invoice.objects.filter(studio_id=contact.studio_id, contact=contact),
    )
    if any(queryset.exists() for queryset in rows):
        raise Conflict(
            "This contact has money history (a wallet, an account, payments, saved cards, "
            "quotes or invoices). "
            "Erase the contact instead (GDPR): the person is removed and the history kept.",
            code="contact_has_money_history",
        )


# --- merge --------------------------------------------------------------------------------------
def contact_account_key(account: LedgerAccount, contact: Contact) -> str:
    """The key ``account_for`` gives an account of ``account``'s kind, reference and currency
    held by ``contact`` ("wallet:<contact id>:EUR"); ``test_contact_money`` holds the two to
    the same format."""
    parts = [account.kind, str(contact.id)]
    if account.reference:
        parts.append(account.reference)
    parts.append(account.currency)
    return ":".join(parts)


def _merge_key(merged: Contact, account: LedgerAccount) -> str:
    parts = [account.kind, *([account.reference] if account.reference else []), account.currency]
    return f"contact-merge:{merged.id}:{':'.join(parts)}"


def _changed() -> Conflict:
    return Conflict(
        "The contacts' money changed during the merge; try again.",
        code="contact_money_changed",
    )


def contact_money_merge(survivor: Contact, merged: Contact, by: User | None) -> None:
    """Move the merged contact's money onto the survivor (see the module)."""
    studio = survivor.studio
    # Their quotes and invoices (the documents keep the client's name and address as issued).
    now = timezone.now()
    Quote.objects.filter(studio=studio, contact=merged).update(contact=survivor, updated_at=now)
    Invoice.objects.filter(studio=studio, contact=merged).update(contact=survivor, updated_at=now)
    theirs = list(
        LedgerAccount.objects.filter(studio=studio, contact=merged).order_by("kind", "currency")
    )
    payments = Payment.objects.filter(studio=studio, contact=merged)
    customers = ProviderCustomer.objects.filter(studio=studio, contact=merged)
    if not theirs and not payments.exists() and not customers.exists():
        # A card is saved on its contact's customer: no customer, no cards.
        return

    # Each account of the merged contact, and the survivor's of the same key (None: none).
    keys = {account.id: contact_account_key(account, survivor) for account in theirs}
    by_key = {
        account.key: account
        for account in LedgerAccount.objects.filter(studio=studio, key__in=keys.values())
    }
    pairs = {account.id: by_key.get(keys[account.id]) for account in theirs}
    ours = [target for target in pairs.values() if target is not None]
    wallets = {
        wallet.account_id: wallet
        for wallet in Wallet.objects.filter(
            studio=studio, account_id__in=[a.id for a in [*theirs, *ours]]
        )
    }
    # Folded: a merged wallet whose money goes into the survivor's wallet of its currency.
    folded = {
        account_id: (wallets[account_id], wallets[target.id])
        for account_id, target in pairs.items()
        if target is not None and account_id in wallets and target.id in wallets
    }

    # Payment rows first (see the lock order).
    payments.update(contact=survivor, updated_at=timezone.now())
    for old, new in folded.values():
        Payment.objects.filter(
            studio=studio, purpose=Payment.Purpose.WALLET_TOPUP, reference_id=old.id
        ).update(reference_id=new.id, updated_at=timezone.now())
    _customers_merge(survivor, merged)

    if not theirs:
        return
    locked = accounts_lock([*theirs, *ours])
    rows = {
        row.id: row
        for row in Wallet.objects.select_for_update()
        .filter(id__in=[w.id for w in wallets.values()])
        .order_by("id")
    }
    for account in theirs:
        wallet = wallets.get(account.id)
        if wallet is not None and rows[wallet.id].held > 0:
            raise Conflict(
                "A wallet of the merged contact holds money for a checkout in progress; "
                "merge once it has been captured or released.",
                code="wallet_has_holds",
                extra={"wallet_id": str(wallet.id), "currency": wallet.currency},
            )

    for account in theirs:
        target = pairs[account.id]
        wallet = wallets.get(account.id)
        if target is None:
            _hand_over(account, wallet, survivor, keys[account.id])
            continue
        if wallet is not None and account.id not in folded:
            # The survivor has an account of this key but no wallet on it: not something
            # the services make. Refused rather than guessed at.
            logger.error(
                "contact merge refused: the survivor's wallet account has no wallet",
                extra={"account": str(target.id), "merged_contact": str(merged.id)},
            )
            raise Conflict(
                f"The survivor's {account.currency} wallet account has no wallet; these "
                "wallets cannot be merged.",
                code="wallet_merge_refused",
            )
        _balance_move(studio, locked[account.id], locked[target.id], merged, by)
        if account.id in folded:
            old, new = folded[account.id]
            _lots_move(old, new)
    logger.info(
        "contact money merged",
        extra={
            "studio": str(studio.id),
            "survivor": str(survivor.id),
            "merged": str(merged.id),
            "accounts": len(theirs),
            "folded_wallets": len(folded),
        },
    )


def _hand_over(account: LedgerAccount, wallet: Wallet | None, survivor: Contact, key: str) -> None:
    """The account (and its wallet) is the survivor's now: same row, same balance, same
    history; its key names the survivor, as ``account_for`` builds it."""
    now = timezone.now()
    try:
        with transaction.atomic():
            LedgerAccount.objects.filter(id=account.id).update(
                contact=survivor, key=key, updated_at=now
            )
            if wallet is not None:
                Wallet.objects.filter(id=wallet.id).update(contact=survivor, updated_at=now)
    except IntegrityError:
        # The survivor's account or wallet of this currency was made since we read.
        raise _changed() from None


def _balance_move(
    studio: Studio,
    source: LedgerAccount,
    target: LedgerAccount,
    merged: Contact,
    by: User | None,
) -> None:
    """The whole balance of ``source`` (locked) onto ``target``, in their natural sign."""
    if source.balance == 0:
        return
    amount = abs(source.balance)
    # Lowering an account is a credit when it is debit-normal (a receivable: what the client
    # owes), a debit when it is credit-normal (a wallet: what the studio owes); a negative
    # balance the other way round.
    if (source.balance > 0) == source.debit_normal:
        legs = [credit(source, amount), debit(target, amount)]
    else:
        legs = [debit(source, amount), credit(target, amount)]
    ledger_post(
        studio=studio,
        kind=LedgerTransaction.Kind.ADJUSTMENT,
        idempotency_key=_merge_key(merged, source),
        legs=legs,
        memo=MERGE_MEMO,
        by=by,
        source=("contact", merged.id),
    )


def _lots_move(old: Wallet, new: Wallet) -> None:
    """The open credit lots of ``old`` (its rows locked after the wallets) now ``new``'s: what
    is left of each keeps its expiry, its reminder and the credit it came from."""
    lots = list(
        WalletCreditLot.objects.select_for_update()
        .filter(wallet=old, is_open=True)
        .order_by("id")
        .values_list("id", flat=True)
    )
    if lots:
        WalletCreditLot.objects.filter(id__in=lots).update(wallet=new, updated_at=timezone.now())


def _customers_merge(survivor: Contact, merged: Contact) -> None:
    """The merged contact's provider customer (and its saved cards) the survivor's, unless the
    survivor has one: then both stay as they are (see the module)."""
    studio = survivor.studio
    mine = ProviderCustomer.objects.filter(studio=studio, contact=merged).first()
    cards = SavedCard.objects.filter(studio=studio, contact=merged)
    if mine is not None:
        if ProviderCustomer.objects.filter(studio=studio, contact=survivor).exists():
            cards = cards.exclude(customer_id=mine.id)  # they stay with their customer
        else:
            try:
                with transaction.atomic():
                    ProviderCustomer.objects.filter(id=mine.id).update(
                        contact=survivor, updated_at=timezone.now()
                    )
            except IntegrityError:
                # The survivor's customer was made since we looked (its first saved card).
                raise _changed() from None
    cards.update(contact=survivor, updated_at=timezone.now())
