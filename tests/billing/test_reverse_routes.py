"""The generic reversal endpoint keeps every holder's rules: a wallet posting is undone by the
wallet's own reversal (holds keep their money, lots follow); a gift card posting is refused."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from billing.models import WalletCreditLot
from billing.services import wallets as services
from tests.billing import test_gift_cards_services as gift_cards
from tests.billing import test_wallets_support as support
from tests.billing.test_wallets_support import assert_ledger_sound, balance, grant, key

# The shared fixtures, by name.
_fresh_cache = support._fresh_cache
euro_studio = support.euro_studio
client_contact = support.client_contact
wallet = support.wallet
selling = gift_cards.selling

pytestmark = pytest.mark.django_db
URL = "/api/v1/billing/transactions/{}/reverse/"


def _reverse(client, transaction_id, idem):
    return client.post(URL.format(transaction_id), {}, format="json", HTTP_IDEMPOTENCY_KEY=idem)


def test_a_wallet_grant_reversed_by_the_generic_route_keeps_holds_and_lots(alice_client, wallet):
    granted = grant(wallet, 5000).transaction
    grant(wallet, 1000)
    hold = services.wallet_hold(
        wallet=wallet,
        amount=2000,
        reference="checkout",
        expires_at=timezone.now() + dt.timedelta(minutes=15),
        idempotency_key=key(),
    ).hold
    r = _reverse(alice_client, granted.id, "rev-1")
    assert r.status_code == 409 and r.json()["error"]["code"] == "insufficient_funds"
    services.wallet_hold_release(hold=hold)
    r = _reverse(alice_client, granted.id, "rev-1")
    assert r.status_code == 201, r.json()
    assert balance(wallet) == 1000
    assert WalletCreditLot.objects.get(source=granted).remaining == 0
    assert _reverse(alice_client, granted.id, "rev-1").status_code == 200  # the retry
    assert_ledger_sound()


def test_a_gift_card_posting_is_not_reversed_by_the_generic_route(alice_client, selling):
    card = gift_cards.buy(selling)
    sold = card.account.entries.get().transaction
    r = _reverse(alice_client, sold.id, "rev-card")
    assert r.status_code == 409 and r.json()["error"]["code"] == "gift_card_posting"
    assert balance(card.account) == 10_000
