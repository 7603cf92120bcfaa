"""A contact billing holds money for: the CRM's delete refuses it (erase instead), and a merge
takes the merged contact's wallets, accounts, payments and cards to the survivor, through the
ledger, or refuses the whole merge while a checkout holds the merged wallet's money."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter

import pytest
from django.apps import apps
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from billing.models import (
    BillingSettings,
    LedgerAccount,
    LedgerTransaction,
    Payment,
    ProviderCustomer,
    SavedCard,
    Wallet,
    WalletCreditLot,
)
from billing.services import wallets as services
from billing.services.contacts import contact_delete_guard, contact_money_merge
from billing.services.ledger import account_for, credit, debit, ledger_post
from billing.services.reconcile import ledger_check
from crm.models import Contact
from crm.services.contacts import contact_merge
from crm.services.contacts.hooks import CONTACT_DELETE_GUARDS, CONTACT_MERGE_HOOKS
from picpick.core.errors import Conflict
from picpick.testing.factories import (
    ContactFactory,
    PaymentFactory,
    ProviderCustomerFactory,
    SavedCardFactory,
    StudioFactory,
)
from tests.billing import test_wallets_support as support
from tests.billing.test_wallets_support import assert_ledger_sound, balance, grant, key
from tests.races import race

pytestmark = pytest.mark.django_db

_fresh_cache = support._fresh_cache
euro_studio = support.euro_studio

URL = "/api/v1/crm/contacts/"
Kind = LedgerTransaction.Kind


@pytest.fixture
def survivor(euro_studio):
    return ContactFactory(studio=euro_studio, first_name="Ana", email="ana@example.com")


@pytest.fixture
def merged(euro_studio):
    return ContactFactory(studio=euro_studio, first_name="Ana B", email="ana.b@example.com")


def _wallet(contact, currency="EUR"):
    return services.wallet_for(studio=contact.studio, contact=contact, currency=currency)


def _merge(client, survivor, merged):
    return client.post(f"{URL}{survivor.id}/merge/", {"from": str(merged.id)}, format="json")


def _expiry_days(studio, days):
    row = services.billing_settings_get(studio=studio)
    BillingSettings.objects.filter(id=row.id).update(wallet_credit_expiry_days=days)


def _open_lots(wallet):
    return list(
        WalletCreditLot.objects.filter(wallet=wallet, is_open=True)
        .order_by("expires_at")
        .values_list("remaining", "expires_at")
    )


def _lots_total(wallet) -> int:
    total = WalletCreditLot.objects.filter(wallet=wallet, is_open=True).aggregate(
        s=Sum("remaining")
    )["s"]
    return total or 0


def _merge_postings():
    return LedgerTransaction.objects.filter(idempotency_key__startswith="contact-merge:")


def _books_clean(studio):
    assert_ledger_sound(studio)
    run = ledger_check(studio=studio)
    assert run.ok, run.drifts


# --- registration -------------------------------------------------------------------------------


def test_billing_registers_into_the_contact_hooks_once_whatever_the_readies():
    apps.get_app_config("billing").ready()
    apps.get_app_config("billing").ready()
    assert CONTACT_DELETE_GUARDS.count(contact_delete_guard) == 1
    assert CONTACT_MERGE_HOOKS.count(contact_money_merge) == 1


# --- delete -------------------------------------------------------------------------------------


def _with_wallet(contact):
    grant(_wallet(contact), 1000)


def _with_empty_wallet(contact):
    _wallet(contact)


def _with_payment(contact):
    PaymentFactory(studio=contact.studio, contact=contact)


def _with_receivable(contact):
    account_for(studio=contact.studio, kind="receivable", currency="EUR", contact=contact)


def _with_saved_card(contact):
    SavedCardFactory(customer=ProviderCustomerFactory(contact=contact))


@pytest.mark.parametrize(
    "money",
    [_with_wallet, _with_empty_wallet, _with_payment, _with_receivable, _with_saved_card],
    ids=["wallet", "empty-wallet", "payment", "receivable", "saved-card"],
)
def test_deleting_a_contact_with_money_history_is_409_and_deletes_nothing(
    alice_client, euro_studio, merged, money
):
    money(merged)
    before = (LedgerAccount.objects.count(), Wallet.objects.count(), Payment.objects.count())
    r = alice_client.delete(f"{URL}{merged.id}/")
    assert r.status_code == 409, r.content
    error = r.json()["error"]
    assert error["code"] == "contact_has_money_history"
    assert "erase" in error["message"].lower()
    assert Contact.objects.filter(id=merged.id).exists()
    assert (LedgerAccount.objects.count(), Wallet.objects.count(), Payment.objects.count()) == (
        before
    )
    # Erasing is the way out: the person goes, the money history stays.
    erased = alice_client.post(f"{URL}{merged.id}/erase/")
    assert erased.status_code == 200, erased.content


def test_a_contact_without_money_still_deletes(alice_client, euro_studio, survivor, merged):
    _with_wallet(survivor)  # another contact's money is no reason
    r = alice_client.delete(f"{URL}{merged.id}/")
    assert r.status_code == 204, r.content
    assert not Contact.objects.filter(id=merged.id).exists()


# --- merge: one wallet --------------------------------------------------------------------------


def test_a_merge_hands_the_merged_contacts_only_wallet_to_the_survivor(
    alice_client, euro_studio, survivor, merged
):
    _expiry_days(euro_studio, 365)
    wallet = _wallet(merged)
    grant(wallet, 5000)
    lots = _open_lots(wallet)
    transactions = LedgerTransaction.objects.count()

    r = _merge(alice_client, survivor, merged)
    assert r.status_code == 200, r.content

    row = Wallet.objects.select_related("account").get(id=wallet.id)
    assert row.contact_id == survivor.id
    assert row.account.contact_id == survivor.id
    assert row.account.key == f"wallet:{survivor.id}:EUR"
    found = account_for(studio=euro_studio, kind="wallet", currency="EUR", contact=survivor)
    assert found.id == wallet.account_id
    assert _wallet(survivor).id == wallet.id
    assert balance(wallet) == 5000
    assert _open_lots(wallet) == lots
    assert LedgerTransaction.objects.count() == transactions  # nothing posted: same account
    assert not Wallet.objects.filter(contact=merged).exists()
    assert not LedgerAccount.objects.filter(contact=merged).exists()
    _books_clean(euro_studio)
    # The wallet is the survivor's to spend.
    services.wallet_spend(wallet=_wallet(survivor), amount=2000, reference="x", idempotency_key="s")
    assert balance(wallet) == 3000


# --- merge: a wallet each -----------------------------------------------------------------------


def test_a_merge_of_two_euro_wallets_moves_the_balance_in_one_posting_with_the_lots(
    alice_client, euro_studio, survivor, merged
):
    _expiry_days(euro_studio, 365)
    ours, theirs = _wallet(survivor), _wallet(merged)
    grant(ours, 1000)
    now = timezone.now()
    grant(theirs, 3000, now=now - dt.timedelta(days=200))  # expires first
    grant(theirs, 2000, now=now)
    services.wallet_spend(wallet=theirs, amount=1000, reference="x", idempotency_key="s1")
    moved = _open_lots(theirs)
    assert [remaining for remaining, _ in moved] == [2000, 2000]
    kept = _open_lots(ours)

    r = _merge(alice_client, survivor, merged)
    assert r.status_code == 200, r.content

    posting = LedgerTransaction.objects.get(idempotency_key=f"contact-merge:{merged.id}:wallet:EUR")
    assert (posting.kind, posting.amount, posting.memo) == (
        Kind.ADJUSTMENT,
        4000,
        "contacts merged",
    )
    assert (posting.source_type, posting.source_id) == ("contact", merged.id)
    assert posting.created_by_id is not None
    legs = dict(posting.entries.values_list("account_id", "amount"))
    assert legs == {theirs.account_id: 4000, ours.account_id: -4000}
    assert _merge_postings().count() == 1
    assert balance(ours) == 5000 and balance(theirs) == 0
    # The lots went with the money: what is left of each, with its expiry.
    assert sorted(_open_lots(ours), key=lambda lot: lot[1]) == sorted(
        kept + moved, key=lambda lot: lot[1]
    )
    assert _lots_total(ours) == 5000 and _open_lots(theirs) == []
    # The merged wallet stays on the tombstone, empty, with its history.
    assert Wallet.objects.get(id=theirs.id).contact_id == merged.id
    assert account_for(studio=euro_studio, kind="wallet", currency="EUR", contact=survivor).id == (
        ours.account_id
    )
    _books_clean(euro_studio)

    # A merge again is refused by the CRM, as before; nothing moves twice.
    again = _merge(alice_client, survivor, merged)
    assert again.status_code == 409 and again.json()["error"]["code"] == "contact_merged"
    assert _merge_postings().count() == 1
    # The credit that expires first is spent first, from the survivor's wallet.
    services.wallet_spend(wallet=ours, amount=2500, reference="y", idempotency_key="s2")
    assert _open_lots(ours) == [(500, kept[0][1]), moved[1]]
    assert _lots_total(ours) == balance(ours) == 2500
    _books_clean(euro_studio)


def test_wallets_in_other_currencies_are_handed_over_beside_a_folded_one(
    euro_studio, survivor, merged
):
    grant(_wallet(survivor), 1000)
    grant(_wallet(merged), 700)
    usd = _wallet(merged, "USD")
    grant(usd, 300)
    contact_merge(survivor=survivor, merged=merged, by=None)
    assert Wallet.objects.get(id=usd.id).contact_id == survivor.id
    assert balance(_wallet(survivor)) == 1700
    assert balance(_wallet(survivor, "USD")) == 300
    _books_clean(euro_studio)


def test_a_merged_wallet_with_a_checkout_in_progress_refuses_the_whole_merge(
    alice_client, euro_studio, survivor, merged
):
    ours, theirs = _wallet(survivor), _wallet(merged)
    grant(ours, 1000)
    grant(theirs, 5000)
    hold = services.wallet_hold(
        wallet=theirs,
        amount=2000,
        reference="checkout",
        expires_at=timezone.now() + dt.timedelta(minutes=15),
        idempotency_key=key("hold"),
    ).hold
    PaymentFactory(studio=euro_studio, contact=merged)
    transactions = LedgerTransaction.objects.count()

    r = _merge(alice_client, survivor, merged)
    assert r.status_code == 409, r.content
    error = r.json()["error"]
    assert error["code"] == "wallet_has_holds"

    row = Contact.objects.get(id=merged.id)
    assert (row.merged_into_id, row.email) == (None, "ana.b@example.com")
    assert LedgerTransaction.objects.count() == transactions
    assert (balance(ours), balance(theirs)) == (1000, 5000)
    assert Payment.objects.get(studio=euro_studio).contact_id == merged.id
    assert _lots_total(theirs) == 5000

    # Once the checkout ends the merge goes through.
    services.wallet_hold_release(hold=hold)
    assert _merge(alice_client, survivor, merged).status_code == 200
    assert balance(ours) == 6000
    _books_clean(euro_studio)


# --- merge: receivables, payments, cards --------------------------------------------------------


def _owes(contact, amount):
    studio = contact.studio
    receivable = account_for(studio=studio, kind="receivable", currency="EUR", contact=contact)
    revenue = account_for(studio=studio, kind="revenue", currency="EUR")
    ledger_post(
        studio=studio,
        kind=Kind.ADJUSTMENT,
        idempotency_key=key("owes"),
        legs=[debit(receivable, amount), credit(revenue, amount)],
    )
    return receivable


def test_receivables_are_handed_over_or_their_balance_moved(euro_studio, survivor, merged):
    ours, theirs = _owes(survivor, 1000), _owes(merged, 2500)
    usd = account_for(studio=euro_studio, kind="receivable", currency="USD", contact=merged)
    contact_merge(survivor=survivor, merged=merged, by=None)
    assert balance(ours) == 3500 and balance(theirs) == 0
    posting = LedgerTransaction.objects.get(
        idempotency_key=f"contact-merge:{merged.id}:receivable:EUR"
    )
    assert posting.kind == Kind.ADJUSTMENT
    assert dict(posting.entries.values_list("account_id", "amount")) == {
        theirs.id: -2500,
        ours.id: 2500,
    }
    moved = LedgerAccount.objects.get(id=usd.id)
    assert (moved.contact_id, moved.key) == (survivor.id, f"receivable:{survivor.id}:USD")
    _books_clean(euro_studio)


def test_payments_follow_the_survivor_and_top_ups_name_the_wallet_holding_their_credit(
    euro_studio, survivor, merged
):
    ours, theirs = _wallet(survivor), _wallet(merged)
    grant(theirs, 5000)
    gift = PaymentFactory(studio=euro_studio, contact=merged)
    top_up = PaymentFactory(
        studio=euro_studio,
        contact=merged,
        purpose=Payment.Purpose.WALLET_TOPUP,
        reference_id=theirs.id,
    )
    others = PaymentFactory(studio=euro_studio, contact=ContactFactory(studio=euro_studio))
    contact_merge(survivor=survivor, merged=merged, by=None)
    assert Payment.objects.get(id=gift.id).contact_id == survivor.id
    assert Payment.objects.get(id=top_up.id).contact_id == survivor.id
    assert Payment.objects.get(id=top_up.id).reference_id == ours.id
    assert Payment.objects.get(id=others.id).contact_id == others.contact_id
    assert not Payment.objects.filter(contact=merged).exists()


def test_a_handed_over_wallets_top_ups_keep_naming_it(euro_studio, survivor, merged):
    theirs = _wallet(merged)
    top_up = PaymentFactory(
        studio=euro_studio,
        contact=merged,
        purpose=Payment.Purpose.WALLET_TOPUP,
        reference_id=theirs.id,
    )
    contact_merge(survivor=survivor, merged=merged, by=None)
    assert Payment.objects.get(id=top_up.id).reference_id == theirs.id
    assert Wallet.objects.get(id=theirs.id).contact_id == survivor.id


def test_the_provider_customer_and_its_cards_follow_when_the_survivor_has_none(
    euro_studio, survivor, merged
):
    customer = ProviderCustomerFactory(contact=merged)
    card = SavedCardFactory(customer=customer)
    contact_merge(survivor=survivor, merged=merged, by=None)
    assert ProviderCustomer.objects.get(id=customer.id).contact_id == survivor.id
    assert SavedCard.objects.get(id=card.id).contact_id == survivor.id


def test_the_survivors_provider_customer_is_kept_and_the_merged_one_stays_with_its_cards(
    euro_studio, survivor, merged
):
    kept = ProviderCustomerFactory(contact=survivor)
    kept_card = SavedCardFactory(customer=kept)
    left = ProviderCustomerFactory(contact=merged, provider_account_id=kept.provider_account_id)
    left_card = SavedCardFactory(customer=left)
    contact_merge(survivor=survivor, merged=merged, by=None)
    assert ProviderCustomer.objects.get(id=kept.id).contact_id == survivor.id
    assert SavedCard.objects.get(id=kept_card.id).contact_id == survivor.id
    # A card is charged through its own customer at the provider: it stays beside it.
    assert ProviderCustomer.objects.get(id=left.id).contact_id == merged.id
    assert SavedCard.objects.get(id=left_card.id).contact_id == merged.id


def test_a_merge_of_contacts_without_money_touches_no_billing_row(euro_studio, survivor, merged):
    _wallet(ContactFactory(studio=euro_studio))
    contact_merge(survivor=survivor, merged=merged, by=None)
    assert not LedgerTransaction.objects.filter(
        idempotency_key__startswith="contact-merge:"
    ).exists()


# --- races (MariaDB) ----------------------------------------------------------------------------

RACERS = 8
SPEND = 1000  # seven spends of it fit in the merged wallet's 10,000
STAGGER = 0.015  # seconds between the spends' starts: some land before the merge, some after


def _outcomes(results) -> Counter:
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, Conflict)]
    assert not unexpected, unexpected
    return Counter(r.code if isinstance(r, Conflict) else "ok" for r in results)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="SQLite serialises all writers; the race needs MariaDB's row locks",
)
@pytest.mark.parametrize("survivor_has_wallet", [True, False], ids=["fold", "hand-over"])
def test_a_merge_racing_spends_of_the_merged_wallet_ends_consistent(survivor_has_wallet):
    """Folded, a spend either came first (the merge moves what it left) or finds the merged
    wallet empty (409 ``insufficient_funds``, nothing written); handed over, every spend is
    made on the same wallet, now the survivor's."""
    studio = StudioFactory(default_currency="EUR")
    survivor = ContactFactory(studio=studio)
    merged = ContactFactory(studio=studio)
    if survivor_has_wallet:
        grant(_wallet(survivor), 1000)
    theirs = _wallet(merged)
    grant(theirs, 10_000)
    start = 1000 if survivor_has_wallet else 0

    def work(index: int):
        if index == 0:
            one = Contact.objects.select_related("studio").get(id=survivor.id)
            two = Contact.objects.select_related("studio").get(id=merged.id)
            return contact_merge(survivor=one, merged=two, by=None)
        time.sleep(STAGGER * (index - 1))
        wallet = Wallet.objects.select_related("account", "studio", "contact").get(id=theirs.id)
        return services.wallet_spend(
            wallet=wallet, amount=SPEND, reference=f"order {index}", idempotency_key=f"s{index}"
        )

    results = race(RACERS, work)
    assert isinstance(results[0], Contact), results[0]
    spends = _outcomes(results[1:])
    assert set(spends) <= {"ok", "insufficient_funds"}, spends
    spent = SPEND * spends["ok"]
    if not survivor_has_wallet:
        assert spends == {"ok": RACERS - 1}
    ours = Wallet.objects.get(studio=studio, contact=survivor, currency="EUR")
    assert balance(ours) == start + 10_000 - spent
    assert _lots_total(ours) == balance(ours)
    if survivor_has_wallet:
        assert balance(theirs) == 0 and _lots_total(theirs) == 0
        moved = LedgerTransaction.objects.get(
            studio=studio, idempotency_key=f"contact-merge:{merged.id}:wallet:EUR"
        )
        # The spends made came before the merge (after it the merged wallet is empty).
        assert moved.amount == 10_000 - spent
        made = LedgerTransaction.objects.filter(studio=studio, kind=Kind.WALLET_SPEND)
        assert not made.filter(posted_at__gt=moved.posted_at).exists()
    assert Contact.objects.get(id=merged.id).merged_into_id == survivor.id
    _books_clean(studio)
