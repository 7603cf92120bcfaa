"""The invoicing reports through the API: receivables aging by instalment, revenue by month and
by package, payments and refunds, tax per rate; each from the ledger in a constant number of
queries (1 invoice or 50), with a CSV export; bad periods refused; another studio sees none of
it."""

from __future__ import annotations

import csv
import datetime as dt
import io
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from billing.models import Instalment
from billing.selectors.reports import receivables_aging
from billing.services.catalogue import catalogue_item_create, tax_rate_create
from billing.services.invoices import (
    LineInput,
    credit_note_create,
    invoice_issue,
    invoice_void,
)
from billing.services.invoices.common import today_of
from billing.services.payments import payment_refresh, refund_create
from billing.services.wallets import wallet_for, wallet_grant
from picpick.testing.factories import ContactFactory
from tests.billing.invoicing_support import draft, pay
from tests.billing.test_payments_support import (  # noqa: F401 (fixtures)
    confirm,
    fresh_cache_fixture,
    shop_fixture,
)

pytestmark = pytest.mark.django_db

BASE = "/api/v1/billing/reports"
VAT = [{"name": "VAT", "rate": "20"}]


def error(response) -> str:
    return response.json()["error"]["code"]


def amount(money: dict) -> int:
    return money["amount"]


@pytest.fixture
def euro_studio(studio_a):
    studio_a.default_currency = "EUR"
    studio_a.timezone = "Europe/Paris"
    studio_a.save(update_fields=["default_currency", "timezone"])
    return studio_a


@pytest.fixture
def jane(euro_studio):
    return ContactFactory(studio=euro_studio, first_name="Jane", email="jane@example.com")


@pytest.fixture
def package(euro_studio):
    vat = tax_rate_create(studio=euro_studio, name="VAT", rate="20")
    return catalogue_item_create(
        studio=euro_studio,
        kind="package",
        name="Full day",
        unit_price=100_000,
        tax_rate_ids=[vat.id],
    )


@contextmanager
def at(moment: dt.datetime, monkeypatch):
    """Everything posted in the block is posted at ``moment``."""
    with monkeypatch.context() as patch:
        patch.setattr(timezone, "now", lambda: moment)
        yield


def issued(studio, contact, package=None, **fields):
    """An invoice of the package (1,000.00 + VAT) and a free line (100.00 + VAT 20%)."""
    lines = [LineInput(name="Prints", unit_price=10_000, taxes=VAT)]
    if package is not None:
        lines.insert(0, LineInput(catalogue_item_id=package.id))
    return invoice_issue(invoice=draft(studio, contact, lines=lines, **fields))


def wallet_pay(studio, contact, invoice, paid: int, key: str):
    wallet = wallet_for(studio=studio, contact=contact, currency=invoice.currency)
    wallet_grant(wallet=wallet, amount=paid, reason="goodwill", idempotency_key=f"grant:{key}")
    pay(invoice, paid, use_wallet=True)


def due_days_ago(invoice, days: int) -> None:
    today = today_of(invoice.studio)
    Instalment.objects.filter(invoice=invoice).update(due_date=today - dt.timedelta(days=days))


def rows_of(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["rows"]


def csv_of(response) -> list[list[str]]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    return list(csv.reader(io.StringIO(response.content.decode())))


# --- receivables aging ----------------------------------------------------------------------


def test_aging_buckets_each_unpaid_instalment_by_days_past_due(alice_client, euro_studio, jane):
    # 120.00 each (100.00 + VAT); the split's 30% now, the balance in 30 days.
    schedule = [{"percent": "30", "due": {"on": "issue"}}, {"balance": True}]
    split = issued(euro_studio, jane, schedule=schedule)
    wallet_pay(euro_studio, jane, split, 3_600, "split")  # the deposit, paid
    Instalment.objects.filter(invoice=split, position=1).update(
        due_date=today_of(euro_studio) + dt.timedelta(days=30)
    )
    for days in (0, 1, 30, 31, 60, 61, 90, 91, 400):
        due_days_ago(issued(euro_studio, jane), days)
    part = issued(euro_studio, jane)
    due_days_ago(part, 10)
    wallet_pay(euro_studio, jane, part, 2_000, "part")  # 1-30 bucket, 100.00 left
    paid = issued(euro_studio, jane)
    wallet_pay(euro_studio, jane, paid, 12_000, "paid")
    due_days_ago(paid, 5)
    void = issued(euro_studio, jane)
    invoice_void(invoice=void, reason="Wrong")
    due_days_ago(void, 5)
    dollars = issued(euro_studio, jane, currency="USD")
    due_days_ago(dollars, 100)

    [eur, usd] = rows_of(alice_client.get(f"{BASE}/receivables-aging/"))
    assert eur["currency"] == "EUR" and usd["currency"] == "USD"
    buckets = ("current", "days_1_30", "days_31_60", "days_61_90", "days_over_90")
    assert [amount(eur[b]) for b in buckets] == [
        8_400 + 12_000,  # the split's balance; one due today
        12_000 * 2 + 10_000,  # 1 and 30 days; 10 days, part paid
        12_000 * 2,  # 31 and 60
        12_000 * 2,  # 61 and 90
        12_000 * 2,  # 91 and 400
    ]
    assert amount(eur["total"]) == sum(amount(eur[b]) for b in buckets)
    assert (eur["invoices"], eur["instalments"]) == (11, 11)
    assert amount(usd["days_over_90"]) == amount(usd["total"]) == 12_000

    # Counted to another day: 30 days on, only the split's balance is not past due.
    later = today_of(euro_studio) + dt.timedelta(days=30)
    [eur_later, _] = rows_of(alice_client.get(f"{BASE}/receivables-aging/?as_of={later}"))
    assert amount(eur_later["current"]) == 8_400
    # Before anything was issued: nothing.
    earlier = today_of(euro_studio) - dt.timedelta(days=1)
    assert rows_of(alice_client.get(f"{BASE}/receivables-aging/?as_of={earlier}")) == []

    rows = csv_of(alice_client.get(f"{BASE}/receivables-aging/?format=csv"))
    assert rows[0] == [
        "currency",
        "current",
        "1-30",
        "31-60",
        "61-90",
        "over 90",
        "total",
        "invoices",
        "instalments",
    ]
    expected = ["EUR", "204.00", "340.00", "240.00", "240.00", "240.00", "1264.00", "11", "11"]
    assert rows[1] == expected
    assert rows[2][0] == "USD" and rows[2][5] == "120.00"


def test_a_one_currency_studio_reads_the_instalments_alone_with_the_same_result(
    euro_studio, jane, django_assert_num_queries
):
    for days in (0, 5, 45, 100):
        due_days_ago(issued(euro_studio, jane), days)
    part = issued(euro_studio, jane)
    wallet_pay(euro_studio, jane, part, 2_000, "part")
    today = today_of(euro_studio)
    with django_assert_num_queries(2) as captured:
        alone = receivables_aging(studio=euro_studio, as_of=today, today=today)
    assert "JOIN" not in captured.captured_queries[1]["sql"].upper()
    # Told today is later, it counts as for a day in the past: each instalment joined.
    joined = receivables_aging(studio=euro_studio, as_of=today, today=today + dt.timedelta(1))
    assert alone == joined and alone[0].total == 4 * 12_000 + 10_000


# --- revenue, payments, tax -------------------------------------------------------------------


def test_revenue_by_month_and_by_package_is_the_ledgers(
    alice_client, euro_studio, jane, package, monkeypatch
):
    today = today_of(euro_studio)
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=15)
    with at(dt.datetime.combine(last_month, dt.time(12), tzinfo=dt.UTC), monkeypatch):
        issued(euro_studio, jane, package)
    first = issued(euro_studio, jane, package)
    issued(euro_studio, jane)
    credit_note_create(
        invoice=first,
        lines=[LineInput(name="Prints", unit_price=5_000, taxes=VAT)],
        reason="Half the prints",
    )
    void = issued(euro_studio, jane, package)
    invoice_void(invoice=void, reason="Wrong client")

    body = alice_client.get(f"{BASE}/revenue/").json()
    assert body["interval"] == "month" and len(body["periods"]) == 12
    this, before = f"{today:%Y-%m}", f"{last_month:%Y-%m}"
    assert [p["label"] for p in body["periods"]][-2:] == [before, this]
    by_period = {(r["period"], r["currency"]): amount(r["revenue"]) for r in body["by_period"]}
    # Last month: 1,000 + 100. This month: 1,100 + 100 - 50 (credit), the void nets to 0.
    assert by_period == {(before, "EUR"): 110_000, (this, "EUR"): 115_000}
    by_item = {(r["source"], r["name"]): amount(r["revenue"]) for r in body["by_item"]}
    assert by_item == {
        ("item", "Full day"): 200_000,
        ("other", "Other (lines without a catalogue item)"): 25_000,
    }
    [item_row] = [r for r in body["by_item"] if r["source"] == "item"]
    assert (item_row["catalogue_item_id"], item_row["kind"]) == (str(package.id), "package")

    rows = csv_of(alice_client.get(f"{BASE}/revenue/?format=csv"))
    assert rows[0] == [
        "period",
        "currency",
        "source",
        "catalogue_item_id",
        "name",
        "kind",
        "revenue",
    ]
    assert [before, "EUR", "item", str(package.id), "Full day", "package", "1000.00"] in rows
    assert [
        this,
        "EUR",
        "other",
        "",
        "Other (lines without a catalogue item)",
        "",
        "150.00",
    ] in rows

    quarters = alice_client.get(f"{BASE}/revenue/?interval=year&start={today.year}-01-01").json()
    assert [p["label"] for p in quarters["periods"]] == [str(today.year)]


def test_tax_collected_per_rate(alice_client, euro_studio, jane):
    issued(euro_studio, jane)
    note_for = issued(euro_studio, jane)
    issue_lines = [LineInput(name="Extra", unit_price=10_000, taxes=[{"name": "GST", "rate": "5"}])]
    invoice_issue(invoice=draft(euro_studio, jane, lines=issue_lines))
    credit_note_create(
        invoice=note_for,
        lines=[LineInput(name="Prints", unit_price=5_000, taxes=VAT)],
        reason="Half the prints",
    )
    body = alice_client.get(f"{BASE}/tax/?interval=quarter").json()
    by_tax = {
        r["tax"]: (
            r["name"],
            r["rate"],
            amount(r["collected"]),
            amount(r["given_back"]),
            amount(r["net"]),
        )
        for r in body["by_tax"]
    }
    assert by_tax == {
        "GST-5": ("GST", "5", 500, 0, 500),
        "VAT-20": ("VAT", "20", 4_000, 1_000, 3_000),
    }
    rows = csv_of(alice_client.get(f"{BASE}/tax/?format=csv"))
    assert rows[0] == [
        "period",
        "currency",
        "tax",
        "name",
        "rate",
        "collected",
        "given_back",
        "net",
    ]
    assert rows[-1][2:] == ["VAT-20", "VAT", "20", "40.00", "10.00", "30.00"]


def test_payments_by_method_and_refunds(alice_client, studio_a, shop, fake_stripe):
    jane = ContactFactory(studio=studio_a, first_name="Jane", email="jane@example.com")
    by_card = invoice_issue(invoice=draft(studio_a, jane, allow_tips=True))
    payment = pay(by_card, 240_000, tip=1_000).payment
    confirm(payment)
    payment_refresh(payment=payment)
    refund_create(payment=payment, idempotency_key="r1", amount=40_000)
    refund_create(payment=payment, idempotency_key="r2", amount=10_000, to="wallet")
    by_wallet = invoice_issue(invoice=draft(studio_a, jane))
    wallet_pay(studio_a, jane, by_wallet, 100_000, "w")

    [row] = rows_of(alice_client.get(f"{BASE}/payments/"))
    got = {k: amount(v) for k, v in row.items() if isinstance(v, dict)}
    assert got == {
        "card": 240_000,
        "wallet": 100_000,
        "gift_card": 0,
        "received": 340_000,
        "refunded": 50_000,
        "to_wallet": 0,
        "net": 290_000,
        "tips": 1_000,
    }
    rows = csv_of(alice_client.get(f"{BASE}/payments/?format=csv"))
    expected = ["EUR", "2400.00", "1000.00", "0.00", "3400.00", "500.00", "0.00", "2900.00"]
    assert rows[1][1:] == [*expected, "10.00"]


# --- constant queries -------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 50])
def test_each_report_reads_a_constant_number_of_queries(
    alice_client, euro_studio, jane, package, count
):
    for n in range(count):
        invoice = issued(
            euro_studio, jane, package, schedule=[{"percent": "50"}, {"balance": True}]
        )
        due_days_ago(invoice, n)
        wallet_pay(euro_studio, jane, invoice, 1_000, f"k{n}")
    # Not counting those that authenticate the caller; aging asks whether the studio invoices
    # in one currency, then sums.
    for path, queries in [
        ("receivables-aging/", 2),
        ("revenue/", 2),
        ("payments/", 1),
        ("tax/", 1),
        ("receivables-aging/?format=csv", 2),
        ("revenue/?format=csv", 2),
        ("payments/?format=csv", 1),
        ("tax/?format=csv", 1),
    ]:
        with CaptureQueriesContext(connection) as captured:
            response = alice_client.get(f"{BASE}/{path}")
        assert response.status_code == 200
        own = [q for q in captured.captured_queries if "accounts_" not in q["sql"]]
        assert len(own) == queries, (path, [q["sql"][:80] for q in own])
    [row] = rows_of(alice_client.get(f"{BASE}/receivables-aging/"))
    assert row["invoices"] == count
    assert amount(row["total"]) == count * (132_000 - 1_000)


# --- bad input, who may --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("revenue/?start=2026-05-01&end=2026-04-01", "period_invalid"),
        ("revenue/?start=2000-01-01&end=2026-01-01", "period_invalid"),
        ("tax/?interval=week", "validation_error"),
        ("payments/?format=xml", "validation_error"),
        ("receivables-aging/?as_of=yesterday", "validation_error"),
        ("revenue/?surprise=1", "validation_error"),
    ],
)
def test_bad_report_parameters_are_refused(alice_client, euro_studio, query, code):
    response = alice_client.get(f"{BASE}/{query}")
    assert (response.status_code, error(response)) == (400, code)


def test_another_studio_sees_none_of_it_and_a_photographer_nothing(
    alice_client, bob_client, member_of_a, euro_studio, jane, package
):
    issued(euro_studio, jane, package)
    for path in ("receivables-aging/", "revenue/", "payments/", "tax/"):
        body = bob_client.get(f"{BASE}/{path}").json()
        assert body["rows"] == [], path
        assert alice_client.get(f"{BASE}/{path}").status_code == 200
    _, admin = member_of_a(Role.ADMIN)
    assert admin.get(f"{BASE}/revenue/").status_code == 200
    _, photographer = member_of_a(Role.PHOTOGRAPHER)
    response = photographer.get(f"{BASE}/revenue/")
    assert (response.status_code, error(response)) == (403, "permission_denied")


def test_every_report_is_in_the_schema_with_examples():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        operation["operationId"]: operation
        for route, methods in schema["paths"].items()
        if route.startswith("/api/v1/billing/reports/")
        for method, operation in methods.items()
    }
    assert set(operations) == {
        "billing_reports_receivables_aging",
        "billing_reports_revenue",
        "billing_reports_payments",
        "billing_reports_tax",
    }
    for operation_id, operation in operations.items():
        content = operation["responses"]["200"]["content"]
        assert content["application/json"].get("examples"), operation_id
        assert "text/csv" in content, operation_id
        assert {"400", "401", "403"} <= set(operation["responses"]), operation_id
