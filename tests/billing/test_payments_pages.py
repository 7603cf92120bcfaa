"""The card pages as the server renders them (the browser flows are in
``test_pay_pages_browser``): on the studio's site only, not without card payments, the receipt
only with its token, Stripe.js allowed by the page's CSP and nothing else."""

from __future__ import annotations

import pytest
from django.test import Client

from billing.models import BillingSettings, ConnectedAccount
from billing.services.payments import status_token
from billing.services.wallets import wallet_for, wallet_link_token
from tests.billing.test_payments_support import (  # noqa: F401 (fixtures)
    client_contact_fixture,
    fresh_cache_fixture,
    shop_fixture,
    start_gift_card,
)

pytestmark = pytest.mark.django_db

SITE = "annasmith.localhost"


def page(path: str, host: str = SITE):
    return Client(HTTP_HOST=host).get(path)


def test_the_gift_card_shop_offers_the_studios_amounts_with_stripe_js(
    studio_a, shop, fake_stripe, settings
):
    settings.STRIPE_JS_URL = f"{fake_stripe.url}/v3/"
    response = page("/gift-cards/buy/")
    assert response.status_code == 200
    html = response.content.decode()
    for label in ("€50.00", "€100.00", "€250.00", "€10.00 to €500.00"):
        assert label in html
    assert f'<script src="{fake_stripe.url}/v3/"></script>' in html
    assert shop.provider_account_id in html and "pk_test_" in html
    assert "sk_test" not in html
    csp = response["Content-Security-Policy"]
    assert f"script-src 'self' {fake_stripe.url}" in csp
    assert fake_stripe.url in csp.split("connect-src")[1].split(";")[0]
    assert "frame-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response["Cache-Control"] == "private, no-store"


def test_the_real_stripe_js_is_allowed_by_default(studio_a, shop, fake_stripe, settings):
    settings.STRIPE_API_BASE = "https://api.stripe.com"
    csp = page("/gift-cards/buy/")["Content-Security-Policy"]
    assert "script-src 'self' https://js.stripe.com" in csp
    assert "connect-src 'self'" in csp and "https://api.stripe.com" in csp
    assert "frame-src 'self' https://hooks.stripe.com https://js.stripe.com" in csp


def test_no_card_pages_without_card_payments(studio_a, shop, fake_stripe, settings):
    ConnectedAccount.objects.update(charges_enabled=False)
    response = page("/gift-cards/buy/")
    assert response.status_code == 404
    assert "does not take card payments" in response.content.decode()
    ConnectedAccount.objects.update(charges_enabled=True)
    BillingSettings.objects.update(gift_card_amounts=[], gift_card_min=None, gift_card_max=None)
    assert page("/gift-cards/buy/").status_code == 404
    settings.STRIPE_SECRET_KEY = ""
    assert page("/gift-cards/buy/").status_code == 404


def test_the_top_up_page_needs_a_valid_wallet_link(
    studio_a, studio_b, shop, client_contact, fake_stripe
):
    wallet = wallet_for(studio=studio_a, contact=client_contact, currency="EUR")
    token = wallet_link_token(wallet=wallet)
    response = page(f"/wallet/{token}/top-up/")
    assert response.status_code == 200
    assert "Top up your wallet" in response.content.decode()
    assert page(f"/wallet/{token}x/top-up/").status_code == 404
    assert page(f"/wallet/{token}/top-up/", host="bobsweddings.localhost").status_code == 404


def test_a_hostile_token_is_data_in_the_page(
    studio_a, shop, client_contact, fake_stripe, monkeypatch
):
    # Whatever the link's path holds, it reaches the page as escaped JSON, never as markup.
    monkeypatch.setattr(
        "billing.services.payments.public.wallet_link_contact",
        lambda **kwargs: client_contact,
    )
    response = page("/wallet/%3C!--%3Cscript%3Ealert(1)%3C!--/top-up/")
    assert response.status_code == 200
    assert b"<script>alert(1)" not in response.content
    assert b"\\u003C!--\\u003Cscript\\u003Ealert(1)" in response.content


def test_the_receipt_needs_its_token_and_its_studios_site(studio_a, studio_b, shop, fake_stripe):
    payment, _ = start_gift_card(studio_a)
    token = status_token(payment)
    ok = page(f"/pay/{payment.id}/?t={token}")
    assert ok.status_code == 200
    html = ok.content.decode()
    assert "€50.00" in html and "Processing" in html and "Paid" not in html
    assert page(f"/pay/{payment.id}/?t=nope").status_code == 404
    assert page(f"/pay/{payment.id}/").status_code == 404
    assert page(f"/pay/{payment.id}/?t={token}", host="bobsweddings.localhost").status_code == 404
