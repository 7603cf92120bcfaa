"""Stripe's test payment methods (https://docs.stripe.com/testing) and what each one does here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TestCard:
    __test__ = False  # not a pytest class

    brand: str
    last4: str
    # "succeed", "decline" (the charge is refused), "authenticate" (3-D Secure first)
    outcome: str = "succeed"
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None
    exp_month: int = 12
    exp_year: int = 2034
    funding: str = "credit"
    country: str = "US"


DECLINED = "Your card was declined."

TEST_CARDS: dict[str, TestCard] = {
    "pm_card_visa": TestCard("visa", "4242"),
    "pm_card_visa_debit": TestCard("visa", "5556", funding="debit"),
    "pm_card_mastercard": TestCard("mastercard", "4444"),
    "pm_card_amex": TestCard("amex", "8431"),
    "pm_card_chargeDeclined": TestCard(
        "visa", "0002", "decline", "card_declined", "generic_decline", DECLINED
    ),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        "visa",
        "9995",
        "decline",
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "pm_card_chargeDeclinedExpiredCard": TestCard(
        "visa", "0069", "decline", "expired_card", "expired_card", "Your card has expired."
    ),
    "pm_card_authenticationRequired": TestCard("visa", "3184", "authenticate"),
    "pm_card_threeDSecure2Required": TestCard("visa", "3220", "authenticate"),
}

# A card that needs authentication, charged with the customer away (off_session).
AUTHENTICATION_REQUIRED = TestCard(
    "visa",
    "3184",
    "decline",
    "authentication_required",
    "authentication_required",
    "Your card was declined. This transaction requires authentication.",
)
