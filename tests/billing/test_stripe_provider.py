"""The Stripe payment provider through the real SDK, against the fake Stripe on loopback."""

from __future__ import annotations

import http.client
import ipaddress
import logging
import runpy
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured

from billing.payments import (
    CardDeclined,
    CardMethod,
    IntentStatus,
    PaymentsNotConfigured,
    ProviderRejected,
    ProviderUnavailable,
    StripeProvider,
    WebhookSignatureError,
    application_fee,
    application_fee_for,
    override_payment_provider,
    payment_provider,
)
from billing.payments.units import from_stripe, to_stripe
from tests.fake_stripe import FAKE_SECRET_KEY, FAKE_WEBHOOK_SECRET, sign_payload
from tests.races import race

RETURN_URL = "https://annasmith.picpick.test/pay/done"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """No socket of these tests connects anywhere but loopback."""
    connect = socket.socket.connect

    def guarded(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            assert ipaddress.ip_address(host).is_loopback, f"connection to {host}"
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def provider(fake_stripe) -> StripeProvider:
    return payment_provider()


@pytest.fixture
def studio_account(fake_stripe) -> str:
    return fake_stripe.connected_account()


def provider_on(fake, *, timeout: float = 5, retries: int = 0, **kwargs) -> StripeProvider:
    return StripeProvider(
        secret_key=kwargs.pop("secret_key", FAKE_SECRET_KEY),
        webhook_secret=kwargs.pop("webhook_secret", FAKE_WEBHOOK_SECRET),
        api_base=fake.url,
        timeout=timeout,
        max_network_retries=retries,
    )


def charge(provider, account, *, key="pay-1", amount=2000, card="pm_card_visa", **kwargs):
    return provider.payment_intent_create(
        amount=amount,
        currency=kwargs.pop("currency", "USD"),
        account=account,
        idempotency_key=key,
        payment_method=card,
        confirm=True,
        **kwargs,
    )


def intent_posts(fake) -> list:
    return [r for r in fake.api_requests() if (r.method, r.path) == ("POST", "/v1/payment_intents")]


# --- configuration -------------------------------------------------------------------------------


def test_payments_are_not_configured_without_a_secret_key(settings):
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(PaymentsNotConfigured) as caught:
        payment_provider()
    assert caught.value.code == "payments_not_configured"
    assert caught.value.status_code == 503


def test_the_configured_provider_talks_to_the_fake_on_loopback(fake_stripe, provider):
    assert provider.api_base == fake_stripe.url == payment_provider().api_base
    assert ipaddress.ip_address(urlsplit(provider.api_base).hostname).is_loopback
    assert payment_provider() is provider  # built once per configuration
    assert FAKE_SECRET_KEY not in repr(provider)


BASE_SETTINGS = Path(__file__).resolve().parents[2] / "picpick" / "settings" / "base.py"
KEYS = {
    "STRIPE_SECRET_KEY": "sk_live_abc123",
    "STRIPE_PUBLISHABLE_KEY": "pk_live_abc123",
    "STRIPE_WEBHOOK_SECRET": "whsec_abc123",
}


def base_settings(monkeypatch, **env: str) -> dict:
    """picpick/settings/base.py read afresh with this environment."""
    for name in (*KEYS, "STRIPE_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(BASE_SETTINGS))


def test_settings_take_all_three_keys_or_none(monkeypatch):
    assert base_settings(monkeypatch)["STRIPE_SECRET_KEY"] == ""
    assert base_settings(monkeypatch, **KEYS)["STRIPE_API_BASE"] == "https://api.stripe.com"
    with pytest.raises(ImproperlyConfigured, match="STRIPE_WEBHOOK_SECRET"):
        base_settings(monkeypatch, STRIPE_SECRET_KEY="sk_test_abc")
    with pytest.raises(ImproperlyConfigured, match="not a Stripe secret key"):
        base_settings(monkeypatch, **{**KEYS, "STRIPE_SECRET_KEY": "pk_live_abc123"})


@pytest.mark.parametrize(
    ("base", "accepted"),
    [
        ("https://api.stripe.com/", True),
        ("http://127.0.0.1:12111", True),
        ("http://localhost:12111", True),
        ("http://api.stripe.com", False),
        ("ftp://127.0.0.1", False),
        ("https://api.stripe.com/v1", False),
    ],
)
def test_settings_send_keys_over_https_or_to_loopback_only(monkeypatch, base, accepted):
    if accepted:
        assert base_settings(monkeypatch, STRIPE_API_BASE=base)["STRIPE_API_BASE"] == (
            base.rstrip("/")
        )
    else:
        with pytest.raises(ImproperlyConfigured, match="STRIPE_API_BASE"):
            base_settings(monkeypatch, STRIPE_API_BASE=base)


def test_a_test_can_put_another_provider_in_place(fake_stripe):
    other = provider_on(fake_stripe)
    with override_payment_provider(other):
        assert payment_provider() is other
    assert payment_provider() is not other


def test_every_call_reaches_the_fake_and_nothing_else(fake_stripe, provider, studio_account):
    intent = charge(provider, studio_account)
    provider.payment_intent_get(intent_id=intent.id, account=studio_account)
    customer = provider.customer_create(
        email="guest@example.com", name="Guest", account=studio_account, idempotency_key="c-1"
    )
    provider.payment_methods_list(customer=customer.id, account=studio_account)
    # Four calls, four requests seen by the fake (the loopback guard refused anything else).
    assert [(r.method, r.path.split("/")[2]) for r in fake_stripe.api_requests()] == [
        ("POST", "payment_intents"),
        ("GET", "payment_intents"),
        ("POST", "customers"),
        ("GET", "payment_methods"),
    ]


# --- charging --------------------------------------------------------------------------------


def test_create_and_confirm_charges_once_and_reads_the_fee(fake_stripe, provider, studio_account):
    intent = charge(
        provider,
        studio_account,
        amount=2000,
        application_fee=100,
        description="Prints for the Smith wedding",
        metadata={"payment": "pay_123"},
    )

    assert intent.status == IntentStatus.SUCCEEDED
    assert intent.paid and not intent.needs_customer_action
    assert (intent.amount, intent.currency, intent.account) == (2000, "USD", studio_account)
    # Stripe's fee: 2.9% of 2000 (58) + 30, without PicPick's application fee.
    assert (intent.fee, intent.fee_currency, intent.application_fee) == (88, "USD", 100)
    assert intent.metadata == {"payment": "pay_123"}
    assert intent.latest_charge.startswith("ch_")
    assert intent.payment_method.startswith("pm_")
    [charged] = fake_stripe.charges
    assert (charged["id"], charged["amount"], charged["currency"]) == (
        intent.latest_charge,
        2000,
        "usd",
    )
    assert charged["application_fee_amount"] == 100
    [request] = fake_stripe.api_requests()
    assert request.headers["Idempotency-Key"] == "pay-1"
    assert request.headers["Stripe-Account"] == studio_account
    event = fake_stripe.last_event("payment_intent.succeeded")
    assert (event["account"], event["data"]["object"]["id"]) == (studio_account, intent.id)


def test_an_intent_confirmed_later_is_paid_then(fake_stripe, provider, studio_account):
    intent = provider.payment_intent_create(
        amount=1500, currency="eur", account=studio_account, idempotency_key="pay-2"
    )
    assert intent.status == IntentStatus.REQUIRES_PAYMENT_METHOD
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    assert intent.client_secret not in repr(intent)
    assert intent.fee is None and fake_stripe.charges == []

    paid = provider.payment_intent_confirm(
        intent_id=intent.id,
        account=studio_account,
        idempotency_key="pay-2-confirm",
        payment_method="pm_card_mastercard",
    )
    assert paid.status == "succeeded" and paid.currency == "EUR"
    assert paid.fee == 44 + 30  # 2.9% of 1500 is 43.5, rounded half up
    assert len(fake_stripe.charges) == 1


@pytest.mark.parametrize(
    ("card", "code", "decline_code"),
    [
        ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
    ],
)
def test_a_declined_card_raises_card_declined_and_charges_nothing(
    fake_stripe, provider, studio_account, card, code, decline_code
):
    with pytest.raises(CardDeclined) as caught:
        charge(provider, studio_account, card=card)

    declined = caught.value
    assert (declined.code, declined.decline_code, declined.retryable) == (code, decline_code, False)
    assert declined.http_status == 402
    assert declined.intent.status == IntentStatus.REQUIRES_PAYMENT_METHOD
    assert not declined.intent.paid
    assert (declined.intent.last_error_code, declined.intent.last_decline_code) == (
        code,
        decline_code,
    )
    assert declined.intent.account == studio_account
    assert fake_stripe.charges == []
    assert fake_stripe.events_of("payment_intent.succeeded") == []
    assert fake_stripe.last_event("payment_intent.payment_failed")["account"] == studio_account
    # Read back: still not paid.
    again = provider.payment_intent_get(intent_id=declined.intent.id, account=studio_account)
    assert again.status == "requires_payment_method" and again.fee is None


def test_a_card_needing_authentication_is_declined_off_session(
    fake_stripe, provider, studio_account
):
    with pytest.raises(CardDeclined) as caught:
        charge(provider, studio_account, card="pm_card_authenticationRequired", off_session=True)
    assert caught.value.code == "authentication_required"
    assert fake_stripe.charges == []


@pytest.mark.parametrize(
    "card", ["pm_card_authenticationRequired", "pm_card_threeDSecure2Required"]
)
def test_3d_secure_waits_for_the_customer_and_is_never_paid_before(
    fake_stripe, provider, studio_account, card
):
    intent = charge(provider, studio_account, card=card, return_url=RETURN_URL)

    assert intent.status == IntentStatus.REQUIRES_ACTION
    assert intent.needs_customer_action and not intent.paid
    assert intent.next_action_type == "redirect_to_url"
    assert intent.next_action_url.startswith(f"{fake_stripe.url}/fake/3ds/")
    assert intent.fee is None and fake_stripe.charges == []
    waiting = provider.payment_intent_get(intent_id=intent.id, account=studio_account)
    assert waiting.status == "requires_action" and not waiting.paid
    assert fake_stripe.last_event("payment_intent.requires_action")["data"]["object"]["id"] == (
        intent.id
    )

    fake_stripe.authenticate(intent.id)

    paid = provider.payment_intent_get(intent_id=intent.id, account=studio_account)
    assert paid.paid and paid.fee == 88 and paid.next_action_url is None
    assert len(fake_stripe.charges) == 1


def test_3d_secure_by_the_redirect_page_returns_to_the_return_url(
    fake_stripe, provider, studio_account
):
    intent = charge(
        provider, studio_account, card="pm_card_threeDSecure2Required", return_url=RETURN_URL
    )
    status, headers = browser_get(intent.next_action_url)
    assert status == 302
    location = headers["Location"]
    assert location.startswith(RETURN_URL + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["payment_intent"] == [intent.id]
    assert query["redirect_status"] == ["succeeded"]
    assert provider.payment_intent_get(intent_id=intent.id, account=studio_account).paid


def test_failed_3d_secure_leaves_the_intent_unpaid(fake_stripe, provider, studio_account):
    intent = charge(provider, studio_account, card="pm_card_threeDSecure2Required")
    # Without a return URL, Stripe.js runs the challenge in the page: no URL to open.
    assert (intent.next_action_type, intent.next_action_url) == ("use_stripe_sdk", None)

    fake_stripe.authenticate(intent.id, succeed=False)

    failed = provider.payment_intent_get(intent_id=intent.id, account=studio_account)
    assert failed.status == "requires_payment_method" and not failed.paid
    assert failed.last_error_code == "payment_intent_authentication_failure"
    assert fake_stripe.charges == []
    assert fake_stripe.last_event("payment_intent.payment_failed")


def test_cancel_an_unpaid_intent_but_not_a_paid_one(fake_stripe, provider, studio_account):
    intent = provider.payment_intent_create(
        amount=1000, currency="USD", account=studio_account, idempotency_key="pay-3"
    )
    canceled = provider.payment_intent_cancel(
        intent_id=intent.id, account=studio_account, idempotency_key="pay-3-cancel"
    )
    assert canceled.status == IntentStatus.CANCELED

    paid = charge(provider, studio_account, key="pay-4")
    with pytest.raises(ProviderRejected) as caught:
        provider.payment_intent_cancel(
            intent_id=paid.id, account=studio_account, idempotency_key="pay-4-cancel"
        )
    assert caught.value.code == "payment_intent_unexpected_state"


# --- retries and idempotency -----------------------------------------------------------------


def test_a_timeout_after_the_charge_is_retried_by_the_sdk_and_charges_once(
    fake_stripe, studio_account
):
    provider = provider_on(fake_stripe, timeout=0.5, retries=1)
    fake_stripe.delay_next_response(2)  # the charge is made, its answer comes too late

    intent = charge(provider, studio_account, key="pay-timeout")

    assert intent.paid
    assert len(fake_stripe.charges) == 1
    first, retry = intent_posts(fake_stripe)
    assert first.idempotency_key == retry.idempotency_key == "pay-timeout"
    assert retry.replayed and not first.replayed


def test_a_timeout_without_sdk_retries_then_our_retry_with_the_same_key_charges_once(
    fake_stripe, studio_account
):
    provider = provider_on(fake_stripe, timeout=0.5, retries=0)
    fake_stripe.delay_next_response(2)

    with pytest.raises(ProviderUnavailable) as caught:
        charge(provider, studio_account, key="pay-timeout-2")
    assert caught.value.retryable and caught.value.code == "provider_unreachable"
    assert len(fake_stripe.charges) == 1  # it happened; we did not hear

    intent = charge(provider, studio_account, key="pay-timeout-2")

    assert intent.paid and intent.latest_charge == fake_stripe.charges[0]["id"]
    assert len(fake_stripe.charges) == 1


@pytest.mark.parametrize(
    ("status", "code"), [(500, "provider_server_error"), (503, "provider_server_error")]
)
def test_a_server_error_is_unavailable_and_a_later_retry_charges_once(
    fake_stripe, studio_account, status, code
):
    provider = provider_on(fake_stripe, retries=0)
    fake_stripe.fail_next(1, status=status)

    with pytest.raises(ProviderUnavailable) as caught:
        charge(provider, studio_account, key="pay-5xx")
    assert (caught.value.code, caught.value.retryable, caught.value.http_status) == (
        code,
        True,
        status,
    )
    assert fake_stripe.charges == []

    assert charge(provider, studio_account, key="pay-5xx").paid
    assert charge(provider, studio_account, key="pay-5xx").paid  # a third time: replayed
    assert len(fake_stripe.charges) == 1


def test_a_rate_limit_is_unavailable(fake_stripe, studio_account):
    provider = provider_on(fake_stripe, retries=0)
    fake_stripe.fail_next(1, status=429)
    with pytest.raises(ProviderUnavailable) as caught:
        charge(provider, studio_account)
    assert caught.value.code == "provider_rate_limited"


def test_the_sdk_retries_a_server_error_by_itself(fake_stripe, studio_account):
    provider = provider_on(fake_stripe, retries=1)
    fake_stripe.fail_next(1, status=500)
    assert charge(provider, studio_account, key="pay-sdk-retry").paid
    assert [r.status for r in intent_posts(fake_stripe)] == [500, 200]
    assert len(fake_stripe.charges) == 1


def test_the_same_key_with_another_request_is_rejected(fake_stripe, provider, studio_account):
    charge(provider, studio_account, key="pay-dup", amount=1000)
    with pytest.raises(ProviderRejected) as caught:
        charge(provider, studio_account, key="pay-dup", amount=2000)
    assert (caught.value.code, caught.value.retryable) == ("idempotency_error", False)
    assert [c["amount"] for c in fake_stripe.charges] == [1000]


def test_concurrent_retries_with_one_key_charge_once(fake_stripe, provider, studio_account):
    results = race(6, lambda _: charge(provider, studio_account, key="pay-race"))
    assert all(not isinstance(result, Exception) for result in results), results
    assert len({result.id for result in results}) == 1
    assert len(fake_stripe.charges) == 1


# --- refunds ---------------------------------------------------------------------------------


def test_refunds_partial_then_the_rest_then_nothing_left(fake_stripe, provider, studio_account):
    intent = charge(provider, studio_account, amount=5000)

    partial = provider.refund_create(
        intent_id=intent.id,
        account=studio_account,
        idempotency_key="refund-1",
        amount=2000,
        reason="requested_by_customer",
        currency="USD",
    )
    assert (partial.status, partial.amount, partial.currency) == ("succeeded", 2000, "USD")
    assert (partial.payment_intent, partial.reason) == (intent.id, "requested_by_customer")
    after = provider.payment_intent_get(intent_id=intent.id, account=studio_account)
    assert after.amount_refunded == 2000 and after.paid

    rest = provider.refund_create(
        intent_id=intent.id, account=studio_account, idempotency_key="refund-2"
    )
    assert rest.amount == 3000
    assert provider.refund_get(refund_id=rest.id, account=studio_account) == rest
    assert fake_stripe.charges[0]["refunded"] is True

    with pytest.raises(ProviderRejected) as caught:
        provider.refund_create(
            intent_id=intent.id, account=studio_account, idempotency_key="refund-3"
        )
    assert caught.value.code == "charge_already_refunded"
    assert len(fake_stripe.events_of("refund.created")) == 2
    assert fake_stripe.last_event("charge.refunded")["account"] == studio_account


def test_a_refund_larger_than_what_is_left_is_refused(fake_stripe, provider, studio_account):
    intent = charge(provider, studio_account, amount=5000)
    provider.refund_create(
        intent_id=intent.id, account=studio_account, idempotency_key="refund-a", amount=4000
    )
    with pytest.raises(ProviderRejected) as caught:
        provider.refund_create(
            intent_id=intent.id, account=studio_account, idempotency_key="refund-b", amount=1001
        )
    assert (caught.value.code, caught.value.param) == ("amount_too_large", "amount")
    assert fake_stripe.charges[0]["amount_refunded"] == 4000


def test_an_unpaid_intent_cannot_be_refunded(fake_stripe, provider, studio_account):
    intent = provider.payment_intent_create(
        amount=1000, currency="USD", account=studio_account, idempotency_key="pay-6"
    )
    with pytest.raises(ProviderRejected):
        provider.refund_create(
            intent_id=intent.id, account=studio_account, idempotency_key="refund-c"
        )


# --- customers, saved cards ------------------------------------------------------------------


def test_a_card_saved_by_a_setup_intent_is_listed_and_charged_off_session(
    fake_stripe, provider, studio_account
):
    customer = provider.customer_create(
        email="guest@example.com",
        name="Gus Guest",
        account=studio_account,
        idempotency_key="cus-1",
        metadata={"contact": "c_1"},
    )
    assert customer.id.startswith("cus_") and customer.email == "guest@example.com"

    setup = provider.setup_intent_create(
        customer=customer.id, account=studio_account, idempotency_key="seti-1"
    )
    assert setup.status == "requires_payment_method" and setup.customer == customer.id
    assert setup.client_secret.startswith(setup.id) and setup.client_secret not in repr(setup)
    assert provider.payment_methods_list(customer=customer.id, account=studio_account) == []

    fake_stripe.confirm_setup(setup.id, "pm_card_visa")  # the customer, in Stripe.js

    saved = provider.setup_intent_get(setup_id=setup.id, account=studio_account)
    assert saved.status == "succeeded" and saved.payment_method.startswith("pm_")
    [card] = provider.payment_methods_list(customer=customer.id, account=studio_account)
    assert card == CardMethod(
        id=saved.payment_method, brand="visa", last4="4242", exp_month=12, exp_year=2034
    )
    assert fake_stripe.last_event("setup_intent.succeeded")["account"] == studio_account

    later = charge(
        provider,
        studio_account,
        key="pay-off-session",
        card=card.id,
        customer=customer.id,
        off_session=True,
    )
    assert later.paid and later.customer == customer.id


def test_a_charge_can_save_its_card_on_the_customer(fake_stripe, provider, studio_account):
    customer = provider.customer_create(
        email="g@example.com", name="G", account=studio_account, idempotency_key="cus-2"
    )
    intent = charge(
        provider, studio_account, card="pm_card_amex", customer=customer.id, save_method=True
    )
    [card] = provider.payment_methods_list(customer=customer.id, account=studio_account)
    assert (card.id, card.brand) == (intent.payment_method, "amex")


# --- Connect ---------------------------------------------------------------------------------


def test_a_studio_account_is_created_onboarded_by_its_link_and_read(fake_stripe, provider):
    account = provider.account_create(
        email="anna@annasmith.example", country="de", idempotency_key="acct-1"
    )
    assert account.id.startswith("acct_")
    assert (account.charges_enabled, account.details_submitted) == (False, False)
    assert account.default_currency == "EUR"

    url = provider.account_link_create(
        account=account.id,
        refresh_url="https://app.picpick.test/payments/refresh",
        return_url="https://app.picpick.test/payments/done",
    )
    status, headers = browser_get(url)  # the owner goes through Stripe's onboarding
    assert (status, headers["Location"]) == (302, "https://app.picpick.test/payments/done")

    onboarded = provider.account_get(account=account.id)
    assert onboarded.charges_enabled and onboarded.payouts_enabled and onboarded.details_submitted
    event = fake_stripe.last_event("account.updated")
    assert event["account"] == account.id
    assert event["data"]["previous_attributes"]["charges_enabled"] is False
    # Made and read by the platform: no Stripe-Account header on those.
    assert all(r.account is None for r in fake_stripe.api_requests())


def test_every_call_for_a_studio_is_made_on_its_account_with_our_keys(
    fake_stripe, provider, studio_account
):
    customer = provider.customer_create(
        email="g@example.com", name="G", account=studio_account, idempotency_key="k-cus"
    )
    setup = provider.setup_intent_create(
        customer=customer.id, account=studio_account, idempotency_key="k-seti"
    )
    provider.setup_intent_get(setup_id=setup.id, account=studio_account)
    provider.payment_methods_list(customer=customer.id, account=studio_account)
    intent = provider.payment_intent_create(
        amount=3000, currency="USD", account=studio_account, idempotency_key="k-pi"
    )
    provider.payment_intent_confirm(
        intent_id=intent.id,
        account=studio_account,
        idempotency_key="k-confirm",
        payment_method="pm_card_visa",
    )
    provider.payment_intent_get(intent_id=intent.id, account=studio_account)
    refund = provider.refund_create(
        intent_id=intent.id, account=studio_account, idempotency_key="k-re", amount=100
    )
    provider.refund_get(refund_id=refund.id, account=studio_account)

    requests = fake_stripe.api_requests()
    assert len(requests) == 10  # with the refund's read of the intent's currency
    assert {r.account for r in requests} == {studio_account}
    assert [r.idempotency_key for r in requests if r.method == "POST"] == [
        "k-cus",
        "k-seti",
        "k-pi",
        "k-confirm",
        "k-re",
    ]


def test_another_accounts_objects_are_not_found(fake_stripe, provider, studio_account):
    intent = charge(provider, studio_account)
    other = fake_stripe.connected_account()
    for account in (other, None):
        with pytest.raises(ProviderRejected) as caught:
            provider.payment_intent_get(intent_id=intent.id, account=account)
        assert (caught.value.code, caught.value.http_status) == ("resource_missing", 404)


def test_an_account_that_does_not_exist_is_refused(fake_stripe, provider):
    with pytest.raises(ProviderRejected) as caught:
        charge(provider, "acct_doesnotexist01")
    assert caught.value.code == "provider_permission_denied"


def test_a_wrong_secret_key_is_refused(fake_stripe, studio_account):
    provider = provider_on(fake_stripe, secret_key="sk_test_not_the_right_one")
    with pytest.raises(ProviderRejected) as caught:
        charge(provider, studio_account)
    assert caught.value.code == "provider_authentication_failed"
    assert fake_stripe.charges == []


# --- amounts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "ours", "stripes", "fee"),
    [
        ("USD", 2000, 2000, 88),
        ("JPY", 2000, 2000, 58),  # zero-decimal: 2.9% only
        ("HUF", 2000, 200_000, 58),  # 2000 Ft: Stripe counts fillér; its fee 5830 is 58.30 Ft
        ("KWD", 2000, 2000, 88),  # three decimals on both sides
    ],
)
def test_amounts_cross_in_each_sides_units(
    fake_stripe, provider, studio_account, currency, ours, stripes, fee
):
    intent = charge(provider, studio_account, amount=ours, currency=currency)
    assert (intent.amount, intent.currency, intent.fee) == (ours, currency, fee)
    assert fake_stripe.charges[0]["amount"] == stripes

    refund = provider.refund_create(
        intent_id=intent.id, account=studio_account, idempotency_key="r", amount=ours // 2
    )
    assert refund.amount == ours // 2
    assert fake_stripe.charges[0]["amount_refunded"] == stripes // 2


def test_unit_conversion_is_exact_both_ways():
    assert to_stripe(1000, "isk") == 100_000 and from_stripe(100_000, "ISK") == 1000
    assert to_stripe(1000, "EUR") == from_stripe(1000, "EUR") == 1000
    with pytest.raises(ValueError):
        from_stripe(100_050, "ISK")
    assert from_stripe(100_050, "ISK", exact=False) == 1001  # a fee: half up
    assert from_stripe(100_049, "ISK", exact=False) == 1000
    with pytest.raises(TypeError):
        to_stripe(10.0, "EUR")
    with pytest.raises(TypeError):
        to_stripe(True, "EUR")


def test_application_fee_is_basis_points_rounded_half_up():
    assert application_fee_for(10_000, bps=250) == 250
    assert application_fee_for(1_050, bps=100) == 11  # 10.5 -> 11
    assert application_fee_for(1_049, bps=100) == 10
    assert application_fee_for(10_000, bps=0) is None
    assert application_fee_for(10, bps=1) is None


def test_picpicks_application_fee_comes_from_the_settings(settings):
    settings.PICPICK_STRIPE_APPLICATION_FEE_BPS = 150
    assert application_fee(12_345) == 185  # 185.175
    settings.PICPICK_STRIPE_APPLICATION_FEE_BPS = 0
    assert application_fee(12_345) is None


def test_bad_calls_are_refused_before_any_request(fake_stripe, provider, studio_account):
    with pytest.raises(ValueError):
        charge(provider, studio_account, amount=0)
    with pytest.raises(ValueError):
        charge(provider, studio_account, currency="dollars")
    with pytest.raises(ValueError):
        charge(provider, studio_account, key="")
    with pytest.raises(ValueError):
        charge(provider, studio_account, application_fee=5000, amount=2000)
    with pytest.raises(ValueError):
        provider.payment_intent_create(
            amount=100, currency="USD", account=None, idempotency_key="k", off_session=True
        )
    assert fake_stripe.requests == []


# --- webhooks ----------------------------------------------------------------------------------


def _event(fake, provider, account):
    charge(provider, account)
    return fake.last_event("payment_intent.succeeded")


def test_a_signed_webhook_is_read_into_an_event(fake_stripe, provider, studio_account):
    event = _event(fake_stripe, provider, studio_account)
    payload, signature = fake_stripe.signed(event)

    read = provider.event_from_webhook(payload=payload, signature=signature)

    assert (read.id, read.type, read.account, read.livemode) == (
        event["id"],
        "payment_intent.succeeded",
        studio_account,
        False,
    )
    assert read.created == datetime.fromtimestamp(event["created"], tz=UTC)
    assert read.data_object["status"] == "succeeded"


@pytest.mark.parametrize("problem", ["tampered", "wrong_secret", "too_old", "no_header", "junk"])
def test_a_webhook_that_does_not_verify_is_refused(fake_stripe, provider, studio_account, problem):
    event = _event(fake_stripe, provider, studio_account)
    secret, timestamp = FAKE_WEBHOOK_SECRET, None
    if problem == "wrong_secret":
        secret = "whsec_someone_elses"
    if problem == "too_old":
        timestamp = int(time.time()) - 301
    payload, signature = fake_stripe.signed(event, secret, timestamp)
    if problem == "tampered":
        payload = payload.replace(b'"amount": 2000', b'"amount": 9000')
    if problem == "no_header":
        signature = ""
    if problem == "junk":
        signature = "v1=deadbeef"

    with pytest.raises(WebhookSignatureError) as caught:
        provider.event_from_webhook(payload=payload, signature=signature)
    assert caught.value.code == "webhook_signature_invalid"


def test_a_webhook_just_inside_the_tolerance_is_read(fake_stripe, provider, studio_account):
    event = _event(fake_stripe, provider, studio_account)
    payload, signature = fake_stripe.signed(event, timestamp=int(time.time()) - 280)
    assert provider.event_from_webhook(payload=payload, signature=signature).id == event["id"]


def test_a_signed_body_that_is_not_an_event_is_refused(fake_stripe, provider):
    payload = b'{"object": "charge", "id": "ch_1"}'
    signature = sign_payload(payload, FAKE_WEBHOOK_SECRET)
    with pytest.raises(WebhookSignatureError) as caught:
        provider.event_from_webhook(payload=payload, signature=signature)
    assert caught.value.code == "webhook_payload_invalid"


def test_webhooks_without_a_secret_are_not_configured(fake_stripe):
    provider = provider_on(fake_stripe, webhook_secret="")
    payload = b"{}"
    with pytest.raises(PaymentsNotConfigured) as caught:
        provider.event_from_webhook(payload=payload, signature=sign_payload(payload, "x"))
    assert caught.value.code == "webhooks_not_configured"


# --- logging -----------------------------------------------------------------------------------


def test_failures_are_logged_with_context_and_without_secrets(
    fake_stripe, provider, studio_account, caplog
):
    caplog.set_level(logging.INFO, logger="billing.payments")
    with pytest.raises(CardDeclined) as caught:
        charge(provider, studio_account, card="pm_card_chargeDeclined")
    fake_stripe.fail_next(3, status=500)
    with pytest.raises(ProviderUnavailable):
        provider_on(fake_stripe).payment_intent_get(
            intent_id=caught.value.intent.id, account=studio_account
        )

    text = caplog.text
    assert "payment_intent_create" in text and "generic_decline" in text
    assert studio_account in text and caught.value.intent.id in text
    assert caught.value.request_id in text
    assert FAKE_SECRET_KEY not in text
    assert caught.value.intent.client_secret not in text


# --- helpers -----------------------------------------------------------------------------------


def browser_get(url: str) -> tuple[int, dict[str, str]]:
    """A browser's GET, redirects not followed."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = connection.getresponse()
        response.read()
        return response.status, dict(response.getheaders())
    finally:
        connection.close()
