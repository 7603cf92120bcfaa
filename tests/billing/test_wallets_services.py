"""Wallet services: credit, spends against what is available, holds, refunds to the wallet,
lots that expire first spent first, expiry to breakage once, reminders once, the payments
seam, and every bad input refused with nothing written."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from billing.models import (
    BillingSettings,
    LedgerAccount,
    LedgerTransaction,
    Wallet,
    WalletCreditLot,
    WalletHold,
)
from billing.money import MAX_MINOR
from billing.services import wallets as services
from billing.services.ledger import account_for, credit, debit, ledger_post, ledger_reverse
from picpick.core.errors import ApplicationError, Conflict, NotFound
from picpick.testing.factories import ContactFactory, StudioFactory
from tests.billing import test_wallets_support as support
from tests.billing.test_wallets_support import (
    assert_ledger_sound,
    available,
    balance,
    grant,
    key,
)

pytestmark = pytest.mark.django_db

# The shared fixtures, by name.
_fresh_cache = support._fresh_cache
client_contact = support.client_contact
euro_studio = support.euro_studio
wallet = support.wallet

Kind = LedgerTransaction.Kind


def _expiry(studio, *, days=None, remind=14):
    settings = services.billing_settings_get(studio=studio)
    BillingSettings.objects.filter(id=settings.id).update(
        wallet_credit_expiry_days=days, wallet_expiry_reminder_days=remind
    )


# --- wallets and settings -------------------------------------------------------------------


def test_wallet_for_opens_one_wallet_per_contact_and_currency(euro_studio, client_contact):
    first = services.wallet_for(studio=euro_studio, contact=client_contact, currency="EUR")
    again = services.wallet_for(studio=euro_studio, contact=client_contact, currency="EUR")
    dollars = services.wallet_for(studio=euro_studio, contact=client_contact, currency="USD")

    assert first.id == again.id != dollars.id
    assert first.account.kind == LedgerAccount.Kind.WALLET
    assert first.account.contact_id == client_contact.id
    assert first.account.may_go_negative is False
    assert Wallet.objects.count() == 2


def test_wallet_for_refuses_another_studios_contact_and_unknown_currencies(euro_studio):
    stranger = ContactFactory(studio=StudioFactory())
    with pytest.raises(NotFound):
        services.wallet_for(studio=euro_studio, contact=stranger, currency="EUR")
    mine = ContactFactory(studio=euro_studio)
    with pytest.raises(ApplicationError) as caught:
        services.wallet_for(studio=euro_studio, contact=mine, currency="eur")
    assert caught.value.code == "currency_unknown"
    assert Wallet.objects.count() == 0


def test_settings_are_made_lazily_in_the_studios_currency(euro_studio):
    settings = services.billing_settings_get(studio=euro_studio)
    assert settings.currency == "EUR"
    assert settings.wallet_credit_expiry_days is None
    assert settings.wallet_expiry_reminder_days == 14
    assert services.billing_settings_get(studio=euro_studio).id == settings.id


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"gift_card_min": 1000}, "gift_card_limits_invalid"),
        ({"gift_card_min": 5000, "gift_card_max": 1000}, "gift_card_limits_invalid"),
        ({"gift_card_amounts": [5000, 5000]}, "invalid"),
        ({"gift_card_amounts": [0]}, "amount_not_positive"),
        ({"gift_card_amounts": [MAX_MINOR + 1]}, "amount_too_large"),
        ({"gift_card_amounts": [10.5]}, "amount_float"),
        ({"currency": "XXY"}, "currency_unknown"),
    ],
)
def test_settings_refuse_inconsistent_gift_card_rules(euro_studio, changes, code):
    services.billing_settings_get(studio=euro_studio)
    with pytest.raises(ApplicationError) as caught:
        services.billing_settings_update(studio=euro_studio, changes=changes)
    assert caught.value.code == code
    row = BillingSettings.objects.get(studio=euro_studio)
    assert (row.gift_card_min, row.gift_card_max, row.gift_card_amounts) == (None, None, [])


# --- grants and spends ----------------------------------------------------------------------


def test_a_grant_credits_the_wallet_from_the_adjustment_account(euro_studio, wallet):
    result = grant(wallet, 10_000, reason="referral", note="Sent us the Smiths")

    assert result.created
    txn = result.transaction
    assert txn.kind == Kind.WALLET_GRANT
    assert txn.memo == "Referral reward: Sent us the Smiths"
    assert (txn.source_type, txn.source_id) == ("wallet", wallet.id)
    adjustment = LedgerAccount.objects.get(studio=euro_studio, key="adjustment:EUR")
    assert balance(wallet) == 10_000
    assert adjustment.balance == 10_000  # debit-normal: what the studio gave grows with debits
    lot = WalletCreditLot.objects.get(wallet=wallet)
    assert (lot.amount, lot.remaining, lot.expires_at) == (10_000, 10_000, None)
    assert_ledger_sound()


def test_a_repeated_grant_key_is_one_transaction(wallet):
    first = grant(wallet, 5000, idempotency_key="same")
    again = grant(wallet, 5000, idempotency_key="same")
    assert again.created is False and again.transaction.id == first.transaction.id
    assert balance(wallet) == 5000
    assert WalletCreditLot.objects.count() == 1
    with pytest.raises(Conflict) as caught:
        grant(wallet, 6000, idempotency_key="same")
    assert caught.value.code == "idempotency_key_reused"


def test_a_spend_pays_revenue_within_what_is_available(euro_studio, wallet):
    grant(wallet, 10_000)
    result = services.wallet_spend(
        wallet=wallet, amount=2500, reference="Print order 42", idempotency_key=key()
    )
    assert result.transaction.kind == Kind.WALLET_SPEND
    assert balance(wallet) == 7500
    assert LedgerAccount.objects.get(studio=euro_studio, key="revenue:EUR").balance == 2500

    with pytest.raises(Conflict) as caught:
        services.wallet_spend(wallet=wallet, amount=7501, reference="x", idempotency_key=key())
    assert caught.value.code == "insufficient_funds"
    assert caught.value.extra["available"] == 7500
    assert balance(wallet) == 7500
    assert_ledger_sound()


def test_a_retried_spend_is_answered_even_when_the_money_is_gone(wallet):
    grant(wallet, 1000)
    first = services.wallet_spend(wallet=wallet, amount=1000, reference="x", idempotency_key="s")
    again = services.wallet_spend(wallet=wallet, amount=1000, reference="x", idempotency_key="s")
    assert again.transaction.id == first.transaction.id and again.created is False
    assert balance(wallet) == 0


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (0, "amount_not_positive"),
        (-100, "amount_not_positive"),
        (MAX_MINOR + 1, "amount_too_large"),
        (10.0, "amount_float"),
        (True, "amount_invalid"),
        ("10.00", "amount_invalid"),
    ],
)
def test_bad_amounts_are_refused_and_nothing_is_written(wallet, amount, code):
    grant(wallet, 1000)
    before = LedgerTransaction.objects.count()
    calls = [
        lambda: grant(wallet, amount),
        lambda: services.wallet_spend(
            wallet=wallet, amount=amount, reference="x", idempotency_key=key()
        ),
        lambda: services.wallet_refund(
            wallet=wallet, amount=amount, reference="x", idempotency_key=key()
        ),
        lambda: services.wallet_hold(
            wallet=wallet,
            amount=amount,
            reference="x",
            expires_at=timezone.now() + dt.timedelta(minutes=5),
            idempotency_key=key(),
        ),
    ]
    for call in calls:
        with pytest.raises(ApplicationError) as caught:
            call()
        assert caught.value.code == code
    assert LedgerTransaction.objects.count() == before
    assert WalletHold.objects.count() == 0


def test_another_currency_is_refused(wallet):
    with pytest.raises(ApplicationError) as caught:
        grant(wallet, 1000, currency="USD")
    assert caught.value.code == "currency_mismatch"
    with pytest.raises(ApplicationError) as caught:
        grant(wallet, 1000, currency="EURO")
    assert caught.value.code == "currency_unknown"
    assert LedgerTransaction.objects.count() == 0


def test_an_unknown_grant_reason_is_refused(wallet):
    with pytest.raises(ApplicationError) as caught:
        grant(wallet, 1000, reason="because")
    assert caught.value.code == "invalid_reason"


def test_a_refund_to_the_wallet_debits_refunds(euro_studio, wallet):
    result = services.wallet_refund(
        wallet=wallet, amount=3000, reference="Payment 7 refunded", idempotency_key="r1"
    )
    assert result.transaction.kind == Kind.WALLET_REFUND
    assert balance(wallet) == 3000
    assert LedgerAccount.objects.get(studio=euro_studio, key="refunds:EUR").balance == 3000
    assert WalletCreditLot.objects.get(wallet=wallet).amount == 3000
    again = services.wallet_refund(
        wallet=wallet, amount=3000, reference="Payment 7 refunded", idempotency_key="r1"
    )
    assert again.created is False and balance(wallet) == 3000


# --- holds ----------------------------------------------------------------------------------


def _hold(wallet, amount, **kwargs):
    return services.wallet_hold(
        wallet=wallet,
        amount=amount,
        reference=kwargs.pop("reference", "checkout 1"),
        expires_at=kwargs.pop("expires_at", timezone.now() + dt.timedelta(minutes=15)),
        idempotency_key=kwargs.pop("idempotency_key", key("hold")),
        **kwargs,
    ).hold


def test_a_hold_reserves_money_a_spend_cannot_take(wallet):
    grant(wallet, 10_000)
    hold = _hold(wallet, 6000)
    assert Wallet.objects.get(id=wallet.id).held == 6000
    assert available(wallet) == 4000
    with pytest.raises(Conflict) as caught:
        services.wallet_spend(wallet=wallet, amount=4001, reference="x", idempotency_key=key())
    assert caught.value.code == "insufficient_funds"
    with pytest.raises(Conflict):
        _hold(wallet, 4001)
    services.wallet_spend(wallet=wallet, amount=4000, reference="x", idempotency_key=key())
    assert balance(wallet) == 6000 and available(wallet) == 0
    assert hold.state == WalletHold.State.HELD


def test_a_hold_key_again_is_the_same_hold_and_another_request_with_it_a_409(wallet):
    grant(wallet, 10_000)
    first = services.wallet_hold(
        wallet=wallet,
        amount=1000,
        reference="c",
        expires_at=timezone.now() + dt.timedelta(minutes=5),
        idempotency_key="h",
    )
    again = services.wallet_hold(
        wallet=wallet,
        amount=1000,
        reference="c",
        expires_at=timezone.now() + dt.timedelta(minutes=5),
        idempotency_key="h",
    )
    assert (first.created, again.created, again.hold.id) == (True, False, first.hold.id)
    assert Wallet.objects.get(id=wallet.id).held == 1000
    with pytest.raises(Conflict) as caught:
        _hold(wallet, 2000, idempotency_key="h", reference="c")
    assert caught.value.code == "idempotency_key_reused"


def test_a_capture_spends_part_of_the_hold_and_releases_the_rest(euro_studio, wallet):
    grant(wallet, 10_000)
    hold = _hold(wallet, 6000)
    result = services.wallet_hold_capture(hold=hold, amount=4500)
    assert result.transaction.kind == Kind.WALLET_SPEND
    hold.refresh_from_db()
    assert (hold.state, hold.captured_amount, hold.capture_id) == (
        "captured",
        4500,
        result.transaction.id,
    )
    assert balance(wallet) == 5500
    assert Wallet.objects.get(id=wallet.id).held == 0
    again = services.wallet_hold_capture(hold=hold, amount=4500)
    assert again.created is False and balance(wallet) == 5500
    with pytest.raises(Conflict) as caught:
        services.wallet_hold_capture(hold=hold, amount=3000)
    assert caught.value.code == "hold_captured"
    with pytest.raises(Conflict):
        services.wallet_hold_release(hold=hold)
    assert_ledger_sound()


def test_a_capture_takes_at_most_the_hold(wallet):
    grant(wallet, 10_000)
    hold = _hold(wallet, 1000)
    with pytest.raises(ApplicationError) as caught:
        services.wallet_hold_capture(hold=hold, amount=1001)
    assert caught.value.code == "capture_exceeds_hold"


def test_a_released_hold_frees_its_money_and_cannot_be_captured(wallet):
    grant(wallet, 10_000)
    hold = _hold(wallet, 3000)
    services.wallet_hold_release(hold=hold)
    services.wallet_hold_release(hold=hold)  # again: a no-op
    assert available(wallet) == 10_000
    with pytest.raises(Conflict) as caught:
        services.wallet_hold_capture(hold=hold)
    assert caught.value.code == "hold_released"
    assert balance(wallet) == 10_000


def test_the_sweep_expires_holds_past_their_time_once(wallet):
    grant(wallet, 10_000)
    due = _hold(wallet, 3000, expires_at=timezone.now() + dt.timedelta(minutes=1))
    later = _hold(wallet, 2000, expires_at=timezone.now() + dt.timedelta(hours=1))
    soon = timezone.now() + dt.timedelta(minutes=2)

    assert services.holds_expire(now=soon) == 1
    assert services.holds_expire(now=soon) == 0
    due.refresh_from_db()
    later.refresh_from_db()
    assert (due.state, later.state) == ("expired", "held")
    assert Wallet.objects.get(id=wallet.id).held == 2000
    with pytest.raises(Conflict) as caught:
        services.wallet_hold_capture(hold=due)
    assert caught.value.code == "hold_expired"


def test_a_hold_past_its_time_cannot_be_captured_before_the_sweep(wallet):
    grant(wallet, 10_000)
    hold = _hold(wallet, 3000, expires_at=timezone.now() + dt.timedelta(minutes=1))
    with pytest.raises(Conflict) as caught:
        services.wallet_hold_capture(hold=hold, now=timezone.now() + dt.timedelta(minutes=2))
    assert caught.value.code == "hold_expired"


def test_a_hold_expires_in_the_future_within_a_month(wallet):
    grant(wallet, 10_000)
    for expires_at in (timezone.now(), timezone.now() + dt.timedelta(days=31)):
        with pytest.raises(ApplicationError) as caught:
            _hold(wallet, 100, expires_at=expires_at)
        assert caught.value.code == "invalid_expiry"


# --- lots and expiry ------------------------------------------------------------------------


def test_spends_use_the_credit_that_expires_first(euro_studio, wallet):
    now = timezone.now()
    _expiry(euro_studio, days=None)
    grant(wallet, 1000)  # never expires
    _expiry(euro_studio, days=30)
    grant(wallet, 2000, now=now)  # expires in 30 days
    _expiry(euro_studio, days=10)
    grant(wallet, 3000, now=now)  # expires in 10 days

    services.wallet_spend(wallet=wallet, amount=4000, reference="x", idempotency_key=key())

    lots = {lot.amount: lot for lot in WalletCreditLot.objects.filter(wallet=wallet)}
    assert lots[3000].remaining == 0 and lots[3000].is_open is False
    assert lots[2000].remaining == 1000
    assert lots[1000].remaining == 1000


def test_expired_credit_goes_to_breakage_exactly_once(euro_studio, wallet):
    now = timezone.now()
    _expiry(euro_studio, days=30)
    grant(wallet, 5000, now=now)
    services.wallet_spend(wallet=wallet, amount=1500, reference="x", idempotency_key=key())
    later = now + dt.timedelta(days=31)

    assert services.credits_expire(now=now + dt.timedelta(days=29)) == 0
    assert services.credits_expire(now=later) == 1
    assert services.credits_expire(now=later) == 0

    assert balance(wallet) == 0
    breakage = LedgerAccount.objects.get(studio=euro_studio, key="breakage:EUR")
    assert breakage.balance == 3500
    assert LedgerTransaction.objects.filter(kind=Kind.WALLET_EXPIRED).count() == 1
    lot = WalletCreditLot.objects.get(wallet=wallet)
    assert (lot.is_open, lot.expired_amount) == (False, 3500)
    assert_ledger_sound()


def test_credit_held_by_a_checkout_expires_after_it_ends(euro_studio, wallet):
    now = timezone.now()
    _expiry(euro_studio, days=1)
    grant(wallet, 5000, now=now)
    hold = _hold(wallet, 2000)
    later = now + dt.timedelta(days=2)
    assert services.credits_expire(now=later) == 0
    services.wallet_hold_release(hold=hold)
    assert services.credits_expire(now=later) == 1
    assert balance(wallet) == 0


def test_reminders_are_sent_once_per_wallet_with_the_amounts_and_dates(
    euro_studio, wallet, django_capture_on_commit_callbacks
):
    now = timezone.now()
    _expiry(euro_studio, days=30, remind=14)
    grant(wallet, 2000, now=now)
    grant(wallet, 3000, now=now)
    at = now + dt.timedelta(days=17)

    assert services.expiry_reminders(now=now + dt.timedelta(days=10)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert services.expiry_reminders(now=at) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert services.expiry_reminders(now=at) == 0

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["jane@example.com"]
    assert "€20.00" in message.body and "€30.00" in message.body
    assert "/wallet/" in message.body
    assert WalletCreditLot.objects.filter(reminded_at__isnull=True).count() == 0


# --- the payments seam ----------------------------------------------------------------------


def test_a_top_up_posted_by_payments_is_recorded_as_a_lot(euro_studio, wallet):
    _expiry(euro_studio, days=365)
    clearing = account_for(studio=euro_studio, kind="provider_clearing", currency="EUR")
    posted = ledger_post(
        studio=euro_studio,
        kind=Kind.WALLET_TOPUP,
        idempotency_key="payment:1",
        legs=[debit(clearing, 5000), credit(wallet.account, 5000)],
    )
    expires_at = services.wallet_lot_expiry(wallet=wallet)
    lot = services.wallet_credit_recorded(
        wallet=wallet, amount=5000, transaction=posted.transaction, expires_at=expires_at
    )
    again = services.wallet_credit_recorded(
        wallet=wallet, amount=5000, transaction=posted.transaction, expires_at=expires_at
    )
    assert lot.id == again.id
    assert (lot.amount, lot.expires_at) == (5000, expires_at)
    assert expires_at > timezone.now() + dt.timedelta(days=364)
    with pytest.raises(Conflict) as caught:
        services.wallet_credit_recorded(
            wallet=services.wallet_for(
                studio=euro_studio, contact=ContactFactory(studio=euro_studio), currency="EUR"
            ),
            amount=5000,
            transaction=posted.transaction,
        )
    assert caught.value.code == "wallet_credit_mismatch"


# --- reversals ------------------------------------------------------------------------------


def test_reversing_a_grant_keeps_held_money_and_closes_its_lot(wallet):
    granted = grant(wallet, 5000).transaction
    grant(wallet, 1000)
    hold = _hold(wallet, 2000)
    with pytest.raises(Conflict) as caught:
        services.wallet_transaction_reverse(
            wallet=wallet, transaction_id=granted.id, idempotency_key="rev"
        )
    assert caught.value.code == "insufficient_funds"
    services.wallet_hold_release(hold=hold)
    reversal = services.wallet_transaction_reverse(
        wallet=wallet, transaction_id=granted.id, idempotency_key="rev"
    )
    assert reversal.transaction.reverses_id == granted.id
    assert balance(wallet) == 1000
    lot = WalletCreditLot.objects.get(source=granted)
    assert lot.remaining == 0
    with pytest.raises(Conflict) as caught:
        services.wallet_transaction_reverse(
            wallet=wallet, transaction_id=granted.id, idempotency_key="rev-2"
        )
    assert caught.value.code == "already_reversed"
    assert_ledger_sound()


def test_reversing_a_spend_gives_the_money_back_as_new_credit(wallet):
    grant(wallet, 5000)
    spent = services.wallet_spend(
        wallet=wallet, amount=2000, reference="x", idempotency_key=key()
    ).transaction
    services.wallet_transaction_reverse(wallet=wallet, transaction_id=spent.id, idempotency_key="r")
    assert balance(wallet) == 5000
    assert WalletCreditLot.objects.filter(wallet=wallet, is_open=True).count() == 2


def test_a_generic_reversal_of_a_spent_grant_is_refused_by_the_ledger(wallet):
    granted = grant(wallet, 1000).transaction
    services.wallet_spend(wallet=wallet, amount=1000, reference="x", idempotency_key=key())
    with pytest.raises(Conflict) as caught:
        ledger_reverse(transaction=granted, idempotency_key="gen")
    assert caught.value.code == "insufficient_funds"


def test_a_transaction_of_another_wallet_is_not_reversed_through_this_one(euro_studio, wallet):
    other = services.wallet_for(
        studio=euro_studio, contact=ContactFactory(studio=euro_studio), currency="EUR"
    )
    granted = grant(other, 1000).transaction
    with pytest.raises(NotFound):
        services.wallet_transaction_reverse(
            wallet=wallet, transaction_id=granted.id, idempotency_key="x"
        )
