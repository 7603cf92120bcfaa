"""The emails of the instalment sweeps: reminders and autopay's outcomes to the client, and the
overdue notice to the studio's owners. Plain text, written here (as every PicPick email is).

Amounts and dates are written in the invoice's language (Babel; the studio's locale when the
invoice has none); the words are English. Every client email carries the signed link to the
invoice's page, where the client sees the schedule and pays.
"""

from __future__ import annotations

from dataclasses import dataclass

from babel import Locale, UnknownLocaleError
from babel.dates import format_date

from billing.models import Instalment, Invoice, SavedCard
from billing.services.invoices.common import amount_text
from billing.services.invoices.links import invoice_link_url

_DECLINES = {
    "authentication_required": "your bank asked to confirm the payment",
    "insufficient_funds": "the card has insufficient funds",
    "expired_card": "the card has expired",
    "card_declined": "the card was declined",
    "generic_decline": "the card was declined",
    "no_card": "no saved card",
    # Refusals on the studio's side, not the card's.
    "payments_not_enabled": "card payments were not available at the time",
    "currency_not_accepted": "card payments were not available at the time",
    "provider_unavailable": "the card processor did not answer",
}


def locale_of(invoice: Invoice) -> str:
    """The invoice's language if Babel knows it, else the studio's locale, else English."""
    for candidate in (invoice.language, getattr(invoice.studio, "locale", ""), "en"):
        if not candidate:
            continue
        try:
            Locale.parse(candidate.replace("-", "_"))
        except (UnknownLocaleError, ValueError, TypeError):
            continue
        return candidate.replace("-", "_")
    return "en"


@dataclass(frozen=True)
class Facts:
    """What every email about an instalment says."""

    number: str
    label: str
    amount: str
    due: str
    link: str
    studio: str
    name: str
    card: str
    locale: str = "en"

    def date(self, day) -> str:
        return format_date(day, "long", locale=self.locale)


def facts_of(
    invoice: Invoice, instalment: Instalment, *, amount: int | None = None, locale: str = ""
) -> Facts:
    locale = locale or locale_of(invoice)
    card = instalment.saved_card if instalment.saved_card_id else None
    return Facts(
        number=invoice.number or "",
        label=instalment.label,
        amount=amount_text(
            instalment.remaining if amount is None else amount, invoice.currency, locale
        ),
        due=format_date(instalment.due_date, "long", locale=locale),
        link=invoice_link_url(invoice=invoice),
        studio=(invoice.seller or {}).get("name") or invoice.studio.name,
        name=invoice.contact.first_name or "there",
        card=card_text(card),
        locale=locale,
    )


def card_text(card: SavedCard | None) -> str:
    if card is None:
        return "your saved card"
    brand = (card.brand or "card").replace("_", " ").title()
    return f"your {brand} card ending {card.last4}" if card.last4 else f"your {brand} card"


def decline_text(code: str) -> str:
    return _DECLINES.get(code or "", "the card was declined")


def client_email_of(invoice: Invoice) -> str:
    return (invoice.contact.email or (invoice.bill_to or {}).get("email") or "").strip()


# --- reminders -------------------------------------------------------------------------------
def reminder_email(facts: Facts, *, key: str, autopay: bool, days: int) -> tuple[str, str]:
    """(subject, body) of the reminder ``key`` ("before:N", "due", "overdue:N")."""
    what = f"{facts.label} of invoice {facts.number}"
    if key.startswith("before:") and autopay:
        subject = f"{facts.amount} will be charged on {facts.due} (invoice {facts.number})"
        text = (
            f"A heads-up: {facts.amount} for {what} will be charged to {facts.card} on "
            f"{facts.due}. There is nothing you need to do.\n\n"
            f"To see the invoice, or to pay another way before then:\n{facts.link}\n"
        )
    elif key.startswith("before:"):
        subject = f"{facts.amount} due on {facts.due} (invoice {facts.number})"
        text = (
            f"A reminder that {facts.amount} for {what} is due on {facts.due}, "
            f"in {days} day{'s' if days != 1 else ''}.\n\n"
            f"See the invoice and pay online:\n{facts.link}\n"
        )
    elif key == "due":
        subject = f"{facts.amount} due today (invoice {facts.number})"
        text = (
            f"{facts.amount} for {what} is due today.\n\n"
            f"See the invoice and pay online:\n{facts.link}\n"
        )
    else:
        subject = f"Overdue: {facts.amount} (invoice {facts.number})"
        text = (
            f"{facts.amount} for {what} was due on {facts.due} and is not paid yet "
            f"({days} day{'s' if days != 1 else ''} ago).\n\n"
            f"Please pay it online:\n{facts.link}\n\n"
            "If you have paid in the meantime, thank you, and please ignore this email.\n"
        )
    return subject[:200], _letter(facts, text)


# --- autopay ---------------------------------------------------------------------------------
def autopay_failed_email(facts: Facts, *, code: str, retry_on: str) -> tuple[str, str]:
    subject = f"Your payment of {facts.amount} did not go through (invoice {facts.number})"
    text = (
        f"We tried to charge {facts.amount} for {facts.label} of invoice {facts.number} to "
        f"{facts.card}, but {decline_text(code)}.\n\n"
        f"We will try again on {retry_on}. To pay now, with this or another card:\n"
        f"{facts.link}\n"
    )
    return subject[:200], _letter(facts, text)


def autopay_action_email(facts: Facts, *, retry_on: str | None) -> tuple[str, str]:
    subject = f"Please confirm your payment of {facts.amount} (invoice {facts.number})"
    again = f"Otherwise we will try your card again on {retry_on}.\n" if retry_on else ""
    text = (
        f"Your bank asks you to confirm the payment of {facts.amount} for {facts.label} of "
        f"invoice {facts.number} with {facts.card} before it can be charged.\n\n"
        f"Pay it on the invoice's page, where your bank can check it is you:\n{facts.link}\n\n"
        f"{again}"
    )
    return subject[:200], _letter(facts, text)


def overdue_client_email(facts: Facts, *, code: str) -> tuple[str, str]:
    subject = f"Overdue: {facts.amount} (invoice {facts.number})"
    text = (
        f"We could not charge {facts.amount} for {facts.label} of invoice {facts.number} to "
        f"{facts.card} ({decline_text(code)}), and it was due on {facts.due}.\n\n"
        f"Please pay it online:\n{facts.link}\n"
    )
    return subject[:200], _letter(facts, text)


def overdue_studio_email(facts: Facts, *, client: str, attempts: int, code: str) -> tuple[str, str]:
    subject = f"Invoice {facts.number}: autopay failed, {facts.amount} overdue"
    body = (
        f"Autopay could not collect {facts.label} of invoice {facts.number} from {client}: "
        f"{facts.amount}, due on {facts.due}. {attempts} attempt{'s' if attempts != 1 else ''} "
        f"on {facts.card} failed (the last: {decline_text(code)}).\n\n"
        "The instalment is now overdue and no more charges are tried. The client was told "
        f"and can pay on the invoice's page:\n{facts.link}\n"
    )
    return subject[:200], body


def _letter(facts: Facts, text: str) -> str:
    return f"Hi {facts.name},\n\n{text}\n{facts.studio}\n"
