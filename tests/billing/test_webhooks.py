"""The provider's webhooks through the endpoint: signatures, redeliveries, every event type we
follow, order independence (every event twice, shuffled: the same ledger), and the crash
between the provider's success and our posting completed once by a webhook or the sweeper."""

from __future__ import annotations

import json
import random
import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from billing.models import (
    ConnectedAccount,
    Dispute,
    GiftCard,
    LedgerTransaction,
    Payment,
    Refund,
    WebhookEvent,
)
from billing.payments import payment_provider
from billing.services.payments import payment_refresh
from billing.tasks.payments import payments_sweep
from tests.billing.test_payments_support import (  # noqa: F401 (fixtures)
    WEBHOOK,
    balances,
    books,
    client_contact_fixture,
    confirm,
    deliver,
    fee_of,
    fresh_cache_fixture,
    shop_fixture,
    start_gift_card,
    start_top_up,
)
from tests.fake_stripe import FAKE_WEBHOOK_SECRET

pytestmark = pytest.mark.django_db


@pytest.fixture
def post(django_capture_on_commit_callbacks):
    """Deliver an event and run what the endpoint queued after its commit (the processing
    task, eager in tests), as the web process and a worker would."""

    def send(fake, event, **sign):
        with django_capture_on_commit_callbacks(execute=True):
            return deliver(fake, event, **sign)

    return send


def ledger(studio) -> list:
    """The studio's transactions as (kind, legs): order-free, without the keys (rows made while
    processing, such as a refund made at the provider, have new ids in each run)."""
    return sorted((kind, legs) for kind, _, legs in books(studio))


# --- signatures ------------------------------------------------------------------------------
def test_a_signed_event_is_stored_once_and_processed(studio_a, shop, fake_stripe, post):
    payment, _ = start_gift_card(studio_a)
    confirm(payment)
    event = fake_stripe.last_event("payment_intent.succeeded")
    response = post(fake_stripe, event)
    assert response.status_code == 200, response.content
    assert response.json() == {"received": True, "duplicate": False, "event_id": event["id"]}
    row = WebhookEvent.objects.get(event_id=event["id"])
    assert (row.state, row.attempts, row.studio_id) == ("processed", 1, studio_a.id)
    assert row.account == shop.provider_account_id
    payment.refresh_from_db()
    assert payment.state == Payment.State.SUCCEEDED

    again = post(fake_stripe, event)
    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    assert WebhookEvent.objects.count() == 1
    assert LedgerTransaction.objects.filter(studio=studio_a).count() == 1


@pytest.mark.parametrize("fault", ["wrong_secret", "old", "tampered", "missing", "garbage"])
def test_a_bad_signature_is_400_and_stores_nothing(studio_a, shop, fake_stripe, anon_client, fault):
    payment, _ = start_gift_card(studio_a)
    confirm(payment)
    event = fake_stripe.last_event("payment_intent.succeeded")
    payload, signature = fake_stripe.signed(event)
    if fault == "wrong_secret":
        payload, signature = fake_stripe.signed(event, secret="whsec_someone_else")
    elif fault == "old":
        payload, signature = fake_stripe.signed(event, timestamp=int(time.time()) - 301)
    elif fault == "tampered":
        payload = payload.replace(event["id"].encode(), b"evt_forged000000000000000")
    elif fault == "missing":
        signature = ""
    else:
        signature = "t=abc,v1=zz"
    response = anon_client.post(
        WEBHOOK, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "webhook_signature_invalid"
    assert WebhookEvent.objects.count() == 0
    payment.refresh_from_db()
    assert payment.state == Payment.State.CREATED


def test_the_endpoint_needs_no_csrf_token(studio_a, shop, fake_stripe):
    from rest_framework.test import APIClient

    start_gift_card(studio_a)
    event = fake_stripe.last_event("payment_intent.created")
    response = deliver(fake_stripe, event, client=APIClient(enforce_csrf_checks=True))
    assert response.status_code == 200
    assert WebhookEvent.objects.filter(event_id=event["id"]).exists()


def test_a_signed_body_that_is_not_an_event_is_400(fake_stripe, anon_client):
    from tests.fake_stripe import sign_payload

    payload = b'{"hello": "world"}'
    response = anon_client.post(
        WEBHOOK,
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign_payload(payload, FAKE_WEBHOOK_SECRET),
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "webhook_payload_invalid"
    assert WebhookEvent.objects.count() == 0


def test_unknown_types_and_unknown_payments_are_ignored(studio_a, shop, fake_stripe, post):
    fake_stripe.state.events.clear()
    intent = payment_provider().payment_intent_create(
        amount=1000, currency="EUR", account=shop.provider_account_id, idempotency_key="elsewhere"
    )
    event = fake_stripe.last_event("payment_intent.created")
    assert post(fake_stripe, event).status_code == 200
    other = {**event, "id": "evt_unknown_type_000001", "type": "invoice.paid"}
    assert post(fake_stripe, other).status_code == 200
    states = dict(WebhookEvent.objects.values_list("event_id", "state"))
    assert states == {event["id"]: "ignored", "evt_unknown_type_000001": "ignored"}
    assert intent.id and Payment.objects.count() == 0


# --- what each event does ----------------------------------------------------------------------
def test_3d_secure_then_authenticated_succeeds_through_the_webhooks(
    studio_a, shop, client_contact, fake_stripe, post
):
    payment, _ = start_top_up(studio_a, client_contact, amount=4000)
    confirm(payment, "pm_card_authenticationRequired")
    post(fake_stripe, fake_stripe.last_event("payment_intent.requires_action"))
    payment.refresh_from_db()
    assert payment.state == Payment.State.REQUIRES_ACTION
    assert balances(studio_a) == {}
    fake_stripe.authenticate(payment.intent_id)
    post(fake_stripe, fake_stripe.last_event("payment_intent.succeeded"))
    payment.refresh_from_db()
    assert payment.state == Payment.State.SUCCEEDED
    assert balances(studio_a)[f"wallet:{client_contact.id}:EUR"] == 4000


def test_a_decline_seen_by_webhook_fails_and_abandons(studio_a, shop, fake_stripe, post):
    payment, _ = start_gift_card(studio_a)
    confirm(payment, "pm_card_chargeDeclined")
    post(fake_stripe, fake_stripe.last_event("payment_intent.payment_failed"))
    payment.refresh_from_db()
    assert (payment.state, payment.last_decline_code) == ("failed", "generic_decline")
    assert GiftCard.objects.get(pk=payment.reference_id).state == GiftCard.State.VOID
    assert balances(studio_a) == {}


def test_a_refund_made_at_the_provider_is_recorded_and_booked(
    studio_a, shop, client_contact, fake_stripe, post
):
    payment, _ = start_top_up(studio_a, client_contact, amount=3000)
    confirm(payment)
    payment = payment_refresh(payment=payment)
    payment_provider().refund_create(
        intent_id=payment.intent_id,
        account=shop.provider_account_id,
        idempotency_key="dashboard",
        amount=1000,
        currency="EUR",
    )
    post(fake_stripe, fake_stripe.last_event("refund.created"))
    refund = Refund.objects.get(payment=payment)
    assert (refund.amount, refund.state, refund.destination) == (1000, "succeeded", "card")
    payment.refresh_from_db()
    assert payment.refunded_amount == 1000
    fee = fee_of(3000)
    assert balances(studio_a) == {
        f"wallet:{client_contact.id}:EUR": 2000,
        "provider_clearing:EUR": 3000 - fee - 1000,
        "provider_fees:EUR": fee,
    }


def test_a_dispute_is_recorded_with_its_funds_withdrawn_then_reinstated_when_won(
    studio_a, shop, fake_stripe, post
):
    payment, _ = start_gift_card(studio_a, amount=10000)
    confirm(payment)
    payment = payment_refresh(payment=payment)
    before = balances(studio_a)
    dispute = fake_stripe.dispute(payment.intent_id, reason="fraudulent")
    post(fake_stripe, fake_stripe.last_event("charge.dispute.created"))
    row = Dispute.objects.get()
    assert (row.payment_id, row.amount, row.reason, row.status) == (
        payment.id,
        10000,
        "fraudulent",
        "needs_response",
    )
    assert row.withdrawn_transaction.kind == "adjustment"
    after = balances(studio_a)
    assert after["adjustment:EUR"] == 10000
    assert after["provider_clearing:EUR"] == before["provider_clearing:EUR"] - 10000

    fake_stripe.close_dispute(dispute["id"], won=True)
    post(fake_stripe, fake_stripe.last_event("charge.dispute.closed"))
    row.refresh_from_db()
    assert row.status == "won" and row.closed_at and row.reinstated_transaction_id
    assert balances(studio_a) == before


def test_a_lost_dispute_keeps_the_withdrawal(studio_a, shop, fake_stripe, post):
    payment, _ = start_gift_card(studio_a)
    confirm(payment)
    payment_refresh(payment=payment)
    dispute = fake_stripe.dispute(payment.intent_id)
    fake_stripe.close_dispute(dispute["id"], won=False)
    post(fake_stripe, fake_stripe.last_event("charge.dispute.closed"))  # before "created"
    post(fake_stripe, fake_stripe.last_event("charge.dispute.created"))
    row = Dispute.objects.get()
    assert row.status == "lost"  # a final status never moves back
    assert row.withdrawn_transaction_id and row.reinstated_transaction_id is None
    assert balances(studio_a)["adjustment:EUR"] == 5000


def test_account_updated_reads_the_flags_again(studio_a, fake_stripe, post):
    account_id = fake_stripe.connected_account(onboarded=False)
    row = ConnectedAccount.objects.create(
        studio=studio_a, provider_account_id=account_id, charges_enabled=False
    )
    fake_stripe.complete_onboarding(account_id)
    post(fake_stripe, fake_stripe.last_event("account.updated"))
    row.refresh_from_db()
    assert row.charges_enabled and row.payouts_enabled and row.details_submitted
    assert WebhookEvent.objects.get().state == "processed"


def test_a_failed_processing_is_recorded_and_retried_by_the_sweeper(
    studio_a, shop, fake_stripe, post, settings
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    payment, _ = start_gift_card(studio_a)
    confirm(payment)
    fake_stripe.fail_next(1, status=500, path_prefix="/v1/payment_intents")
    post(fake_stripe, fake_stripe.last_event("payment_intent.succeeded"))
    row = WebhookEvent.objects.get()
    assert (row.state, row.attempts) == ("failed", 1)
    assert row.last_error.startswith("ProviderUnavailable")
    WebhookEvent.objects.update(received_at=timezone.now() - timedelta(minutes=5))
    payments_sweep.delay()
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("processed", 2)
    payment.refresh_from_db()
    assert payment.state == Payment.State.SUCCEEDED


# --- order independence ------------------------------------------------------------------------
def _scenario(studio, contact, fake):
    """Provider-side history, none of it applied yet: a gift card paid, a 3-D Secure top-up,
    a declined card, a refund made at the provider, a dispute won, one lost."""
    provider = payment_provider()
    fake.state.events.clear()
    paid, _ = start_gift_card(studio, amount=10000)
    confirm(paid)
    secure, _ = start_top_up(studio, contact, amount=5000)
    confirm(secure, "pm_card_threeDSecure2Required")
    fake.authenticate(secure.intent_id)
    declined, _ = start_gift_card(studio, amount=2500)
    confirm(declined, "pm_card_chargeDeclined")
    provider.refund_create(
        intent_id=paid.intent_id,
        account=paid.provider_account_id,
        idempotency_key="dash-1",
        amount=3000,
        currency="EUR",
    )
    won = fake.dispute(secure.intent_id, amount=2000, reason="product_not_received")
    fake.close_dispute(won["id"], won=True)
    lost_payment, _ = start_gift_card(studio, amount=5000)
    confirm(lost_payment)
    lost = fake.dispute(lost_payment.intent_id)
    fake.close_dispute(lost["id"], won=False)
    return fake.events


def test_every_event_twice_in_any_order_leaves_the_same_ledger(
    studio_a, shop, client_contact, fake_stripe, post
):
    events = _scenario(studio_a, client_contact, fake_stripe)
    assert len({e["type"] for e in events}) >= 8

    with transaction.atomic():
        for event in events:
            post(fake_stripe, event)
        in_order = ledger(studio_a)
        in_order_balances = balances(studio_a)
        transaction.set_rollback(True)
    assert LedgerTransaction.objects.filter(studio=studio_a).count() == 0

    shuffled = [*events, *events]
    random.Random(20261207).shuffle(shuffled)
    for event in shuffled:
        post(fake_stripe, event)
    assert ledger(studio_a) == in_order
    assert balances(studio_a) == in_order_balances
    assert WebhookEvent.objects.count() == len(events)
    assert not WebhookEvent.objects.filter(state="failed").exists()
    # What the ledger says: two paid gift cards, a top-up, one refund, two disputes.
    kinds = sorted(kind for kind, _ in in_order)
    assert kinds == [
        "adjustment",
        "adjustment",
        "payment_received",
        "payment_received",
        "payment_received",
        "refund",
        "reversal",
    ]
    assert Payment.objects.filter(state="failed").count() == 1
    assert Refund.objects.get().amount == 3000
    reinstated = {d.status: d.reinstated_transaction_id is not None for d in Dispute.objects.all()}
    assert reinstated == {"won": True, "lost": False}


# --- crash safety --------------------------------------------------------------------------------
class Killed(Exception):
    pass


@pytest.fixture
def killed_after_the_provider(monkeypatch):
    """The worker dies right after the provider made the intent, before we kept its answer."""

    def die(payment, intent):
        raise Killed(intent.id)

    monkeypatch.setattr("billing.services.payments.start._intent_attach", die)


def _crashed_payment(studio, fake) -> tuple[Payment, str]:
    with pytest.raises(Killed) as killed:
        start_gift_card(studio, key="crash")
    payment = Payment.objects.get(idempotency_key="crash")
    assert payment.intent_id is None and payment.state == Payment.State.CREATED
    intent_id = str(killed.value)
    # The client's page had its secret? No: the answer was lost. Here the client pays anyway
    # (a page that got the answer before the worker died), which is the worst case.
    payment_provider().payment_intent_confirm(
        intent_id=intent_id,
        account=payment.provider_account_id,
        idempotency_key="browser",
        payment_method="pm_card_visa",
    )
    return payment, intent_id


def test_a_crash_after_the_charge_is_completed_once_by_the_webhook(
    studio_a, shop, fake_stripe, post, killed_after_the_provider, monkeypatch
):
    payment, intent_id = _crashed_payment(studio_a, fake_stripe)
    monkeypatch.undo()
    event = fake_stripe.last_event("payment_intent.succeeded")
    assert event["data"]["object"]["metadata"]["payment_id"] == str(payment.id)
    post(fake_stripe, event)
    payment.refresh_from_db()
    assert (payment.intent_id, payment.state) == (intent_id, Payment.State.SUCCEEDED)
    assert GiftCard.objects.get(pk=payment.reference_id).state == GiftCard.State.ACTIVE
    # The sweeper, later, and the event again: nothing more.
    Payment.objects.update(created_at=timezone.now() - timedelta(hours=1))
    payments_sweep.delay()
    post(fake_stripe, {**event, "id": "evt_redelivered_00000001"})
    assert LedgerTransaction.objects.filter(studio=studio_a).count() == 1
    assert len(fake_stripe.charges) == 1


def test_a_crash_after_the_charge_is_completed_once_by_the_sweeper(
    studio_a, shop, fake_stripe, killed_after_the_provider, monkeypatch
):
    payment, intent_id = _crashed_payment(studio_a, fake_stripe)
    monkeypatch.undo()
    # Too early: the worker might still be alive (its claim is fresh).
    payments_sweep.delay()
    payment.refresh_from_db()
    assert payment.intent_id is None
    # Later: the claim is stale; the sweeper replays the create with the payment's key (the
    # provider answers the same intent), reads it and books it.
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Payment.objects.update(created_at=an_hour_ago, claimed_at=an_hour_ago)
    for _ in range(2):
        payments_sweep.delay()
    payment.refresh_from_db()
    assert (payment.intent_id, payment.state) == (intent_id, Payment.State.SUCCEEDED)
    assert LedgerTransaction.objects.filter(studio=studio_a).count() == 1
    creates = [r for r in fake_stripe.api_requests() if r.path == "/v1/payment_intents"]
    assert [r.replayed for r in creates] == [False, True]
    assert len(fake_stripe.charges) == 1


def test_the_sweeper_cancels_an_abandoned_payment(studio_a, shop, fake_stripe):
    payment, _ = start_gift_card(studio_a)
    Payment.objects.update(created_at=timezone.now() - timedelta(hours=25))
    payments_sweep.delay()
    payment.refresh_from_db()
    assert (payment.state, payment.last_error_code) == ("canceled", "abandoned")
    assert fake_stripe.object(payment.intent_id)["status"] == "canceled"
    assert GiftCard.objects.get(pk=payment.reference_id).state == GiftCard.State.VOID


def test_the_webhook_payload_is_stored_as_sent(studio_a, shop, fake_stripe, post):
    start_gift_card(studio_a)
    event = fake_stripe.last_event("payment_intent.created")
    post(fake_stripe, event)
    stored = WebhookEvent.objects.get().payload
    assert stored == json.loads(json.dumps(event))
