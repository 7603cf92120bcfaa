"""The client's quote page as the server draws it, on the studio's site: packages, included
items and add-ons, totals of the choice (recalculated without JavaScript, or as JSON for the
page's script), accepting (name, time, address and browser recorded, then the invoice page
with its deposit ready), declining, the states a quote ends in, and the links that are not
found. The browser flow is in ``test_invoice_browser``."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from billing.models import Invoice, LedgerTransaction, Quote
from billing.services.invoices import invoice_link_read
from billing.services.quotes import (
    QuoteItemInput,
    quote_create,
    quote_link_token,
    quote_send,
    quote_withdraw,
)
from picpick.testing.factories import ContactFactory
from tests.billing.test_payments_support import (  # noqa: F401 (fixtures)
    client_contact_fixture,
    fresh_cache_fixture,
    shop_fixture,
)

pytestmark = pytest.mark.django_db

SITE = "annasmith.localhost"
VAT = [{"name": "VAT", "rate": "20"}]
SCHEDULE = [
    {"label": "Deposit", "percent": "30", "due": {"on": "acceptance"}},
    {"label": "Balance", "balance": True},
]


def items() -> list[QuoteItemInput]:
    return [
        QuoteItemInput(name="Half day", unit_price=100_000, kind="package", taxes=VAT),
        QuoteItemInput(
            name="Full day", unit_price=180_000, kind="package", taxes=VAT, selected=True
        ),
        QuoteItemInput(name="Travel", unit_price=5_000, taxes=VAT),
        QuoteItemInput(
            name="Album", unit_price=30_000, optional=True, taxes=VAT, description="30 pages"
        ),
    ]


def sent_quote(studio, contact, **fields) -> Quote:
    fields.setdefault("expires_on", timezone.now().date() + dt.timedelta(days=30))
    quote = quote_create(
        studio=studio,
        contact=contact,
        title="Doe wedding",
        currency="EUR",
        items=items(),
        schedule=SCHEDULE,
        payment_terms_days=30,
        **fields,
    )
    return quote_send(quote=quote)


def url(quote: Quote, tail: str = "") -> str:
    return f"/quotes/{quote_link_token(quote=quote)}/{tail}"


def site(host: str = SITE) -> Client:
    return Client(HTTP_HOST=host, HTTP_USER_AGENT="Test browser/1.0")


def item_id(quote: Quote, name: str) -> str:
    return str(quote.items.get(name=name).id)


def html_of(response) -> str:
    return response.content.decode()


def accept_form(quote: Quote, **changes) -> dict:
    form = {
        "action": "accept",
        "package": item_id(quote, "Half day"),
        "addon": [item_id(quote, "Album")],
        "accepted_name": "Jane Doe",
        "agree": "1",
    }
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


def test_the_quote_page_offers_packages_add_ons_and_the_totals_of_the_choice(
    studio_a, client_contact
):
    quote = sent_quote(studio_a, client_contact)
    response = site().get(url(quote))
    assert response.status_code == 200
    html = html_of(response)
    assert html.count("<h1") == 1 and "<h1>Doe wedding</h1>" in html
    assert '<html lang="en">' in html
    assert f"Quote {quote.number} from Anna Smith Photography" in html
    # Packages are radio buttons in a fieldset, the studio's pick checked; add-ons checkboxes.
    assert "<legend>Choose your package</legend>" in html
    full = item_id(quote, "Full day")
    assert re.search(rf'type="radio" name="package" value="{full}" id="[^"]+" checked', html)
    assert re.search(rf'type="checkbox" name="addon" value="{item_id(quote, "Album")}"', html)
    assert "Travel" in html and "30 pages" in html
    # The default choice: Full day + Travel, VAT 20%, the deposit 30% of it.
    assert "€2,220.00" in html and "€370.00" in html and "€666.00" in html
    assert "This quote is valid until" in html
    # Each input has its label; the accept form has the typed name and the box.
    for input_id in re.findall(r'<input[^>]* id="([^"]+)"', html):
        assert f'for="{input_id}"' in html, input_id
    assert 'name="accepted_name"' in html and 'name="agree"' in html
    assert 'value="recalculate"' in html and "billing/invoice.js" in html
    csp = response["Content-Security-Policy"]
    assert "stripe" not in csp.lower()


def test_the_total_is_recalculated_without_javascript(studio_a, client_contact):
    quote = sent_quote(studio_a, client_contact)
    form = accept_form(quote, action="recalculate")
    response = site().post(url(quote), form)
    assert response.status_code == 200
    html = html_of(response)
    # Half day + Travel + Album = 1,350.00 + 270.00 VAT.
    assert "€1,620.00" in html and "€486.00" in html
    assert re.search(rf'value="{item_id(quote, "Album")}" id="[^"]+" checked', html)
    quote.refresh_from_db()
    assert quote.state == Quote.State.SENT  # recalculating accepts nothing


def test_the_totals_as_json_for_the_pages_script(studio_a, client_contact):
    quote = sent_quote(studio_a, client_contact)
    query = f"?package={item_id(quote, 'Half day')}&addon={item_id(quote, 'Album')}"
    response = site().get(url(quote, "totals/") + query)
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == "€1,620.00"
    assert [row["kind"] for row in body["rows"]] == ["subtotal", "tax", "total"]
    assert body["schedule"][0] == {"label": "Deposit", "due": "on acceptance", "amount": "€486.00"}
    bad = site().get(url(quote, "totals/") + "?package=nope")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "choice_invalid"
    none = site().get(url(quote, "totals/"))
    assert none.json()["error"]["code"] == "package_required"


def test_accepting_records_the_client_and_opens_the_invoice_with_its_deposit(
    studio_a, shop, client_contact
):
    quote = sent_quote(studio_a, client_contact)
    response = site().post(url(quote), accept_form(quote), REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 303
    token = response["Location"].split("/")[2]
    assert response["Location"] == f"/invoices/{token}/"
    quote.refresh_from_db()
    assert quote.state == Quote.State.ACCEPTED
    assert quote.accepted_name == "Jane Doe"
    assert quote.accepted_address == "203.0.113.7"
    assert quote.accepted_user_agent == "Test browser/1.0"
    assert quote.accepted_at is not None
    assert quote.accepted_choice == {
        "package": item_id(quote, "Half day"),
        "addons": [item_id(quote, "Album")],
    }
    invoice = Invoice.objects.get(pk=invoice_link_read(token))
    assert invoice == quote.invoice and invoice.total == 162_000
    assert [line.name for line in invoice.lines.all()] == ["Half day", "Travel", "Album"]
    page = html_of(site().get(response["Location"]))
    assert re.search(r'value="next" id="[^"]+" checked', page)
    assert "The next instalment (Deposit" in page and "€486.00" in page
    # The quote now says it was accepted, and links its invoice.
    again = html_of(site().get(url(quote)))
    assert "Accepted by Jane Doe" in again and 'id="quote-invoice"' in again
    assert 'id="quote-form"' not in again


@pytest.mark.parametrize(
    ("changes", "status", "code", "field"),
    [
        ({"agree": None}, 400, "acceptance_required", "agree"),
        ({"accepted_name": "  "}, 400, "accepted_name_required", "accepted_name"),
        ({"package": None}, 400, "package_required", "package_id"),
        ({"addon": ["not-an-item"]}, 400, "choice_invalid", "addon_ids"),
    ],
)
def test_a_bad_acceptance_is_said_beside_its_field_and_nothing_is_written(
    studio_a, client_contact, changes, status, code, field
):
    quote = sent_quote(studio_a, client_contact)
    response = site().post(url(quote), accept_form(quote, **changes))
    assert response.status_code == status
    html = html_of(response)
    assert f'<code id="error-code">{code}</code>' in html
    assert f'aria-describedby="error-{field}"' in html and f'id="error-{field}"' in html
    quote.refresh_from_db()
    assert quote.state == Quote.State.SENT and quote.invoice_id is None
    assert not Invoice.objects.exists()
    assert not LedgerTransaction.objects.exists()


def test_a_quote_accepted_twice_is_a_conflict_and_writes_nothing(studio_a, client_contact):
    quote = sent_quote(studio_a, client_contact)
    assert site().post(url(quote), accept_form(quote)).status_code == 303
    postings = LedgerTransaction.objects.count()
    again = site().post(url(quote), accept_form(quote, accepted_name="Someone Else"))
    assert again.status_code == 409
    html = html_of(again)
    assert '<code id="error-code">quote_accepted</code>' in html
    assert "Accepted by Jane Doe" in html
    assert Invoice.objects.count() == 1 and LedgerTransaction.objects.count() == postings
    quote.refresh_from_db()
    assert quote.accepted_name == "Jane Doe"


def test_declining_with_a_reason(studio_a, client_contact):
    quote = sent_quote(studio_a, client_contact)
    response = site().post(url(quote), {"action": "decline", "reason": "We chose another date"})
    assert response.status_code == 200
    assert "You declined this quote" in html_of(response)
    quote.refresh_from_db()
    assert (quote.state, quote.decline_reason) == (Quote.State.DECLINED, "We chose another date")
    assert site().post(url(quote), accept_form(quote)).status_code == 409
    assert not Invoice.objects.exists()


def test_expired_and_withdrawn_quotes_show_their_state_and_no_form(studio_a, client_contact):
    expired = sent_quote(studio_a, client_contact)
    Quote.objects.filter(pk=expired.pk).update(
        expires_on=timezone.now().date() - dt.timedelta(days=2)
    )
    html = html_of(site().get(url(expired)))
    assert "This quote expired on" in html and 'id="quote-form"' not in html
    assert site().post(url(expired), accept_form(expired)).status_code == 409
    assert site().get(url(expired, "totals/")).status_code == 409
    withdrawn = quote_withdraw(quote=sent_quote(studio_a, client_contact))
    html = html_of(site().get(url(withdrawn)))
    assert "withdrew this quote" in html and 'id="quote-form"' not in html
    assert not Invoice.objects.exists()


def test_drafts_forged_links_and_other_studios_quotes_are_not_found(
    studio_a, studio_b, client_contact
):
    quote = sent_quote(studio_a, client_contact)
    draft = quote_create(
        studio=studio_a, contact=client_contact, title="Draft", currency="EUR", items=items()
    )
    assert site().get(url(draft)).status_code == 404
    assert site().get(url(quote).rstrip("/") + "x/").status_code == 404
    assert site("bobsweddings.localhost").get(url(quote)).status_code == 404
    theirs = quote_send(
        quote=quote_create(
            studio=studio_b,
            contact=ContactFactory(studio=studio_b, email="sam@example.com"),
            title="Theirs",
            currency="EUR",
            items=items(),
        )
    )
    response = site().post(url(theirs), accept_form(theirs))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == Quote.State.SENT
