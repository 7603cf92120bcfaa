"""The wallet API: settings, opening and reading wallets, statements, credit given, spends,
holds and refunds to the wallet, through the real endpoints; idempotency keys; bad money input
answered with its code and nothing written; another studio's wallet a 404 everywhere."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from accounts.models import Role
from billing.models import LedgerTransaction, Wallet, WalletHold
from billing.services import wallets as services
from tests.billing import test_wallets_support as support
from tests.billing.test_wallets_support import balance, grant

pytestmark = pytest.mark.django_db

_fresh_cache = support._fresh_cache
euro_studio = support.euro_studio
client_contact = support.client_contact
wallet = support.wallet

BASE = "/api/v1/billing"


def post(client, url, body=None, key: str | None = "k1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(url, body or {}, format="json", **headers)


def error(response) -> str:
    return response.json()["error"]["code"]


@pytest.fixture
def funded(wallet):
    grant(wallet, 10_000)
    return wallet


# --- settings -------------------------------------------------------------------------------


def test_settings_read_and_change_with_decimal_amounts(alice_client, euro_studio):
    response = alice_client.get(f"{BASE}/settings/")
    assert response.status_code == 200, response.content
    assert response.json()["currency"] == "EUR"
    assert response.json()["gift_card_amounts"] == []

    response = alice_client.patch(
        f"{BASE}/settings/",
        {
            "gift_card_amounts": ["100.00", 5000],
            "gift_card_min": "20",
            "gift_card_max": "500.00",
            "wallet_credit_expiry_days": 365,
            "gift_card_expiry_months": 24,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert [a["amount"] for a in body["gift_card_amounts"]] == [5000, 10_000]
    assert body["gift_card_min"]["decimal"] == "20.00"
    assert body["gift_card_max"]["formatted"] == "€500.00"
    assert (body["wallet_credit_expiry_days"], body["gift_card_expiry_months"]) == (365, 24)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"gift_card_amounts": [10.5]}, "amount_float"),
        ({"gift_card_amounts": ["10.001"]}, "amount_precision"),
        ({"gift_card_min": "20"}, "gift_card_limits_invalid"),
        ({"gift_card_min": "50", "gift_card_max": "20"}, "gift_card_limits_invalid"),
        ({"currency": "eur"}, "currency_unknown"),
        ({"wallet_credit_expiry_days": 0}, "validation_error"),
        ({"surprise": 1}, "validation_error"),
    ],
)
def test_bad_settings_are_refused(alice_client, euro_studio, body, code):
    response = alice_client.patch(f"{BASE}/settings/", body, format="json")
    assert response.status_code == 400, response.content
    assert error(response) == code
    assert alice_client.get(f"{BASE}/settings/").json()["gift_card_min"] is None


def test_an_admin_reads_billing_but_only_an_owner_changes_it(member_of_a, euro_studio, funded):
    _, admin = member_of_a(Role.ADMIN)
    assert admin.get(f"{BASE}/settings/").status_code == 200
    assert admin.get(f"{BASE}/wallets/{funded.id}/").status_code == 200
    response = admin.patch(f"{BASE}/settings/", {}, format="json")
    assert response.status_code == 403
    response = post(admin, f"{BASE}/wallets/{funded.id}/spend/", {})
    assert (response.status_code, response.json()["error"]["permission"]) == (403, "billing.manage")
    _, photographer = member_of_a(Role.PHOTOGRAPHER)
    assert photographer.get(f"{BASE}/wallets/").status_code == 403


# --- wallets --------------------------------------------------------------------------------


def test_open_a_wallet_then_find_it_again(alice_client, euro_studio, client_contact):
    body = {"contact_id": str(client_contact.id)}
    first = alice_client.post(f"{BASE}/wallets/", body, format="json")
    again = alice_client.post(f"{BASE}/wallets/", body, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["currency"] == "EUR"
    assert first.json()["contact"] == {
        "id": str(client_contact.id),
        "name": "Jane Doe",
        "email": "jane@example.com",
    }
    response = alice_client.post(
        f"{BASE}/wallets/", {"contact_id": str(uuid.uuid4())}, format="json"
    )
    assert response.status_code == 404


def test_list_and_read_a_wallet(alice_client, funded, client_contact):
    hold = services.wallet_hold(
        wallet=funded,
        amount=2000,
        reference="c",
        expires_at=timezone.now() + dt.timedelta(minutes=5),
        idempotency_key="h",
    ).hold
    listed = alice_client.get(f"{BASE}/wallets/", {"contact_id": str(client_contact.id)})
    assert listed.status_code == 200
    assert [w["id"] for w in listed.json()["results"]] == [str(funded.id)]
    assert alice_client.get(f"{BASE}/wallets/", {"currency": "USD"}).json()["results"] == []

    detail = alice_client.get(f"{BASE}/wallets/{funded.id}/").json()
    assert detail["balance"]["amount"] == 10_000
    assert detail["held"]["amount"] == 2000
    assert detail["available"] == {
        "amount": 8000,
        "currency": "EUR",
        "decimal": "80.00",
        "formatted": "€80.00",
    }
    assert [lot["remaining"]["amount"] for lot in detail["lots"]] == [10_000]

    holds = alice_client.get(f"{BASE}/wallets/{funded.id}/holds/", {"state": "held"}).json()
    assert [h["id"] for h in holds["results"]] == [str(hold.id)]


def test_the_statement_pages_the_wallets_entries_newest_first(alice_client, funded):
    for n in range(3):
        services.wallet_spend(wallet=funded, amount=100 + n, reference=f"r{n}", idempotency_key=n)
    page = alice_client.get(f"{BASE}/wallets/{funded.id}/entries/", {"page_size": 2}).json()
    assert [e["amount"]["amount"] for e in page["results"]] == [102, 101]
    assert page["results"][0]["transaction"]["kind"] == "wallet_spend"
    rest = alice_client.get(
        f"{BASE}/wallets/{funded.id}/entries/", {"page_size": 2, "cursor": page["next"]}
    ).json()
    assert [e["amount"]["amount"] for e in rest["results"]] == [100, -10_000]
    assert rest["next"] is None


# --- money moves ----------------------------------------------------------------------------


def test_a_grant_answers_201_then_200_for_the_same_key(alice_client, wallet):
    body = {"amount": "25.00", "currency": "EUR", "reason": "referral", "note": "The Smiths"}
    first = post(alice_client, f"{BASE}/wallets/{wallet.id}/grant/", body, key="g-1")
    again = post(alice_client, f"{BASE}/wallets/{wallet.id}/grant/", body, key="g-1")
    assert (first.status_code, again.status_code) == (201, 200), first.content
    assert first.json()["transaction"]["id"] == again.json()["transaction"]["id"]
    assert first.json()["transaction"]["kind"] == "wallet_grant"
    assert first.json()["wallet"]["balance"]["amount"] == 2500
    assert balance(wallet) == 2500
    other = post(
        alice_client, f"{BASE}/wallets/{wallet.id}/grant/", {**body, "amount": "26.00"}, key="g-1"
    )
    assert (other.status_code, error(other)) == (409, "idempotency_key_reused")


def test_money_moves_need_an_idempotency_key(alice_client, funded):
    body = {"amount": "1.00", "currency": "EUR", "reference": "x"}
    missing = post(alice_client, f"{BASE}/wallets/{funded.id}/spend/", body, key=None)
    assert (missing.status_code, error(missing)) == (400, "idempotency_key_required")
    bad = post(alice_client, f"{BASE}/wallets/{funded.id}/spend/", body, key="x" * 101)
    assert (bad.status_code, error(bad)) == (400, "idempotency_key_invalid")
    assert balance(funded) == 10_000


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [
        (10.5, "EUR", "amount_float"),
        ("10.001", "EUR", "amount_precision"),
        ("1e3", "EUR", "amount_invalid"),
        (0, "EUR", "amount_invalid"),
        (-500, "EUR", "amount_invalid"),
        ("-5.00", "EUR", "amount_invalid"),
        (10**12 + 1, "EUR", "amount_too_large"),
        ("10000000000.01", "EUR", "amount_too_large"),
        (True, "EUR", "amount_invalid"),
        (None, "EUR", "validation_error"),
        ("10.00", "USD", "currency_mismatch"),
        ("10.00", "EURO", "currency_unknown"),
    ],
)
@pytest.mark.parametrize("action", ["grant", "spend", "refund", "holds"])
def test_bad_money_is_refused_with_its_code_and_nothing_written(
    alice_client, funded, action, amount, currency, code
):
    body = {
        "amount": amount,
        "currency": currency,
        "reason": "goodwill",
        "reference": "x",
        "expires_at": (timezone.now() + dt.timedelta(minutes=5)).isoformat(),
    }
    if action == "grant":
        body.pop("reference")
    else:
        body.pop("reason")
    if action != "holds":
        body.pop("expires_at")
    before = LedgerTransaction.objects.count()
    response = post(alice_client, f"{BASE}/wallets/{funded.id}/{action}/", body)
    assert response.status_code == 400, response.content
    assert error(response) == code
    assert LedgerTransaction.objects.count() == before
    assert WalletHold.objects.count() == 0
    assert balance(funded) == 10_000


def test_a_spend_beyond_what_is_available_is_a_409(alice_client, funded):
    body = {"amount": "100.01", "currency": "EUR", "reference": "Album"}
    response = post(alice_client, f"{BASE}/wallets/{funded.id}/spend/", body)
    assert (response.status_code, error(response)) == (409, "insufficient_funds")
    assert response.json()["error"]["available"] == 10_000
    ok = post(alice_client, f"{BASE}/wallets/{funded.id}/spend/", {**body, "amount": 10_000})
    assert ok.status_code == 201
    assert ok.json()["wallet"]["available"]["amount"] == 0


def test_a_refund_to_the_wallet(alice_client, wallet):
    body = {"amount": "80.00", "currency": "EUR", "reference": "Session 12 cancelled"}
    response = post(alice_client, f"{BASE}/wallets/{wallet.id}/refund/", body)
    assert response.status_code == 201, response.content
    assert response.json()["transaction"]["kind"] == "wallet_refund"
    assert balance(wallet) == 8000


def test_hold_capture_and_release(alice_client, funded):
    expires = (timezone.now() + dt.timedelta(minutes=10)).isoformat()
    body = {"amount": "40.00", "currency": "EUR", "reference": "Checkout", "expires_at": expires}
    first = post(alice_client, f"{BASE}/wallets/{funded.id}/holds/", body, key="h")
    again = post(alice_client, f"{BASE}/wallets/{funded.id}/holds/", body, key="h")
    assert (first.status_code, again.status_code) == (201, 200), first.content
    hold_id = first.json()["id"]
    assert first.json()["state"] == "held"
    assert Wallet.objects.get(id=funded.id).held == 4000

    captured = post(
        alice_client,
        f"{BASE}/wallet-holds/{hold_id}/capture/",
        {"amount": "30.00", "currency": "EUR"},
    )
    assert captured.status_code == 201, captured.content
    assert captured.json()["hold"]["state"] == "captured"
    assert captured.json()["hold"]["captured"]["amount"] == 3000
    assert captured.json()["wallet"]["held"]["amount"] == 0
    assert captured.json()["wallet"]["balance"]["amount"] == 7000
    retried = post(
        alice_client,
        f"{BASE}/wallet-holds/{hold_id}/capture/",
        {"amount": "30.00", "currency": "EUR"},
        key="other",
    )
    assert retried.status_code == 200
    released = alice_client.post(f"{BASE}/wallet-holds/{hold_id}/release/")
    assert (released.status_code, error(released)) == (409, "hold_captured")

    second = post(alice_client, f"{BASE}/wallets/{funded.id}/holds/", body, key="h2").json()
    released = alice_client.post(f"{BASE}/wallet-holds/{second['id']}/release/")
    assert released.status_code == 200 and released.json()["state"] == "released"
    assert balance(funded) == 7000 and Wallet.objects.get(id=funded.id).held == 0


def test_a_capture_with_an_amount_needs_its_currency(alice_client, funded):
    hold = services.wallet_hold(
        wallet=funded,
        amount=2000,
        reference="c",
        expires_at=timezone.now() + dt.timedelta(minutes=5),
        idempotency_key="h",
    ).hold
    response = post(alice_client, f"{BASE}/wallet-holds/{hold.id}/capture/", {"amount": 100})
    assert response.status_code == 400
    response = post(
        alice_client,
        f"{BASE}/wallet-holds/{hold.id}/capture/",
        {"amount": "20.01", "currency": "EUR"},
    )
    assert (response.status_code, error(response)) == (400, "capture_exceeds_hold")


# --- another studio -------------------------------------------------------------------------


def test_another_studios_wallets_are_not_found_on_every_endpoint(bob_client, funded):
    hold = services.wallet_hold(
        wallet=funded,
        amount=2000,
        reference="c",
        expires_at=timezone.now() + dt.timedelta(minutes=5),
        idempotency_key="h",
    ).hold
    money = {"amount": "1.00", "currency": "EUR", "reference": "x", "reason": "goodwill"}
    calls = [
        bob_client.get(f"{BASE}/wallets/{funded.id}/"),
        bob_client.get(f"{BASE}/wallets/{funded.id}/entries/"),
        bob_client.get(f"{BASE}/wallets/{funded.id}/holds/"),
        post(bob_client, f"{BASE}/wallets/{funded.id}/grant/", {**money, "reference": None}),
        post(bob_client, f"{BASE}/wallets/{funded.id}/spend/", money),
        post(bob_client, f"{BASE}/wallets/{funded.id}/refund/", money),
        post(bob_client, f"{BASE}/wallets/{funded.id}/holds/", money),
        post(bob_client, f"{BASE}/wallet-holds/{hold.id}/capture/", {}),
        bob_client.post(f"{BASE}/wallet-holds/{hold.id}/release/"),
        bob_client.post(f"{BASE}/wallets/", {"contact_id": str(funded.contact_id)}, format="json"),
    ]
    assert [c.status_code for c in calls] == [404] * len(calls), [c.content for c in calls]
    assert bob_client.get(f"{BASE}/wallets/").json()["results"] == []
    assert balance(funded) == 10_000
    assert WalletHold.objects.get(id=hold.id).state == "held"


# --- schema ---------------------------------------------------------------------------------

MONEY_MOVES = {
    "billing_wallets_grant",
    "billing_wallets_spend",
    "billing_wallets_refund",
    "billing_wallets_holds_create",
    "billing_wallet_holds_capture",
    "billing_gift_cards_issue",
    "billing_gift_cards_redeem",
}


def test_every_wallet_and_gift_card_operation_is_in_the_schema_with_examples():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        operation["operationId"]: operation
        for route, methods in schema["paths"].items()
        if route.startswith("/api/v1/billing/")
        for method, operation in methods.items()
        if operation.get("operationId", "").startswith(
            ("billing_wallet", "billing_gift_cards", "billing_settings")
        )
    }
    assert len(operations) == 20
    for operation_id, operation in operations.items():
        status = "201" if "201" in operation["responses"] else "200"
        content = operation["responses"][status]["content"]["application/json"]
        assert content.get("examples"), operation_id
        if "requestBody" in operation:
            body = operation["requestBody"]["content"]["application/json"]
            assert body.get("examples") or operation_id.endswith("release"), operation_id
        assert {"401", "403"} <= set(operation["responses"]), operation_id
        key = [p for p in operation.get("parameters", []) if p["name"] == "Idempotency-Key"]
        assert bool(key) == (operation_id in MONEY_MOVES), operation_id
