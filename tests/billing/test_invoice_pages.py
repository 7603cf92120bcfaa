"""The client's invoice pages as the server draws them, on the studio's site (the browser
flows are in ``test_invoice_browser``): the invoice with its schedule and pay choices, in its
language; its PDF; the card step (Stripe.js there only); the payment page; the public payment
API; and the bad input: more than the balance, a void invoice, another studio's link, a
forged one, all refused with a code and nothing written."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.test import Client
from django.utils import timezone

from billing.models import GiftCard, Instalment, Invoice, LedgerTransaction, Payment
from billing.services.invoices import (
    credit_note_create,
    invoice_link_read,
    invoice_link_token,
    invoice_link_url,
    invoice_void,
)
from billing.services.invoices import links as link_services
from billing.services.payments import payment_refresh
from billing.services.reconcile import ledger_check
from billing.services.wallets import wallet_for, wallet_grant
from picpick.testing.factories import ContactFactory
from tests.billing.invoicing_support import (  # noqa: F401 (fixtures)
    client_fixture,
    draft,
    issued,
    owed,
    pay,
)
from tests.billing.test_payments_support import (  # noqa: F401 (fixtures)
    confirm,
    fresh_cache_fixture,
    shop_fixture,
)

pytestmark = pytest.mark.django_db

SITE = "annasmith.localhost"
OTHER_SITE = "bobsweddings.localhost"
SCHEDULE = [
    {"label": "Deposit", "percent": "30", "due": {"on": "issue"}},
    {"label": "Balance", "balance": True},
]


def site(host: str = SITE) -> Client:
    return Client(HTTP_HOST=host)


def page(path: str, host: str = SITE):
    return site(host).get(path)


def html_of(response) -> str:
    return response.content.decode()


def invoice_with_schedule(studio, contact, **fields) -> Invoice:
    fields.setdefault("due_date", timezone.now().date() + dt.timedelta(days=60))
    return issued(studio, contact, schedule=SCHEDULE, **fields)


def url(invoice: Invoice, tail: str = "") -> str:
    return f"/invoices/{invoice_link_token(invoice=invoice)}/{tail}"


def pay_form(**changes) -> dict:
    form = {"amount_choice": "next", "email": "jane@example.com"}
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


def written(studio) -> tuple[int, int, int]:
    """What a refused request must not have changed: payments, postings, gift card rows."""
    return (
        Payment.objects.filter(studio=studio).count(),
        LedgerTransaction.objects.filter(studio=studio).count(),
        GiftCard.objects.filter(studio=studio).count(),
    )


def api_pay(invoice: Invoice, body: dict, *, host: str = SITE, key: str | None = "k-1", token=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    token = token or invoice_link_token(invoice=invoice)
    return site(host).post(
        f"/api/v1/billing/public/invoices/{token}/payments/",
        data=json.dumps(body),
        content_type="application/json",
        **headers,
    )


# --- Links -----------------------------------------------------------------------------------
def test_a_link_names_its_invoice_and_a_forged_one_nothing(studio_a, client):
    invoice = issued(studio_a, client)
    token = invoice_link_token(invoice=invoice)
    assert invoice_link_read(token) == invoice.id
    assert invoice_link_read(token + "x") is None
    assert invoice_link_read("not-a-token") is None
    assert invoice_link_url(invoice=invoice).endswith(f"/invoices/{token}/")
    assert "annasmith" in invoice_link_url(invoice=invoice)


# --- The invoice page ------------------------------------------------------------------------
def test_the_invoice_page_shows_the_invoice_its_schedule_and_the_pay_choices(
    studio_a, shop, client
):
    invoice = invoice_with_schedule(studio_a, client)
    response = page(url(invoice))
    assert response.status_code == 200
    html = html_of(response)
    assert html.count("<h1") == 1
    assert f'Invoice <span class="nowrap">{invoice.number}</span></h1>' in html
    assert '<html lang="en">' in html and 'lang="en"' in html
    for text in ("Full day", "Album", "€1,500.00", "€2,400.00", "VAT 20%", "€400.00"):
        assert text in html, text
    # The schedule: the deposit is next, the balance to come.
    assert re.search(r'data-state="next">Next', html)
    assert "Deposit" in html and "Balance" in html
    # The choices, with the amounts: the deposit, or all of it.
    assert 'value="next"' in html and "€720.00" in html
    assert 'value="all"' in html
    assert 'name="amount_other"' in html and 'name="gift_card_code"' in html
    assert 'name="save_card"' in html
    assert 'name="tip_choice"' not in html  # this invoice takes no tip
    assert 'name="use_wallet"' not in html  # no wallet credit
    assert re.search(r'href="/invoices/[^"/]+/pdf/"', html)
    # Every input of the form has its label.
    for input_id in re.findall(r'<input id="([^"]+)"', html):
        assert f'for="{input_id}"' in html, input_id
    # No third-party script on this page: the site's own policy, no Stripe.
    csp = response["Content-Security-Policy"]
    assert "stripe" not in csp.lower() and "<script src" not in html
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Robots-Tag"] == "noindex"


def test_the_invoice_in_french_is_written_the_french_way(studio_a, shop, client):
    invoice = invoice_with_schedule(studio_a, client, language="fr")
    html = html_of(page(url(invoice)))
    assert 'lang="fr"' in html and "Facture" in html
    assert "2\u00a0400,00\u00a0€" in html or "2\u202f400,00\u00a0€" in html
    assert "720,00" in html


def test_wallet_credit_and_tips_are_offered_when_there_are_some(studio_a, shop, client):
    invoice = invoice_with_schedule(studio_a, client, allow_tips=True)
    wallet = wallet_for(studio=studio_a, contact=client, currency="EUR")
    wallet_grant(wallet=wallet, amount=5_000, reason="goodwill", idempotency_key="g1")
    html = html_of(page(url(invoice)))
    assert "Use my wallet credit first (€50.00 available)" in html
    for value in ("0", "5", "10", "15", "custom"):
        assert f'name="tip_choice" value="{value}"' in html


def test_drafts_credit_notes_forged_links_and_other_studios_are_not_found(
    studio_a, studio_b, shop, client
):
    invoice = invoice_with_schedule(studio_a, client)
    assert page(url(draft(studio_a, client))).status_code == 404
    note = credit_note_create(invoice=invoice, lines=None, reason="Cancelled", by=None)
    assert page(url(note)).status_code == 404
    assert page(url(invoice) + "x/").status_code in (404,)
    assert page(f"/invoices/{invoice_link_token(invoice=invoice)}x/").status_code == 404
    # Studio A's link on studio B's site, and studio B's invoice on studio A's site.
    response = page(url(invoice), host=OTHER_SITE)
    assert response.status_code == 404
    assert invoice.number not in html_of(response)
    theirs = issued(studio_b, ContactFactory(studio=studio_b), currency="EUR")
    assert page(url(theirs)).status_code == 404
    assert page(url(theirs, "pdf/")).status_code == 404


def test_a_void_invoice_says_so_and_offers_no_payment(studio_a, shop, client):
    invoice = invoice_void(invoice=invoice_with_schedule(studio_a, client), reason="Wrong date")
    html = html_of(page(url(invoice)))
    assert "This invoice is void: Wrong date" in html
    assert 'id="invoice-pay-form"' not in html


def test_a_paid_invoice_thanks_and_links_its_receipts(studio_a, shop, client, fake_stripe):
    invoice = invoice_with_schedule(studio_a, client)
    payment = pay(invoice, 240_000).payment
    confirm(payment)
    payment_refresh(payment=payment)
    response = page(url(invoice))
    html = html_of(response)
    assert "Paid, thank you!" in html
    assert 'id="invoice-pay-form"' not in html
    receipt = re.search(rf'href="(/invoices/[^"/]+/receipts/{payment.id}/)"', html).group(1)
    pdf = page(receipt)
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert pdf["Content-Disposition"].startswith('attachment; filename="INV-')
    # Another invoice's receipt through this link: not found.
    other = invoice_with_schedule(studio_a, client)
    assert page(url(other, f"receipts/{payment.id}/")).status_code == 404


def test_the_pdf_is_the_stored_document_as_an_attachment_named_by_its_number(
    studio_a, shop, client
):
    invoice = invoice_with_schedule(studio_a, client)
    response = page(url(invoice, "pdf/"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{invoice.number}.pdf"'
    assert response.content.startswith(b"%PDF")
    invoice.refresh_from_db()
    assert invoice.pdf_sha256  # stored once, served from storage from now on
    assert page(url(invoice, "pdf/")).content == response.content


def test_link_pages_are_rate_limited_per_address(studio_a, shop, client, monkeypatch):
    monkeypatch.setattr(link_services, "LINK_PAGES_PER_ADDRESS", 2)
    invoice = invoice_with_schedule(studio_a, client)
    assert page(url(invoice)).status_code == 200
    assert page(url(invoice)).status_code == 200
    limited = page(url(invoice))
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert "Too many requests" in html_of(limited)


# --- The card step ---------------------------------------------------------------------------
def test_the_card_step_loads_stripe_js_with_the_chosen_amount(
    studio_a, shop, client, fake_stripe, settings
):
    settings.STRIPE_JS_URL = f"{fake_stripe.url}/v3/"
    invoice = invoice_with_schedule(studio_a, client)
    before = written(studio_a)
    response = site().post(url(invoice, "pay/"), pay_form(save_card="1"))
    assert response.status_code == 200
    html = html_of(response)
    assert f'<script src="{fake_stripe.url}/v3/"></script>' in html
    assert f"script-src 'self' {fake_stripe.url}" in response["Content-Security-Policy"]
    config = json.loads(re.search(r'id="pay-config"[^>]*>(.*?)</script>', html).group(1))
    assert config["payment"] == {
        "amount": 72_000,
        "tip": 0,
        "use_wallet": False,
        "gift_card_code": "",
        "save_card": True,
        "email": "jane@example.com",
        "name": "Jane Doe",
    }
    assert config["card"] is True and config["stripeAccount"] == shop.provider_account_id
    assert "€720.00" in html
    assert written(studio_a) == before  # choosing writes nothing


def test_the_card_step_works_out_other_amounts_tips_and_credit(studio_a, shop, client, fake_stripe):
    invoice = invoice_with_schedule(studio_a, client, allow_tips=True)
    wallet = wallet_for(studio=studio_a, contact=client, currency="EUR")
    wallet_grant(wallet=wallet, amount=10_000, reason="goodwill", idempotency_key="g1")
    form = pay_form(amount_choice="other", amount_other="300.00", use_wallet="1", tip_choice="10")
    html = html_of(site().post(url(invoice, "pay/"), form))
    config = json.loads(re.search(r'id="pay-config"[^>]*>(.*?)</script>', html).group(1))
    assert (config["payment"]["amount"], config["payment"]["tip"]) == (30_000, 3_000)
    assert config["payment"]["use_wallet"] is True
    assert "€100.00" in html  # from the wallet
    assert "€230.00" in html  # by card: 300 - 100 + 30 tip
    # Credit that covers it all: no card, no Stripe.js, no tip.
    form = pay_form(amount_choice="other", amount_other="80.00", use_wallet="1", tip_choice="10")
    html = html_of(site().post(url(invoice, "pay/"), form))
    config = json.loads(re.search(r'id="pay-config"[^>]*>(.*?)</script>', html).group(1))
    assert config["card"] is False and config["payment"]["tip"] == 0
    assert '<script src="http' not in html and "no card is needed" in html


@pytest.mark.parametrize(
    ("form", "status", "code", "field"),
    [
        (
            pay_form(amount_choice="other", amount_other="2400.01"),
            409,
            "amount_exceeds_balance",
            "amount_other",
        ),
        (
            pay_form(amount_choice="other", amount_other="12,50"),
            400,
            "amount_invalid",
            "amount_other",
        ),
        (
            pay_form(amount_choice="other", amount_other="10.001"),
            400,
            "amount_precision",
            "amount_other",
        ),
        (pay_form(amount_choice="other", amount_other="0"), 400, "amount_invalid", "amount_other"),
        (pay_form(amount_choice="upto:99"), 400, "amount_choice_invalid", "amount_choice"),
        (pay_form(email=""), 400, "invalid_email", "email"),
        (pay_form(gift_card_code="NOPE-NOPE-NOPE"), 404, "gift_card_not_found", "gift_card_code"),
    ],
)
def test_bad_choices_are_said_beside_their_field_and_nothing_is_written(
    studio_a, shop, client, fake_stripe, form, status, code, field
):
    invoice = invoice_with_schedule(studio_a, client)
    before = written(studio_a)
    response = site().post(url(invoice, "pay/"), form)
    assert response.status_code == status
    html = html_of(response)
    assert f'<code id="error-code">{code}</code>' in html
    assert f'aria-describedby="error-{field}"' in html and f'id="error-{field}"' in html
    assert 'role="alert"' in html
    assert "stripe" not in html.lower().split("</main>")[0]
    assert written(studio_a) == before


def test_the_card_step_of_a_void_invoice_is_a_conflict(studio_a, shop, client, fake_stripe):
    invoice = invoice_void(invoice=invoice_with_schedule(studio_a, client), reason="Wrong date")
    before = written(studio_a)
    response = site().post(url(invoice, "pay/"), pay_form(amount_choice="all"))
    assert response.status_code == 409
    assert '<code id="error-code">invoice_void</code>' in html_of(response)
    assert written(studio_a) == before


def test_the_card_step_of_another_studios_link_is_not_found(
    studio_a, studio_b, shop, client, fake_stripe
):
    invoice = invoice_with_schedule(studio_a, client)
    before = written(studio_a)
    response = site(OTHER_SITE).post(url(invoice, "pay/"), pay_form())
    assert response.status_code == 404
    assert written(studio_a) == before


def test_the_card_step_is_a_post_with_the_sites_csrf_token(studio_a, shop, client):
    invoice = invoice_with_schedule(studio_a, client)
    assert page(url(invoice, "pay/")).status_code == 405
    strict = Client(HTTP_HOST=SITE, enforce_csrf_checks=True)
    assert strict.post(url(invoice, "pay/"), pay_form()).status_code == 403
    strict.get(url(invoice))
    token = strict.cookies["csrftoken"].value
    response = strict.post(url(invoice, "pay/"), {**pay_form(), "csrfmiddlewaretoken": token})
    assert response.status_code == 200


# --- The public payment API ------------------------------------------------------------------
def test_paying_the_deposit_through_the_api_then_the_payment_page(
    studio_a, shop, client, fake_stripe, django_capture_on_commit_callbacks
):
    invoice = invoice_with_schedule(studio_a, client)
    response = api_pay(invoice, {"amount": 72_000, "email": "jane@example.com", "save_card": True})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["client_secret"] and body["payment"]["amount"]["amount"] == 72_000
    assert (
        body["invoice"]["status"] == "open" and body["stripe_account"] == shop.provider_account_id
    )
    payment = Payment.objects.get()
    assert (payment.purpose, payment.reference_id, payment.save_card) == (
        "invoice",
        invoice.id,
        True,
    )
    assert re.fullmatch(rf"/invoices/[^/]+/payments/{payment.id}/\?t=\w+", body["receipt_url"])
    # The same request again is the same payment.
    again = api_pay(invoice, {"amount": 72_000, "email": "jane@example.com", "save_card": True})
    assert again.json()["payment"]["id"] == str(payment.id) and Payment.objects.count() == 1
    # Before the card: the payment page waits and polls.
    waiting = html_of(page(body["receipt_url"]))
    assert "Processing" in waiting and '"reloadWhenFinal": true' in waiting
    confirm(payment)
    with django_capture_on_commit_callbacks(execute=True):
        payment_refresh(payment=payment)
    done = page(body["receipt_url"])
    html = html_of(done)
    assert done.status_code == 200
    assert 'data-state="succeeded">Paid' in html and "Partially paid" in html
    assert "€1,680.00" in html  # the balance left
    assert f'/receipts/{payment.id}/"' in html
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PARTIALLY_PAID and owed(invoice) == 168_000
    page_html = html_of(page(url(invoice)))
    assert re.search(r'data-state="paid">Paid', page_html)
    assert re.search(r'data-state="next">Next', page_html)
    # The card was saved for the rest: the balance is paid automatically on its due date.
    rest = Instalment.objects.get(
        invoice=invoice, position=max(i.position for i in invoice.instalments.all())
    )
    assert rest.autopay and rest.saved_card is not None
    assert "paid automatically by card" in page_html
    # The payment page needs its token, and this invoice's link.
    assert page(body["receipt_url"].split("?")[0]).status_code == 404
    other = invoice_with_schedule(studio_a, client)
    assert page(url(other, f"payments/{payment.id}/?t=x")).status_code == 404
    assert ledger_check().ok


def test_wallet_credit_that_covers_the_payment_needs_no_card(studio_a, shop, client, fake_stripe):
    invoice = invoice_with_schedule(studio_a, client)
    wallet = wallet_for(studio=studio_a, contact=client, currency="EUR")
    wallet_grant(wallet=wallet, amount=100_000, reason="goodwill", idempotency_key="g1")
    response = api_pay(invoice, {"amount": 72_000, "use_wallet": True, "email": "j@example.com"})
    body = response.json()
    assert response.status_code == 200
    assert body["payment"] is None and body["client_secret"] == ""
    assert body["wallet_applied"]["amount"] == 72_000
    assert invoice_link_read(body["receipt_url"].split("/")[2]) == invoice.id
    assert body["invoice"]["status"] == "partially_paid"
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("above_balance", 409, "amount_exceeds_balance"),
        ("void", 409, "invoice_void"),
        ("other_studio", 404, "not_found"),
        ("forged", 404, "invoice_link_invalid"),
        ("float", 400, "amount_float"),
        ("no_key", 400, "idempotency_key_required"),
        ("tip_not_allowed", 400, "tips_not_allowed"),
        ("not_a_site", 404, "not_found"),
    ],
)
def test_bad_api_payments_are_refused_with_a_code_and_nothing_is_written(
    studio_a, studio_b, shop, client, fake_stripe, case, status, code
):
    invoice = invoice_with_schedule(studio_a, client)
    body = {"amount": 72_000, "email": "jane@example.com"}
    kwargs: dict = {}
    if case == "above_balance":
        body["amount"] = 240_001
    elif case == "void":
        invoice = invoice_void(invoice=invoice, reason="Wrong date")
    elif case == "other_studio":
        theirs = issued(studio_b, ContactFactory(studio=studio_b), currency="EUR")
        kwargs["token"] = invoice_link_token(invoice=theirs)
    elif case == "forged":
        kwargs["token"] = invoice_link_token(invoice=invoice) + "x"
    elif case == "float":
        body["amount"] = 720.5
    elif case == "no_key":
        kwargs["key"] = None
    elif case == "tip_not_allowed":
        body["tip"] = 500
    elif case == "not_a_site":
        kwargs["host"] = "localhost"
    before = written(studio_a), written(studio_b)
    response = api_pay(invoice, body, **kwargs)
    assert response.status_code == status, response.content
    if case != "not_a_site" and case != "other_studio":
        assert response.json()["error"]["code"] == code
    assert (written(studio_a), written(studio_b)) == before
