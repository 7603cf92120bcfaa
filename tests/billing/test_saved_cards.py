"""Saved cards through SetupIntents, through the API and the real SDK against the fake Stripe:
a start hands back the client secret, the browser confirms, the ``setup_intent.succeeded``
webhook (or a refresh) records the card once; a studio without card payments is a 409, another
studio's contact a 404, and the permissions are billing's."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from accounts.models import Role
from billing.models import ProviderCustomer, SavedCard, WebhookEvent
from billing.services.payments import ProviderDown, card_setup_complete, card_setup_start
from picpick.testing.factories import ConnectedAccountFactory, ContactFactory, SavedCardFactory
from tests.billing.test_payments_support import (  # noqa: F401 (fixtures)
    client_contact_fixture,
    deliver,
    fresh_cache_fixture,
    shop_fixture,
)
from tests.races import race

pytestmark = pytest.mark.django_db


@pytest.fixture
def post(django_capture_on_commit_callbacks):
    """Deliver a signed event and run the processing task the endpoint queued (eager)."""

    def send(fake, event):
        with django_capture_on_commit_callbacks(execute=True):
            return deliver(fake, event)

    return send


def setups_url(contact) -> str:
    return f"/api/v1/billing/contacts/{contact.id}/card-setups/"


def refresh_url(contact, setup_id: str) -> str:
    return f"/api/v1/billing/contacts/{contact.id}/card-setups/{setup_id}/refresh/"


def cards_url(contact) -> str:
    return f"/api/v1/billing/contacts/{contact.id}/cards/"


def start(client, contact, key: str | None = None):
    return client.post(
        setups_url(contact), format="json", HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4())
    )


# --- start -----------------------------------------------------------------------------------
def test_start_answers_the_client_secret_and_stores_only_the_customer(
    alice_client, shop, client_contact, fake_stripe
):
    response = start(alice_client, client_contact)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["setup_id"].startswith("seti_")
    assert body["client_secret"].startswith(f"{body['setup_id']}_secret_")
    assert body["publishable_key"].startswith("pk_")
    assert body["account"] == shop.provider_account_id
    setup = fake_stripe.object(body["setup_id"])
    customer = ProviderCustomer.objects.get(contact=client_contact)
    assert setup["customer"] == customer.provider_customer_id
    assert customer.provider_account_id == shop.provider_account_id
    assert SavedCard.objects.count() == 0


def test_the_same_key_answers_the_same_setup_and_one_customer(
    alice_client, shop, client_contact, fake_stripe
):
    first = start(alice_client, client_contact, key="k-1").json()
    again = start(alice_client, client_contact, key="k-1").json()
    other = start(alice_client, client_contact, key="k-2").json()
    assert again["setup_id"] == first["setup_id"]
    assert other["setup_id"] != first["setup_id"]
    assert ProviderCustomer.objects.filter(contact=client_contact).count() == 1
    assert len({fake_stripe.object(s["setup_id"])["customer"] for s in (first, other)}) == 1


def test_start_needs_an_idempotency_key(alice_client, shop, client_contact, fake_stripe):
    response = alice_client.post(setups_url(client_contact), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_required"


@pytest.mark.parametrize("account", ["none", "charges_disabled"])
def test_a_studio_without_card_payments_is_409(
    alice_client, studio_a, client_contact, fake_stripe, account
):
    if account == "charges_disabled":
        ConnectedAccountFactory(studio=studio_a, charges_enabled=False)
    response = start(alice_client, client_contact)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "payments_not_enabled"
    assert ProviderCustomer.objects.count() == 0
    assert fake_stripe.api_requests() == []


def test_an_erased_contact_is_409(alice_client, shop, client_contact, fake_stripe):
    from django.utils import timezone

    client_contact.erased_at = timezone.now()
    client_contact.save(update_fields=["erased_at"])
    response = start(alice_client, client_contact)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "contact_erased"


# --- completion ------------------------------------------------------------------------------
def test_the_webhook_records_the_card_once(alice_client, shop, client_contact, fake_stripe, post):
    setup_id = start(alice_client, client_contact).json()["setup_id"]
    fake_stripe.confirm_setup(setup_id, "pm_card_visa")
    event = fake_stripe.last_event("setup_intent.succeeded")

    response = post(fake_stripe, event)
    assert response.status_code == 200, response.content
    assert WebhookEvent.objects.get(event_id=event["id"]).state == WebhookEvent.State.PROCESSED
    card = SavedCard.objects.get()
    assert (card.studio_id, card.contact_id) == (shop.studio_id, client_contact.id)
    assert (card.brand, card.last4) == ("visa", "4242")
    assert card.exp_month and card.exp_year
    assert card.provider_payment_method_id == fake_stripe.object(setup_id)["payment_method"]

    # The same event again (a redelivery), and the same event under a new id (a replay).
    assert post(fake_stripe, event).json()["duplicate"] is True
    replay = {**event, "id": f"evt_replay{uuid.uuid4().hex[:16]}"}
    assert post(fake_stripe, replay).status_code == 200
    assert WebhookEvent.objects.get(event_id=replay["id"]).state == WebhookEvent.State.PROCESSED
    assert SavedCard.objects.count() == 1

    listed = alice_client.get(cards_url(client_contact))
    assert listed.status_code == 200
    assert [c["last4"] for c in listed.json()["results"]] == ["4242"]


def test_a_setup_of_a_customer_not_ours_is_ignored(shop, fake_stripe, post):
    from billing.payments import payment_provider

    stripe = payment_provider()
    account = shop.provider_account_id
    customer = stripe.customer_create(
        email="x@example.com", name="X", account=account, idempotency_key="elsewhere:c"
    )
    setup = stripe.setup_intent_create(
        customer=customer.id, account=account, idempotency_key="elsewhere:s"
    )
    fake_stripe.confirm_setup(setup.id)
    event = fake_stripe.last_event("setup_intent.succeeded")
    assert post(fake_stripe, event).status_code == 200
    assert WebhookEvent.objects.get(event_id=event["id"]).state == WebhookEvent.State.IGNORED
    assert SavedCard.objects.count() == 0


def test_the_refresh_records_the_card_without_the_webhook(
    alice_client, shop, client_contact, fake_stripe
):
    setup_id = start(alice_client, client_contact).json()["setup_id"]

    pending = alice_client.post(refresh_url(client_contact, setup_id))
    assert pending.status_code == 202, pending.content
    assert pending.json() == {"setup_id": setup_id, "status": "requires_payment_method"}
    assert SavedCard.objects.count() == 0

    fake_stripe.confirm_setup(setup_id, "pm_card_mastercard")
    saved = alice_client.post(refresh_url(client_contact, setup_id))
    assert saved.status_code == 200, saved.content
    assert (saved.json()["brand"], saved.json()["last4"]) == ("mastercard", "4444")
    assert saved.json()["contact_id"] == str(client_contact.id)
    again = alice_client.post(refresh_url(client_contact, setup_id))
    assert again.json()["id"] == saved.json()["id"]
    assert SavedCard.objects.count() == 1


def test_a_setup_not_succeeded_records_nothing(shop, studio_a, client_contact, fake_stripe):
    started = card_setup_start(
        studio=studio_a, contact=client_contact, by=None, idempotency_key="api:t:1"
    )
    fake_stripe.confirm_setup(started.setup_id, "pm_card_threeDSecure2Required")
    outcome = card_setup_complete(studio=studio_a, setup_id=started.setup_id)
    assert (outcome.status, outcome.card) == ("requires_action", None)
    assert SavedCard.objects.count() == 0


def test_a_setup_of_another_contact_is_404(alice_client, shop, client_contact, fake_stripe):
    setup_id = start(alice_client, client_contact).json()["setup_id"]
    fake_stripe.confirm_setup(setup_id)
    other = ContactFactory(studio=client_contact.studio)
    response = alice_client.post(refresh_url(other, setup_id))
    assert response.status_code == 404
    unknown = alice_client.post(refresh_url(client_contact, "seti_doesnotexist0000000"))
    assert unknown.status_code == 404
    assert SavedCard.objects.count() == 0


# --- another studio, permissions, forgetting ---------------------------------------------------
def test_another_studios_contact_and_card_are_404(
    bob_client, studio_b, shop, client_contact, fake_stripe
):
    ConnectedAccountFactory(
        studio=studio_b, provider_account_id=fake_stripe.connected_account(country="FR")
    )
    card = SavedCardFactory(
        customer__contact=client_contact, provider_payment_method_id="pm_a_card000000000000"
    )
    assert start(bob_client, client_contact).status_code == 404
    assert bob_client.get(cards_url(client_contact)).status_code == 404
    assert bob_client.post(refresh_url(client_contact, "seti_x")).status_code == 404
    gone = bob_client.delete(f"{cards_url(client_contact)}{card.id}/")
    assert gone.status_code == 404
    assert SavedCard.objects.filter(pk=card.pk).exists()
    assert ProviderCustomer.objects.filter(studio=studio_b).count() == 0


def test_delete_forgets_the_card(alice_client, client_contact):
    card = SavedCardFactory(customer__contact=client_contact)
    other = SavedCardFactory(customer__contact=ContactFactory(studio=client_contact.studio))
    assert alice_client.delete(f"{cards_url(client_contact)}{other.id}/").status_code == 404
    response = alice_client.delete(f"{cards_url(client_contact)}{card.id}/")
    assert response.status_code == 204
    assert list(SavedCard.objects.all()) == [other]
    assert alice_client.delete(f"{cards_url(client_contact)}{card.id}/").status_code == 404


def test_permissions(member_of_a, shop, client_contact, fake_stripe):
    card = SavedCardFactory(customer__contact=client_contact)
    _, admin = member_of_a(Role.ADMIN)  # billing.view, not billing.manage
    _, photographer = member_of_a(Role.PHOTOGRAPHER)
    assert admin.get(cards_url(client_contact)).status_code == 200
    assert start(admin, client_contact).status_code == 403
    assert admin.post(refresh_url(client_contact, "seti_x")).status_code == 403
    assert admin.delete(f"{cards_url(client_contact)}{card.id}/").status_code == 403
    assert photographer.get(cards_url(client_contact)).status_code == 403
    assert not ProviderCustomer.objects.filter(provider_account_id=shop.provider_account_id)


# --- races (MariaDB, real threads) -------------------------------------------------------------
mariadb_race = pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="SQLite serialises all writers; the race needs MariaDB's row locks",
)


@pytest.mark.django_db(transaction=True)
@mariadb_race
def test_racing_completions_record_one_card(studio_a, shop, client_contact, fake_stripe):
    started = card_setup_start(
        studio=studio_a, contact=client_contact, by=None, idempotency_key="api:t:race"
    )
    fake_stripe.confirm_setup(started.setup_id)

    def work(index: int):
        outcome = card_setup_complete(studio=studio_a, setup_id=started.setup_id)
        return outcome.card.id

    results = race(8, work)
    assert all(isinstance(r, uuid.UUID) for r in results), results
    assert len(set(results)) == 1
    assert SavedCard.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@mariadb_race
def test_racing_first_starts_make_one_customer(studio_a, shop, client_contact, fake_stripe):
    def work(index: int):
        return card_setup_start(
            studio=studio_a, contact=client_contact, by=None, idempotency_key=f"api:t:{index}"
        ).setup_id

    results = race(6, work)
    started = [r for r in results if isinstance(r, str)]
    # A request that met another's customer call still in flight is a 503 to retry.
    assert all(isinstance(r, str | ProviderDown) for r in results), results
    assert started
    customer = ProviderCustomer.objects.get(contact=client_contact)
    assert {fake_stripe.object(s)["customer"] for s in started} == {customer.provider_customer_id}
