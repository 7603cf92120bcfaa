"""The inquiry form in a real headless Chromium (Debian's package and its chromedriver), on a
studio's custom domain reached through ``--host-resolver-rules``: filled and sent by a person
(after the minimum time), then seen through the studio's API; and embedded on the studio's
own website (another origin) with the embed script, where it loads, resizes and sends -- and
where a site the studio did not list gets no form.

Screenshots of each step are kept as test artefacts in ``var/test-artifacts/browser/``.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from crm.models import Inquiry, InquiryForm
from crm.services import inquiries as services
from domains.models import Domain
from picpick.testing.factories import DomainFactory
from tests.browser import chromium, needs_chromium, shot, wait_for

SITE_HOST = "photos.annasmith.test"  # the studio's PicPick site (a custom domain)
WEBSITE_HOST = "www.annasmith.test"  # the studio's own website, elsewhere
STRANGER_HOST = "elsewhere.test"  # a site the studio did not list
MIN_SECONDS = 2

pytestmark = [
    pytest.mark.django_db(transaction=True),
    needs_chromium,
]


@pytest.fixture
def browser(live_server):
    driver = chromium(
        hosts=[SITE_HOST, WEBSITE_HOST, STRANGER_HOST], window="1100,1000", console_log=True
    )
    driver.site = f"http://{SITE_HOST}:{live_server.url.rsplit(':', 1)[1]}"
    yield driver
    driver.quit()


@pytest.fixture
def site(studio_a, wedding_form, settings):
    """Studio A's site on its custom domain; a person must take two seconds to send."""
    settings.PICPICK_CRM_INQUIRY_MIN_SECONDS = MIN_SECONDS
    DomainFactory(studio=studio_a, hostname=SITE_HOST, state=Domain.State.ACTIVE)
    return wedding_form


class _Website(BaseHTTPRequestHandler):
    """The studio's own website: one contact page with the snippet the studio pasted."""

    page = b""

    def do_GET(self):
        if self.path != "/contact.html":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.page)))
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args):
        pass


@pytest.fixture
def website(browser):
    """An HTTP server on another port (another origin) serving the studio's contact page."""
    site_origin = browser.site
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Contact - Anna Smith</title></head>
<body style="font-family: serif; background: #f6f1ea; margin: 2rem">
<h1>Anna Smith, wedding photographer</h1>
<p>Tell me about your day:</p>
<div id="slot" data-picpick-inquiry="weddings" style="max-width: 600px; background: #fff"></div>
<script src="{site_origin}/inquire/embed.js" async></script>
<script>
document.getElementById("slot").addEventListener("picpick:inquiry-sent", function () {{
  document.title = "sent";
}});
</script>
</body></html>"""
    handler = type("Website", (_Website,), {"page": page.encode()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def fill(browser, *, email: str) -> float:
    """Fill the form on the current page (or frame) as a person would; when it was shown."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    shown = time.monotonic()
    find = browser.find_element
    find(By.ID, "q-first_name").send_keys("Jane")
    find(By.ID, "q-last_name").send_keys("Doe")
    find(By.ID, "q-email").send_keys(email)
    Select(find(By.ID, "q-event_type")).select_by_visible_text("Wedding")
    # A date input's typing order depends on the locale: set the value the browser would send.
    browser.execute_script(
        "arguments[0].value = arguments[1]", find(By.ID, "q-event_date"), "2030-06-12"
    )
    find(By.ID, "q-budget").send_keys("3500")
    find(By.ID, "q-message").send_keys("We are getting married in Lyon!")
    find(By.ID, "q-phone").send_keys("+33 6 12 34 56 78")
    find(By.ID, "q-marketing_consent").click()
    return shown


def send_after_the_minimum_time(browser, shown: float) -> None:
    from selenium.webdriver.common.by import By

    time.sleep(max(0.0, MIN_SECONDS + 0.5 - (time.monotonic() - shown)))
    browser.find_element(By.ID, "send").click()


def test_a_person_sends_the_form_on_the_studio_site_and_the_studio_sees_it(
    browser, site, alice_client, mailoutbox
):
    from selenium.webdriver.common.by import By

    browser.get(f"{browser.site}/inquire/weddings/")
    assert "Anna Smith Photography" in browser.page_source
    assert browser.find_element(By.TAG_NAME, "h1").text == "Tell us about your wedding"
    # The honeypot is out of sight: a person never fills it in.
    assert not browser.find_element(By.ID, "hp-website").is_displayed()
    shown = fill(browser, email="Jane.Doe@example.com")
    shot(browser, "inquiry-01-form")
    send_after_the_minimum_time(browser, shown)
    success = wait_for(lambda: browser.find_elements(By.ID, "success"), message="the thanks")
    assert success[0].text == "Thank you! Anna answers within two days."
    assert browser.current_url == f"{browser.site}/inquire/weddings/sent/"
    shot(browser, "inquiry-02-sent")

    # The studio sees the contact and the job through its API.
    contacts = alice_client.get("/api/v1/crm/contacts/", {"q": "jane.doe@example.com"}).json()
    (contact,) = contacts["results"]
    assert (contact["first_name"], contact["last_name"], contact["source"]) == (
        "Jane",
        "Doe",
        "inquiry",
    )
    jobs = alice_client.get("/api/v1/crm/jobs/", {"contact": contact["id"]}).json()["results"]
    (job,) = jobs
    assert job["name"] == "Wedding – Jane Doe"
    assert job["estimated_value"] == 350000
    inquiries = alice_client.get(f"/api/v1/crm/inquiry-forms/{site.id}/inquiries/").json()
    (inquiry,) = inquiries["results"]
    assert (inquiry["job"]["id"], inquiry["contact"]["id"]) == (job["id"], contact["id"])
    assert inquiry["answers"]["phone"] == "+33612345678"
    for timeline in (f"jobs/{job['id']}", f"contacts/{contact['id']}"):
        events = alice_client.get(f"/api/v1/crm/{timeline}/timeline/").json()["results"]
        assert "inquiry_received" in [e["kind"] for e in events], timeline
    # ... and the two emails left: the studio told, the inquirer thanked.
    wait_for(lambda: len(mailoutbox) == 2, message="the two emails")
    assert sorted(m.to[0] for m in mailoutbox) == ["alice@example.com", "jane.doe@example.com"]


def test_a_form_sent_at_once_is_refused_and_goes_through_on_the_next_try(browser, site):
    from selenium.webdriver.common.by import By

    browser.get(f"{browser.site}/inquire/weddings/")
    fill(browser, email="quick@example.com")
    # Sent the moment the token was issued, like a script (filling by hand may take longer
    # than the minimum on a busy machine, so the page gets a token issued just now).
    fresh = services.inquiry_form_token(form=site)
    token = browser.find_element(By.NAME, "token")
    browser.execute_script("arguments[0].value = arguments[1]", token, fresh)
    browser.find_element(By.ID, "send").click()
    error = wait_for(lambda: browser.find_elements(By.ID, "form-error"), message="the refusal")
    assert "too fast" in error[0].text
    assert browser.find_element(By.ID, "q-email").get_attribute("value") == "quick@example.com"
    shot(browser, "inquiry-03-too-fast")
    assert not Inquiry.objects.exists()
    time.sleep(MIN_SECONDS)
    browser.find_element(By.ID, "send").click()
    wait_for(lambda: browser.find_elements(By.ID, "success"), message="the thanks")
    assert Inquiry.objects.get().answers["email"] == "quick@example.com"


def test_the_form_embedded_on_the_studios_website_loads_resizes_and_sends(
    browser, site, website, live_server
):
    from selenium.webdriver.common.by import By

    website_origin = f"http://{WEBSITE_HOST}:{website}"
    # Plain http origins are refused by the API (https only); the test's website is http.
    InquiryForm.objects.filter(id=site.id).update(embed_origins=[website_origin])

    browser.get(f"{website_origin}/contact.html")
    frame = wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, "#slot iframe"), message="the iframe"
    )[0]
    assert frame.get_attribute("src").startswith(f"{browser.site}/inquire/weddings/embed/")
    # The frame reports its height and the script sizes it: no inner scrollbar.
    wait_for(lambda: frame.size["height"] != 640, message="the iframe to be resized")
    browser.switch_to.frame(frame)
    inner = browser.execute_script(
        "return Math.ceil(document.documentElement.getBoundingClientRect().height)"
    )
    browser.switch_to.default_content()
    assert abs(frame.size["height"] - inner) <= 2
    shot(browser, "inquiry-04-embedded")

    browser.switch_to.frame(frame)
    assert not browser.find_elements(By.CLASS_NAME, "site-header")
    shown = fill(browser, email="embedded@example.com")
    send_after_the_minimum_time(browser, shown)
    wait_for(lambda: browser.find_elements(By.ID, "success"), message="the thanks in the frame")
    browser.switch_to.default_content()
    wait_for(lambda: browser.title == "sent", message="the sent event on the website")
    shot(browser, "inquiry-05-embedded-sent")

    inquiry = Inquiry.objects.get()
    assert inquiry.answers["email"] == "embedded@example.com"
    assert inquiry.origin == f"{website_origin}/contact.html"
    assert inquiry.job.stage.name == "Inquiry"


def test_a_site_the_studio_did_not_list_gets_no_form(browser, site, website, live_server):
    from selenium.webdriver.common.by import By

    website_origin = f"http://{WEBSITE_HOST}:{website}"
    stranger_origin = f"http://{STRANGER_HOST}:{website}"
    InquiryForm.objects.filter(id=site.id).update(embed_origins=[website_origin])

    # The header: only the studio's site and the listed website may frame the form.
    port = live_server.url.rsplit(":", 1)[1]
    response = Client(HTTP_HOST=f"{SITE_HOST}:{port}").get("/inquire/weddings/embed/")
    csp = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert csp["frame-ancestors"] == f"'self' {website_origin}"

    # The browser: the same snippet on the stranger's page shows no form.
    browser.get(f"{stranger_origin}/contact.html")
    frame = wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, "#slot iframe"), message="the iframe"
    )[0]
    refused = wait_for(
        lambda: [
            entry for entry in browser.get_log("browser") if "frame-ancestors" in entry["message"]
        ],
        message="the browser refusing the frame",
    )
    assert stranger_origin in refused[0]["message"] or "ancestor" in refused[0]["message"]
    browser.switch_to.frame(frame)
    assert not browser.find_elements(By.ID, "inquiry")
    browser.switch_to.default_content()
    shot(browser, "inquiry-06-stranger-refused")
    assert frame.size["height"] == 640  # never resized: no form ever loaded
