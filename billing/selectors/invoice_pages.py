"""Reads of the client's invoice pages (the invoice itself comes from its link:
``billing.services.invoices.links.invoice_for_link``, scoped to the studio of the site)."""

from __future__ import annotations

from billing.models import Instalment, Invoice, Payment
from billing.selectors.wallets import contact_wallets


def invoice_instalments(*, invoice: Invoice) -> list[Instalment]:
    """The invoice's schedule in due order, as its status was last derived."""
    return list(Instalment.objects.filter(invoice=invoice).order_by("position"))


def invoice_card_payments(*, invoice: Invoice) -> list[Payment]:
    """The card payments booked on the invoice, oldest first (each has a receipt)."""
    return list(
        Payment.objects.filter(
            studio_id=invoice.studio_id,
            purpose=Payment.Purpose.INVOICE,
            reference_id=invoice.id,
            state=Payment.State.SUCCEEDED,
        ).order_by("succeeded_at", "created_at")
    )


def invoice_payment_get(*, invoice: Invoice, payment_id) -> Payment | None:
    """A card payment of this invoice (any state), or None."""
    return (
        Payment.objects.select_related("studio")
        .filter(
            pk=payment_id,
            studio_id=invoice.studio_id,
            purpose=Payment.Purpose.INVOICE,
            reference_id=invoice.id,
        )
        .first()
    )


def wallet_credit_available(*, invoice: Invoice) -> int:
    """The contact's wallet credit in the invoice's currency that a payment may use now (held
    credit is promised to a checkout already)."""
    for wallet in contact_wallets(studio_id=invoice.studio_id, contact_id=invoice.contact_id):
        if wallet.currency == invoice.currency:
            return max(0, wallet.account.balance - wallet.held)
    return 0
