"""The client's billing pages in a real headless Chromium (Debian's package and its driver), on
a studio's custom domain reached through ``--host-resolver-rules``: a gift card's balance
checked by typing its code (and a wrong code told so), and the wallet page opened from the
link of the expiry reminder email, paged back through its statement; an expired link is the
not-found page.

Screenshots of each step are kept as test artefacts in ``var/test-artifacts/browser/``.
"""

from __future__ import annotations

import datetime as dt
import re
from unittest import mock

import pytest
from django.utils import timezone

from billing.models import BillingSettings
from billing.services import gift_cards as cards
from billing.services import wallets as services
from domains.models import Domain
from picpick.testing.factories import ContactFactory, DomainFactory
from tests.billing import test_wallets_support as support
from tests.browser import chromium, needs_chromium, shot, wait_for

SITE_HOST = "photos.annasmith.test"

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]

_fresh_cache = support._fresh_cache
euro_studio = support.euro_studio


@pytest.fixture
def browser(live_server):
    driver = chromium(hosts=[SITE_HOST], window="1100,1000")
    driver.site = f"http://{SITE_HOST}:{live_server.url.rsplit(':', 1)[1]}"
    yield driver
    driver.quit()


@pytest.fixture
def site(euro_studio, settings, live_server):
    """Studio A's site on its primary custom domain; links in emails name it (on this port)."""
    settings.PICPICK_SITE_SCHEME = "http"
    settings.PICPICK_SITE_PORT = int(live_server.url.rsplit(":", 1)[1])
    DomainFactory(
        studio=euro_studio, hostname=SITE_HOST, state=Domain.State.ACTIVE, is_primary=True
    )
    return euro_studio


def test_a_client_checks_a_gift_cards_balance_by_its_code(browser, site):
    from selenium.webdriver.common.by import By

    issued = cards.gift_card_issue(
        studio=site, amount=10_000, currency="EUR", idempotency_key="gift"
    )
    cards.gift_card_redeem(
        studio=site,
        code=issued.code,
        amount=3500,
        reference="Session 12",
        idempotency_key="r",
        address="192.0.2.1",
    )

    browser.get(f"{browser.site}/gift-card/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Gift card balance"
    field = browser.find_element(By.ID, "code")
    field.send_keys("AAAA-BBBB-CCCC-DDDD")
    browser.find_element(By.ID, "check").click()
    error = wait_for(lambda: browser.find_elements(By.ID, "balance-error"), message="the refusal")
    assert "No gift card has this code" in error[0].text
    shot(browser, "gift-card-01-wrong-code")

    field = browser.find_element(By.ID, "code")
    field.clear()
    field.send_keys(issued.code.lower().replace("-", " "))  # as people type it
    browser.find_element(By.ID, "check").click()
    balance = wait_for(lambda: browser.find_elements(By.ID, "card-balance"), message="balance")
    assert balance[0].text == "€65.00"
    history = browser.find_element(By.ID, "card-history").text
    assert "Redeemed" in history and "-€35.00" in history
    assert "Adjustment by the studio" in history and "€100.00" in history
    assert browser.find_element(By.ID, "card-state").text == "Active"
    assert issued.code not in browser.page_source
    shot(browser, "gift-card-02-balance")


def test_a_client_opens_the_wallet_page_from_the_reminder_email(
    browser, site, mailoutbox, django_capture_on_commit_callbacks
):
    from selenium.webdriver.common.by import By

    BillingSettings.objects.filter(studio=site).delete()
    services.billing_settings_get(studio=site)
    BillingSettings.objects.filter(studio=site).update(
        wallet_credit_expiry_days=30, wallet_expiry_reminder_days=14
    )
    contact = ContactFactory(studio=site, first_name="Jane", email="jane@example.com")
    wallet = services.wallet_for(studio=site, contact=contact, currency="EUR")
    now = timezone.now()
    services.wallet_grant(
        wallet=wallet, amount=20_000, reason="prepaid", idempotency_key="pack", now=now
    )
    for n in range(30):
        services.wallet_spend(
            wallet=wallet, amount=100 + n, reference=f"print {n}", idempotency_key=f"s{n}"
        )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.expiry_reminders(now=now + dt.timedelta(days=20)) == 1
    (message,) = mailoutbox
    link = re.search(r"https?://\S+/wallet/\S+/", message.body)[0]
    assert link.startswith(browser.site)

    browser.get(link)
    balance = wait_for(
        lambda: browser.find_elements(By.CLASS_NAME, "wallet-balance"), message="the balance"
    )
    assert balance[0].text == "€165.65"  # 200.00 less 30 prints of 1.00 to 1.29
    assert "expires on" in browser.find_element(By.ID, "lots").text
    rows = browser.find_elements(By.CLASS_NAME, "statement-row")
    assert len(rows) == 25 and "-€1.29" in rows[0].text
    shot(browser, "wallet-01-page")
    browser.find_element(By.ID, "older").click()
    wait_for(lambda: browser.find_elements(By.ID, "newer"), message="the older page")
    rows = browser.find_elements(By.CLASS_NAME, "statement-row")
    assert len(rows) == 6 and "€200.00" in rows[-1].text
    shot(browser, "wallet-02-older")

    later = timezone.now() + dt.timedelta(days=31)
    with mock.patch("django.core.signing.time.time", return_value=later.timestamp()):
        browser.get(link)
        wait_for(lambda: browser.find_elements(By.ID, "not-found"), message="not found")
    assert "not valid or has expired" in browser.page_source
    shot(browser, "wallet-03-expired-link")
