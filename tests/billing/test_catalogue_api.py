"""The tax rate and catalogue API through the real endpoints: rates as exact decimal strings
(floats refused), prices in and out in billing's money shape, archive by DELETE, the order of
the catalogue; who may read and write; another studio's rows a 404; the OpenAPI shapes."""

from __future__ import annotations

import uuid

import pytest

from accounts.models import Role
from billing.models import CatalogueItem, TaxRate
from billing.services import catalogue as services
from picpick.testing.factories import TaxRateFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/billing"


def error(response) -> str:
    return response.json()["error"]["code"]


@pytest.fixture
def euro_studio(studio_a):
    studio_a.default_currency = "EUR"
    studio_a.save(update_fields=["default_currency"])
    return studio_a


@pytest.fixture
def vat(euro_studio):
    return services.tax_rate_create(studio=euro_studio, name="VAT", rate="20")


@pytest.fixture
def package(euro_studio, vat):
    return services.catalogue_item_create(
        studio=euro_studio,
        kind="package",
        name="Full day",
        unit_price=250_000,
        tax_rate_ids=[vat.id],
    )


# --- tax rates ------------------------------------------------------------------------------


def test_tax_rates_are_added_listed_read_changed_and_archived(alice_client, euro_studio):
    response = alice_client.post(
        f"{BASE}/tax-rates/",
        {"name": "QST", "rate": "9.975", "inclusive": True, "country": "ca"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["rate"], body["inclusive"], body["country"]) == ("9.975", True, "CA")
    rate_id = body["id"]
    assert alice_client.post(
        f"{BASE}/tax-rates/", {"name": "GST", "rate": 5}, format="json"
    ).json()["rate"] == ("5")

    listed = alice_client.get(f"{BASE}/tax-rates/").json()
    assert [r["name"] for r in listed["results"]] == ["GST", "QST"]
    assert listed["next"] is None
    assert [r["name"] for r in alice_client.get(f"{BASE}/tax-rates/?q=q").json()["results"]] == [
        "QST"
    ]

    response = alice_client.patch(
        f"{BASE}/tax-rates/{rate_id}/", {"rate": "9.9750", "name": "QST 2013"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["rate"], response.json()["name"]) == ("9.975", "QST 2013")
    assert alice_client.get(f"{BASE}/tax-rates/{rate_id}/").json()["name"] == "QST 2013"

    response = alice_client.delete(f"{BASE}/tax-rates/{rate_id}/")
    assert response.status_code == 204
    assert alice_client.delete(f"{BASE}/tax-rates/{rate_id}/").status_code == 204
    assert [r["name"] for r in alice_client.get(f"{BASE}/tax-rates/").json()["results"]] == ["GST"]
    archived = alice_client.get(f"{BASE}/tax-rates/?archived=true").json()["results"]
    assert [(r["name"], r["archived"]) for r in archived] == [("QST 2013", True)]
    restored = alice_client.patch(
        f"{BASE}/tax-rates/{rate_id}/", {"archived": False}, format="json"
    )
    assert restored.json()["archived"] is False


@pytest.mark.parametrize(
    ("body", "code", "status"),
    [
        ({"name": "VAT", "rate": 20.5}, "tax_rate_invalid", 400),
        ({"name": "VAT", "rate": 20.0}, "tax_rate_invalid", 400),
        ({"name": "VAT", "rate": "100.5"}, "tax_rate_invalid", 400),
        ({"name": "VAT", "rate": "5.12345"}, "tax_rate_invalid", 400),
        ({"name": "VAT", "rate": True}, "tax_rate_invalid", 400),
        ({"name": "VAT", "rate": "20", "compound": True, "inclusive": True}, "tax_mixed", 400),
        ({"name": "VAT", "rate": "20.000"}, "tax_rate_exists", 409),
        ({"name": "V" * 41, "rate": "20"}, "validation_error", 400),
        ({"name": "VAT"}, "validation_error", 400),
        ({"name": "VAT", "rate": "1", "ratee": "1"}, "validation_error", 400),
    ],
)
def test_a_bad_tax_rate_is_answered_with_its_code(alice_client, vat, body, code, status):
    response = alice_client.post(f"{BASE}/tax-rates/", body, format="json")
    assert (response.status_code, error(response)) == (status, code), response.content
    assert TaxRate.objects.count() == 1


# --- catalogue ------------------------------------------------------------------------------


def test_an_item_is_added_with_a_decimal_price_and_answered_in_the_money_shape(
    alice_client, euro_studio, vat
):
    response = alice_client.post(
        f"{BASE}/catalogue/",
        {
            "kind": "package",
            "name": "Full day",
            "description": "Two photographers",
            "unit_price": "2500.00",
            "tax_rate_ids": [str(vat.id)],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["unit_price"] == {
        "amount": 250_000,
        "currency": "EUR",
        "decimal": "2500.00",
        "formatted": "€2,500.00",
    }
    assert body["taxes"] == [
        {
            "id": str(vat.id),
            "name": "VAT",
            "rate": "20",
            "inclusive": False,
            "compound": False,
            "archived": False,
        }
    ]
    assert (body["position"], body["optional"], body["archived"]) == (0, False, False)

    response = alice_client.post(
        f"{BASE}/catalogue/",
        {"kind": "item", "name": "Prints", "unit_price": 1000, "currency": "JPY"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["unit_price"]["decimal"] == "1000"
    free = alice_client.post(
        f"{BASE}/catalogue/",
        {"kind": "item", "name": "Gallery", "unit_price": "0", "optional": True},
        format="json",
    )
    assert free.json()["unit_price"]["amount"] == 0
    assert [i["name"] for i in alice_client.get(f"{BASE}/catalogue/").json()["results"]] == [
        "Full day",
        "Prints",
        "Gallery",
    ]
    listed = alice_client.get(f"{BASE}/catalogue/?kind=item&q=pri").json()["results"]
    assert [i["name"] for i in listed] == ["Prints"]


@pytest.mark.parametrize(
    ("fields", "code", "status"),
    [
        ({"unit_price": 10.5}, "amount_float", 400),
        ({"unit_price": 1500.0}, "amount_float", 400),
        ({"unit_price": "10.001"}, "amount_precision", 400),
        ({"unit_price": "10.5", "currency": "JPY"}, "amount_precision", 400),
        ({"unit_price": "-1"}, "amount_invalid", 400),
        ({"unit_price": "1e3"}, "amount_invalid", 400),
        ({"unit_price": "100000000000"}, "amount_too_large", 400),
        ({"currency": "eur"}, "currency_unknown", 400),
        ({"kind": "service"}, "validation_error", 400),
        ({"tax_rate_ids": [str(uuid.uuid4())]}, "tax_rate_not_found", 404),
        ({"tax_rate_ids": ["nope"]}, "validation_error", 400),
    ],
)
def test_a_bad_item_is_answered_with_its_code_and_nothing_is_written(
    alice_client, euro_studio, fields, code, status
):
    body = {"kind": "item", "name": "Prints", "unit_price": "15.00", **fields}
    response = alice_client.post(f"{BASE}/catalogue/", body, format="json")
    assert (response.status_code, error(response)) == (status, code), response.content
    assert not CatalogueItem.objects.exists()


def test_an_item_is_changed_archived_and_restored(alice_client, package):
    url = f"{BASE}/catalogue/{package.id}/"
    response = alice_client.patch(url, {"unit_price": "2800", "tax_rate_ids": []}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["unit_price"]["amount"], response.json()["taxes"]) == (280_000, [])
    response = alice_client.patch(url, {"currency": "USD"}, format="json")
    assert (response.status_code, error(response)) == (400, "unit_price_required")
    response = alice_client.patch(url, {"currency": "USD", "unit_price": "3000"}, format="json")
    assert response.json()["unit_price"]["formatted"] == "$3,000.00"
    response = alice_client.patch(url, {"unit_price": 12.5}, format="json")
    assert (response.status_code, error(response)) == (400, "amount_float")

    assert alice_client.delete(url).status_code == 204
    assert alice_client.get(f"{BASE}/catalogue/").json()["results"] == []
    archived = alice_client.get(f"{BASE}/catalogue/?archived=true").json()["results"]
    assert [i["id"] for i in archived] == [str(package.id)]
    assert alice_client.patch(url, {"archived": False}, format="json").json()["archived"] is False


def test_the_catalogue_is_reordered(alice_client, euro_studio, package):
    addon = services.catalogue_item_create(
        studio=euro_studio, kind="item", name="Album", unit_price=45_000, optional=True
    )
    url = f"{BASE}/catalogue/reorder/"
    response = alice_client.post(url, {"ids": [str(package.id)]}, format="json")
    assert (response.status_code, error(response)) == (422, "catalogue_set_mismatch")
    response = alice_client.post(url, {"ids": [str(addon.id), str(package.id)]}, format="json")
    assert response.status_code == 200, response.content
    assert [(i["name"], i["position"]) for i in response.json()["results"]] == [
        ("Album", 0),
        ("Full day", 1),
    ]


# --- who may ------------------------------------------------------------------------------


def test_a_viewer_reads_but_cannot_write_and_others_cannot_read(member_of_a, package, vat):
    _, admin = member_of_a(Role.ADMIN)  # billing.view, not billing.manage
    assert admin.get(f"{BASE}/catalogue/").status_code == 200
    assert admin.get(f"{BASE}/tax-rates/{vat.id}/").status_code == 200
    writes = [
        admin.post(f"{BASE}/tax-rates/", {"name": "GST", "rate": "5"}, format="json"),
        admin.patch(f"{BASE}/tax-rates/{vat.id}/", {"rate": "5"}, format="json"),
        admin.delete(f"{BASE}/tax-rates/{vat.id}/"),
        admin.post(
            f"{BASE}/catalogue/",
            {"kind": "item", "name": "X", "unit_price": 1},
            format="json",
        ),
        admin.patch(f"{BASE}/catalogue/{package.id}/", {"name": "X"}, format="json"),
        admin.delete(f"{BASE}/catalogue/{package.id}/"),
        admin.post(f"{BASE}/catalogue/reorder/", {"ids": [str(package.id)]}, format="json"),
    ]
    assert [(r.status_code, error(r)) for r in writes] == [(403, "permission_denied")] * 7
    _, photographer = member_of_a(Role.PHOTOGRAPHER)
    assert photographer.get(f"{BASE}/catalogue/").status_code == 403
    assert photographer.get(f"{BASE}/tax-rates/").status_code == 403
    vat.refresh_from_db()
    package.refresh_from_db()
    assert (vat.archived, package.archived, package.name) == (False, False, "Full day")


def test_another_studios_rates_and_items_are_404_everywhere(bob_client, package, vat):
    calls = [
        bob_client.get(f"{BASE}/tax-rates/{vat.id}/"),
        bob_client.patch(f"{BASE}/tax-rates/{vat.id}/", {"name": "Mine"}, format="json"),
        bob_client.delete(f"{BASE}/tax-rates/{vat.id}/"),
        bob_client.get(f"{BASE}/catalogue/{package.id}/"),
        bob_client.patch(f"{BASE}/catalogue/{package.id}/", {"name": "Mine"}, format="json"),
        bob_client.delete(f"{BASE}/catalogue/{package.id}/"),
    ]
    assert [c.status_code for c in calls] == [404] * len(calls), [c.content for c in calls]
    stolen = bob_client.post(
        f"{BASE}/catalogue/",
        {"kind": "item", "name": "X", "unit_price": 1, "tax_rate_ids": [str(vat.id)]},
        format="json",
    )
    assert (stolen.status_code, error(stolen)) == (404, "tax_rate_not_found")
    reorder = bob_client.post(
        f"{BASE}/catalogue/reorder/", {"ids": [str(package.id)]}, format="json"
    )
    assert (reorder.status_code, error(reorder)) == (422, "catalogue_set_mismatch")
    assert bob_client.get(f"{BASE}/catalogue/").json()["results"] == []
    assert bob_client.get(f"{BASE}/tax-rates/").json()["results"] == []
    vat.refresh_from_db()
    package.refresh_from_db()
    assert (vat.name, vat.archived, package.name, package.archived) == (
        "VAT",
        False,
        "Full day",
        False,
    )
    assert CatalogueItem.objects.count() == 1


def test_a_list_reads_one_page_in_a_bounded_number_of_queries(
    alice_client, euro_studio, vat, django_assert_max_num_queries
):
    for n in range(30):
        services.catalogue_item_create(
            studio=euro_studio, kind="item", name=f"I{n}", unit_price=100, tax_rate_ids=[vat.id]
        )
    TaxRateFactory(studio=euro_studio, name="Other", rate=5)
    with django_assert_max_num_queries(8):
        response = alice_client.get(f"{BASE}/catalogue/?page_size=20")
    assert len(response.json()["results"]) == 20
    assert response.json()["next"]
    rest = alice_client.get(f"{BASE}/catalogue/", {"cursor": response.json()["next"]}).json()
    assert len(rest["results"]) == 10


# --- schema ---------------------------------------------------------------------------------


def test_every_operation_is_in_the_schema_with_examples_and_the_house_shapes():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        operation["operationId"]: operation
        for route, methods in schema["paths"].items()
        if route.startswith(("/api/v1/billing/tax-rates/", "/api/v1/billing/catalogue/"))
        for method, operation in methods.items()
    }
    assert set(operations) == {
        "billing_tax_rates_list",
        "billing_tax_rates_create",
        "billing_tax_rates_retrieve",
        "billing_tax_rates_update",
        "billing_tax_rates_archive",
        "billing_catalogue_list",
        "billing_catalogue_create",
        "billing_catalogue_retrieve",
        "billing_catalogue_update",
        "billing_catalogue_archive",
        "billing_catalogue_reorder",
    }
    for operation_id, operation in operations.items():
        assert {"401", "403"} <= set(operation["responses"]), operation_id
        if operation_id.endswith("_archive"):
            assert "204" in operation["responses"]
            continue
        status = "201" if "201" in operation["responses"] else "200"
        content = operation["responses"][status]["content"]["application/json"]
        assert content.get("examples"), operation_id
        if "requestBody" in operation:
            assert operation["requestBody"]["content"]["application/json"].get("examples")

    components = schema["components"]["schemas"]
    item = components["CatalogueItemOutput"]["properties"]
    assert item["unit_price"]["$ref"] == "#/components/schemas/MoneyOutput"
    assert components["TaxRateOutput"]["properties"]["rate"]["type"] == "string"
    create = components["CatalogueItemCreateInputRequest"]["properties"]
    assert "oneOf" in create["unit_price"]  # an integer of minor units or a decimal string
    rate_in = components["TaxRateCreateInputRequest"]["properties"]["rate"]
    assert {option["type"] for option in rate_in["oneOf"]} == {"string", "integer"}
