"""The card pages in a real headless Chromium, on the studio's own domain, paying through the
fake Stripe (its fake Stripe.js in the page, its API behind our server): a gift card bought
with pm_card_visa and its receipt; a wallet top-up with a card that needs 3-D Secure, never
"paid" before the authentication; a declined card said on the page, nothing paid.

Screenshots of each step are kept in ``var/test-artifacts/browser/``.
"""

from __future__ import annotations

import pytest
from django.core import mail

from billing.models import GiftCard, LedgerTransaction, Payment
from billing.services.wallets import wallet_for, wallet_link_token
from domains.models import Domain
from picpick.testing.factories import DomainFactory
from tests.billing.test_payments_support import (  # noqa: F401 (fixtures)
    balances,
    client_contact_fixture,
    fresh_cache_fixture,
    shop_fixture,
)
from tests.browser import chromium, needs_chromium, shot, wait_for

SITE_HOST = "photos.annasmith.test"

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


@pytest.fixture
def site(studio_a, shop, settings, fake_stripe):
    """Studio A's site on its custom domain, its card form on the fake's Stripe.js."""
    settings.STRIPE_JS_URL = f"{fake_stripe.url}/v3/"
    DomainFactory(studio=studio_a, hostname=SITE_HOST, state=Domain.State.ACTIVE)
    return studio_a


@pytest.fixture
def browser(live_server):
    driver = chromium(hosts=[SITE_HOST], window="1000,1100", console_log=True)
    driver.site = f"http://{SITE_HOST}:{live_server.url.rsplit(':', 1)[1]}"
    yield driver
    driver.quit()


def console_errors(browser) -> list[str]:
    """Script and CSP errors; not the browser's notes on a plain-http test origin (it ignores
    the Cross-Origin-Opener-Policy header there) nor the favicon it asks for."""
    return [
        e["message"]
        for e in browser.get_log("browser")
        if e["level"] == "SEVERE"
        and "Cross-Origin-Opener-Policy" not in e["message"]
        and "favicon.ico" not in e["message"]
    ]


def fill_card(browser, method: str) -> None:
    from selenium.webdriver.common.by import By

    field = wait_for(lambda: browser.find_elements(By.ID, "fake-stripe-card"), message="the card")
    field[0].send_keys(method)


def state_shown(browser) -> str:
    from selenium.webdriver.common.by import By

    found = browser.find_elements(By.ID, "receipt-state")
    return found[0].text if found else ""


def test_a_gift_card_bought_on_the_studio_site_with_a_visa(site, browser, fake_stripe):
    from selenium.webdriver.common.by import By

    browser.get(f"{browser.site}/gift-cards/buy/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Give a gift card"
    assert "Anna Smith Photography" in browser.page_source
    browser.find_element(By.CSS_SELECTOR, "input[name=amount_choice][value='10000']").click()
    browser.find_element(By.ID, "buyer-name").send_keys("Jane Buyer")
    browser.find_element(By.ID, "buyer-email").send_keys("jane@example.com")
    browser.find_element(By.ID, "recipient-name").send_keys("Sam Doe")
    browser.find_element(By.ID, "recipient-email").send_keys("sam@example.com")
    browser.find_element(By.ID, "message").send_keys("Happy birthday, Sam!")
    fill_card(browser, "pm_card_visa")
    shot(browser, "pay-01-gift-card-form")
    browser.find_element(By.ID, "pay").click()

    wait_for(lambda: "/pay/" in browser.current_url, message="the receipt page")
    wait_for(lambda: state_shown(browser) == "Paid", timeout=20, message="paid")
    shot(browser, "pay-02-gift-card-receipt")
    assert "€100.00" in browser.find_element(By.ID, "receipt-amount").text
    assert console_errors(browser) == []

    payment = Payment.objects.get()
    assert (payment.state, payment.amount, payment.payer_email) == (
        "succeeded",
        10000,
        "jane@example.com",
    )
    card = GiftCard.objects.get(pk=payment.reference_id)
    assert card.state == GiftCard.State.ACTIVE
    assert LedgerTransaction.objects.filter(studio=site).count() == 1
    assert len(fake_stripe.charges) == 1
    # The card went to its recipient.
    assert any("sam@example.com" in message.to for message in mail.outbox)


def test_a_top_up_with_3d_secure_is_paid_only_after_the_authentication(
    site, browser, client_contact, fake_stripe
):
    from selenium.webdriver.common.by import By

    wallet = wallet_for(studio=site, contact=client_contact, currency="EUR")
    browser.get(f"{browser.site}/wallet/{wallet_link_token(wallet=wallet)}/top-up/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Top up your wallet"
    browser.find_element(By.ID, "amount").send_keys("25.00")
    fill_card(browser, "pm_card_authenticationRequired")
    browser.find_element(By.ID, "pay").click()

    # The bank's check is open: the page says so, and nothing is paid or booked.
    wait_for(lambda: browser.find_elements(By.ID, "fake-3ds"), message="the 3-D Secure check")
    assert "authenticate" in browser.find_element(By.ID, "pay-status").text
    shot(browser, "pay-03-top-up-3ds")
    payment = Payment.objects.get()
    assert payment.state != Payment.State.SUCCEEDED and payment.posted_transaction_id is None
    assert balances(site) == {}
    assert fake_stripe.charges == []

    browser.find_element(By.ID, "fake-3ds-complete").click()
    wait_for(lambda: "/pay/" in browser.current_url, message="the receipt page")
    wait_for(lambda: state_shown(browser) == "Paid", timeout=20, message="paid")
    shot(browser, "pay-04-top-up-receipt")
    payment.refresh_from_db()
    assert (payment.state, payment.contact_id) == ("succeeded", client_contact.id)
    assert balances(site)[f"wallet:{client_contact.id}:EUR"] == 2500
    assert console_errors(browser) == []


def test_a_declined_card_is_said_and_nothing_is_paid(site, browser, fake_stripe):
    from selenium.webdriver.common.by import By

    browser.get(f"{browser.site}/gift-cards/buy/")
    browser.find_element(By.ID, "buyer-name").send_keys("Jane Buyer")
    browser.find_element(By.ID, "buyer-email").send_keys("jane@example.com")
    browser.find_element(By.ID, "recipient-email").send_keys("sam@example.com")
    fill_card(browser, "pm_card_chargeDeclinedInsufficientFunds")
    browser.find_element(By.ID, "pay").click()
    error = wait_for(
        lambda: [e for e in browser.find_elements(By.ID, "pay-error") if e.is_displayed()],
        message="the decline",
    )
    assert "insufficient funds" in error[0].text
    shot(browser, "pay-05-declined")
    assert "/gift-cards/buy/" in browser.current_url
    assert browser.find_element(By.ID, "pay").is_enabled()  # another card may be tried
    # The page told the server, which failed the payment and gave up its gift card.
    wait_for(
        lambda: Payment.objects.filter(state=Payment.State.FAILED).exists(),
        message="the payment failed",
    )
    assert GiftCard.objects.get().state == GiftCard.State.VOID
    assert balances(site) == {} and fake_stripe.charges == []
