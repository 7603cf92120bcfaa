"""Card payments in the API: the studio's payments, refunds and disputes (permissions, another
studio's 404s, Idempotency-Key, amounts), the client pages' public routes on the studio's
site (starts, the wallet link, status by token, limits), the schema and the admin."""

from __future__ import annotations

import uuid

import pytest
from django.contrib import admin as django_admin
from django.test import Client, RequestFactory
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts.models import Role
from billing.models import (
    ConnectedAccount,
    Dispute,
    GiftCard,
    Payment,
    ProviderCustomer,
    Refund,
    SavedCard,
    WebhookEvent,
)
from billing.services.payments import payment_refresh
from picpick.testing.factories import (
    ConnectedAccountFactory,
    DisputeFactory,
    PaymentFactory,
    ProviderCustomerFactory,
    RefundFactory,
    SavedCardFactory,
    UserFactory,
    WebhookEventFactory,
)
from tests.billing.test_payments_support import (  # noqa: F401 (fixtures)
    client_contact_fixture,
    confirm,
    fresh_cache_fixture,
    shop_fixture,
    start_gift_card,
    start_top_up,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/billing"
SITE = "annasmith.localhost"
PUBLIC = f"{API}/public"


def paid(studio, **changes) -> Payment:
    payment, _ = start_gift_card(studio, **changes)
    confirm(payment)
    return payment_refresh(payment=payment)


def site_client(host: str = SITE) -> APIClient:
    return APIClient(HTTP_HOST=host)


def key() -> dict:
    return {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}


# --- the studio's payments ----------------------------------------------------------------------
def test_payments_are_listed_newest_first_and_filtered(
    studio_a, shop, client_contact, fake_stripe, alice_client
):
    card = paid(studio_a, amount=5000)
    top_up, _ = start_top_up(studio_a, client_contact)
    body = alice_client.get(f"{API}/payments/").json()
    assert [p["id"] for p in body["results"]] == [str(top_up.id), str(card.id)]
    first = body["results"][1]
    assert first["state"] == "succeeded"
    assert first["amount"] == {
        "amount": 5000,
        "currency": "EUR",
        "decimal": "50.00",
        "formatted": "€50.00",
    }
    assert first["fee"]["amount"] == card.fee and first["refundable"]["amount"] == 5000
    assert first["posted_transaction_id"] == str(card.posted_transaction_id)
    assert "client_secret" not in first
    only = alice_client.get(f"{API}/payments/", {"state": "succeeded"}).json()["results"]
    assert [p["id"] for p in only] == [str(card.id)]
    mine = alice_client.get(f"{API}/payments/", {"contact_id": client_contact.id}).json()
    assert [p["id"] for p in mine["results"]] == [str(top_up.id)]
    kind = alice_client.get(f"{API}/payments/", {"purpose": "wallet_topup"}).json()["results"]
    assert [p["purpose"] for p in kind] == ["wallet_topup"]
    paged = alice_client.get(f"{API}/payments/", {"page_size": 1}).json()
    assert len(paged["results"]) == 1 and paged["next"]
    assert alice_client.get(f"{API}/payments/", {"state": "paid"}).status_code == 400


def test_a_refund_through_the_api_with_its_idempotency_key(
    studio_a, shop, fake_stripe, alice_client
):
    payment = paid(studio_a, amount=10000)
    url = f"{API}/payments/{payment.id}/refunds/"
    body = {"amount": "25.00", "currency": "EUR", "reason": "Session moved"}
    missing = alice_client.post(url, body, format="json")
    assert (missing.status_code, missing.json()["error"]["code"]) == (
        400,
        "idempotency_key_required",
    )
    first = alice_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="refund-1")
    assert first.status_code == 201, first.content
    assert first.json()["amount"]["amount"] == 2500 and first.json()["state"] == "succeeded"
    again = alice_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="refund-1")
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    other = alice_client.post(
        url, {**body, "amount": 100}, format="json", HTTP_IDEMPOTENCY_KEY="refund-1"
    )
    assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_key_reused")
    too_much = alice_client.post(url, {"amount": 7501, "currency": "EUR"}, format="json", **key())
    assert too_much.status_code == 409
    assert too_much.json()["error"]["code"] == "refund_exceeds_payment"
    assert too_much.json()["error"]["remaining"] == 7500
    rest = alice_client.post(url, {}, format="json", **key())
    assert (rest.status_code, rest.json()["amount"]["amount"]) == (201, 7500)
    detail = alice_client.get(f"{API}/payments/{payment.id}/").json()
    assert [r["amount"]["amount"] for r in detail["refunds"]] == [2500, 7500]
    assert detail["refunded"]["amount"] == 10000 and detail["refundable"]["amount"] == 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"amount": -100, "currency": "EUR"}, "amount_invalid"),
        ({"amount": 0, "currency": "EUR"}, "amount_invalid"),
        ({"amount": 10**13, "currency": "EUR"}, "amount_too_large"),
        ({"amount": 10.5, "currency": "EUR"}, "amount_float"),
        ({"amount": "10.505", "currency": "EUR"}, "amount_precision"),
        ({"amount": "1e3", "currency": "EUR"}, "amount_invalid"),
        ({"amount": 100, "currency": "USD"}, "currency_mismatch"),
        ({"amount": 100, "currency": "EURO"}, "currency_unknown"),
        ({"amount": 100}, "currency_unknown"),
        ({"amount": 100, "currency": "EUR", "to": "cash"}, "validation_error"),
        ({"amount": 100, "currency": "EUR", "tip": 1}, "validation_error"),
    ],
)
def test_bad_refund_input_is_a_400_and_writes_nothing(
    studio_a, shop, fake_stripe, alice_client, body, code
):
    payment = paid(studio_a)
    response = alice_client.post(
        f"{API}/payments/{payment.id}/refunds/", body, format="json", **key()
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert Refund.objects.count() == 0


def test_another_studios_payment_is_a_404_everywhere(
    studio_a, shop, fake_stripe, bob_client, alice_client
):
    payment = paid(studio_a)
    base = f"{API}/payments/{payment.id}"
    assert bob_client.get(f"{base}/").status_code == 404
    assert bob_client.post(f"{base}/refresh/").status_code == 404
    refund = bob_client.post(f"{base}/refunds/", {}, format="json", **key())
    assert refund.status_code == 404
    assert bob_client.get(f"{API}/payments/").json()["results"] == []
    DisputeFactory(payment=payment, studio=studio_a)
    assert bob_client.get(f"{API}/disputes/").json()["results"] == []
    assert len(alice_client.get(f"{API}/disputes/").json()["results"]) == 1
    assert Refund.objects.count() == 0
    assert alice_client.get(f"{API}/payments/{uuid.uuid4()}/").status_code == 404


def test_reading_needs_billing_view_and_refunding_billing_manage(
    studio_a, shop, fake_stripe, member_of_a
):
    payment = paid(studio_a)
    _, admin = member_of_a(Role.ADMIN)  # billing.view, not billing.manage
    assert admin.get(f"{API}/payments/{payment.id}/").status_code == 200
    refused = admin.post(f"{API}/payments/{payment.id}/refunds/", {}, format="json", **key())
    assert (refused.status_code, refused.json()["error"]["permission"]) == (403, "billing.manage")
    _, assistant = member_of_a(Role.PHOTOGRAPHER)
    assert assistant.get(f"{API}/payments/").status_code == 403
    assert Refund.objects.count() == 0


def test_a_refresh_follows_the_provider(studio_a, shop, fake_stripe, alice_client):
    payment, _ = start_gift_card(studio_a)
    confirm(payment)
    response = alice_client.post(f"{API}/payments/{payment.id}/refresh/")
    assert (response.status_code, response.json()["state"]) == (200, "succeeded")
    assert GiftCard.objects.get(pk=payment.reference_id).state == "active"


def test_the_disputes_list(studio_a, shop, fake_stripe, alice_client):
    payment = paid(studio_a)
    dispute = DisputeFactory(payment=payment, studio=studio_a, amount=5000, currency="EUR")
    (row,) = alice_client.get(f"{API}/disputes/").json()["results"]
    assert row["id"] == str(dispute.id) and row["payment_id"] == str(payment.id)
    assert (row["funds_withdrawn"], row["funds_reinstated"]) == (False, False)


# --- schema and admin -----------------------------------------------------------------------------
def test_every_payments_operation_is_in_the_schema_with_examples():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    wanted = {
        "billing_connect_retrieve",
        "billing_connect_start",
        "billing_connect_refresh",
        "billing_payments_list",
        "billing_payments_retrieve",
        "billing_payments_refresh",
        "billing_payments_refund",
        "billing_disputes_list",
        "billing_stripe_webhook",
        "public_billing_gift_card_purchase",
        "public_billing_wallet_top_up",
        "public_billing_payment_status",
    }
    operations = {
        operation["operationId"]: operation
        for methods in schema["paths"].values()
        for operation in methods.values()
        if isinstance(operation, dict) and operation.get("operationId") in wanted
    }
    assert set(operations) == wanted
    for operation_id, operation in operations.items():
        ok = next(code for code in ("200", "201") if code in operation["responses"])
        content = operation["responses"][ok]["content"]["application/json"]
        assert content.get("examples"), operation_id
    refund = operations["billing_payments_refund"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in refund["parameters"])
    assert {"400", "404", "409", "422", "503"} <= set(refund["responses"])


@pytest.mark.parametrize(
    ("model", "factory"),
    [
        (ConnectedAccount, ConnectedAccountFactory),
        (Payment, PaymentFactory),
        (Refund, RefundFactory),
        (Dispute, DisputeFactory),
        (WebhookEvent, WebhookEventFactory),
        (ProviderCustomer, ProviderCustomerFactory),
        (SavedCard, SavedCardFactory),
    ],
)
def test_the_admin_may_look_but_not_change_money_rows(model, factory):
    row = factory()
    request = RequestFactory().get("/admin/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    model_admin = django_admin.site._registry[model]
    assert model_admin.has_view_permission(request, row)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, row)
    assert not model_admin.has_delete_permission(request, row)
    client = Client()
    client.force_login(request.user)
    name = f"admin:billing_{model._meta.model_name}"
    from django.urls import reverse

    assert client.get(reverse(f"{name}_changelist")).status_code == 200
    assert client.get(reverse(f"{name}_change", args=[row.pk])).status_code == 200
