"""The quote and invoice pages in a real headless Chromium, on the studio's own domain, paying
through the fake Stripe (its fake Stripe.js in the card step, its API behind our server):
open a quote, choose an add-on (the total follows), accept it, pay the deposit with a test
card, see the invoice partially paid, download its PDF and render it to a PNG with pdftoppm;
the deposit paid with a card that needs 3-D Secure; the pages at 375 px wide.

Screenshots of each step are kept in ``var/test-artifacts/browser/``.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import pytest
from django.utils import timezone

from billing.models import Invoice, Payment, Quote
from billing.services.invoices import invoice_link_token
from billing.services.quotes import QuoteItemInput, quote_create, quote_link_token, quote_send
from billing.services.reconcile import ledger_check
from domains.models import Domain
from picpick.testing.factories import DomainFactory
from tests.billing.test_payments_support import (  # noqa: F401 (fixtures)
    client_contact_fixture,
    fresh_cache_fixture,
    shop_fixture,
)
from tests.browser import chromium, needs_chromium, shot, wait_for

SITE_HOST = "photos.annasmith.test"
PDFTOPPM = shutil.which("pdftoppm")
VAT = [{"name": "VAT", "rate": "20"}]

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


@pytest.fixture
def site(studio_a, shop, settings, fake_stripe):
    """Studio A's site on its custom domain, its card step on the fake's Stripe.js."""
    settings.STRIPE_JS_URL = f"{fake_stripe.url}/v3/"
    DomainFactory(studio=studio_a, hostname=SITE_HOST, state=Domain.State.ACTIVE)
    return studio_a


def open_browser(live_server, tmp_path, window: str = "1000,1100"):
    downloads = tmp_path / "downloads"
    downloads.mkdir(exist_ok=True)
    driver = chromium(hosts=[SITE_HOST], window=window, downloads=downloads, console_log=True)
    driver.site = f"http://{SITE_HOST}:{live_server.url.rsplit(':', 1)[1]}"
    driver.downloads = downloads
    # Chromium holds a download from a plain-http origin (the test server) as insecure unless
    # told to allow downloads; the studio's real site is https.
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior",
        {"behavior": "allow", "downloadPath": str(downloads), "eventsEnabled": True},
    )
    return driver


@pytest.fixture
def browser(live_server, tmp_path):
    driver = open_browser(live_server, tmp_path)
    yield driver
    driver.quit()


@pytest.fixture
def quote(site, client_contact) -> Quote:
    """Two packages (Full day pre-selected), Travel always in, an Album add-on; 30% deposit."""
    made = quote_create(
        studio=site,
        contact=client_contact,
        title="Doe wedding",
        currency="EUR",
        message="Thank you for your inquiry!",
        expires_on=timezone.now().date() + dt.timedelta(days=30),
        items=[
            QuoteItemInput(name="Half day", unit_price=100_000, kind="package", taxes=VAT),
            QuoteItemInput(
                name="Full day", unit_price=180_000, kind="package", taxes=VAT, selected=True
            ),
            QuoteItemInput(name="Travel", unit_price=5_000, taxes=VAT),
            QuoteItemInput(name="Album", unit_price=30_000, optional=True, taxes=VAT),
        ],
        schedule=[
            {"label": "Deposit", "percent": "30", "due": {"on": "acceptance"}},
            {"label": "Balance", "balance": True},
        ],
        payment_terms_days=60,
    )
    return quote_send(quote=made)


def console_errors(browser) -> list[str]:
    """Script and CSP errors; not the browser's notes on a plain-http test origin nor the
    favicon it asks for."""
    return [
        e["message"]
        for e in browser.get_log("browser")
        if e["level"] == "SEVERE"
        and "Cross-Origin-Opener-Policy" not in e["message"]
        and "favicon.ico" not in e["message"]
    ]


def text_of(browser, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    found = browser.find_elements(By.ID, element_id)
    return found[0].text if found else ""


def fill_card(browser, method: str) -> None:
    from selenium.webdriver.common.by import By

    field = wait_for(lambda: browser.find_elements(By.ID, "fake-stripe-card"), message="the card")
    field[0].send_keys(method)


def accept_with_album(browser) -> None:
    """On the quote page: tick the album (the total follows), type the name, accept."""
    from selenium.webdriver.common.by import By

    assert browser.find_element(By.TAG_NAME, "h1").text == "Doe wedding"
    assert "€2,220.00" in text_of(browser, "quote-totals")
    # The script redraws the totals, so the no-JavaScript button is hidden.
    assert not browser.find_element(By.ID, "recalculate").is_displayed()
    browser.find_element(By.XPATH, "//label[contains(., 'Album')]").click()
    wait_for(lambda: "€2,580.00" in text_of(browser, "quote-totals"), message="the new total")
    assert "€774.00" in text_of(browser, "quote-totals")  # the deposit, 30%
    shot(browser, "invoice-01-quote-with-album")
    browser.find_element(By.ID, "accepted-name").send_keys("Jane Doe")
    browser.find_element(By.ID, "agree").click()
    browser.find_element(By.ID, "accept-quote").click()
    wait_for(lambda: "/invoices/" in browser.current_url, message="the invoice page")


def continue_to_card_step(browser) -> None:
    from selenium.webdriver.common.by import By

    deposit = browser.find_element(By.CSS_SELECTOR, "input[name=amount_choice][value=next]")
    assert deposit.is_selected()
    assert "€774.00" in browser.find_element(By.ID, "invoice-pay-form").text
    assert browser.find_element(By.ID, "email").get_attribute("value") == "jane@example.com"
    browser.find_element(By.ID, "continue").click()
    wait_for(lambda: "/pay/" in browser.current_url, message="the card step")
    assert text_of(browser, "pay-card-total") == "€774.00"


def test_a_client_accepts_a_quote_with_an_add_on_pays_the_deposit_and_downloads_the_pdf(
    site, quote, browser, fake_stripe
):
    from selenium.webdriver.common.by import By

    browser.get(f"{browser.site}/quotes/{quote_link_token(quote=quote)}/")
    accept_with_album(browser)
    quote.refresh_from_db()
    assert quote.state == Quote.State.ACCEPTED and quote.accepted_name == "Jane Doe"
    assert quote.accepted_address == "127.0.0.1" and "Chrome" in quote.accepted_user_agent
    invoice = quote.invoice
    assert invoice.total == 258_000 and invoice.status == Invoice.Status.OPEN
    assert browser.find_element(By.TAG_NAME, "h1").text == f"Invoice {invoice.number}"
    shot(browser, "invoice-02-invoice-open")

    continue_to_card_step(browser)
    fill_card(browser, "pm_card_visa")
    shot(browser, "invoice-03-card-step")
    browser.find_element(By.ID, "pay").click()

    wait_for(lambda: "/payments/" in browser.current_url, message="the payment page")
    wait_for(lambda: text_of(browser, "receipt-state") == "Paid", timeout=20, message="paid")
    # Drawn again once final: the invoice as it is now.
    wait_for(
        lambda: text_of(browser, "invoice-status") == "Partially paid",
        timeout=20,
        message="the invoice partially paid",
    )
    assert text_of(browser, "balance-due") == "€1,806.00"
    assert "Balance" in text_of(browser, "next-instalment")
    shot(browser, "invoice-04-payment-page")
    payment = Payment.objects.get()
    assert (payment.state, payment.amount, payment.reference_id) == (
        "succeeded",
        77_400,
        invoice.id,
    )

    browser.find_element(By.ID, "back").click()
    wait_for(lambda: browser.find_elements(By.ID, "invoice-status"), message="the invoice")
    assert "Partially paid" in text_of(browser, "invoice-status")
    states = [
        e.text for e in browser.find_elements(By.CSS_SELECTOR, ".instalment .instalment-state")
    ]
    assert states == ["Paid", "Next"]
    shot(browser, "invoice-05-partially-paid")

    browser.find_element(By.ID, "pdf").click()
    pdf = wait_for(
        lambda: [p for p in browser.downloads.iterdir() if p.name == f"{invoice.number}.pdf"],
        message="the downloaded PDF",
    )[0]
    assert pdf.read_bytes().startswith(b"%PDF")
    if PDFTOPPM:
        subprocess.run(  # noqa: S603 - a fixed tool, reading the file just downloaded
            [PDFTOPPM, "-png", "-r", "40", "-f", "1", "-l", "1", pdf.name, "page"],
            cwd=pdf.parent,
            check=True,
            timeout=60,
        )
        pngs = list(pdf.parent.glob("page*.png"))
        assert len(pngs) == 1 and pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert console_errors(browser) == []
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PARTIALLY_PAID
    assert ledger_check().ok


def test_the_deposit_paid_with_3d_secure_is_paid_only_after_the_authentication(
    site, quote, browser, fake_stripe
):
    from selenium.webdriver.common.by import By

    browser.get(f"{browser.site}/quotes/{quote_link_token(quote=quote)}/")
    accept_with_album(browser)
    continue_to_card_step(browser)
    fill_card(browser, "pm_card_authenticationRequired")
    browser.find_element(By.ID, "pay").click()

    wait_for(lambda: browser.find_elements(By.ID, "fake-3ds"), message="the 3-D Secure check")
    assert "authenticate" in text_of(browser, "pay-status")
    shot(browser, "invoice-06-3ds")
    payment = Payment.objects.get()
    assert payment.state != Payment.State.SUCCEEDED and payment.posted_transaction_id is None
    assert fake_stripe.charges == []

    browser.find_element(By.ID, "fake-3ds-complete").click()
    wait_for(lambda: "/payments/" in browser.current_url, message="the payment page")
    wait_for(
        lambda: text_of(browser, "invoice-status") == "Partially paid",
        timeout=20,
        message="the invoice partially paid",
    )
    assert text_of(browser, "receipt-state") == "Paid"
    assert console_errors(browser) == []


def test_a_declined_card_is_said_on_the_card_step_and_nothing_is_paid(
    site, client_contact, browser, fake_stripe
):
    from selenium.webdriver.common.by import By

    from tests.billing.invoicing_support import issued

    invoice = issued(site, client_contact)
    browser.get(f"{browser.site}/invoices/{invoice_link_token(invoice=invoice)}/")
    browser.find_element(By.ID, "continue").click()
    wait_for(lambda: "/pay/" in browser.current_url, message="the card step")
    fill_card(browser, "pm_card_chargeDeclinedInsufficientFunds")
    browser.find_element(By.ID, "pay").click()
    error = wait_for(
        lambda: [e for e in browser.find_elements(By.ID, "pay-error") if e.is_displayed()],
        message="the decline",
    )
    assert "insufficient funds" in error[0].text
    assert browser.find_element(By.ID, "pay").is_enabled()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN and fake_stripe.charges == []


def test_the_pages_fit_a_375_px_wide_screen(site, quote, live_server, tmp_path):
    from selenium.webdriver.common.by import By

    narrow = open_browser(live_server, tmp_path)
    # A phone's screen (a headless window is at least 500 px wide): the meta viewport lays the
    # page out at the device's width.
    narrow.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 375, "height": 800, "deviceScaleFactor": 2, "mobile": True},
    )
    try:
        narrow.get(f"{narrow.site}/quotes/{quote_link_token(quote=quote)}/")
        assert narrow.execute_script("return window.innerWidth") == 375
        pages = {"quote": narrow.execute_script("return document.documentElement.scrollWidth")}
        shot(narrow, "invoice-07-quote-375")
        narrow.find_element(By.ID, "accepted-name").send_keys("Jane Doe")
        narrow.find_element(By.ID, "agree").click()
        narrow.find_element(By.ID, "accept-quote").click()
        wait_for(lambda: "/invoices/" in narrow.current_url, message="the invoice page")
        pages["invoice"] = narrow.execute_script("return document.documentElement.scrollWidth")
        shot(narrow, "invoice-08-invoice-375")
        assert narrow.execute_script("return document.documentElement.lang") == "en"
        narrow.find_element(By.ID, "continue").click()
        wait_for(lambda: "/pay/" in narrow.current_url, message="the card step")
        fill_card(narrow, "")
        pages["card step"] = narrow.execute_script("return document.documentElement.scrollWidth")
        shot(narrow, "invoice-09-card-step-375")
        assert all(width <= 375 for width in pages.values()), pages
        assert console_errors(narrow) == []
        invoice = Invoice.objects.get()
        assert invoice.number in narrow.page_source or invoice.number in narrow.title
    finally:
        narrow.quit()
