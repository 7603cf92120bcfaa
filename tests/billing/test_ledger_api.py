"""The ledger's API: reads for billing.view, reversal for billing.manage with an idempotency
key, another studio's rows 404, money as objects, and the schema documented."""

from __future__ import annotations

import uuid

import pytest
from django.test import override_settings
from django.urls import path
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from accounts.models import Role
from billing.apis.common import idempotency_key_from
from billing.apis.fields import (
    AmountField,
    CurrencyField,
    MoneyInputMixin,
    money_output,
)
from billing.models import LedgerAccount, LedgerTransaction
from billing.money import Money
from billing.services.ledger import account_for, credit, debit, ledger_post
from picpick.core.apis import StudioAPIView
from picpick.core.errors import ApplicationError
from picpick.core.serializers import InputSerializer
from picpick.testing.factories import ContactFactory

pytestmark = pytest.mark.django_db
BASE = "/api/v1/billing"


@pytest.fixture
def books(studio_a):
    contact = ContactFactory(studio=studio_a)
    clearing = account_for(studio=studio_a, kind="provider_clearing", currency="EUR")
    wallet = account_for(studio=studio_a, kind="wallet", currency="EUR", contact=contact)
    revenue = account_for(studio=studio_a, kind="revenue", currency="EUR")
    payment_id = uuid.uuid4()
    topup = ledger_post(
        studio=studio_a,
        kind="wallet_topup",
        idempotency_key="topup",
        legs=[debit(clearing, 1200), credit(wallet, 1200)],
        memo="Top-up by card",
        source=("payment", payment_id),
    ).transaction
    spend = ledger_post(
        studio=studio_a,
        kind="wallet_spend",
        idempotency_key="spend",
        legs=[debit(wallet, 200), credit(revenue, 200)],
    ).transaction
    return {
        "contact": contact,
        "clearing": clearing,
        "wallet": wallet,
        "revenue": revenue,
        "topup": topup,
        "spend": spend,
        "payment_id": payment_id,
    }


def _reverse(client, txn_id, key="retry-1", **body):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(f"{BASE}/transactions/{txn_id}/reverse/", body, format="json", **headers)


# --- Reads --------------------------------------------------------------------------------------
def test_accounts_list_with_balances_as_money(alice_client, books):
    body = alice_client.get(f"{BASE}/accounts/").json()
    by_kind = {a["kind"]: a for a in body["results"]}
    assert set(by_kind) == {"provider_clearing", "wallet", "revenue"}
    assert by_kind["wallet"]["balance"] == {
        "amount": 1000,
        "currency": "EUR",
        "decimal": "10.00",
        "formatted": "€10.00",
    }
    assert by_kind["wallet"]["contact_id"] == str(books["contact"].id)
    assert by_kind["wallet"]["debit_normal"] is False
    assert by_kind["wallet"]["may_go_negative"] is False
    assert body["next"] is None


def test_accounts_filter_and_page(alice_client, books):
    wallets = alice_client.get(f"{BASE}/accounts/?kind=wallet").json()["results"]
    assert [a["id"] for a in wallets] == [str(books["wallet"].id)]
    mine = alice_client.get(f"{BASE}/accounts/?contact_id={books['contact'].id}").json()
    assert [a["id"] for a in mine["results"]] == [str(books["wallet"].id)]
    assert alice_client.get(f"{BASE}/accounts/?currency=USD").json()["results"] == []
    first = alice_client.get(f"{BASE}/accounts/?page_size=2").json()
    second = alice_client.get(f"{BASE}/accounts/?page_size=2&cursor={first['next']}").json()
    ids = [a["id"] for a in first["results"] + second["results"]]
    assert len(ids) == len(set(ids)) == 3
    bad = alice_client.get(f"{BASE}/accounts/?kind=savings")
    assert bad.status_code == 400
    assert alice_client.get(f"{BASE}/accounts/?currency=eur").json()["error"]["code"] == (
        "currency_unknown"
    )


def test_an_account_and_its_statement_newest_first(alice_client, books):
    wallet = books["wallet"]
    account = alice_client.get(f"{BASE}/accounts/{wallet.id}/").json()
    assert account["balance"]["amount"] == 1000 and account["key"] == wallet.key
    statement = alice_client.get(f"{BASE}/accounts/{wallet.id}/entries/").json()
    assert [
        (e["transaction"]["kind"], e["side"], e["amount"]["amount"]) for e in statement["results"]
    ] == [("wallet_spend", "debit", 200), ("wallet_topup", "credit", -1200)]
    assert statement["results"][1]["transaction"]["memo"] == "Top-up by card"
    page = alice_client.get(f"{BASE}/accounts/{wallet.id}/entries/?page_size=1").json()
    rest = alice_client.get(
        f"{BASE}/accounts/{wallet.id}/entries/?page_size=1&cursor={page['next']}"
    ).json()
    assert [e["id"] for e in page["results"] + rest["results"]] == [
        e["id"] for e in statement["results"]
    ]


def test_transactions_list_newest_first_and_filtered(alice_client, books):
    body = alice_client.get(f"{BASE}/transactions/").json()
    assert [t["kind"] for t in body["results"]] == ["wallet_spend", "wallet_topup"]
    topups = alice_client.get(f"{BASE}/transactions/?kind=wallet_topup").json()["results"]
    assert [t["id"] for t in topups] == [str(books["topup"].id)]
    url = f"{BASE}/transactions/?source_type=payment&source_id={books['payment_id']}"
    assert [t["id"] for t in alice_client.get(url).json()["results"]] == [str(books["topup"].id)]
    assert alice_client.get(f"{BASE}/transactions/?kind=gift").status_code == 400


def test_a_transaction_with_its_entries(alice_client, books, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        body = alice_client.get(f"{BASE}/transactions/{books['topup'].id}/").json()
    assert body["amount"]["decimal"] == "12.00"
    assert body["source_type"] == "payment" and body["source_id"] == str(books["payment_id"])
    assert [(e["account"]["kind"], e["side"], e["amount"]["amount"]) for e in body["entries"]] == [
        ("provider_clearing", "debit", 1200),
        ("wallet", "credit", -1200),
    ]
    assert body["reverses_id"] is None and body["reversed_by_id"] is None


@pytest.mark.parametrize(
    "route",
    [
        "accounts/{account}/",
        "accounts/{account}/entries/",
        "transactions/{transaction}/",
    ],
)
def test_another_studios_rows_are_404(bob_client, books, route):
    url = f"{BASE}/" + route.format(account=books["wallet"].id, transaction=books["topup"].id)
    response = bob_client.get(url)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_another_studio_lists_nothing_of_ours(bob_client, books):
    assert bob_client.get(f"{BASE}/accounts/").json()["results"] == []
    assert bob_client.get(f"{BASE}/transactions/").json()["results"] == []


def test_another_studio_cannot_reverse_ours(books, bob_client):
    response = _reverse(bob_client, books["topup"].id)
    assert response.status_code == 404
    assert LedgerTransaction.objects.filter(kind="reversal").count() == 0


@pytest.mark.parametrize(
    ("role", "reads", "reverses"),
    [
        (Role.ADMIN, 200, 403),  # billing.manage is the owner's alone
        (Role.PHOTOGRAPHER, 403, 403),
        (Role.ASSISTANT, 403, 403),
    ],
)
def test_permissions(member_of_a, books, role, reads, reverses):
    _, client = member_of_a(role)
    assert client.get(f"{BASE}/accounts/").status_code == reads
    assert client.get(f"{BASE}/transactions/{books['spend'].id}/").status_code == reads
    response = _reverse(client, books["spend"].id)
    assert response.status_code == reverses
    assert response.json()["error"]["permission"] == "billing.manage"
    assert not LedgerTransaction.objects.filter(kind="reversal").exists()


def test_anonymous_is_401(anon_client, books):
    assert anon_client.get(f"{BASE}/accounts/").status_code == 401


# --- Reversal -----------------------------------------------------------------------------------
def test_a_reversal_then_its_retry(alice_client, alice, books):
    first = _reverse(alice_client, books["spend"].id, memo="Charged twice")
    assert first.status_code == 201
    body = first.json()
    assert body["kind"] == "reversal" and body["reverses_id"] == str(books["spend"].id)
    assert body["memo"] == "Charged twice" and body["created_by_id"] == str(alice.id)
    assert sorted((e["account"]["kind"], e["amount"]["amount"]) for e in body["entries"]) == [
        ("revenue", 200),
        ("wallet", -200),
    ]
    again = _reverse(alice_client, books["spend"].id, memo="Charged twice")
    assert again.status_code == 200 and again.json() == body
    assert LedgerAccount.objects.get(id=books["wallet"].id).balance == 1200
    original = alice_client.get(f"{BASE}/transactions/{books['spend'].id}/").json()
    assert original["reversed_by_id"] == body["id"]


def test_a_second_reversal_and_a_reversals_reversal_are_409(alice_client, books):
    reversal = _reverse(alice_client, books["spend"].id).json()
    second = _reverse(alice_client, books["spend"].id, key="another")
    assert second.status_code == 409 and second.json()["error"]["code"] == "already_reversed"
    of_reversal = _reverse(alice_client, reversal["id"], key="third")
    assert of_reversal.status_code == 409
    assert of_reversal.json()["error"]["code"] == "is_reversal"


def test_a_key_reused_for_another_transaction_is_409(alice_client, books):
    assert _reverse(alice_client, books["spend"].id, key="k").status_code == 201
    response = _reverse(alice_client, books["topup"].id, key="k")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_reversing_a_spent_top_up_is_insufficient_funds(alice_client, books):
    response = _reverse(alice_client, books["topup"].id)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "insufficient_funds"
    assert error["account_id"] == str(books["wallet"].id)
    assert not LedgerTransaction.objects.filter(kind="reversal").exists()


@pytest.mark.parametrize(
    ("key", "code"),
    [(None, "idempotency_key_required"), ("x" * 101, "idempotency_key_invalid")],
)
def test_a_reversal_needs_a_valid_idempotency_key(alice_client, books, key, code):
    response = _reverse(alice_client, books["spend"].id, key=key)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert not LedgerTransaction.objects.filter(kind="reversal").exists()


def test_a_reversal_refuses_unknown_fields_and_long_memos(alice_client, books):
    assert _reverse(alice_client, books["spend"].id, amount=5).status_code == 400
    assert _reverse(alice_client, books["spend"].id, memo="m" * 301).status_code == 400
    assert not LedgerTransaction.objects.filter(kind="reversal").exists()


# --- Helpers for the other billing APIs ---------------------------------------------------------
class _Request:
    def __init__(self, headers: dict) -> None:
        self.headers = headers


@pytest.mark.parametrize(
    ("headers", "result"),
    [
        ({"Idempotency-Key": "3f0c2a9e-retry"}, "api:refunds:3f0c2a9e-retry"),
        ({"Idempotency-Key": "a"}, "api:refunds:a"),
        ({"Idempotency-Key": "a b~!"}, "api:refunds:a b~!"),
        ({}, "idempotency_key_required"),
        ({"Idempotency-Key": ""}, "idempotency_key_required"),
        ({"Idempotency-Key": "k" * 101}, "idempotency_key_invalid"),
        ({"Idempotency-Key": "tab\there"}, "idempotency_key_invalid"),
        ({"Idempotency-Key": "clé"}, "idempotency_key_invalid"),
    ],
)
def test_idempotency_key_from(headers, result):
    if result.startswith("api:"):
        assert idempotency_key_from(_Request(headers), "refunds") == result
    else:
        with pytest.raises(ApplicationError) as info:
            idempotency_key_from(_Request(headers), "refunds")
        assert info.value.code == result and info.value.status_code == 400


class _AmountInput(MoneyInputMixin, InputSerializer):
    amount = AmountField()
    currency = CurrencyField()
    note = serializers.CharField(required=False)


@pytest.mark.parametrize(
    ("data", "money"),
    [
        ({"amount": 1050, "currency": "EUR"}, Money(1050, "EUR")),
        ({"amount": "10.50", "currency": "EUR"}, Money(1050, "EUR")),
        ({"amount": "1000", "currency": "JPY"}, Money(1000, "JPY")),
        ({"amount": "1.234", "currency": "KWD"}, Money(1234, "KWD")),
    ],
)
def test_amount_field_reads_minor_units_or_decimal_strings(data, money):
    assert _AmountInput.validate_or_raise(data)["amount"] == money


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ({"amount": 10.5, "currency": "EUR"}, "amount_float", "amount"),
        ({"amount": 10.0, "currency": "EUR"}, "amount_float", "amount"),
        ({"amount": True, "currency": "EUR"}, "amount_invalid", "amount"),
        ({"amount": None, "currency": "EUR"}, "validation_error", None),
        ({"amount": [1], "currency": "EUR"}, "amount_invalid", "amount"),
        ({"amount": "1e3", "currency": "EUR"}, "amount_invalid", "amount"),
        ({"amount": "10.005", "currency": "EUR"}, "amount_precision", "amount"),
        ({"amount": "10.5", "currency": "JPY"}, "amount_precision", "amount"),
        ({"amount": 10**12 + 1, "currency": "EUR"}, "amount_too_large", "amount"),
        ({"amount": 0, "currency": "EUR"}, "amount_invalid", "amount"),
        ({"amount": -5, "currency": "EUR"}, "amount_invalid", "amount"),
        ({"amount": 100, "currency": "eur"}, "currency_unknown", "currency"),
        ({"amount": 100, "currency": "ZZZ"}, "currency_unknown", "currency"),
    ],
)
def test_amount_field_refuses_with_the_money_codes(data, code, field):
    with pytest.raises((ApplicationError, ValidationError)) as info:
        _AmountInput.validate_or_raise(data)
    if field is None:
        assert isinstance(info.value, ValidationError)
    else:
        assert info.value.code == code and list(info.value.fields) == [field]


def test_a_float_amount_in_a_json_body_is_a_400_amount_float(alice_client):
    """Through the real parser and error handler (orjson reads 10.5 as a float)."""

    class Echo(StudioAPIView):
        def post(self, request):
            money = _AmountInput.validate_or_raise(request.data)["amount"]
            return Response(money_output(money))

    urlpatterns = [path("echo/", Echo.as_view())]
    module = type("Urls", (), {"urlpatterns": urlpatterns})
    with override_settings(ROOT_URLCONF=module):
        ok = alice_client.post("/echo/", {"amount": "10.50", "currency": "EUR"}, format="json")
        bad = alice_client.post(
            "/echo/", b'{"amount": 10.5, "currency": "EUR"}', content_type="application/json"
        )
    assert ok.status_code == 200 and ok.json() == {
        "amount": 1050,
        "currency": "EUR",
        "decimal": "10.50",
        "formatted": "€10.50",
    }
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "amount_float"
    assert list(bad.json()["error"]["fields"]) == ["amount"]


def test_money_output_in_another_locale():
    assert money_output(Money(123456, "EUR"), locale="de_DE")["formatted"] == "1.234,56\xa0€"
    assert money_output(Money(1000, "JPY"))["decimal"] == "1000"


# --- Schema -------------------------------------------------------------------------------------
def test_every_ledger_operation_is_in_the_schema_with_examples():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        operation["operationId"]: operation
        for route, methods in schema["paths"].items()
        if route.startswith("/api/v1/billing/")
        for method, operation in methods.items()
        if operation.get("operationId", "").startswith(("billing_accounts", "billing_trans"))
    }
    assert set(operations) == {
        "billing_accounts_list",
        "billing_accounts_retrieve",
        "billing_accounts_entries_list",
        "billing_transactions_list",
        "billing_transactions_retrieve",
        "billing_transactions_reverse",
    }
    for operation_id, operation in operations.items():
        content = operation["responses"]["200"]["content"]["application/json"]
        assert content.get("examples"), operation_id
    reverse = operations["billing_transactions_reverse"]
    assert {"201", "200", "400", "404", "409"} <= set(reverse["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in reverse["parameters"])
