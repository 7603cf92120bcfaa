"""The demo studio's money: what the shop sells, a client's wallet with credit and a spend, and
a gift card, all posted through the billing services (so the ledger is balanced and
``manage.py ledger_check`` passes on the demo)."""

from __future__ import annotations

from accounts.models import Studio, User
from billing.models import Wallet
from billing.services.gift_cards import gift_card_issue
from billing.services.wallets import (
    billing_settings_update,
    wallet_for,
    wallet_grant,
    wallet_link_token,
    wallet_spend,
)
from crm.models import Contact
from domains.selectors import studio_site_url

WALLET_CLIENT = "emma.smith@example.com"


def ensure_billing(*, studio: Studio, owner: User) -> str:
    """Make the demo money once (every posting keyed, so a re-run adds nothing); a summary."""
    contact = Contact.objects.filter(studio=studio, email=WALLET_CLIENT).first()
    if contact is None:
        return "Billing demo skipped: the CRM demo's client is missing."
    currency = studio.default_currency
    if Wallet.objects.filter(studio=studio, contact=contact).exists():
        wallet = wallet_for(studio=studio, contact=contact, currency=currency)
        link = f"{studio_site_url(studio=studio)}/wallet/{wallet_link_token(wallet=wallet)}/"
        return f"Billing demo present. Emma's wallet: {link}"
    billing_settings_update(
        studio=studio,
        changes={
            "currency": currency,
            "gift_card_amounts": [5000, 10000, 25000],
            "wallet_credit_expiry_days": 365,
        },
        by=owner,
    )
    wallet = wallet_for(studio=studio, contact=contact, currency=currency)
    wallet_grant(
        wallet=wallet,
        amount=5000,
        reason="referral",
        note="Referred the Lee family",
        idempotency_key="demo:wallet-grant",
        by=owner,
    )
    wallet_spend(
        wallet=wallet,
        amount=1500,
        reference="Album upgrade",
        idempotency_key="demo:wallet-spend",
        by=owner,
    )
    gift_card_issue(
        studio=studio,
        amount=10000,
        currency=currency,
        idempotency_key="demo:gift-card",
        recipient_name="Liam Jones",
        recipient_email="liam.jones@example.com",
        message="Thanks for the referral!",
        by=owner,
    )
    link = f"{studio_site_url(studio=studio)}/wallet/{wallet_link_token(wallet=wallet)}/"
    return (
        f"Billing demo: gift cards of 50, 100 and 250 {currency} on sale, a gift card sent to "
        f"Liam, and Emma's wallet with 35.00 {currency} of credit: {link}"
    )
