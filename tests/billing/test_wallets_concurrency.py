"""Wallets and gift cards raced on MariaDB's row locks (real threads, one connection each).

Every spend checks ``balance - held`` under the ledger's lock of the wallet's account, so 50
spends of 10.00 from 100.00 make exactly ten whatever the interleaving; holds take the same
lock, so holds and spends together never reserve or spend more than is there; a gift card's
redemptions are checked under its account's lock the same way.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection

from billing.models import GiftCard, LedgerAccount, LedgerTransaction, Wallet, WalletHold
from billing.services import gift_cards as cards
from billing.services import wallets as services
from picpick.core.errors import Conflict
from picpick.testing.factories import ContactFactory, StudioFactory
from tests.billing.test_wallets_support import assert_ledger_sound
from tests.races import race

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="SQLite serialises all writers; the race needs MariaDB's row locks",
    ),
]

RACERS = 50


def _wallet_with(amount: int) -> Wallet:
    studio = StudioFactory(default_currency="EUR")
    contact = ContactFactory(studio=studio)
    wallet = services.wallet_for(studio=studio, contact=contact, currency="EUR")
    services.wallet_grant(wallet=wallet, amount=amount, reason="prepaid", idempotency_key="seed")
    return wallet


def _fresh(wallet_id) -> Wallet:
    return Wallet.objects.select_related("account", "studio", "contact").get(id=wallet_id)


def _outcomes(results) -> Counter:
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, Conflict)]
    assert not unexpected, unexpected
    return Counter(r.code if isinstance(r, Conflict) else "ok" for r in results)


def _balance(wallet: Wallet) -> int:
    return LedgerAccount.objects.get(id=wallet.account_id).balance


def test_fifty_spends_of_ten_from_a_hundred_make_exactly_ten():
    wallet = _wallet_with(10_000)

    def work(index: int):
        return services.wallet_spend(
            wallet=_fresh(wallet.id),
            amount=1000,
            reference=f"order {index}",
            idempotency_key=f"spend-{index}",
        )

    outcomes = _outcomes(race(RACERS, work))
    assert outcomes == {"ok": 10, "insufficient_funds": RACERS - 10}
    assert _balance(wallet) == 0
    assert LedgerTransaction.objects.filter(kind="wallet_spend").count() == 10
    assert_ledger_sound(wallet.studio)


def test_fifty_redemptions_of_ten_on_a_hundred_card_make_exactly_ten(settings):
    studio = StudioFactory(default_currency="EUR")
    issued = cards.gift_card_issue(
        studio=studio, amount=10_000, currency="EUR", idempotency_key="card"
    )

    def work(index: int):
        return cards.gift_card_redeem(
            studio=studio,
            code=issued.code,
            amount=1000,
            reference=f"order {index}",
            idempotency_key=f"redeem-{index}",
            address=f"198.51.100.{index}",
        )

    outcomes = _outcomes(race(RACERS, work))
    # The tenth redemption empties the card: later ones find it used, or too thin before that.
    assert outcomes["ok"] == 10
    assert set(outcomes) <= {"ok", "insufficient_funds", "gift_card_used"}
    card = GiftCard.objects.select_related("account").get(id=issued.card.id)
    assert (card.account.balance, card.state) == (0, GiftCard.State.USED)
    assert LedgerTransaction.objects.filter(kind="gift_card_redeemed").count() == 10
    assert_ledger_sound(studio)


def test_grants_racing_spends_lose_nothing():
    wallet = _wallet_with(10_000)

    def work(index: int):
        fresh = _fresh(wallet.id)
        if index % 2:
            return services.wallet_grant(
                wallet=fresh, amount=500, reason="goodwill", idempotency_key=f"grant-{index}"
            )
        return services.wallet_spend(
            wallet=fresh, amount=1000, reference="x", idempotency_key=f"spend-{index}"
        )

    results = race(RACERS, work)
    _outcomes(results)
    grants = sum(1 for i, r in enumerate(results) if i % 2 and not isinstance(r, Exception))
    spends = sum(1 for i, r in enumerate(results) if not i % 2 and not isinstance(r, Exception))
    assert grants == RACERS // 2
    assert 10 <= spends <= RACERS // 2
    assert _balance(wallet) == 10_000 + 500 * grants - 1000 * spends >= 0
    assert_ledger_sound(wallet.studio)


def test_holds_racing_spends_never_reserve_and_spend_more_than_is_there():
    import datetime as dt

    from django.utils import timezone

    wallet = _wallet_with(10_000)
    expires_at = timezone.now() + dt.timedelta(minutes=10)

    def work(index: int):
        fresh = _fresh(wallet.id)
        if index % 2:
            return services.wallet_hold(
                wallet=fresh,
                amount=1000,
                reference=f"checkout {index}",
                expires_at=expires_at,
                idempotency_key=f"hold-{index}",
            )
        return services.wallet_spend(
            wallet=fresh, amount=1000, reference="x", idempotency_key=f"spend-{index}"
        )

    outcomes = _outcomes(race(RACERS, work))
    assert outcomes == {"ok": 10, "insufficient_funds": RACERS - 10}
    held = Wallet.objects.get(id=wallet.id).held
    assert held == 1000 * WalletHold.objects.filter(wallet=wallet, state="held").count()
    spent = 1000 * LedgerTransaction.objects.filter(kind="wallet_spend").count()
    assert held + spent == 10_000
    assert _balance(wallet) - held == 0
    assert_ledger_sound(wallet.studio)


def test_captures_and_releases_racing_spends_keep_the_sums():
    import datetime as dt

    from django.utils import timezone

    wallet = _wallet_with(10_000)
    holds = [
        services.wallet_hold(
            wallet=wallet,
            amount=1000,
            reference=f"c{n}",
            expires_at=timezone.now() + dt.timedelta(minutes=10),
            idempotency_key=f"h{n}",
        ).hold
        for n in range(5)
    ]

    def work(index: int):
        if index < 5:
            hold = WalletHold.objects.select_related("wallet__account", "wallet__studio").get(
                id=holds[index].id
            )
            if index % 2:
                return services.wallet_hold_release(hold=hold)
            return services.wallet_hold_capture(hold=hold, amount=600)
        return services.wallet_spend(
            wallet=_fresh(wallet.id), amount=500, reference="x", idempotency_key=f"s{index}"
        )

    results = race(30, work)
    _outcomes(results)
    spends = sum(1 for r in results[5:] if not isinstance(r, Exception))
    # 50.00 was never held: at least 10 spends of 5.00; at most what 3 captures of 6.00 (the
    # rest of each hold released) and 2 releases leave: 82.00, 16 spends. A spend that ran
    # while a hold still reserved its money was refused, so anywhere in between.
    assert 10 <= spends <= (10_000 - 3 * 600) // 500
    assert Wallet.objects.get(id=wallet.id).held == 0
    assert _balance(wallet) == 10_000 - 3 * 600 - 500 * spends
    assert_ledger_sound(wallet.studio)


def test_racing_spend_requests_answer_201_or_409(alice, studio_a):
    """The same race through the API (its views run each service in its own transaction)."""
    from tests.conftest import client_for

    studio_a.default_currency = "EUR"
    studio_a.save(update_fields=["default_currency"])
    contact = ContactFactory(studio=studio_a)
    wallet = services.wallet_for(studio=studio_a, contact=contact, currency="EUR")
    services.wallet_grant(wallet=wallet, amount=5000, reason="prepaid", idempotency_key="seed")
    url = f"/api/v1/billing/wallets/{wallet.id}/spend/"

    def work(index: int):
        response = client_for(alice, studio_a).post(
            url,
            {"amount": "10.00", "currency": "EUR", "reference": f"order {index}"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"spend-{index}",
        )
        return response.status_code, response.json().get("error", {}).get("code")

    results = Counter(race(20, work))
    assert results == {(201, None): 5, (409, "insufficient_funds"): 15}, results
    assert _balance(wallet) == 0
    assert_ledger_sound(studio_a)
