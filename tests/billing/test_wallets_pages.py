"""The client's billing pages on a studio's site (server-rendered): the gift-card balance check
(code posted, history shown, wrong codes limited like a redemption) and the wallet page reached
by a signed, expiring link (only that contact's wallets; a wrong, expired or other studio's
link is the not-found page)."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from unittest import mock

import pytest
from django.test import Client

from billing.services import gift_cards as cards
from billing.services import wallets as services
from picpick.testing.factories import ContactFactory
from tests.billing import test_wallets_support as support
from tests.billing.test_wallets_support import STUDIO_A_HOST, STUDIO_B_HOST, grant, key

pytestmark = pytest.mark.django_db

_fresh_cache = support._fresh_cache
euro_studio = support.euro_studio
client_contact = support.client_contact
wallet = support.wallet


def browser_client(host: str = STUDIO_A_HOST) -> Client:
    return Client(enforce_csrf_checks=True, HTTP_HOST=host)


def check(client: Client, code: str, **extra):
    page = client.get("/gift-card/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    return client.post("/gift-card/", {"code": code, "csrfmiddlewaretoken": token}, **extra)


def text(response) -> str:
    return unescape(response.content.decode())


@pytest.fixture
def card(euro_studio):
    issued = cards.gift_card_issue(
        studio=euro_studio, amount=10_000, currency="EUR", idempotency_key=key()
    )
    cards.gift_card_redeem(
        studio=euro_studio,
        code=issued.code,
        amount=3500,
        reference="Session 12",
        idempotency_key=key(),
        address="192.0.2.1",
    )
    return issued


# --- the balance check ----------------------------------------------------------------------


def test_the_balance_page_asks_for_a_code(euro_studio):
    response = browser_client().get("/gift-card/")
    assert response.status_code == 200
    html = text(response)
    assert "Gift card balance" in html and 'name="code"' in html
    assert "Anna Smith Photography" in html
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["Cache-Control"] == "private, no-store"


def test_a_right_code_shows_the_balance_expiry_and_history(euro_studio, card):
    response = check(browser_client(), card.code.lower().replace("-", " "))
    assert response.status_code == 200
    html = text(response)
    assert "Card ending " + card.code[-4:] in html
    assert 'id="card-balance">€65.00<' in html
    assert "Redeemed" in html and "-€35.00" in html
    assert "Adjustment by the studio" in html and "€100.00" in html
    assert "No expiry" in html
    assert card.code not in html  # not echoed back


def test_a_wrong_code_is_said_and_limited_per_address(euro_studio, card, settings):
    settings.PICPICK_GIFT_CARD_GUESSES_PER_ADDRESS = 2
    client = browser_client()
    for _ in range(2):
        response = check(client, "AAAA-BBBB-CCCC-DDDD")
        assert response.status_code == 404
        assert "No gift card has this code" in text(response)
    response = check(client, card.code)
    assert response.status_code == 429
    assert "Too many wrong codes" in text(response)
    assert int(response["Retry-After"]) > 0
    other = check(browser_client(), card.code, REMOTE_ADDR="203.0.113.50")
    assert other.status_code == 200


def test_another_studios_site_does_not_know_the_card(euro_studio, card, studio_b):
    response = check(browser_client(STUDIO_B_HOST), card.code)
    assert response.status_code == 404


def test_the_balance_check_needs_the_csrf_token(euro_studio, card):
    response = browser_client().post("/gift-card/", {"code": card.code})
    assert response.status_code == 403


# --- the wallet page ------------------------------------------------------------------------


def test_the_wallet_link_shows_that_contacts_wallets_and_statement(euro_studio, wallet):
    grant(wallet, 5000)
    services.wallet_spend(wallet=wallet, amount=1250, reference="Prints", idempotency_key="s")
    dollars = services.wallet_for(studio=euro_studio, contact=wallet.contact, currency="USD")
    grant(dollars, 700)
    stranger = services.wallet_for(
        studio=euro_studio, contact=ContactFactory(studio=euro_studio), currency="EUR"
    )
    grant(stranger, 99_900)

    path = f"/wallet/{services.wallet_link_token(wallet=wallet)}/"
    response = browser_client().get(path)
    assert response.status_code == 200
    html = text(response)
    assert "€37.50" in html and "$7.00" in html
    assert "€999.00" not in html
    assert "Payment" in html and "-€12.50" in html
    assert "Credit from the studio" in html and "€50.00" in html
    other = browser_client().get(path, {"wallet": str(dollars.id)})
    assert "$7.00" in text(other) and "-€12.50" not in text(other)


def test_the_wallet_statement_is_paged(euro_studio, wallet):
    grant(wallet, 100_000)
    for n in range(30):
        services.wallet_spend(wallet=wallet, amount=100 + n, reference="x", idempotency_key=n)
    path = f"/wallet/{services.wallet_link_token(wallet=wallet)}/"
    first = text(browser_client().get(path))
    assert first.count('class="statement-row"') == 25
    older = re.search(r'id="older" class="download" href="([^"]+)"', first)[1]
    second = text(browser_client().get(older))
    assert second.count('class="statement-row"') == 6
    assert 'id="newer"' in second and 'id="older"' not in second


@pytest.mark.parametrize("token", ["nonsense", "a:b:c"])
def test_a_forged_wallet_link_is_not_found(euro_studio, wallet, token):
    response = browser_client().get(f"/wallet/{token}/")
    assert response.status_code == 404
    assert "This link is not valid or has expired" in text(response)


def test_an_expired_wallet_link_is_not_found(euro_studio, wallet, settings):
    settings.PICPICK_WALLET_LINK_DAYS = 30
    token = services.wallet_link_token(wallet=wallet)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    with mock.patch("django.core.signing.time.time", return_value=later.timestamp()):
        response = browser_client().get(f"/wallet/{token}/")
    assert response.status_code == 404


def test_a_wallet_link_works_only_on_its_studios_site(euro_studio, wallet, studio_b):
    token = services.wallet_link_token(wallet=wallet)
    assert browser_client(STUDIO_B_HOST).get(f"/wallet/{token}/").status_code == 404
