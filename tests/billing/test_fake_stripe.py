"""The fake Stripe server itself: Stripe's wire format, its edge (keys, accounts, idempotency),
the faults and the helpers other tests rely on. Raw HTTP here; the SDK in the provider's tests.
"""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlencode, urlsplit

import pytest
import stripe

from tests.fake_stripe import FAKE_SECRET_KEY, FAKE_WEBHOOK_SECRET, FakeStripe, sign_payload
from tests.fake_stripe.api import stripe_fee
from tests.fake_stripe.forms import FormError, parse_form


def call(
    fake: FakeStripe,
    method: str,
    path: str,
    params: dict | list | None = None,
    *,
    account: str | None = None,
    key: str | None = None,
    api_key: str = FAKE_SECRET_KEY,
) -> tuple[int, dict, dict]:
    """One request as the SDK sends it (form-encoded); (status, JSON body, headers)."""
    encoded = urlencode(params or {})
    headers = {"Authorization": f"Bearer {api_key}"}
    if account:
        headers["Stripe-Account"] = account
    if key:
        headers["Idempotency-Key"] = key
    body = None
    if method == "POST":
        body = encoded
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif encoded:
        path = f"{path}?{encoded}"
    parts = urlsplit(fake.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else {}, dict(response.getheaders())
    finally:
        connection.close()


def pay(fake, account, *, key=None, amount="1000", card="pm_card_visa", **extra):
    params = {"amount": amount, "currency": "usd", "payment_method": card, "confirm": "true"}
    return call(fake, "POST", "/v1/payment_intents", {**params, **extra}, account=account, key=key)


@pytest.fixture
def account(fake_stripe) -> str:
    return fake_stripe.connected_account()


# --- the wire format ---------------------------------------------------------------------------


def test_the_sdks_form_encoding_is_read_back_into_nested_values():
    assert parse_form(
        "amount=100&metadata[order]=o_1&metadata[note]=&expand[0]=latest_charge"
        "&expand[1]=customer&a[b][c]=d&flag=true"
    ) == {
        "amount": "100",
        "metadata": {"order": "o_1", "note": ""},
        "expand": ["latest_charge", "customer"],
        "a": {"b": {"c": "d"}},
        "flag": "true",
    }
    assert parse_form("expand[]=a&expand[]=b") == {"expand": ["a", "b"]}
    with pytest.raises(FormError):
        parse_form("a[b=c")


def test_a_payment_intent_is_stripe_shaped(fake_stripe, account):
    status, intent, headers = pay(fake_stripe, account, metadata_note="x")
    assert status == 400  # unknown parameter "metadata_note"
    assert intent["error"]["code"] == "parameter_unknown"

    status, intent, headers = pay(
        fake_stripe, account, **{"metadata[order]": "o_1", "expand[0]": "latest_charge"}
    )
    assert status == 200
    assert headers["Request-Id"].startswith("req_")
    assert intent["object"] == "payment_intent" and intent["id"].startswith("pi_")
    assert (intent["amount"], intent["currency"], intent["status"]) == (1000, "usd", "succeeded")
    assert intent["client_secret"].startswith(intent["id"] + "_secret_")
    assert intent["metadata"] == {"order": "o_1"}
    charge = intent["latest_charge"]  # expanded
    assert charge["object"] == "charge" and charge["id"].startswith("ch_")
    assert charge["balance_transaction"].startswith("txn_")
    assert charge["payment_method_details"]["card"]["last4"] == "4242"
    assert intent["payment_method"].startswith("pm_") and intent["payment_method"] != "pm_card_visa"


def test_errors_are_stripe_shaped(fake_stripe, account):
    status, body, _ = call(fake_stripe, "POST", "/v1/payment_intents", {}, account=account)
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert (body["error"]["code"], body["error"]["param"]) == ("parameter_missing", "amount")

    status, body, _ = call(fake_stripe, "GET", "/v1/payment_intents/pi_nope", account=account)
    assert (status, body["error"]["code"]) == (404, "resource_missing")

    status, body, _ = call(fake_stripe, "GET", "/v1/charges", account=account)
    assert status == 404 and "Unrecognized request URL" in body["error"]["message"]

    status, body, _ = pay(fake_stripe, account, amount="ten")
    assert (status, body["error"]["code"]) == (400, "parameter_invalid_integer")


def test_a_decline_is_a_402_card_error_with_the_intent(fake_stripe, account):
    status, body, _ = pay(fake_stripe, account, card="pm_card_chargeDeclinedInsufficientFunds")

    assert status == 402
    error = body["error"]
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error",
        "card_declined",
        "insufficient_funds",
    )
    assert error["message"] == "Your card has insufficient funds."
    intent = error["payment_intent"]
    assert intent["status"] == "requires_payment_method" and intent["payment_method"] is None
    assert intent["last_payment_error"]["decline_code"] == "insufficient_funds"
    assert fake_stripe.charges == []
    assert fake_stripe.object(intent["latest_charge"])["status"] == "failed"


@pytest.mark.parametrize(
    ("amount", "currency", "fee"),
    [(1000, "usd", 59), (1017, "eur", 59), (10_000, "jpy", 290), (345, "krw", 10)],
)
def test_the_fee_is_2_9_percent_plus_30_or_just_2_9_percent_without_decimals(amount, currency, fee):
    assert stripe_fee(amount, currency) == fee


def test_the_balance_transaction_carries_the_fees(fake_stripe, account):
    _, intent, _ = pay(
        fake_stripe,
        account,
        amount="10000",
        application_fee_amount="500",
        **{"expand[0]": "latest_charge.balance_transaction"},
    )
    transaction = intent["latest_charge"]["balance_transaction"]
    assert transaction["object"] == "balance_transaction"
    assert transaction["fee"] == 320 + 500
    assert transaction["net"] == 10_000 - 820
    assert {d["type"]: d["amount"] for d in transaction["fee_details"]} == {
        "stripe_fee": 320,
        "application_fee": 500,
    }


def test_an_application_fee_needs_a_connected_account(fake_stripe):
    status, body, _ = pay(fake_stripe, None, application_fee_amount="100")
    assert status == 400 and body["error"]["param"] == "application_fee_amount"


# --- the edge: keys, accounts, idempotency -------------------------------------------------------


def test_a_wrong_key_is_401(fake_stripe, account):
    params = {"amount": "1000", "currency": "usd", "payment_method": "pm_card_visa"}
    status, body, _ = call(
        fake_stripe, "POST", "/v1/payment_intents", params, account=account, api_key="sk_test_x"
    )
    assert status == 401 and body["error"]["type"] == "invalid_request_error"
    assert fake_stripe.charges == []


def test_objects_live_on_their_account(fake_stripe, account):
    _, intent, _ = pay(fake_stripe, account)
    other = fake_stripe.connected_account()
    path = f"/v1/payment_intents/{intent['id']}"
    assert call(fake_stripe, "GET", path, account=account)[0] == 200
    assert call(fake_stripe, "GET", path, account=other)[0] == 404
    assert call(fake_stripe, "GET", path)[0] == 404
    status, body, _ = pay(fake_stripe, "acct_unknown")
    assert (status, body["error"]["code"]) == (403, "account_invalid")


def test_an_idempotency_key_replays_the_first_answer(fake_stripe, account):
    first = pay(fake_stripe, account, key="k1")
    again = pay(fake_stripe, account, key="k1")

    assert again[0] == first[0] == 200
    assert again[1] == first[1]
    assert again[2]["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first[2]
    assert len(fake_stripe.charges) == 1
    assert [r.replayed for r in fake_stripe.api_requests()] == [False, True]


def test_a_decline_is_replayed_too(fake_stripe, account):
    first = pay(fake_stripe, account, key="k2", card="pm_card_chargeDeclined")
    again = pay(fake_stripe, account, key="k2", card="pm_card_chargeDeclined")
    assert first[0] == again[0] == 402 and first[1] == again[1]
    assert len(fake_stripe.events_of("payment_intent.payment_failed")) == 1


def test_a_key_is_per_account_and_refuses_another_request(fake_stripe, account):
    pay(fake_stripe, account, key="k3")
    other = fake_stripe.connected_account()
    assert pay(fake_stripe, other, key="k3")[0] == 200  # another account's key space
    status, body, _ = pay(fake_stripe, account, key="k3", amount="2000")
    assert status == 400 and body["error"]["type"] == "idempotency_error"
    assert len(fake_stripe.charges) == 2


def test_fail_next_answers_5xx_doing_and_storing_nothing(fake_stripe, account):
    fake_stripe.fail_next(2, status=503)
    assert pay(fake_stripe, account, key="k4")[0] == 503
    assert pay(fake_stripe, account, key="k4")[0] == 503
    assert fake_stripe.charges == [] and fake_stripe.events == []
    assert pay(fake_stripe, account, key="k4")[0] == 200
    assert len(fake_stripe.charges) == 1


def test_fail_next_only_hits_its_paths(fake_stripe, account):
    fake_stripe.fail_next(1, status=500, path_prefix="/v1/refunds")
    assert pay(fake_stripe, account)[0] == 200
    _, intent, _ = pay(fake_stripe, account)
    refund = {"payment_intent": intent["id"]}
    assert call(fake_stripe, "POST", "/v1/refunds", refund, account=account)[0] == 500
    assert call(fake_stripe, "POST", "/v1/refunds", refund, account=account)[0] == 200


def test_a_delayed_answer_does_the_work_first(fake_stripe, account):
    fake_stripe.delay_next_response(0.3)
    started = time.monotonic()
    assert pay(fake_stripe, account, key="k5")[0] == 200
    assert time.monotonic() - started >= 0.3
    assert len(fake_stripe.charges) == 1
    started = time.monotonic()
    assert pay(fake_stripe, account, key="k5")[2]["Idempotent-Replayed"] == "true"
    assert time.monotonic() - started < 0.3


def test_the_request_log_has_the_headers(fake_stripe, account):
    pay(fake_stripe, account, key="k6")
    [request] = fake_stripe.requests
    assert (request.method, request.path, request.status) == ("POST", "/v1/payment_intents", 200)
    assert (request.account, request.idempotency_key) == (account, "k6")
    assert request.params["payment_method"] == "pm_card_visa"


def test_reset_forgets_everything(fake_stripe, account):
    pay(fake_stripe, account, key="k7")
    fake_stripe.fail_next(5)
    fake_stripe.reset()
    assert (fake_stripe.requests, fake_stripe.charges, fake_stripe.events) == ([], [], [])
    new_account = fake_stripe.connected_account()
    assert pay(fake_stripe, new_account, key="k7")[0] == 200


# --- the customer's and Stripe's side ----------------------------------------------------------


def test_3d_secure_by_helper_or_page(fake_stripe, account):
    _, waiting, _ = pay(
        fake_stripe, account, card="pm_card_threeDSecure2Required", return_url="https://x.test/r"
    )
    assert waiting["status"] == "requires_action"
    assert waiting["next_action"]["type"] == "redirect_to_url"
    assert waiting["next_action"]["redirect_to_url"]["return_url"] == "https://x.test/r"
    with pytest.raises(ValueError):
        fake_stripe.authenticate(pay(fake_stripe, account)[1]["id"])  # nothing to authenticate

    url = urlsplit(waiting["next_action"]["redirect_to_url"]["url"])
    status, _, headers = call(fake_stripe, "GET", f"{url.path}?outcome=fail")
    assert status == 302 and "redirect_status=failed" in headers["Location"]
    failed = fake_stripe.object(waiting["id"])
    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["code"] == "payment_intent_authentication_failure"


def test_a_setup_intent_saves_a_card_and_a_declined_one_says_why(fake_stripe, account):
    _, customer, _ = call(
        fake_stripe, "POST", "/v1/customers", {"email": "g@x.test"}, account=account
    )
    _, setup, _ = call(
        fake_stripe, "POST", "/v1/setup_intents", {"customer": customer["id"]}, account=account
    )
    assert (setup["object"], setup["status"]) == ("setup_intent", "requires_payment_method")

    declined = fake_stripe.confirm_setup(setup["id"], "pm_card_chargeDeclined")
    assert declined["status"] == "requires_payment_method"
    assert declined["last_setup_error"]["code"] == "card_declined"
    saved = fake_stripe.confirm_setup(setup["id"], "pm_card_mastercard")
    assert saved["status"] == "succeeded"

    status, listed, _ = call(
        fake_stripe, "GET", "/v1/payment_methods", {"customer": customer["id"]}, account=account
    )
    assert status == 200 and listed["object"] == "list" and listed["has_more"] is False
    assert [m["card"]["brand"] for m in listed["data"]] == ["mastercard"]
    assert fake_stripe.last_event("setup_intent.setup_failed")["account"] == account


def test_payment_methods_are_paged_newest_first(fake_stripe, account):
    _, customer, _ = call(fake_stripe, "POST", "/v1/customers", {}, account=account)
    for card in ("pm_card_visa", "pm_card_mastercard", "pm_card_amex"):
        _, setup, _ = call(
            fake_stripe, "POST", "/v1/setup_intents", {"customer": customer["id"]}, account=account
        )
        fake_stripe.confirm_setup(setup["id"], card)
    query = {"customer": customer["id"], "limit": "2"}
    _, first, _ = call(fake_stripe, "GET", "/v1/payment_methods", query, account=account)
    assert [m["card"]["brand"] for m in first["data"]] == ["amex", "mastercard"]
    assert first["has_more"] is True
    query["starting_after"] = first["data"][-1]["id"]
    _, rest, _ = call(fake_stripe, "GET", "/v1/payment_methods", query, account=account)
    assert [m["card"]["brand"] for m in rest["data"]] == ["visa"] and rest["has_more"] is False


def test_disputes_and_failed_refunds_are_events_on_the_account(fake_stripe, account):
    _, intent, _ = pay(fake_stripe, account, amount="5000")
    dispute = fake_stripe.dispute(intent["id"], 5000, "fraudulent")
    assert dispute["id"].startswith("dp_") and dispute["status"] == "needs_response"
    created = fake_stripe.last_event("charge.dispute.created")
    assert created["account"] == account
    assert created["data"]["object"]["payment_intent"] == intent["id"]
    assert fake_stripe.charges[0]["disputed"] is True
    fake_stripe.close_dispute(dispute["id"], won=True)
    assert fake_stripe.last_event("charge.dispute.closed")["data"]["object"]["status"] == "won"

    _, refund, _ = call(
        fake_stripe, "POST", "/v1/refunds", {"payment_intent": intent["id"]}, account=account
    )
    assert fake_stripe.charges[0]["amount_refunded"] == 5000
    fake_stripe.fail_refund(refund["id"])
    updated = fake_stripe.last_event("refund.updated")
    assert updated["data"]["object"]["status"] == "failed"
    assert updated["data"]["previous_attributes"]["status"] == "succeeded"
    assert fake_stripe.charges[0]["amount_refunded"] == 0


def test_onboarding_by_the_link_page(fake_stripe):
    status, account, _ = call(
        fake_stripe, "POST", "/v1/accounts", {"type": "standard", "country": "GB"}
    )
    assert status == 200 and account["default_currency"] == "gbp"
    assert account["charges_enabled"] is False
    _, link, _ = call(
        fake_stripe,
        "POST",
        "/v1/account_links",
        {
            "account": account["id"],
            "refresh_url": "https://app.test/refresh",
            "return_url": "https://app.test/done",
            "type": "account_onboarding",
        },
    )
    assert link["object"] == "account_link" and link["expires_at"] > link["created"]
    status, _, headers = call(fake_stripe, "GET", urlsplit(link["url"]).path)
    assert (status, headers["Location"]) == (302, "https://app.test/done")
    assert fake_stripe.object(account["id"])["charges_enabled"] is True


# --- events and their signatures ---------------------------------------------------------------


def test_events_are_stripe_shaped_and_name_the_account(fake_stripe, account):
    pay(fake_stripe, account, key="k8")
    pay(fake_stripe, None)
    on_studio, on_platform = fake_stripe.events_of("payment_intent.succeeded")
    assert on_studio["object"] == "event" and on_studio["id"].startswith("evt_")
    assert on_studio["livemode"] is False and on_studio["api_version"]
    assert on_studio["request"]["idempotency_key"] == "k8"
    assert on_studio["account"] == account and "account" not in on_platform
    assert isinstance(on_studio["created"], int)
    assert on_studio["data"]["object"]["object"] == "payment_intent"
    assert [e["type"] for e in fake_stripe.events][:4] == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "payment_intent.created",
    ]


def test_signed_events_verify_with_stripes_own_code(fake_stripe, account):
    pay(fake_stripe, account)
    event = fake_stripe.last_event("payment_intent.succeeded")
    payload, header = fake_stripe.signed(event)
    timestamp, signature = header.split(",")
    assert timestamp.startswith("t=") and signature.startswith("v1=")
    assert stripe.WebhookSignature.verify_header(payload, header, FAKE_WEBHOOK_SECRET, 300)
    assert json.loads(payload) == event
    assert sign_payload(payload, FAKE_WEBHOOK_SECRET, 1_700_000_000) == (
        stripe.WebhookSignature.generate_signature_header(
            payload.decode(), FAKE_WEBHOOK_SECRET, 1_700_000_000
        )
    )
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload, header, "whsec_other", 300)
