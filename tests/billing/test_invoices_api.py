"""The invoice API through the real endpoints: drafts (floats and bad lines refused, nothing
written), issuing, reading an invoice with what is owed from the ledger, the list's filters and
pages, void, write-off, credit notes, a new schedule keeping what is paid, card payments and
refunds through the fake Stripe, the PDF, sending the link; the invoicing settings; who may
do what; another studio's invoice a 404; the OpenAPI shapes."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from billing.models import Instalment, Invoice, InvoiceLine, LedgerTransaction
from billing.services.catalogue import catalogue_item_create, tax_rate_create
from billing.services.invoices import invoice_autopay_set, invoice_issue
from billing.services.invoices.common import today_of
from billing.services.payments import payment_refresh
from billing.services.reconcile import ledger_check
from billing.services.wallets import wallet_for, wallet_grant
from picpick.core.storage import get_storage
from picpick.testing.factories import (
    AutopayAttemptFactory,
    ContactFactory,
    JobFactory,
    ProviderCustomerFactory,
    SavedCardFactory,
)
from tests.billing.invoicing_support import draft, pay
from tests.billing.test_payments_support import (  # noqa: F401 (fixtures)
    confirm,
    fresh_cache_fixture,
    shop_fixture,
)

pytestmark = pytest.mark.django_db

BASE = "/api/v1/billing"
VAT = [{"name": "VAT", "rate": "20"}]


def error(response) -> str:
    return response.json()["error"]["code"]


@pytest.fixture
def euro_studio(studio_a):
    studio_a.default_currency = "EUR"
    studio_a.save(update_fields=["default_currency"])
    return studio_a


@pytest.fixture
def jane(euro_studio):
    return ContactFactory(
        studio=euro_studio, first_name="Jane", last_name="Doe", email="jane@example.com"
    )


@pytest.fixture
def package(euro_studio):
    vat = tax_rate_create(studio=euro_studio, name="VAT", rate="20")
    return catalogue_item_create(
        studio=euro_studio,
        kind="package",
        name="Full day",
        unit_price=150_000,
        tax_rate_ids=[vat.id],
    )


@pytest.fixture
def storage(settings, tmp_path):
    settings.PICPICK_STORAGE = "local"
    settings.PICPICK_LOCAL_STORAGE_ROOT = tmp_path / "objects"
    get_storage.cache_clear()
    yield get_storage()
    get_storage.cache_clear()


def create(client, contact, **body):
    body.setdefault(
        "lines",
        [
            {"name": "Full day", "unit_price": "1500.00", "taxes": VAT},
            {"name": "Album", "unit_price": 25_000, "quantity": "2", "taxes": VAT},
        ],
    )
    response = client.post(
        f"{BASE}/invoices/", {"contact_id": str(contact.id), **body}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def issue(client, invoice_id: str) -> dict:
    response = client.post(f"{BASE}/invoices/{invoice_id}/issue/")
    assert response.status_code == 200, response.content
    return response.json()


def own_queries(client, url: str) -> int:
    """The queries a GET made for itself, not counting those that authenticate the caller."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return sum("accounts_" not in query["sql"] for query in captured.captured_queries)


def amount(money: dict | None) -> int | None:
    return None if money is None else money["amount"]


# --- drafts ---------------------------------------------------------------------------------


def test_a_draft_is_made_read_changed_and_discarded(alice_client, jane, package):
    job = JobFactory(studio=jane.studio, name="Doe wedding")
    body = create(
        alice_client,
        jane,
        job_id=str(job.id),
        title="Doe wedding",
        language="fr-fr",
        discount={"percent": "10"},
        lines=[
            {"catalogue_item_id": str(package.id)},
            {
                "name": "Prints",
                "quantity": "12",
                "unit_price": "8.50",
                "discount": {"amount": "2.00"},
                "taxes": VAT,
            },
        ],
        schedule=[{"amount": "500.00"}, {"balance": True}],
    )
    assert (body["number"], body["status"], body["kind"]) == (None, "draft", "invoice")
    assert body["language"] == "fr_FR" and body["job_id"] == str(job.id)
    assert body["contact"] == {"id": str(jane.id), "name": "Jane Doe", "email": jane.email}
    first, prints = body["lines"]
    assert (first["name"], amount(first["unit_price"]), first["catalogue_item_id"]) == (
        "Full day",
        150_000,
        str(package.id),
    )
    assert first["taxes"] == [{"name": "VAT", "rate": "20", "inclusive": False, "compound": False}]
    # 12 x 8.50 = 102.00 - 2.00 = 100.00; the invoice's 10% then applies to both lines.
    assert (prints["quantity"], amount(prints["gross"])) == ("12", 10_200)
    assert amount(body["subtotal"]) == 160_200
    assert amount(body["discount_total"]) == 200 + 16_000
    assert amount(body["net_total"]) == 144_000
    assert amount(body["tax_total"]) == 28_800 and amount(body["total"]) == 172_800
    assert body["tax_breakdown"][0]["amount"]["decimal"] == "288.00"
    assert body["schedule"] == [{"amount": 50_000}, {"balance": True}]
    assert body["balance_due"] is None and body["instalments"] == [] and body["pdf_url"] is None
    invoice_id = body["id"]

    got = alice_client.get(f"{BASE}/invoices/{invoice_id}/").json()
    assert got == body

    response = alice_client.patch(
        f"{BASE}/invoices/{invoice_id}/",
        {
            "discount": None,
            "lines": [{"name": "Half day", "unit_price": "800", "taxes": VAT}],
            "due_date": "2027-01-31",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    changed = response.json()
    assert [line["name"] for line in changed["lines"]] == ["Half day"]
    assert amount(changed["total"]) == 96_000 and changed["due_date"] == "2027-01-31"
    assert changed["discount_percent"] is None

    assert alice_client.delete(f"{BASE}/invoices/{invoice_id}/").status_code == 204
    response = alice_client.get(f"{BASE}/invoices/{invoice_id}/")
    assert (response.status_code, error(response)) == (404, "not_found")
    assert not InvoiceLine.objects.filter(invoice_id=invoice_id).exists()


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ({"name": "x", "unit_price": 10.5}, "amount_float"),
        ({"name": "x", "unit_price": "10.505"}, "amount_precision"),
        ({"name": "x", "unit_price": "10", "quantity": 1.5}, "quantity_invalid"),
        ({"name": "x", "unit_price": "10", "quantity": "-1"}, "quantity_invalid"),
        ({"name": "x", "unit_price": "10", "quantity": "1.0001"}, "quantity_invalid"),
        (
            {"name": "x", "unit_price": "10", "taxes": [{"name": "T", "rate": 20.5}]},
            "tax_rate_invalid",
        ),
        (
            {"name": "x", "unit_price": "10", "taxes": [{"name": "T", "rate": "101"}]},
            "tax_rate_invalid",
        ),
        ({"name": "x", "unit_price": "10", "discount": {"percent": 5.5}}, "discount_invalid"),
        (
            {"name": "x", "unit_price": "10", "discount": {"amount": "11.00"}},
            "discount_exceeds_total",
        ),
        ({"name": "x", "unit_price": "10", "discount": {}}, "discount_invalid"),
        ({"unit_price": "10"}, "line_name_invalid"),
        ({"name": "x"}, "price_invalid"),
        ({"catalogue_item_id": str(uuid.uuid4())}, "catalogue_item_not_found"),
        (
            {"name": "x", "unit_price": "10", "tax_rate_ids": [str(uuid.uuid4())]},
            "tax_rate_not_found",
        ),
    ],
)
def test_bad_lines_are_refused_and_nothing_is_written(alice_client, jane, line, code):
    response = alice_client.post(
        f"{BASE}/invoices/", {"contact_id": str(jane.id), "lines": [line]}, format="json"
    )
    assert response.status_code in (400, 404), response.content
    assert error(response) == code
    assert not Invoice.objects.exists() and not InvoiceLine.objects.exists()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"discount": {"percent": "10", "amount": "5"}}, "discount_invalid"),
        ({"schedule": [{"amount": 100.5}, {"balance": True}]}, "amount_float"),
        ({"schedule": [{"percent": 30.0}, {"balance": True}]}, "schedule_invalid"),
        ({"schedule": [{"balance": True}, {"percent": "30"}]}, "schedule_invalid"),
        ({"language": "xx-nowhere"}, "language_invalid"),
        ({"currency": "eur"}, "currency_unknown"),
        ({"titel": "typo"}, "validation_error"),
    ],
)
def test_bad_drafts_are_refused(alice_client, jane, body, code):
    response = alice_client.post(
        f"{BASE}/invoices/",
        {"contact_id": str(jane.id), "lines": [{"name": "x", "unit_price": "10"}], **body},
        format="json",
    )
    assert (response.status_code, error(response)) == (400, code), response.content
    assert not Invoice.objects.exists()


def test_another_studios_contact_job_and_invoice_are_not_found(
    alice_client, bob_client, jane, studio_b
):
    other = ContactFactory(studio=studio_b)
    response = alice_client.post(
        f"{BASE}/invoices/",
        {"contact_id": str(other.id), "lines": [{"name": "x", "unit_price": "1"}]},
        format="json",
    )
    assert response.status_code == 404
    job = JobFactory(studio=studio_b)
    response = alice_client.post(
        f"{BASE}/invoices/",
        {"contact_id": str(jane.id), "job_id": str(job.id), "lines": []},
        format="json",
    )
    assert response.status_code == 404
    invoice_id = create(alice_client, jane)["id"]
    for method, path in [
        ("get", ""),
        ("patch", ""),
        ("delete", ""),
        ("post", "issue/"),
        ("post", "void/"),
        ("post", "write-off/"),
        ("post", "credit-notes/"),
        ("put", "schedule/"),
        ("post", "send/"),
        ("get", "pdf/"),
        ("get", "payments/"),
    ]:
        response = getattr(bob_client, method)(
            f"{BASE}/invoices/{invoice_id}/{path}", {}, format="json"
        )
        assert (response.status_code, error(response)) == (404, "not_found"), (method, path)
    assert bob_client.get(f"{BASE}/invoices/").json()["results"] == []
    assert Invoice.objects.get(pk=invoice_id).status == "draft"


# --- issuing and reading --------------------------------------------------------------------


def test_issuing_numbers_posts_and_answers_what_is_owed(alice_client, jane):
    body = create(
        alice_client,
        jane,
        schedule=[{"label": "Deposit", "percent": "30", "due": {"on": "issue"}}, {"balance": True}],
    )
    issued = issue(alice_client, body["id"])
    year = timezone.now().year
    assert issued["number"] == f"INV-{year}-0001" and issued["status"] == "open"
    assert amount(issued["balance_due"]) == 240_000 and amount(issued["paid"]) == 0
    assert [(i["label"], amount(i["amount"]), i["state"]) for i in issued["instalments"]] == [
        ("Deposit", 72_000, "pending"),
        ("Balance", 168_000, "pending"),
    ]
    assert [(h["transaction"]["kind"], amount(h["amount"])) for h in issued["history"]] == [
        ("invoice_issued", 240_000)
    ]
    assert issued["pdf_url"] == f"/api/v1/billing/invoices/{body['id']}/pdf/"

    again = alice_client.post(f"{BASE}/invoices/{body['id']}/issue/")
    assert (again.status_code, error(again)) == (409, "invoice_not_draft")
    edit = alice_client.patch(f"{BASE}/invoices/{body['id']}/", {"title": "x"}, format="json")
    assert (edit.status_code, error(edit)) == (409, "invoice_not_draft")
    gone = alice_client.delete(f"{BASE}/invoices/{body['id']}/")
    assert (gone.status_code, error(gone)) == (409, "invoice_not_draft")

    # Paid in part from the wallet: the ledger says what is left.
    invoice = Invoice.objects.get(pk=body["id"])
    wallet = wallet_for(studio=jane.studio, contact=jane, currency="EUR")
    wallet_grant(wallet=wallet, amount=100_000, reason="goodwill", idempotency_key="g1")
    pay(invoice, 100_000, use_wallet=True)
    got = alice_client.get(f"{BASE}/invoices/{body['id']}/").json()
    assert got["status"] == "partially_paid"
    assert (amount(got["paid"]), amount(got["balance_due"])) == (100_000, 140_000)
    assert [(i["state"], amount(i["paid"])) for i in got["instalments"]] == [
        ("paid", 72_000),
        ("partially_paid", 28_000),
    ]
    assert [h["transaction"]["kind"] for h in got["history"]] == [
        "invoice_issued",
        "wallet_spend",
    ]


def test_an_empty_draft_is_not_issued(alice_client, jane):
    body = create(alice_client, jane, lines=[])
    response = alice_client.post(f"{BASE}/invoices/{body['id']}/issue/")
    assert (response.status_code, error(response)) == (409, "invoice_empty")


def test_the_list_filters_and_pages(alice_client, jane, euro_studio):
    other = ContactFactory(studio=euro_studio, first_name="Otto")
    job = JobFactory(studio=euro_studio)
    drafts = [create(alice_client, jane)["id"] for _ in range(2)]
    issued_ids = [issue(alice_client, create(alice_client, jane)["id"])["id"] for _ in range(2)]
    with_job = issue(alice_client, create(alice_client, other, job_id=str(job.id))["id"])["id"]
    # One of jane's is overdue: its instalment was due last week.
    today = today_of(euro_studio)
    Instalment.objects.filter(invoice_id=issued_ids[0]).update(
        due_date=today - dt.timedelta(days=7)
    )

    def ids(query: str = "") -> list[str]:
        response = alice_client.get(f"{BASE}/invoices/{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [with_job, *reversed(issued_ids), *reversed(drafts)]
    assert ids("?status=draft") == list(reversed(drafts))
    assert ids(f"?contact_id={other.id}") == [with_job]
    assert ids(f"?job_id={job.id}") == [with_job]
    assert ids("?overdue=true") == [issued_ids[0]]
    assert issued_ids[0] not in ids("?overdue=false")
    listed = alice_client.get(f"{BASE}/invoices/?overdue=true").json()["results"][0]
    assert listed["is_overdue"] is True and amount(listed["balance_due"]) == 240_000
    year = timezone.now().year
    assert ids(f"?q=inv-{year}-0003") == [with_job]
    assert ids(f"?issued_from={today}&issued_to={today}") == [with_job, *reversed(issued_ids)]
    assert ids(f"?issued_to={today - dt.timedelta(days=1)}") == []
    assert ids("?kind=credit_note") == []
    first = alice_client.get(f"{BASE}/invoices/?page_size=2").json()
    assert len(first["results"]) == 2 and first["next"]
    rest = alice_client.get(f"{BASE}/invoices/", {"cursor": first["next"], "page_size": 10})
    assert len(rest.json()["results"]) == 3
    bad = alice_client.get(f"{BASE}/invoices/?status=nope")
    assert (bad.status_code, error(bad)) == (400, "validation_error")

    # A page is read in one query whatever its size.
    assert own_queries(alice_client, f"{BASE}/invoices/?page_size=1") == 1
    assert own_queries(alice_client, f"{BASE}/invoices/?page_size=50") == 1


def test_reading_an_invoice_takes_a_fixed_number_of_queries(alice_client, jane):
    small = issue(alice_client, create(alice_client, jane)["id"])["id"]
    lines = [{"name": f"Line {n}", "unit_price": "10", "taxes": VAT} for n in range(30)]
    big = issue(alice_client, create(alice_client, jane, lines=lines)["id"])["id"]
    # The invoice, its lines, instalments, credit notes, card payments, receivable entries.
    assert own_queries(alice_client, f"{BASE}/invoices/{small}/") == 6
    assert own_queries(alice_client, f"{BASE}/invoices/{big}/") == 6


# --- corrections ----------------------------------------------------------------------------


def test_void_write_off_and_credit_notes(alice_client, jane):
    first = issue(alice_client, create(alice_client, jane)["id"])["id"]
    response = alice_client.post(f"{BASE}/invoices/{first}/void/", {}, format="json")
    assert (response.status_code, error(response)) == (400, "validation_error")
    response = alice_client.post(
        f"{BASE}/invoices/{first}/void/", {"reason": "Wrong client"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["void_reason"]) == ("void", "Wrong client")
    assert amount(response.json()["balance_due"]) == 0
    again = alice_client.post(f"{BASE}/invoices/{first}/void/", {"reason": "x"}, format="json")
    assert (again.status_code, error(again)) == (409, "invoice_void")

    second = issue(alice_client, create(alice_client, jane)["id"])["id"]
    response = alice_client.post(
        f"{BASE}/invoices/{second}/credit-notes/",
        {
            "reason": "One album less",
            "lines": [{"name": "Album", "unit_price": "250.00", "taxes": VAT}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    note = response.json()
    year = timezone.now().year
    assert (note["kind"], note["number"], note["credit_for_id"]) == (
        "credit_note",
        f"CN-{year}-0001",
        second,
    )
    assert amount(note["total"]) == 30_000
    got = alice_client.get(f"{BASE}/invoices/{second}/").json()
    assert amount(got["credited"]) == 30_000 and amount(got["balance_due"]) == 210_000
    assert [(n["number"], amount(n["total"])) for n in got["credit_notes"]] == [
        (f"CN-{year}-0001", 30_000)
    ]
    too_much = alice_client.post(
        f"{BASE}/invoices/{second}/credit-notes/", {"reason": "all of it"}, format="json"
    )
    assert (too_much.status_code, error(too_much)) == (409, "credit_exceeds_invoice")

    response = alice_client.post(
        f"{BASE}/invoices/{second}/write-off/", {"reason": "Client vanished"}, format="json"
    )
    assert response.status_code == 200, response.content
    written = response.json()
    assert written["status"] == "uncollectible" and amount(written["balance_due"]) == 0
    assert {i["state"] for i in written["instalments"]} == {"canceled"}
    assert ledger_check().ok


def test_a_new_schedule_keeps_the_paid_instalments(alice_client, jane):
    body = create(alice_client, jane, schedule=[{"percent": "30"}, {"balance": True}])
    invoice_id = issue(alice_client, body["id"])["id"]
    invoice = Invoice.objects.get(pk=invoice_id)
    wallet = wallet_for(studio=jane.studio, contact=jane, currency="EUR")
    wallet_grant(wallet=wallet, amount=100_000, reason="goodwill", idempotency_key="g1")
    pay(invoice, 100_000, use_wallet=True)
    later = (today_of(jane.studio) + dt.timedelta(days=60)).isoformat()
    response = alice_client.put(
        f"{BASE}/invoices/{invoice_id}/schedule/",
        {
            "schedule": [
                {"label": "Second", "amount": "500.00"},
                {"label": "Balance", "balance": True, "due": {"on": "date", "date": later}},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    rows = [
        (i["label"], amount(i["amount"]), amount(i["paid"]), i["state"])
        for i in response.json()["instalments"]
    ]
    # The paid deposit stays; 28,000 paid on the old balance goes to the new instalments.
    assert rows == [
        ("Deposit", 72_000, 72_000, "paid"),
        ("Second", 50_000, 28_000, "partially_paid"),
        ("Balance", 118_000, 0, "pending"),
    ]
    assert response.json()["instalments"][-1]["due_date"] == later
    bad = alice_client.put(
        f"{BASE}/invoices/{invoice_id}/schedule/",
        {"schedule": [{"balance": True}, {"percent": "10"}]},
        format="json",
    )
    assert (bad.status_code, error(bad)) == (400, "schedule_invalid")
    # A draft's planned schedule is replaced as it is.
    draft_id = create(alice_client, jane)["id"]
    response = alice_client.put(
        f"{BASE}/invoices/{draft_id}/schedule/",
        {"schedule": [{"percent": "50"}, {"balance": True}]},
        format="json",
    )
    assert response.json()["schedule"] == [{"percent": "50"}, {"balance": True}]


def test_a_new_schedule_keeps_autopay_and_waits_for_a_charge_under_way(alice_client, jane):
    invoice_id = issue(alice_client, create(alice_client, jane)["id"])["id"]
    invoice = Invoice.objects.get(pk=invoice_id)
    card = SavedCardFactory(customer=ProviderCustomerFactory(studio=jane.studio, contact=jane))
    invoice_autopay_set(invoice=invoice, saved_card=card, enabled=True)
    [old] = Instalment.objects.filter(invoice=invoice)
    attempt = AutopayAttemptFactory(instalment=old, number=1, state="claimed")
    url = f"{BASE}/invoices/{invoice_id}/schedule/"
    parts = {"schedule": [{"percent": "50"}, {"balance": True}]}
    response = alice_client.put(url, parts, format="json")
    assert (response.status_code, error(response)) == (409, "autopay_in_progress")
    assert Instalment.objects.filter(pk=old.pk).exists()

    attempt.state = "failed"
    attempt.save(update_fields=["state"])
    response = alice_client.put(url, parts, format="json")
    assert response.status_code == 200, response.content
    assert [i["autopay"] for i in response.json()["instalments"]] == [True, True]
    fresh = list(Instalment.objects.filter(invoice=invoice).order_by("position"))
    assert {i.saved_card_id for i in fresh} == {card.id}
    assert all(i.next_attempt_at is not None for i in fresh)


def test_a_part_asking_for_autopay_takes_the_clients_saved_card(alice_client, jane):
    invoice_id = issue(alice_client, create(alice_client, jane)["id"])["id"]
    url = f"{BASE}/invoices/{invoice_id}/schedule/"
    parts = {"schedule": [{"percent": "50"}, {"balance": True, "autopay": True}]}
    response = alice_client.put(url, parts, format="json")
    assert [i["autopay"] for i in response.json()["instalments"]] == [False, False]  # no card
    card = SavedCardFactory(customer=ProviderCustomerFactory(studio=jane.studio, contact=jane))
    response = alice_client.put(url, parts, format="json")
    assert [i["autopay"] for i in response.json()["instalments"]] == [False, True]
    last = Instalment.objects.filter(invoice_id=invoice_id).order_by("position").last()
    assert last.saved_card_id == card.id and last.next_attempt_at is not None


def test_a_paid_or_void_invoice_is_not_rescheduled(alice_client, jane):
    invoice_id = issue(alice_client, create(alice_client, jane)["id"])["id"]
    alice_client.post(f"{BASE}/invoices/{invoice_id}/void/", {"reason": "x"}, format="json")
    response = alice_client.put(
        f"{BASE}/invoices/{invoice_id}/schedule/", {"schedule": []}, format="json"
    )
    assert (response.status_code, error(response)) == (409, "invoice_void")


# --- card payments, refunds, the PDF, sending -----------------------------------------------


def test_card_payments_are_listed_and_refunded_to_the_wallet(
    alice_client, studio_a, shop, jane, fake_stripe
):
    invoice = invoice_issue(invoice=draft(studio_a, jane))
    payment = pay(invoice, 240_000).payment
    confirm(payment)
    payment_refresh(payment=payment)
    listed = alice_client.get(f"{BASE}/invoices/{invoice.id}/payments/").json()
    assert [(p["id"], p["state"], p["refunds"]) for p in listed["results"]] == [
        (str(payment.id), "succeeded", [])
    ]
    assert alice_client.get(f"{BASE}/invoices/{invoice.id}/").json()["status"] == "paid"

    url = f"{BASE}/invoices/{invoice.id}/refunds/"
    body = {"payment_id": str(payment.id), "amount": "100.00", "currency": "EUR", "to": "wallet"}
    missing = alice_client.post(url, body, format="json")
    assert (missing.status_code, error(missing)) == (400, "idempotency_key_required")
    first = alice_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="r1")
    assert first.status_code == 201, first.content
    again = alice_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="r1")
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    got = alice_client.get(f"{BASE}/invoices/{invoice.id}/").json()
    assert got["status"] == "partially_paid" and amount(got["balance_due"]) == 10_000
    assert [amount(r["amount"]) for r in got["payments"][0]["refunds"]] == [10_000]
    wallet = wallet_for(studio=studio_a, contact=jane, currency="EUR")
    wallet.account.refresh_from_db()
    assert wallet.account.balance == 10_000

    other = invoice_issue(invoice=draft(studio_a, jane))
    response = alice_client.post(
        f"{BASE}/invoices/{other.id}/refunds/", body, format="json", HTTP_IDEMPOTENCY_KEY="r2"
    )
    assert (response.status_code, error(response)) == (404, "payment_not_found")
    floats = alice_client.post(
        url, {**body, "amount": 10.5}, format="json", HTTP_IDEMPOTENCY_KEY="r3"
    )
    assert (floats.status_code, error(floats)) == (400, "amount_float")
    too_much = alice_client.post(
        url, {**body, "amount": "2400.00"}, format="json", HTTP_IDEMPOTENCY_KEY="r4"
    )
    assert (too_much.status_code, error(too_much)) == (409, "refund_exceeds_payment")
    assert LedgerTransaction.objects.filter(kind="refund").count() == 1
    assert ledger_check().ok


def test_the_pdf_is_stored_once_and_served_checked(alice_client, jane, storage):
    draft_id = create(alice_client, jane)["id"]
    response = alice_client.get(f"{BASE}/invoices/{draft_id}/pdf/")
    assert (response.status_code, error(response)) == (409, "invoice_not_issued")
    invoice_id = issue(alice_client, draft_id)["id"]
    assert not Invoice.objects.get(pk=invoice_id).pdf_sha256  # the task has not run
    response = alice_client.get(f"{BASE}/invoices/{invoice_id}/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    stored = Invoice.objects.get(pk=invoice_id)
    assert stored.pdf_sha256 and response["X-Content-SHA256"] == stored.pdf_sha256
    year = timezone.now().year
    assert f'filename="INV-{year}-0001.pdf"' in response["Content-Disposition"]
    again = alice_client.get(f"{BASE}/invoices/{invoice_id}/pdf/")
    assert again.content == response.content


def test_sending_emails_the_link(alice_client, jane, django_capture_on_commit_callbacks):
    draft_id = create(alice_client, jane)["id"]
    response = alice_client.post(f"{BASE}/invoices/{draft_id}/send/", {}, format="json")
    assert (response.status_code, error(response)) == (409, "invoice_not_issued")
    invoice_id = issue(alice_client, draft_id)["id"]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            f"{BASE}/invoices/{invoice_id}/send/", {"message": "See you soon!"}, format="json"
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["sent_to"] == "jane@example.com" and "/invoices/" in body["url"]
    assert body["invoice"]["id"] == invoice_id
    [message] = mail.outbox
    assert message.to == ["jane@example.com"]
    assert body["url"] in message.body and "See you soon!" in message.body
    assert "€2,400.00" in message.body
    response = alice_client.post(
        f"{BASE}/invoices/{invoice_id}/send/", {"to": "not-an-email"}, format="json"
    )
    assert (response.status_code, error(response)) == (400, "validation_error")
    jane.email = ""
    jane.save(update_fields=["email"])
    Invoice.objects.filter(pk=invoice_id).update(bill_to={})
    response = alice_client.post(f"{BASE}/invoices/{invoice_id}/send/", {}, format="json")
    assert (response.status_code, error(response)) == (409, "email_missing")


# --- who may ---------------------------------------------------------------------------------


def test_an_admin_reads_invoices_but_only_an_owner_writes_them(member_of_a, alice_client, jane):
    invoice_id = create(alice_client, jane)["id"]
    _, admin = member_of_a(Role.ADMIN)
    assert admin.get(f"{BASE}/invoices/").status_code == 200
    assert admin.get(f"{BASE}/invoices/{invoice_id}/").status_code == 200
    response = admin.post(f"{BASE}/invoices/{invoice_id}/issue/")
    assert (response.status_code, response.json()["error"]["permission"]) == (
        403,
        "billing.manage",
    )
    _, photographer = member_of_a(Role.PHOTOGRAPHER)
    assert photographer.get(f"{BASE}/invoices/").status_code == 403
    assert Invoice.objects.get(pk=invoice_id).status == "draft"


# --- settings --------------------------------------------------------------------------------


def test_the_invoicing_settings_are_read_and_changed(alice_client, euro_studio):
    response = alice_client.patch(
        f"{BASE}/settings/",
        {
            "invoice_prefix": "F{year}_",
            "number_padding": 5,
            "rounding": "half_up",
            "payment_terms_days": 30,
            "dunning_days": [1, 3, 7, 14],
            "reminder_days_before": [7, 3],
            "late_fee_percent": "1.5",
            "late_fee_cap": "50.00",
            "late_fee_every_days": 30,
            "legal_name": "Studio Lumière SARL",
            "country": "fr",
            "tax_id": "40 303 265 045",
        },
        format="json",
    )
    assert (response.status_code, error(response)) == (400, "days_invalid")  # not ascending
    response = alice_client.patch(
        f"{BASE}/settings/",
        {
            "invoice_prefix": "F{year}_",
            "number_padding": 5,
            "rounding": "half_up",
            "payment_terms_days": 30,
            "dunning_days": [1, 3, 7, 14],
            "reminder_days_before": [3, 7],
            "late_fee_percent": "1.5",
            "late_fee_cap": "50.00",
            "late_fee_every_days": 30,
            "legal_name": "Studio Lumière SARL",
            "country": "fr",
            "tax_id": "40 303 265 045",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["invoice_prefix"], body["number_padding"], body["rounding"]) == (
        "F{year}_",
        5,
        "half_up",
    )
    assert (body["country"], body["tax_id"]) == ("FR", "FR40303265045")
    assert body["late_fee_percent"] == "1.5" and body["late_fee_cap"]["decimal"] == "50.00"
    assert body["dunning_days"] == [1, 3, 7, 14]
    # New numbers follow the settings.
    contact = ContactFactory(studio=euro_studio)
    invoice = invoice_issue(invoice=draft(euro_studio, contact))
    assert invoice.number == f"F{timezone.now().year}_00001"
    assert invoice.seller["tax_id"] == "FR40303265045"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"invoice_prefix": "INV/{year}/"}, "number_prefix_invalid"),
        ({"invoice_prefix": "{month}-"}, "number_prefix_invalid"),
        ({"credit_note_prefix": "INV-{year}-"}, "number_prefix_clash"),
        ({"credit_note_prefix": "INV-"}, "number_prefix_clash"),
        ({"number_padding": 11}, "validation_error"),
        ({"rounding": "down"}, "validation_error"),
        ({"dunning_days": [3, 1]}, "days_invalid"),
        ({"reminder_days_overdue": [1, 1]}, "days_invalid"),
        ({"reminder_days_before": [400]}, "days_invalid"),
        ({"dunning_days": list(range(1, 12))}, "validation_error"),
        ({"late_fee_percent": 1.5}, "late_fee_invalid"),
        ({"late_fee_percent": "100.5"}, "late_fee_invalid"),
        ({"late_fee_percent": "1.23456"}, "late_fee_invalid"),
        ({"late_fee_percent": "2", "late_fee_fixed": "5.00"}, "late_fee_invalid"),
        ({"late_fee_fixed": 5.5}, "amount_float"),
        ({"late_fee_cap": "-1"}, "amount_invalid"),
        ({"late_fee_every_days": 0}, "invalid"),
        ({"country": "XX"}, "country_invalid"),
        ({"country": "FR", "tax_id": "FR123"}, "tax_id_invalid"),
    ],
)
def test_bad_invoicing_settings_are_refused(alice_client, euro_studio, body, code):
    response = alice_client.patch(f"{BASE}/settings/", body, format="json")
    assert (response.status_code, error(response)) == (400, code), response.content
    assert alice_client.get(f"{BASE}/settings/").json()["invoice_prefix"] == "INV-{year}-"


def test_a_tax_id_is_checked_again_when_the_country_changes(alice_client, euro_studio):
    ok = alice_client.patch(
        f"{BASE}/settings/", {"country": "FR", "tax_id": "FR40303265045"}, format="json"
    )
    assert ok.status_code == 200
    response = alice_client.patch(f"{BASE}/settings/", {"country": "DE"}, format="json")
    assert (response.status_code, error(response)) == (400, "tax_id_invalid")


# --- schema ---------------------------------------------------------------------------------


def test_every_invoice_operation_is_in_the_schema_with_examples():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        operation["operationId"]: operation
        for route, methods in schema["paths"].items()
        if route.startswith("/api/v1/billing/invoices/")
        for method, operation in methods.items()
    }
    assert set(operations) == {
        "billing_invoices_list",
        "billing_invoices_create",
        "billing_invoices_retrieve",
        "billing_invoices_update",
        "billing_invoices_discard",
        "billing_invoices_issue",
        "billing_invoices_void",
        "billing_invoices_write_off",
        "billing_invoices_credit_notes_create",
        "billing_invoices_schedule_update",
        "billing_invoices_send",
        "billing_invoices_pdf",
        "billing_invoices_payments_list",
        "billing_invoices_payments_record",
        "billing_invoices_refunds_create",
    }
    for operation_id, operation in operations.items():
        assert {"401", "403"} <= set(operation["responses"]), operation_id
        if operation_id not in ("billing_invoices_list", "billing_invoices_create"):
            assert "404" in operation["responses"], operation_id
        if operation_id in ("billing_invoices_discard", "billing_invoices_pdf"):
            continue
        status = "201" if "201" in operation["responses"] else "200"
        content = operation["responses"][status]["content"]["application/json"]
        assert content.get("examples"), operation_id
        if "requestBody" in operation:
            assert operation["requestBody"]["content"]["application/json"].get("examples"), (
                operation_id
            )
    pdf = operations["billing_invoices_pdf"]["responses"]["200"]["content"]
    assert "application/pdf" in pdf
    components = schema["components"]["schemas"]
    assert components["InvoiceDetail"]["properties"]["total"]["$ref"] == (
        "#/components/schemas/MoneyOutput"
    )
    line = components["LineInputRequest"]["properties"]
    assert "oneOf" in line["unit_price"] and "oneOf" in line["quantity"]
    key = [
        p["name"]
        for p in operations["billing_invoices_refunds_create"]["parameters"]
        if p["in"] == "header"
    ]
    assert key == ["Idempotency-Key"]


def test_a_bank_transfer_is_recorded_once_per_key(alice_client, jane):
    invoice = issue(alice_client, create(alice_client, jane)["id"])
    url = f"{BASE}/invoices/{invoice['id']}/payments/"
    body = {"amount": "500.00", "currency": "EUR", "method": "bank_transfer", "reference": "T1"}
    first = alice_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="rec-1")
    assert first.status_code == 201, first.content
    assert first.json()["invoice_status"] == "partially_paid"
    assert first.json()["balance"]["amount"] == 190_000
    again = alice_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="rec-1")
    assert again.json()["transaction_id"] == first.json()["transaction_id"]
    too_much = alice_client.post(
        url, {**body, "amount": "1900.01"}, format="json", HTTP_IDEMPOTENCY_KEY="rec-2"
    )
    assert (too_much.status_code, error(too_much)) == (409, "amount_exceeds_balance")
    floats = alice_client.post(
        url, {**body, "amount": 10.5}, format="json", HTTP_IDEMPOTENCY_KEY="rec-3"
    )
    assert floats.status_code == 400
    bad = alice_client.post(
        url, {**body, "method": "bitcoin"}, format="json", HTTP_IDEMPOTENCY_KEY="rec-4"
    )
    assert bad.status_code == 400


def test_another_studio_cannot_record_a_payment_on_an_invoice(alice_client, bob_client, jane):
    invoice = issue(alice_client, create(alice_client, jane)["id"])
    response = bob_client.post(
        f"{BASE}/invoices/{invoice['id']}/payments/",
        {"amount": "500.00", "currency": "EUR", "method": "cash"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="rec-b",
    )
    assert response.status_code == 404
    assert not LedgerTransaction.objects.filter(kind="invoice_paid").exists()
