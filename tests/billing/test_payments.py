"""Card payments through the REAL Stripe SDK against the fake Stripe: starting, confirming,
declines, 3-D Secure, timeouts and 5xx, and the ledger posting a success makes exactly once."""

from __future__ import annotations

import pytest

from billing.models import GiftCard, LedgerTransaction, Payment, Wallet, WalletCreditLot
from billing.payments import IntentStatus
from billing.services.payments import (
    ProviderDown,
    payment_refresh,
    payment_start,
)
from picpick.core.errors import ApplicationError, Conflict
from tests.billing.test_payments_support import (  # noqa: F401 (fixtures)
    balances,
    client_contact_fixture,
    confirm,
    fee_of,
    fresh_cache_fixture,
    order,
    shop_fixture,
    start_gift_card,
    start_top_up,
)

pytestmark = pytest.mark.django_db


def test_a_gift_card_paid_by_card_is_posted_once_with_the_fee_and_activated(
    studio_a, shop, fake_stripe
):
    payment, secret = start_gift_card(studio_a, amount=5000)
    assert payment.state == Payment.State.CREATED
    assert secret.startswith(payment.intent_id) and "_secret_" in secret
    card = GiftCard.objects.get(pk=payment.reference_id)
    assert card.state == GiftCard.State.PENDING_PAYMENT
    # The intent is made ON the studio's account, keyed by our payment's id.
    (create,) = [r for r in fake_stripe.api_requests() if r.path == "/v1/payment_intents"]
    assert create.account == shop.provider_account_id
    assert create.idempotency_key == f"pay:{payment.id}"
    assert create.params["metadata"]["payment_id"] == str(payment.id)

    intent = confirm(payment)
    assert intent.status == IntentStatus.SUCCEEDED
    payment = payment_refresh(payment=payment)
    assert payment.state == Payment.State.SUCCEEDED
    fee = fee_of(5000)
    assert payment.fee == fee
    card.refresh_from_db()
    assert card.state == GiftCard.State.ACTIVE
    assert balances(studio_a) == {
        f"gift_card:{card.id}:EUR": 5000,
        "provider_clearing:EUR": 5000 - fee,
        "provider_fees:EUR": fee,
    }
    posted = LedgerTransaction.objects.get(pk=payment.posted_transaction_id)
    assert posted.kind == "payment_received"
    assert posted.idempotency_key == f"payment-succeeded:{payment.id}"

    # Again and again: nothing more.
    for _ in range(2):
        payment = payment_refresh(payment=payment)
    assert LedgerTransaction.objects.filter(studio=studio_a).count() == 1
    assert len(fake_stripe.charges) == 1


def test_a_wallet_top_up_credits_the_wallet_with_a_lot(studio_a, shop, client_contact, fake_stripe):
    payment, _ = start_top_up(studio_a, client_contact, amount=2500)
    confirm(payment)
    payment = payment_refresh(payment=payment)
    assert payment.state == Payment.State.SUCCEEDED
    wallet = Wallet.objects.get(pk=payment.reference_id)
    assert wallet.contact_id == client_contact.id
    fee = fee_of(2500)
    assert balances(studio_a) == {
        f"wallet:{client_contact.id}:EUR": 2500,
        "provider_clearing:EUR": 2500 - fee,
        "provider_fees:EUR": fee,
    }
    (lot,) = WalletCreditLot.objects.filter(wallet=wallet)
    assert (lot.amount, lot.source_id) == (2500, payment.posted_transaction_id)


def test_the_application_fee_is_asked_and_booked_as_a_fee(
    studio_a, shop, client_contact, fake_stripe, settings
):
    settings.PICPICK_STRIPE_APPLICATION_FEE_BPS = 100  # 1 %
    payment, _ = start_top_up(studio_a, client_contact, amount=10000)
    assert payment.application_fee == 100
    (create,) = [r for r in fake_stripe.api_requests() if r.path == "/v1/payment_intents"]
    assert create.params["application_fee_amount"] == "100"
    confirm(payment)
    payment = payment_refresh(payment=payment)
    fee = fee_of(10000)
    assert payment.fee == fee  # the provider's own
    assert balances(studio_a)["provider_fees:EUR"] == fee + 100
    assert balances(studio_a)["provider_clearing:EUR"] == 10000 - fee - 100


def test_a_declined_card_fails_the_payment_posts_nothing_and_abandons_the_gift_card(
    studio_a, shop, fake_stripe
):
    payment, _ = start_gift_card(studio_a)
    declined = confirm(payment, "pm_card_chargeDeclinedInsufficientFunds")
    assert declined.decline_code == "insufficient_funds"
    payment = payment_refresh(payment=payment)
    assert payment.state == Payment.State.FAILED
    assert (payment.last_error_code, payment.last_decline_code) == (
        "card_declined",
        "insufficient_funds",
    )
    assert GiftCard.objects.get(pk=payment.reference_id).state == GiftCard.State.VOID
    assert LedgerTransaction.objects.filter(studio=studio_a).count() == 0
    assert fake_stripe.charges == []
    # The intent was canceled: a later try with it cannot be paid.
    assert fake_stripe.object(payment.intent_id)["status"] == "canceled"
    again = confirm(payment, "pm_card_visa")
    assert getattr(again, "code", None) == "payment_intent_unexpected_state"


def test_3d_secure_is_requires_action_never_paid_until_authenticated(
    studio_a, shop, client_contact, fake_stripe
):
    payment, _ = start_top_up(studio_a, client_contact)
    intent = confirm(payment, "pm_card_authenticationRequired")
    assert intent.status == IntentStatus.REQUIRES_ACTION
    payment = payment_refresh(payment=payment)
    assert payment.state == Payment.State.REQUIRES_ACTION
    assert payment.posted_transaction_id is None
    assert balances(studio_a) == {}
    fake_stripe.authenticate(payment.intent_id, succeed=True)
    payment = payment_refresh(payment=payment)
    assert payment.state == Payment.State.SUCCEEDED
    assert balances(studio_a)[f"wallet:{client_contact.id}:EUR"] == 2500


def test_failed_3d_secure_fails_the_payment(studio_a, shop, fake_stripe):
    payment, _ = start_gift_card(studio_a)
    confirm(payment, "pm_card_threeDSecure2Required")
    fake_stripe.authenticate(payment.intent_id, succeed=False)
    payment = payment_refresh(payment=payment)
    assert payment.state == Payment.State.FAILED
    assert payment.last_error_code == "payment_intent_authentication_failure"
    assert GiftCard.objects.get(pk=payment.reference_id).state == GiftCard.State.VOID


def test_a_timeout_after_the_intent_was_made_is_retried_with_the_same_key(
    studio_a, shop, fake_stripe, settings
):
    # The fake makes the intent, then answers after the client gave up (no SDK retries here).
    settings.STRIPE_TIMEOUT_S = 1
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    fake_stripe.delay_next_response(2.5, path_prefix="/v1/payment_intents")
    with pytest.raises(ProviderDown) as caught:
        start_gift_card(studio_a, key="double-click")
    assert caught.value.code == "provider_unavailable"
    payment = Payment.objects.get(idempotency_key="double-click")
    assert (payment.state, payment.intent_id, payment.claim_token) == ("created", None, None)

    # The client's retry (same Idempotency-Key) finds the same intent: one intent, one charge.
    again, secret = start_gift_card(studio_a, key="double-click")
    assert again.id == payment.id and again.intent_id and secret
    creates = [r for r in fake_stripe.api_requests() if r.path == "/v1/payment_intents"]
    assert len(creates) == 2 and creates[1].replayed
    assert {r.idempotency_key for r in creates} == {f"pay:{payment.id}"}
    confirm(again)
    again = payment_refresh(payment=again)
    assert again.state == Payment.State.SUCCEEDED
    assert len(fake_stripe.charges) == 1


def test_a_timeout_of_the_sdk_is_retried_by_it_with_the_same_key(
    studio_a, shop, fake_stripe, settings
):
    settings.STRIPE_TIMEOUT_S = 1
    settings.STRIPE_MAX_NETWORK_RETRIES = 2
    fake_stripe.delay_next_response(2.5, path_prefix="/v1/payment_intents")
    payment, secret = start_gift_card(studio_a)
    assert payment.intent_id and secret
    creates = [r for r in fake_stripe.api_requests() if r.path == "/v1/payment_intents"]
    assert [r.replayed for r in creates] == [False, True]
    assert len({r["id"] for r in fake_stripe.events_of("payment_intent.created")}) == 1


def test_a_5xx_is_a_clear_error_and_the_retry_works(studio_a, shop, fake_stripe, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    fake_stripe.fail_next(1, status=503, path_prefix="/v1/payment_intents")
    with pytest.raises(ProviderDown) as caught:
        start_gift_card(studio_a, key="k-5xx")
    assert caught.value.status_code == 503
    assert GiftCard.objects.filter(state=GiftCard.State.PENDING_PAYMENT).count() == 1
    payment, secret = start_gift_card(studio_a, key="k-5xx")
    assert secret and payment.intent_id
    assert GiftCard.objects.count() == 1  # the retry made no second card
    confirm(payment)
    assert payment_refresh(payment=payment).state == Payment.State.SUCCEEDED
    assert len(fake_stripe.charges) == 1


def test_the_same_key_for_another_payment_is_a_conflict(studio_a, shop):
    start_gift_card(studio_a, key="same")
    with pytest.raises(Conflict) as caught:
        start_gift_card(studio_a, amount=10000, key="same")
    assert caught.value.code == "idempotency_key_reused"
    assert Payment.objects.count() == 1


def test_a_studio_without_charges_enabled_is_refused(studio_a, shop, fake_stripe):
    shop.charges_enabled = False
    shop.save()
    with pytest.raises(Conflict) as caught:
        start_gift_card(studio_a)
    assert (caught.value.status_code, caught.value.code) == (409, "payments_not_enabled")
    assert Payment.objects.count() == 0 and GiftCard.objects.count() == 0


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [
        (0, "EUR", "amount_invalid"),
        (-500, "EUR", "amount_invalid"),
        (10**13, "EUR", "amount_too_large"),
        (50.5, "EUR", "amount_float"),
        (True, "EUR", "amount_invalid"),
        (5000, "USD", "currency_not_accepted"),
        (5000, "eur", "currency_unknown"),
        (5000, "XYZ", "currency_unknown"),
        (500, "EUR", "gift_card_amount_not_offered"),
        (60000, "EUR", "gift_card_amount_not_offered"),
    ],
)
def test_bad_amounts_are_refused_with_nothing_written(
    studio_a, shop, fake_stripe, amount, currency, code
):
    with pytest.raises(ApplicationError) as caught:
        start_gift_card(studio_a, amount=amount, currency=currency)
    assert (caught.value.status_code, caught.value.code) == (400, code)
    assert Payment.objects.count() == 0 and GiftCard.objects.count() == 0
    assert fake_stripe.api_requests() == []


def test_a_top_up_needs_a_contact_of_the_studio(studio_a, studio_b, shop, fake_stripe):
    from picpick.testing.factories import ContactFactory

    with pytest.raises(ApplicationError) as caught:
        payment_start(
            studio=studio_a,
            purpose="wallet_topup",
            amount=1000,
            currency="EUR",
            payer_email="x@example.com",
            idempotency_key="k",
        )
    assert caught.value.code == "contact_required"
    stranger = ContactFactory(studio=studio_b)
    with pytest.raises(ApplicationError) as caught:
        start_top_up(studio_a, stranger)
    assert caught.value.status_code == 404
    assert Payment.objects.count() == 0


def test_a_provider_refusal_fails_the_payment(studio_a, shop, fake_stripe):
    # The fake's minimum charge is 50 cents: a 10-cent card is refused by the provider.
    from billing.models import BillingSettings

    BillingSettings.objects.filter(studio=studio_a).update(gift_card_min=10)
    with pytest.raises(ApplicationError) as caught:
        start_gift_card(studio_a, amount=10)
    assert (caught.value.status_code, caught.value.code) == (422, "payment_rejected")
    payment = Payment.objects.get()
    assert payment.state == Payment.State.FAILED
    assert payment.last_error_code == "amount_too_small"
    assert GiftCard.objects.get().state == GiftCard.State.VOID


def test_gift_card_order_is_checked_by_the_gift_cards(studio_a, shop):
    with pytest.raises(ApplicationError) as caught:
        start_gift_card(studio_a, gift_card=order(recipient_email="not-an-email"))
    assert caught.value.status_code == 400
    assert Payment.objects.count() == 0


def test_a_saved_card_is_kept_on_the_contacts_customer_for_later(
    studio_a, shop, client_contact, fake_stripe
):
    from billing.models import ProviderCustomer, SavedCard

    payment, _ = start_top_up(studio_a, client_contact, save_card=True)
    confirm(payment)
    payment_refresh(payment=payment)
    customer = ProviderCustomer.objects.get()
    assert (customer.contact_id, customer.provider_account_id) == (
        client_contact.id,
        shop.provider_account_id,
    )
    create = next(r for r in fake_stripe.api_requests() if r.path == "/v1/payment_intents")
    assert create.params["customer"] == customer.provider_customer_id
    assert create.params["setup_future_usage"] == "off_session"
    card = SavedCard.objects.get()
    assert (card.contact_id, card.brand, card.last4, card.exp_year) == (
        client_contact.id,
        "visa",
        "4242",
        2034,
    )
    # The next saved card of the same contact is on the same customer.
    again, _ = start_top_up(studio_a, client_contact, save_card=True)
    confirm(again, "pm_card_mastercard")
    payment_refresh(payment=again)
    assert ProviderCustomer.objects.count() == 1
    assert sorted(SavedCard.objects.values_list("last4", flat=True)) == ["4242", "4444"]
    customers = [r for r in fake_stripe.api_requests() if r.path == "/v1/customers"]
    assert len(customers) == 1


def test_saving_a_card_needs_a_contact(studio_a, shop, fake_stripe):
    with pytest.raises(ApplicationError) as caught:
        start_gift_card(studio_a, save_card=True)
    assert caught.value.code == "contact_required"
    assert Payment.objects.count() == 0


def test_a_fee_unknown_at_the_success_is_booked_later_by_the_sweeper(
    studio_a, shop, fake_stripe, monkeypatch
):
    import dataclasses
    from datetime import timedelta

    from django.utils import timezone

    from billing.payments import StripeProvider
    from billing.tasks.payments import payments_sweep

    real_get = StripeProvider.payment_intent_get
    calls = []

    def without_fee_at_first(self, **kwargs):
        intent = real_get(self, **kwargs)
        calls.append(intent.id)
        return dataclasses.replace(intent, fee=None) if len(calls) == 1 else intent

    monkeypatch.setattr(StripeProvider, "payment_intent_get", without_fee_at_first)
    payment, _ = start_gift_card(studio_a, amount=5000)
    confirm(payment)
    payment = payment_refresh(payment=payment)
    assert (payment.state, payment.fee) == ("succeeded", None)
    card = f"gift_card:{payment.reference_id}:EUR"
    assert balances(studio_a) == {card: 5000, "provider_clearing:EUR": 5000}

    Payment.objects.update(succeeded_at=timezone.now() - timedelta(hours=1))
    payments_sweep.delay()
    payments_sweep.delay()
    payment.refresh_from_db()
    fee = fee_of(5000)
    assert payment.fee == fee and payment.fee_transaction_id
    assert balances(studio_a) == {
        card: 5000,
        "provider_clearing:EUR": 5000 - fee,
        "provider_fees:EUR": fee,
    }
    kinds = sorted(LedgerTransaction.objects.values_list("kind", flat=True))
    assert kinds == ["fee", "payment_received"]
