"""Gift card services: codes (format, normalising, hashed and sealed), the payments seam
(prepare, activate, abandon), the studio's issue and void, delivery once then the code
forgotten, redemption (partial, used up, states, guesses limited), expiry to breakage once."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone

from billing.models import GiftCard, LedgerAccount, LedgerTransaction
from billing.money import MAX_MINOR
from billing.services import gift_cards as services
from billing.services.ledger import account_for, credit, debit, ledger_post
from billing.services.wallets import billing_settings_update
from picpick.core.errors import ApplicationError, Conflict, NotFound, RateLimited
from picpick.testing.factories import StudioFactory
from tests.billing import test_wallets_support as support
from tests.billing.test_wallets_support import (
    assert_ledger_sound,
    balance,
    key,
)

pytestmark = pytest.mark.django_db

# The shared fixtures, by name.
_fresh_cache = support._fresh_cache
euro_studio = support.euro_studio

State = GiftCard.State
Kind = LedgerTransaction.Kind
ADDRESS = "198.51.100.7"
CODE = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}")


@pytest.fixture
def selling(euro_studio):
    billing_settings_update(
        studio=euro_studio,
        changes={"gift_card_amounts": [5000, 10_000], "gift_card_expiry_months": 12},
    )
    return euro_studio


def issue(studio, amount=10_000, **kwargs):
    return services.gift_card_issue(
        studio=studio,
        amount=amount,
        currency=kwargs.pop("currency", "EUR"),
        idempotency_key=kwargs.pop("idempotency_key", key("issue")),
        **kwargs,
    )


def redeem(studio, code, amount, **kwargs):
    return services.gift_card_redeem(
        studio=studio,
        code=code,
        amount=amount,
        reference=kwargs.pop("reference", "Session 12"),
        idempotency_key=kwargs.pop("idempotency_key", key("redeem")),
        address=kwargs.pop("address", ADDRESS),
        **kwargs,
    )


def buy(studio, amount=10_000, **kwargs):
    """What payments does: prepare, post the paid amount onto the card, activate."""
    card = services.gift_card_prepare(
        studio=studio,
        amount=amount,
        currency="EUR",
        buyer_name="Ann Buyer",
        buyer_email="ann@example.com",
        recipient_name="Rita",
        recipient_email="rita@example.com",
        message="Happy birthday!",
        **kwargs,
    )
    clearing = account_for(studio=studio, kind="provider_clearing", currency="EUR")
    posted = ledger_post(
        studio=studio,
        kind=Kind.GIFT_CARD_SOLD,
        idempotency_key=f"payment:{card.id}",
        legs=[debit(clearing, amount), credit(card.account, amount)],
    )
    return services.gift_card_activate(card=card, transaction=posted.transaction)


# --- codes ----------------------------------------------------------------------------------


def test_codes_are_sixteen_crockford_characters_in_groups():
    codes = {services.code_generate() for _ in range(200)}
    assert len(codes) == 200
    assert all(CODE.fullmatch(code) for code in codes)


@pytest.mark.parametrize(
    "typed",
    ["abcd-efgh-jkmn-pqr0", "ABCDEFGHJKMNPQR0", " abcd efgh jkmn pqrO ", "ABCD-EFGH-JKMN-PQRo"],
)
def test_typed_codes_are_normalised_before_hashing(typed):
    assert services.code_normalise(typed) == "ABCDEFGHJKMNPQR0"


def test_i_and_l_are_read_as_one():
    assert services.code_normalise("ILIL-0000-0000-0000") == "1111000000000000"


@pytest.mark.parametrize("typed", ["", "ABCD-EFGH-JKMN-PQR", "ABCD-EFGH-JKMN-PQRU", "x" * 80, None])
def test_what_cannot_be_a_code_is_none(typed):
    assert services.code_normalise(typed) is None


def test_a_code_is_stored_only_as_a_keyed_hash_and_sealed_until_delivery(selling):
    result = issue(selling, recipient_email="rita@example.com")
    card = GiftCard.objects.get(id=result.card.id)
    normal = services.code_normalise(result.code)
    assert card.code_hash == services.code_hash(normal) != result.code
    assert result.code not in card.code_sealed
    assert services.code_unseal(card.code_sealed) == result.code
    assert card.code_last4 == result.code[-4:]


# --- the payments seam ----------------------------------------------------------------------


def test_a_bought_card_is_prepared_paid_activated_and_delivered(
    selling, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        card = buy(selling)
    assert card.state == State.ACTIVE
    assert card.origin == GiftCard.Origin.PURCHASED
    assert balance(card.account) == 10_000
    assert card.expires_at.date() == services.add_months(timezone.now(), 12).date()

    card.refresh_from_db()
    assert card.delivered_at is not None and card.code_sealed == ""
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["rita@example.com"]
    assert "€100.00" in message.body and "Happy birthday!" in message.body
    assert "/gift-card/" in message.body
    code = CODE.search(message.body).group(0)
    assert services.code_hash(services.code_normalise(code)) == card.code_hash
    assert_ledger_sound()


def test_a_card_is_sold_only_in_amounts_the_studio_offers(selling):
    for amount in (7500, 0, MAX_MINOR + 1):
        with pytest.raises(ApplicationError):
            services.gift_card_prepare(
                studio=selling,
                amount=amount,
                currency="EUR",
                buyer_name="A",
                buyer_email="a@example.com",
                recipient_name="",
                recipient_email="",
            )
    billing_settings_update(studio=selling, changes={"gift_card_min": 2000, "gift_card_max": 9000})
    card = services.gift_card_prepare(
        studio=selling,
        amount=7500,
        currency="EUR",
        buyer_name="A",
        buyer_email="a@example.com",
        recipient_name="",
        recipient_email="",
    )
    assert card.state == State.PENDING_PAYMENT
    with pytest.raises(ApplicationError) as caught:
        services.gift_card_prepare(
            studio=selling,
            amount=5000,
            currency="USD",
            buyer_name="A",
            buyer_email="a@example.com",
            recipient_name="",
            recipient_email="",
        )
    assert caught.value.code == "currency_mismatch"


def test_activation_needs_the_cards_amount_on_it(selling):
    card = services.gift_card_prepare(
        studio=selling,
        amount=5000,
        currency="EUR",
        buyer_name="A",
        buyer_email="a@example.com",
        recipient_name="",
        recipient_email="",
    )
    clearing = account_for(studio=selling, kind="provider_clearing", currency="EUR")
    short = ledger_post(
        studio=selling,
        kind=Kind.GIFT_CARD_SOLD,
        idempotency_key="short",
        legs=[debit(clearing, 4000), credit(card.account, 4000)],
    )
    with pytest.raises(Conflict) as caught:
        services.gift_card_activate(card=card, transaction=short.transaction)
    assert caught.value.code == "gift_card_payment_mismatch"
    assert GiftCard.objects.get(id=card.id).state == State.PENDING_PAYMENT


def test_an_abandoned_card_is_void_and_its_code_forgotten(selling):
    card = services.gift_card_prepare(
        studio=selling,
        amount=5000,
        currency="EUR",
        buyer_name="A",
        buyer_email="a@example.com",
        recipient_name="",
        recipient_email="",
    )
    services.gift_card_abandon(card=card)
    services.gift_card_abandon(card=card)
    card.refresh_from_db()
    assert (card.state, card.code_sealed) == (State.VOID, "")
    active = buy(selling)
    with pytest.raises(Conflict) as caught:
        services.gift_card_abandon(card=active)
    assert caught.value.code == "gift_card_not_pending"


# --- the studio's side ----------------------------------------------------------------------


def test_an_issued_card_is_paid_by_the_studio_and_shows_its_code_once(selling):
    result = issue(selling, amount=2500, idempotency_key="give-1")
    assert result.created and CODE.fullmatch(result.code)
    card = result.card
    assert (card.state, card.origin) == (State.ACTIVE, GiftCard.Origin.ISSUED)
    assert balance(card.account) == 2500
    assert LedgerAccount.objects.get(studio=selling, key="adjustment:EUR").balance == 2500
    assert card.funding.kind == Kind.ADJUSTMENT

    again = issue(selling, amount=2500, idempotency_key="give-1")
    assert (again.created, again.card.id, again.code) == (False, card.id, result.code)
    with pytest.raises(Conflict) as caught:
        issue(selling, amount=2600, idempotency_key="give-1")
    assert caught.value.code == "idempotency_key_reused"

    # Without a recipient the code is kept for a retried issue for a while only.
    services.gift_card_deliveries(now=timezone.now() + services.ISSUE_REPLAY)
    card.refresh_from_db()
    assert card.code_sealed == "" and len(mail.outbox) == 0
    assert issue(selling, amount=2500, idempotency_key="give-1").code is None


def test_an_issued_card_with_a_later_delivery_is_sent_when_its_day_comes(selling):
    day = timezone.now() + dt.timedelta(days=3)
    card = issue(selling, recipient_email="rita@example.com", deliver_at=day).card
    assert services.gift_card_deliveries() == 0
    assert services.gift_card_deliveries(now=day) == 1
    assert services.gift_card_deliveries(now=day) == 0
    card.refresh_from_db()
    assert card.delivered_at == day and card.code_sealed == ""


def test_void_returns_what_is_left_of_an_issued_card(selling):
    result = issue(selling, amount=5000)
    redeem(selling, result.code, 2000)
    card = services.gift_card_void(card=result.card, reason="Giveaway cancelled")
    assert card.state == State.VOID
    assert balance(card.account) == 0
    # What was redeemed stays the studio's cost; the 30.00 left came back.
    assert LedgerAccount.objects.get(studio=selling, key="adjustment:EUR").balance == 2000
    assert services.gift_card_void(card=card).state == State.VOID
    with pytest.raises(Conflict) as caught:
        redeem(selling, result.code, 100)
    assert caught.value.code == "gift_card_void"
    assert_ledger_sound()


def test_a_bought_card_is_refunded_not_voided(selling):
    card = buy(selling)
    with pytest.raises(Conflict) as caught:
        services.gift_card_void(card=card)
    assert caught.value.code == "gift_card_purchased"


def test_resend_replaces_the_code_and_sends_the_new_one(
    selling, django_capture_on_commit_callbacks
):
    result = issue(selling, recipient_email="rita@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        services.gift_card_resend(card=result.card, recipient_email="rita.new@example.com")
    assert mail.outbox[-1].to == ["rita.new@example.com"]
    new_code = CODE.search(mail.outbox[-1].body).group(0)
    assert new_code != result.code
    with pytest.raises(NotFound) as caught:
        redeem(selling, result.code, 100)
    assert caught.value.code == "gift_card_not_found"
    redeem(selling, new_code, 100)


# --- redemption -----------------------------------------------------------------------------


def test_partial_redemptions_leave_the_rest_and_the_last_one_uses_the_card(selling):
    result = issue(selling, amount=5000)
    first = redeem(selling, result.code.lower().replace("-", " "), 2000)
    assert first.posted.transaction.kind == Kind.GIFT_CARD_REDEEMED
    assert first.card.state == State.ACTIVE
    assert balance(result.card.account) == 3000
    assert LedgerAccount.objects.get(studio=selling, key="revenue:EUR").balance == 2000

    with pytest.raises(Conflict) as caught:
        redeem(selling, result.code, 3001)
    assert caught.value.code == "insufficient_funds"
    last = redeem(selling, result.code, 3000, idempotency_key="last")
    assert last.card.state == State.USED
    again = redeem(selling, result.code, 3000, idempotency_key="last")
    assert again.posted.created is False
    with pytest.raises(Conflict) as caught:
        redeem(selling, result.code, 1)
    assert caught.value.code == "gift_card_used"
    assert_ledger_sound()


def test_a_wrong_code_is_a_404_and_another_studios_code_is_wrong_here(selling):
    result = issue(selling)
    with pytest.raises(NotFound) as caught:
        redeem(selling, "AAAA-BBBB-CCCC-DDDD", 100)
    assert caught.value.code == "gift_card_not_found"
    with pytest.raises(NotFound):
        redeem(StudioFactory(default_currency="EUR"), result.code, 100)


def test_pending_and_expired_cards_are_refused(selling):
    pending = services.gift_card_prepare(
        studio=selling,
        amount=5000,
        currency="EUR",
        buyer_name="A",
        buyer_email="a@example.com",
        recipient_name="",
        recipient_email="",
    )
    code = services.code_unseal(pending.code_sealed)
    with pytest.raises(Conflict) as caught:
        redeem(selling, code, 100)
    assert caught.value.code == "gift_card_pending_payment"

    result = issue(selling)
    later = result.card.expires_at + dt.timedelta(seconds=1)
    with pytest.raises(Conflict) as caught:
        redeem(selling, result.code, 100, now=later)
    assert caught.value.code == "gift_card_expired"


def test_wrong_codes_are_limited_per_address_then_per_studio(selling, settings):
    settings.PICPICK_GIFT_CARD_GUESSES_PER_ADDRESS = 3
    settings.PICPICK_GIFT_CARD_GUESSES_PER_STUDIO = 5
    result = issue(selling)
    for _ in range(3):
        with pytest.raises(NotFound):
            redeem(selling, "AAAA-BBBB-CCCC-DDDD", 100)
    with pytest.raises(RateLimited) as caught:
        redeem(selling, result.code, 100)  # even the right code: the address is out of tries
    assert caught.value.extra["retry_after"] > 0
    assert caught.value.code == "too_many_attempts"
    # Another address, until the studio's ceiling (5 wrong codes in all).
    for _ in range(2):
        with pytest.raises(NotFound):
            redeem(selling, "AAAA-BBBB-CCCC-DDDD", 100, address="203.0.113.9")
    with pytest.raises(RateLimited):
        redeem(selling, "AAAA-BBBB-CCCC-DDDD", 100, address="192.0.2.55")


def test_right_codes_do_not_count_against_the_limit(selling, settings):
    settings.PICPICK_GIFT_CARD_GUESSES_PER_ADDRESS = 2
    result = issue(selling, amount=5000)
    for _ in range(5):
        redeem(selling, result.code, 100)
    assert balance(result.card.account) == 4500


def test_bad_amounts_and_currencies_write_nothing(selling):
    result = issue(selling)
    before = LedgerTransaction.objects.count()
    for amount, code in [
        (0, "amount_not_positive"),
        (10.5, "amount_float"),
        (-5, "amount_not_positive"),
    ]:
        with pytest.raises(ApplicationError) as caught:
            redeem(selling, result.code, amount)
        assert caught.value.code == code
    with pytest.raises(ApplicationError) as caught:
        redeem(selling, result.code, 100, currency="USD")
    assert caught.value.code == "currency_mismatch"
    assert LedgerTransaction.objects.count() == before


# --- expiry ---------------------------------------------------------------------------------


def test_an_expired_card_goes_to_breakage_exactly_once(selling):
    result = issue(selling, amount=5000)
    redeem(selling, result.code, 1500)
    later = result.card.expires_at + dt.timedelta(minutes=1)
    assert services.gift_cards_expire() == 0
    assert services.gift_cards_expire(now=later) == 1
    assert services.gift_cards_expire(now=later) == 0
    card = GiftCard.objects.get(id=result.card.id)
    assert card.state == State.EXPIRED
    assert balance(card.account) == 0
    assert LedgerAccount.objects.get(studio=selling, key="breakage:EUR").balance == 3500
    assert LedgerTransaction.objects.filter(kind=Kind.GIFT_CARD_EXPIRED).count() == 1
    assert_ledger_sound()


def test_add_months_keeps_the_day_or_the_months_last():
    moment = dt.datetime(2026, 1, 31, 12, tzinfo=dt.UTC)
    assert services.add_months(moment, 1) == dt.datetime(2026, 2, 28, 12, tzinfo=dt.UTC)
    assert services.add_months(moment, 13) == dt.datetime(2027, 2, 28, 12, tzinfo=dt.UTC)
    assert services.add_months(moment, 12) == dt.datetime(2027, 1, 31, 12, tzinfo=dt.UTC)


def test_a_card_refunded_in_full_before_its_day_is_void_and_never_sent(selling):
    card = buy(selling, deliver_at=timezone.now() + dt.timedelta(days=5))
    clearing = account_for(studio=selling, kind="provider_clearing", currency="EUR")
    ledger_post(  # what the payment's refund to the card books
        studio=selling,
        kind=Kind.REFUND,
        idempotency_key=f"refund:{card.id}",
        legs=[debit(card.account, 10_000), credit(clearing, 10_000)],
    )
    assert services.gift_card_deliveries(now=timezone.now() + dt.timedelta(days=6)) == 0
    card.refresh_from_db()
    assert card.state == State.VOID and card.void_reason == "Refunded before delivery."
    assert card.code_sealed == "" and mail.outbox == []
    assert_ledger_sound()
