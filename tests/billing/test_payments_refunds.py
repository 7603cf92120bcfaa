"""Refunds of card payments (to the card through the fake Stripe, or to the wallet): full,
partial, never above what is left, the accounting per purpose, and the provider's refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import GiftCard, LedgerTransaction, Payment, Refund
from billing.services.payments import payment_refresh, refund_create
from billing.services.wallets import wallet_for, wallet_hold, wallet_spend
from billing.tasks.payments import payments_sweep
from picpick.core.errors import ApplicationError, Conflict
from tests.billing.test_payments_support import (  # noqa: F401 (fixtures)
    balances,
    client_contact_fixture,
    confirm,
    deliver,
    fee_of,
    fresh_cache_fixture,
    shop_fixture,
    start_gift_card,
    start_top_up,
)

pytestmark = pytest.mark.django_db


def paid_gift_card(studio, amount=10000, **changes) -> Payment:
    payment, _ = start_gift_card(studio, amount=amount, **changes)
    confirm(payment)
    return payment_refresh(payment=payment)


def paid_top_up(studio, contact, amount=5000) -> Payment:
    payment, _ = start_top_up(studio, contact, amount=amount)
    confirm(payment)
    return payment_refresh(payment=payment)


def test_a_gift_card_refunded_in_full_to_the_card(studio_a, shop, fake_stripe):
    payment = paid_gift_card(studio_a)
    refund = refund_create(payment=payment, idempotency_key="r1")
    assert (refund.amount, refund.state, refund.destination) == (10000, "succeeded", "card")
    assert refund.provider_refund_id.startswith("re_")
    (call,) = [r for r in fake_stripe.api_requests() if r.path == "/v1/refunds"]
    assert call.idempotency_key == f"refund:{refund.id}"
    assert call.account == shop.provider_account_id
    assert call.params["metadata"]["refund_id"] == str(refund.id)
    payment.refresh_from_db()
    assert payment.refunded_amount == 10000
    fee = fee_of(10000)
    # The card's money went back; the provider kept its fee.
    assert balances(studio_a) == {"provider_clearing:EUR": -fee, "provider_fees:EUR": fee}
    posted = LedgerTransaction.objects.get(pk=refund.ledger_transaction_id)
    assert (posted.kind, posted.amount) == ("refund", 10000)


def test_partial_refunds_never_pass_the_payment(studio_a, shop, fake_stripe):
    payment = paid_gift_card(studio_a)
    refund_create(payment=payment, amount=3000, idempotency_key="a")
    refund_create(payment=payment, amount=5000, idempotency_key="b")
    with pytest.raises(Conflict) as caught:
        refund_create(payment=payment, amount=2001, idempotency_key="c")
    assert caught.value.code == "refund_exceeds_payment"
    assert caught.value.extra == {"remaining": 2000}
    last = refund_create(payment=payment, idempotency_key="d")  # all that is left
    assert last.amount == 2000
    with pytest.raises(Conflict) as caught:
        refund_create(payment=payment, amount=1, idempotency_key="e")
    assert caught.value.code == "payment_fully_refunded"
    assert Refund.objects.filter(payment=payment).count() == 3
    assert len([r for r in fake_stripe.api_requests() if r.path == "/v1/refunds"]) == 3
    assert fake_stripe.charges[0]["amount_refunded"] == 10000


def test_the_same_key_is_the_same_refund(studio_a, shop, fake_stripe):
    payment = paid_gift_card(studio_a)
    first = refund_create(payment=payment, amount=1000, idempotency_key="same")
    again = refund_create(payment=payment, amount=1000, idempotency_key="same")
    assert first.id == again.id
    with pytest.raises(Conflict) as caught:
        refund_create(payment=payment, amount=2000, idempotency_key="same")
    assert caught.value.code == "idempotency_key_reused"
    assert Refund.objects.count() == 1


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (0, "amount_invalid"),
        (-1, "amount_invalid"),
        (1.5, "amount_float"),
        (10**13, "amount_too_large"),
    ],
)
def test_bad_refund_amounts_are_refused(studio_a, shop, fake_stripe, amount, code):
    payment = paid_gift_card(studio_a)
    with pytest.raises(ApplicationError) as caught:
        refund_create(payment=payment, amount=amount, idempotency_key="x")
    assert (caught.value.status_code, caught.value.code) == (400, code)
    assert Refund.objects.count() == 0


def test_an_unpaid_payment_is_not_refundable(studio_a, shop):
    payment, _ = start_gift_card(studio_a)
    with pytest.raises(Conflict) as caught:
        refund_create(payment=payment, idempotency_key="x")
    assert caught.value.code == "payment_not_refundable"


def test_a_wallet_top_up_refunded_to_the_card_takes_the_credit_back(
    studio_a, shop, client_contact, fake_stripe
):
    payment = paid_top_up(studio_a, client_contact, amount=5000)
    refund = refund_create(payment=payment, amount=2000, idempotency_key="r")
    assert refund.state == "succeeded"
    fee = fee_of(5000)
    # The wallet lost the credit, clearing the money; revenue passed it through (net zero).
    assert balances(studio_a) == {
        f"wallet:{client_contact.id}:EUR": 3000,
        "provider_clearing:EUR": 5000 - fee - 2000,
        "provider_fees:EUR": fee,
    }
    spend = LedgerTransaction.objects.get(pk=refund.release_transaction_id)
    assert spend.kind == "wallet_spend"
    wallet = wallet_for(studio=studio_a, contact=client_contact, currency="EUR")
    assert sum(lot.remaining for lot in wallet.lots.all()) == 3000  # the lots follow


def test_spent_or_held_credit_cannot_be_refunded_to_the_card(
    studio_a, shop, client_contact, fake_stripe
):
    payment = paid_top_up(studio_a, client_contact, amount=5000)
    wallet = wallet_for(studio=studio_a, contact=client_contact, currency="EUR")
    wallet_spend(wallet=wallet, amount=2000, reference="Prints", idempotency_key="s")
    wallet_hold(
        wallet=wallet,
        amount=1000,
        reference="Album",
        idempotency_key="h",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    before = balances(studio_a)
    with pytest.raises(Conflict) as caught:
        refund_create(payment=payment, amount=2500, idempotency_key="r")
    assert caught.value.code == "insufficient_funds"
    assert balances(studio_a) == before
    assert Refund.objects.count() == 0
    assert [r for r in fake_stripe.api_requests() if r.path == "/v1/refunds"] == []
    payment.refresh_from_db()
    assert payment.refunded_amount == 0
    assert refund_create(payment=payment, amount=2000, idempotency_key="r2").state == "succeeded"


def test_a_gift_card_is_refunded_from_what_is_left_on_it(studio_a, shop, fake_stripe):
    payment = paid_gift_card(studio_a, amount=5000)
    card = GiftCard.objects.get(pk=payment.reference_id)
    from billing.services.ledger import account_for, credit, debit, ledger_post

    # 4000 of it was spent at the studio.
    ledger_post(
        studio=studio_a,
        kind="gift_card_redeemed",
        idempotency_key="redeem",
        legs=[
            debit(card.account, 4000),
            credit(account_for(studio=studio_a, kind="revenue", currency="EUR"), 4000),
        ],
    )
    with pytest.raises(Conflict) as caught:
        refund_create(payment=payment, idempotency_key="all")
    assert caught.value.code == "insufficient_funds"
    assert refund_create(payment=payment, amount=1000, idempotency_key="left").state == "succeeded"
    assert balances(studio_a).get(f"gift_card:{card.id}:EUR") is None  # 0 left


def test_a_gift_card_bought_by_a_contact_refunded_as_wallet_credit(
    studio_a, shop, client_contact, fake_stripe
):
    payment = paid_gift_card(studio_a, amount=5000, contact=client_contact)
    card = GiftCard.objects.get(pk=payment.reference_id)
    refund = refund_create(payment=payment, amount=5000, to="wallet", idempotency_key="w")
    assert (refund.state, refund.destination) == ("succeeded", "wallet")
    assert [r for r in fake_stripe.api_requests() if r.path == "/v1/refunds"] == []
    fee = fee_of(5000)
    assert balances(studio_a) == {
        f"wallet:{client_contact.id}:EUR": 5000,
        "provider_clearing:EUR": 5000 - fee,
        "provider_fees:EUR": fee,
    }
    kinds = set(
        LedgerTransaction.objects.filter(
            pk__in=[refund.ledger_transaction_id, refund.release_transaction_id]
        ).values_list("kind", flat=True)
    )
    assert kinds == {"wallet_refund", "refund"}
    assert balances(studio_a).get(f"gift_card:{card.id}:EUR") is None


def test_refunds_to_the_wallet_that_make_no_sense_are_refused(
    studio_a, shop, client_contact, fake_stripe
):
    top_up = paid_top_up(studio_a, client_contact)
    with pytest.raises(Conflict) as caught:
        refund_create(payment=top_up, to="wallet", idempotency_key="a")
    assert caught.value.code == "refund_destination_invalid"
    anonymous = paid_gift_card(studio_a)
    with pytest.raises(Conflict) as caught:
        refund_create(payment=anonymous, to="wallet", idempotency_key="b")
    assert caught.value.code == "refund_needs_contact"
    with pytest.raises(ApplicationError) as caught:
        refund_create(payment=anonymous, to="cash", idempotency_key="c")
    assert caught.value.code == "invalid_destination"
    assert Refund.objects.count() == 0


def test_a_refund_the_provider_refuses_is_reversed(studio_a, shop, fake_stripe):
    from billing.payments import payment_provider

    payment = paid_gift_card(studio_a, amount=5000)
    before = balances(studio_a)
    # Someone refunded it all on the provider's dashboard (no webhook seen yet).
    payment_provider().refund_create(
        intent_id=payment.intent_id, account=payment.provider_account_id, idempotency_key="dash"
    )
    with pytest.raises(ApplicationError) as caught:
        refund_create(payment=payment, amount=1000, idempotency_key="r")
    assert (caught.value.status_code, caught.value.code) == (422, "refund_rejected")
    refund = Refund.objects.get()
    assert (refund.state, refund.last_error_code) == ("failed", "charge_already_refunded")
    assert balances(studio_a) == before  # booked, then reversed
    payment.refresh_from_db()
    assert payment.refunded_amount == 0


def test_a_5xx_leaves_the_refund_booked_and_the_retry_sends_it_once(
    studio_a, shop, client_contact, fake_stripe, settings
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    payment = paid_top_up(studio_a, client_contact, amount=5000)
    fake_stripe.fail_next(1, status=502, path_prefix="/v1/refunds")
    with pytest.raises(ApplicationError) as caught:
        refund_create(payment=payment, amount=1000, idempotency_key="r")
    assert (caught.value.status_code, caught.value.code) == (503, "provider_unavailable")
    refund = Refund.objects.get()
    assert (refund.state, refund.provider_refund_id) == ("pending", None)
    assert balances(studio_a)[f"wallet:{client_contact.id}:EUR"] == 4000  # held back already
    again = refund_create(payment=payment, amount=1000, idempotency_key="r")
    assert (again.id, again.state) == (refund.id, "succeeded")
    assert fake_stripe.charges[0]["amount_refunded"] == 1000


def test_the_sweeper_sends_a_refund_a_dead_worker_left(studio_a, shop, fake_stripe, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    payment = paid_gift_card(studio_a, amount=5000)
    fake_stripe.fail_next(1, status=500, path_prefix="/v1/refunds")
    with pytest.raises(ApplicationError):
        refund_create(payment=payment, amount=1000, idempotency_key="r")
    Refund.objects.update(created_at=timezone.now() - timedelta(hours=1))
    payments_sweep.delay()
    payments_sweep.delay()
    assert Refund.objects.get().state == "succeeded"
    assert fake_stripe.charges[0]["amount_refunded"] == 1000


def test_a_refund_that_fails_later_is_reversed_through_its_webhook(
    studio_a, shop, client_contact, fake_stripe, django_capture_on_commit_callbacks
):
    payment = paid_top_up(studio_a, client_contact, amount=5000)
    before = balances(studio_a)
    refund = refund_create(payment=payment, amount=2000, idempotency_key="r")
    fake_stripe.fail_refund(refund.provider_refund_id)
    for kind in ("refund.updated", "refund.failed"):
        with django_capture_on_commit_callbacks(execute=True):
            assert deliver(fake_stripe, fake_stripe.last_event(kind)).status_code == 200
    refund.refresh_from_db()
    assert (refund.state, refund.last_error_code) == ("failed", "expired_or_canceled_card")
    payment.refresh_from_db()
    assert payment.refunded_amount == 0
    assert balances(studio_a) == before  # the credit is back in the wallet
    wallet = wallet_for(studio=studio_a, contact=client_contact, currency="EUR")
    assert sum(lot.remaining for lot in wallet.lots.all()) == 5000
