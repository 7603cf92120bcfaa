"""The gift card API: issue (the code once), list and read (never the code), statements,
redeem by code (partial, used up, wrong codes limited with Retry-After), resend, void; bad
money refused with nothing written; another studio's cards a 404 everywhere."""

from __future__ import annotations

import pytest

from billing.models import GiftCard, LedgerTransaction
from billing.services import gift_cards as services
from tests.billing import test_wallets_support as support
from tests.billing.test_wallets_support import balance

pytestmark = pytest.mark.django_db

_fresh_cache = support._fresh_cache
euro_studio = support.euro_studio

BASE = "/api/v1/billing/gift-cards"


def post(client, url, body=None, key: str | None = "k1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(url, body or {}, format="json", **headers)


def error(response) -> str:
    return response.json()["error"]["code"]


@pytest.fixture
def issued(alice_client, euro_studio):
    """A 100.00 card studio A issued, and its code."""
    response = post(alice_client, f"{BASE}/", {"amount": "100.00", "currency": "EUR"}, key="i")
    assert response.status_code == 201, response.content
    return response.json()["card"], response.json()["code"]


def test_issue_shows_the_code_once_and_reads_never_show_it(alice_client, euro_studio, issued):
    card, code = issued
    assert card["state"] == "active" and card["origin"] == "issued"
    assert card["balance"]["amount"] == 10_000
    assert card["code_last4"] == code[-4:]
    replay = post(alice_client, f"{BASE}/", {"amount": "100.00", "currency": "EUR"}, key="i")
    assert replay.status_code == 200 and replay.json()["code"] == code
    assert replay["Cache-Control"] == "no-store"

    normal = services.code_normalise(code)
    for response in (
        alice_client.get(f"{BASE}/"),
        alice_client.get(f"{BASE}/{card['id']}/"),
        alice_client.get(f"{BASE}/{card['id']}/entries/"),
    ):
        assert response.status_code == 200
        text = response.content.decode()
        assert code not in text and normal not in text
    assert [
        c["id"] for c in alice_client.get(f"{BASE}/", {"state": "active"}).json()["results"]
    ] == [card["id"]]
    assert alice_client.get(f"{BASE}/", {"state": "used"}).json()["results"] == []


def test_issue_to_a_recipient_emails_the_code(
    alice_client, euro_studio, mailoutbox, django_capture_on_commit_callbacks
):
    body = {
        "amount": 5000,
        "currency": "EUR",
        "recipient_name": "Rita",
        "recipient_email": "rita@example.com",
        "message": "Thank you!",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = post(alice_client, f"{BASE}/", body, key="gift-rita")
    assert response.status_code == 201, response.content
    assert [m.to for m in mailoutbox] == [["rita@example.com"]]
    assert response.json()["code"] in mailoutbox[0].body
    card = GiftCard.objects.get(id=response.json()["card"]["id"])
    assert card.code_sealed == "" and card.delivered_at is not None


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [
        (12.5, "EUR", "amount_float"),
        ("1.234", "EUR", "amount_precision"),
        (0, "EUR", "amount_invalid"),
        (-100, "EUR", "amount_invalid"),
        (10**12 + 1, "EUR", "amount_too_large"),
        ("abc", "EUR", "amount_invalid"),
        ("10.00", "ZZZ", "currency_unknown"),
    ],
)
def test_bad_issue_amounts_write_nothing(alice_client, euro_studio, amount, currency, code):
    response = post(alice_client, f"{BASE}/", {"amount": amount, "currency": currency})
    assert (response.status_code, error(response)) == (400, code)
    assert GiftCard.objects.count() == 0 and LedgerTransaction.objects.count() == 0


def test_redeem_by_code_partially_then_used_up(alice_client, euro_studio, issued):
    card, code = issued
    body = {"code": code.lower(), "amount": "35.00", "currency": "EUR", "reference": "Session"}
    first = post(alice_client, f"{BASE}/redeem/", body, key="r1")
    assert first.status_code == 201, first.content
    assert first.json()["card"]["balance"]["amount"] == 6500
    assert first.json()["transaction"]["kind"] == "gift_card_redeemed"
    again = post(alice_client, f"{BASE}/redeem/", body, key="r1")
    assert again.status_code == 200
    assert again.json()["transaction"]["id"] == first.json()["transaction"]["id"]

    too_much = post(alice_client, f"{BASE}/redeem/", {**body, "amount": "65.01"}, key="r2")
    assert (too_much.status_code, error(too_much)) == (409, "insufficient_funds")
    last = post(alice_client, f"{BASE}/redeem/", {**body, "amount": 6500}, key="r3")
    assert last.json()["card"]["state"] == "used"
    used = post(alice_client, f"{BASE}/redeem/", {**body, "amount": 1}, key="r4")
    assert (used.status_code, error(used)) == (409, "gift_card_used")

    entries = alice_client.get(f"{BASE}/{card['id']}/entries/").json()["results"]
    assert [e["transaction"]["kind"] for e in entries] == [
        "gift_card_redeemed",
        "gift_card_redeemed",
        "adjustment",
    ]


def test_bad_redemptions_write_nothing(alice_client, euro_studio, issued):
    _, code = issued
    before = LedgerTransaction.objects.count()
    base = {"code": code, "currency": "EUR", "reference": "x"}
    for amount, currency, expected in [
        (10.5, "EUR", "amount_float"),
        ("0.001", "EUR", "amount_precision"),
        (0, "EUR", "amount_invalid"),
        ("5.00", "USD", "currency_mismatch"),
    ]:
        response = post(
            alice_client, f"{BASE}/redeem/", {**base, "amount": amount, "currency": currency}
        )
        assert (response.status_code, error(response)) == (400, expected), amount
    missing = post(alice_client, f"{BASE}/redeem/", {**base, "amount": 100}, key=None)
    assert error(missing) == "idempotency_key_required"
    assert LedgerTransaction.objects.count() == before


def test_wrong_codes_are_404_then_429_with_retry_after(alice_client, euro_studio, issued, settings):
    settings.PICPICK_GIFT_CARD_GUESSES_PER_ADDRESS = 3
    _, code = issued
    body = {"code": "AAAA-BBBB-CCCC-DDDD", "amount": 100, "currency": "EUR", "reference": "x"}
    for n in range(3):
        response = post(alice_client, f"{BASE}/redeem/", body, key=f"w{n}")
        assert (response.status_code, error(response)) == (404, "gift_card_not_found")
    limited = post(alice_client, f"{BASE}/redeem/", {**body, "code": code}, key="w9")
    assert (limited.status_code, error(limited)) == (429, "too_many_attempts")
    assert int(limited["Retry-After"]) > 0


def test_resend_gives_a_new_code_and_void_returns_the_rest(
    alice_client, euro_studio, issued, mailoutbox, django_capture_on_commit_callbacks
):
    card, code = issued
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            f"{BASE}/{card['id']}/resend/", {"recipient_email": "rita@example.com"}, format="json"
        )
    assert response.status_code == 200, response.content
    assert response.json()["recipient_email"] == "rita@example.com"
    assert [m.to for m in mailoutbox] == [["rita@example.com"]]
    assert code not in mailoutbox[0].body

    voided = alice_client.post(f"{BASE}/{card['id']}/void/", {"reason": "Oops"}, format="json")
    assert voided.status_code == 200, voided.content
    assert (voided.json()["state"], voided.json()["void_reason"]) == ("void", "Oops")
    assert voided.json()["balance"]["amount"] == 0
    again = alice_client.post(f"{BASE}/{card['id']}/resend/", {}, format="json")
    assert (again.status_code, error(again)) == (409, "gift_card_void")


def test_a_bought_card_is_not_voided(alice_client, euro_studio):
    from billing.services.ledger import account_for, credit, debit, ledger_post
    from billing.services.wallets import billing_settings_update

    billing_settings_update(studio=euro_studio, changes={"gift_card_amounts": [5000]})
    card = services.gift_card_prepare(
        studio=euro_studio,
        amount=5000,
        currency="EUR",
        buyer_name="Ann",
        buyer_email="ann@example.com",
        recipient_name="",
        recipient_email="",
    )
    clearing = account_for(studio=euro_studio, kind="provider_clearing", currency="EUR")
    paid = ledger_post(
        studio=euro_studio,
        kind="gift_card_sold",
        idempotency_key="pay",
        legs=[debit(clearing, 5000), credit(card.account, 5000)],
    )
    services.gift_card_activate(card=card, transaction=paid.transaction)
    response = alice_client.post(f"{BASE}/{card.id}/void/", {}, format="json")
    assert (response.status_code, error(response)) == (409, "gift_card_purchased")
    assert balance(card.account) == 5000


def test_another_studios_cards_are_not_found_on_every_endpoint(bob_client, issued):
    card, code = issued
    body = {"code": code, "amount": 100, "currency": "EUR", "reference": "x"}
    calls = [
        bob_client.get(f"{BASE}/{card['id']}/"),
        bob_client.get(f"{BASE}/{card['id']}/entries/"),
        bob_client.post(f"{BASE}/{card['id']}/resend/", {}, format="json"),
        bob_client.post(f"{BASE}/{card['id']}/void/", {}, format="json"),
        post(bob_client, f"{BASE}/redeem/", body),
    ]
    assert [c.status_code for c in calls] == [404] * len(calls), [c.content for c in calls]
    assert error(calls[-1]) == "gift_card_not_found"
    assert bob_client.get(f"{BASE}/").json()["results"] == []
    assert GiftCard.objects.get(id=card["id"]).state == "active"
