"""The client pages' public payment routes, on the studio's own site: a gift card purchase
and a wallet top-up started (Idempotency-Key, the wallet link, limits, bad amounts refused with
nothing written) and a payment's status read with its token."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from billing.models import ConnectedAccount, GiftCard, Payment
from billing.services.payments import status_token
from billing.services.wallets import wallet_for, wallet_link_token
from tests.billing.test_payments_support import (  # noqa: F401 (fixtures)
    client_contact_fixture,
    confirm,
    fresh_cache_fixture,
    shop_fixture,
)

pytestmark = pytest.mark.django_db

SITE = "annasmith.localhost"
PUBLIC = "/api/v1/billing/public"


def site_client(host: str = SITE) -> APIClient:
    # As a browser would: Django's CSRF check on (the public routes carry no cookie
    # credential, so they need no token).
    return APIClient(HTTP_HOST=host, enforce_csrf_checks=True)


def key() -> dict:
    return {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}


GIFT = {
    "amount": 5000,
    "currency": "EUR",
    "buyer_name": "Jane Buyer",
    "buyer_email": "Jane@Example.com",
    "recipient_name": "Sam Doe",
    "recipient_email": "sam@example.com",
    "message": "Happy birthday!",
}


def test_a_gift_card_purchase_starts_on_the_studios_site(studio_a, studio_b, shop, fake_stripe):
    client = site_client()
    response = client.post(f"{PUBLIC}/gift-card-purchases/", GIFT, format="json", **key())
    assert response.status_code == 201, response.content
    body = response.json()
    payment = Payment.objects.get()
    assert body["payment"] == {
        "id": str(payment.id),
        "purpose": "gift_card",
        "state": "created",
        "final": False,
        "amount": {"amount": 5000, "currency": "EUR", "decimal": "50.00", "formatted": "€50.00"},
        "last_error_code": "",
        "last_decline_code": "",
    }
    assert body["client_secret"].startswith(payment.intent_id + "_secret_")
    assert body["stripe_account"] == shop.provider_account_id
    assert body["publishable_key"].startswith("pk_test_")
    token = status_token(payment)
    assert body["receipt_url"] == f"/pay/{payment.id}/?t={token}"
    assert payment.payer_email == "jane@example.com" and payment.contact_id is None
    card = GiftCard.objects.get(pk=payment.reference_id)
    assert (card.state, card.recipient_email, card.message) == (
        "pending_payment",
        "sam@example.com",
        "Happy birthday!",
    )

    status_url = body["status_url"]
    assert client.get(status_url).json()["state"] == "created"
    confirm(payment)
    cache.clear()  # a poll asks the provider at most every few seconds
    after = client.get(status_url).json()
    assert (after["state"], after["final"]) == ("succeeded", True)
    assert client.get(f"{PUBLIC}/payments/{payment.id}/?t=wrong").status_code == 404
    assert site_client("bobsweddings.localhost").get(status_url).status_code == 404


def test_a_retried_start_with_the_same_key_is_the_same_payment(studio_a, shop, fake_stripe):
    client = site_client()
    headers = {"HTTP_IDEMPOTENCY_KEY": "attempt-1"}
    first = client.post(f"{PUBLIC}/gift-card-purchases/", GIFT, format="json", **headers)
    again = client.post(f"{PUBLIC}/gift-card-purchases/", GIFT, format="json", **headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["payment"]["id"] == again.json()["payment"]["id"]
    assert first.json()["client_secret"] == again.json()["client_secret"]
    assert Payment.objects.count() == 1 and GiftCard.objects.count() == 1


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"amount": -5000}, "amount_invalid"),
        ({"amount": 0}, "amount_invalid"),
        ({"amount": 10**13}, "amount_too_large"),
        ({"amount": 50.0}, "amount_float"),
        ({"amount": "50.001"}, "amount_precision"),
        ({"amount": "50,00"}, "amount_invalid"),
        ({"currency": "USD"}, "currency_not_accepted"),
        ({"currency": "XXY"}, "currency_unknown"),
        ({"amount": 777}, "gift_card_amount_not_offered"),
        ({"buyer_email": "nope"}, "invalid_email"),
        ({"buyer_name": ""}, "validation_error"),
    ],
)
def test_bad_purchases_are_400_with_nothing_written(studio_a, shop, fake_stripe, changes, code):
    response = site_client().post(
        f"{PUBLIC}/gift-card-purchases/", {**GIFT, **changes}, format="json", **key()
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert Payment.objects.count() == 0 and GiftCard.objects.count() == 0
    assert fake_stripe.api_requests() == []


def test_public_starts_need_the_studios_site_and_payments_enabled(studio_a, shop, fake_stripe):
    on_api_host = APIClient().post(f"{PUBLIC}/gift-card-purchases/", GIFT, format="json", **key())
    assert on_api_host.status_code == 404
    ConnectedAccount.objects.update(charges_enabled=False)
    response = site_client().post(f"{PUBLIC}/gift-card-purchases/", GIFT, format="json", **key())
    assert (response.status_code, response.json()["error"]["code"]) == (409, "payments_not_enabled")
    assert Payment.objects.count() == 0


def test_public_starts_are_limited_per_address(studio_a, shop, fake_stripe, settings):
    settings.PICPICK_PAYMENTS_STARTS_PER_ADDRESS = 2
    client = site_client()
    statuses = [
        client.post(f"{PUBLIC}/gift-card-purchases/", GIFT, format="json", **key()).status_code
        for _ in range(3)
    ]
    assert statuses == [201, 201, 429]
    refused = client.post(f"{PUBLIC}/gift-card-purchases/", GIFT, format="json", **key())
    assert refused.json()["error"]["code"] == "too_many_payments"
    assert int(refused["Retry-After"]) > 0
    assert Payment.objects.count() == 2


def test_a_wallet_top_up_from_the_wallet_link(
    studio_a, studio_b, shop, client_contact, fake_stripe
):
    wallet = wallet_for(studio=studio_a, contact=client_contact, currency="EUR")
    token = wallet_link_token(wallet=wallet)
    body = {"token": token, "amount": "25.00", "currency": "EUR"}
    response = site_client().post(f"{PUBLIC}/wallet-top-ups/", body, format="json", **key())
    assert response.status_code == 201, response.content
    payment = Payment.objects.get()
    assert (payment.purpose, payment.contact_id, payment.amount) == (
        "wallet_topup",
        client_contact.id,
        2500,
    )
    assert payment.reference_id == wallet.id and payment.payer_email == "jane@example.com"
    forged = {**body, "token": token[:-2] + "xx"}
    bad = site_client().post(f"{PUBLIC}/wallet-top-ups/", forged, format="json", **key())
    assert (bad.status_code, bad.json()["error"]["code"]) == (404, "wallet_link_invalid")
    elsewhere = site_client("bobsweddings.localhost").post(
        f"{PUBLIC}/wallet-top-ups/", body, format="json", **key()
    )
    assert elsewhere.status_code == 404
    assert Payment.objects.count() == 1
