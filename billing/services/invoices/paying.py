"""Paying an invoice: wallet credit and a gift card first (when the client chooses), then the
card for the rest (with an optional tip), through the money core.

``invoice_pay`` checks what is asked against what is still owed (409
``amount_exceeds_balance``; ``invoice_void``, ``invoice_paid``, ``invoice_uncollectible``), then:

1. wallet credit, up to the amount (``wallet_spend`` crediting the invoice's receivable);
2. a gift card, up to what is left (``gift_card_redeem``, likewise);
3. the card for the rest plus the tip (``payment_start``, purpose ``invoice``); the success
   is booked by the payment services, which call back here (``purpose_invoice``).

Each step is keyed by the request's Idempotency-Key, so the same request again (a double
click, a retried timeout) spends the wallet and the card once and resumes the same payment.
Two different requests paying the same balance at once can both succeed at the provider: the
second's money then leaves the receivable in credit and becomes the client's wallet credit
(``overpaid_to_wallet``), so nothing is lost and the studio can refund it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db import transaction

from accounts.models import User
from billing.models import Dispute, Invoice, LedgerAccount, LedgerTransaction, Payment, Refund
from billing.services.gift_cards import gift_card_by_code, gift_card_redeem
from billing.services.invoices.close import overpaid_to_wallet
from billing.services.invoices.common import (
    amount_text,
    invoice_locked,
    logger,
    tips_account,
    today_of,
)
from billing.services.invoices.status import invoice_status_sync, receivable_balance
from billing.services.ledger import account_for, credit, debit, ledger_post
from billing.services.payments import payment_start
from billing.services.payments.purposes import Purpose, purpose_register
from billing.services.wallets import _wallet_find, wallet_spend
from crm.selectors.inquiries import studio_owner_emails
from crm.services.timeline import timeline_record
from picpick.core.email import email_send_on_commit
from picpick.core.errors import ApplicationError, Conflict, NotFound


@dataclass(frozen=True)
class InvoicePayResult:
    invoice: Invoice
    payment: Payment | None
    client_secret: str
    wallet_applied: int
    gift_card_applied: int


def payable_check(invoice: Invoice) -> None:
    """409 unless the invoice can take money now."""
    if invoice.kind != Invoice.Kind.INVOICE or invoice.number is None:
        raise NotFound("No such invoice.", code="invoice_not_found")
    codes = {
        Invoice.Status.VOID: ("This invoice is void.", "invoice_void"),
        Invoice.Status.PAID: ("This invoice is paid.", "invoice_paid"),
        Invoice.Status.UNCOLLECTIBLE: ("This invoice was written off.", "invoice_uncollectible"),
    }
    if invoice.status in codes:
        message, code = codes[invoice.status]
        raise Conflict(message, code=code)


def _amount_check(value: object, *, field: str, allow_zero: bool = False) -> int:
    if isinstance(value, float):
        raise ApplicationError(
            "An amount is an integer of minor units, never a float.",
            code="amount_float",
            fields={field: ["A float is not an amount."]},
        )
    if type(value) is not int or value < 0 or (value == 0 and not allow_zero):
        raise ApplicationError(
            "An amount is a positive integer of minor units.",
            code="amount_invalid",
            fields={field: ["Invalid."]},
        )
    return value


def _replayed(studio_id: uuid.UUID, key: str) -> int | None:
    """The amount an earlier request with this key already posted, if it did."""
    txn = LedgerTransaction.objects.filter(studio_id=studio_id, idempotency_key=key).first()
    return txn.amount if txn is not None else None


def invoice_pay(
    *,
    invoice: Invoice,
    amount: int,
    idempotency_key: str,
    payer_email: str,
    address: str,
    payer_name: str = "",
    tip: int = 0,
    use_wallet: bool = False,
    gift_card_code: str = "",
    save_card: bool = False,
    by: User | None = None,
) -> InvoicePayResult:
    """Pay ``amount`` of the invoice (see the module); the card payment to confirm, if any."""
    invoice = Invoice.objects.select_related("studio", "contact", "receivable").get(pk=invoice.pk)
    studio = invoice.studio
    amount = _amount_check(amount, field="amount")
    tip = _amount_check(tip, field="tip", allow_zero=True)
    if tip and not invoice.allow_tips:
        raise ApplicationError(
            "This invoice takes no tip.", code="tips_not_allowed", fields={"tip": ["No tips."]}
        )
    base = f"invoice:{invoice.id}:{idempotency_key}"
    already = (_replayed(studio.id, f"wallet-spend:{base}:wallet") or 0) + (
        _replayed(studio.id, f"gift-card-redeem:{base}:gift") or 0
    )
    first_time = (
        not already and not Payment.objects.filter(studio=studio, idempotency_key=base).exists()
    )
    if first_time:
        payable_check(invoice)
        balance = receivable_balance(invoice)
        if amount > balance:
            raise Conflict(
                "This is more than what is owed on the invoice.",
                code="amount_exceeds_balance",
                extra={"balance": balance},
            )
    receivable = invoice.receivable
    memo = f"Invoice {invoice.number}"
    left = amount
    wallet_used = 0
    if use_wallet:
        wallet_used = _replayed(studio.id, f"wallet-spend:{base}:wallet") or 0
        if not wallet_used:
            wallet = _wallet_find(studio=studio, contact=invoice.contact, currency=invoice.currency)
            if wallet is not None:
                wallet.refresh_from_db()
                wallet.account.refresh_from_db()
                available = max(0, wallet.account.balance - wallet.held)
                use = min(available, left)
                if use > 0:
                    wallet_spend(
                        wallet=wallet,
                        amount=use,
                        reference=memo,
                        idempotency_key=f"{base}:wallet",
                        by=by,
                        to=receivable,
                    )
                    wallet_used = use
        left -= wallet_used
    gift_used = 0
    if gift_card_code and left > 0:
        gift_used = _replayed(studio.id, f"gift-card-redeem:{base}:gift") or 0
        if not gift_used:
            card = gift_card_by_code(studio=studio, code=gift_card_code, address=address)
            if card.currency != invoice.currency:
                raise ApplicationError(
                    "This gift card is in another currency.", code="currency_mismatch"
                )
            card.account.refresh_from_db()
            use = min(card.account.balance, left)
            if use > 0:
                gift_card_redeem(
                    studio=studio,
                    code=gift_card_code,
                    amount=use,
                    reference=memo,
                    idempotency_key=f"{base}:gift",
                    address=address,
                    by=by,
                    to=receivable,
                )
                gift_used = use
        left -= gift_used
    if wallet_used or gift_used:
        with transaction.atomic():
            row = invoice_locked(invoice)
            invoice = invoice_status_sync(invoice_id=row.id, locked=row)
            overpaid_to_wallet(invoice=invoice, cause=f"{base}:credit", by=by)
            _timeline_payment(invoice, wallet_used + gift_used)
    payment, secret = None, ""
    if left > 0:
        payment, secret = payment_start(
            studio=studio,
            purpose=Payment.Purpose.INVOICE,
            amount=left + tip,
            currency=invoice.currency,
            payer_email=payer_email,
            payer_name=payer_name,
            idempotency_key=base,
            contact=invoice.contact,
            reference_id=invoice.id,
            save_card=save_card,
            tip=tip,
            description=memo,
            by=by,
        )
    invoice.refresh_from_db()
    return InvoicePayResult(
        invoice=invoice,
        payment=payment,
        client_secret=secret,
        wallet_applied=wallet_used,
        gift_card_applied=gift_used,
    )


OFFLINE_METHODS = {
    "bank_transfer": "Bank transfer",
    "cash": "Cash",
    "cheque": "Cheque",
    "other": "Other",
}


def invoice_payment_record(
    *,
    invoice: Invoice,
    amount: int,
    method: str,
    idempotency_key: str,
    reference: str = "",
    received_on: dt.date | None = None,
    by: User | None = None,
) -> LedgerTransaction:
    """Money the client paid the studio directly (a bank transfer, cash, a cheque), recorded by
    the studio: ``invoice_paid`` (key ``invoice-offline:<invoice>:<key>``), debit the studio's
    ``bank`` account, credit the invoice's receivable; the same key again records nothing more.
    409 ``amount_exceeds_balance`` above what is owed."""
    amount = _amount_check(amount, field="amount")
    if method not in OFFLINE_METHODS:
        raise ApplicationError(
            f"The method is one of {', '.join(OFFLINE_METHODS)}.",
            code="invalid_method",
            fields={"method": ["Unknown method."]},
        )
    reference = (reference or "").strip()
    if len(reference) > 100:
        raise ApplicationError(
            "The reference is longer than 100 characters.",
            code="invalid",
            fields={"reference": ["At most 100 characters."]},
        )
    key = f"invoice-offline:{invoice.id}:{idempotency_key}"
    bank = account_for(studio=invoice.studio, kind="bank", currency=invoice.currency)
    day = received_on or today_of(invoice.studio)
    memo = f"{OFFLINE_METHODS[method]} for invoice {invoice.number} on {day.isoformat()}"
    with transaction.atomic():
        row = invoice_locked(invoice)
        done = LedgerTransaction.objects.filter(studio_id=row.studio_id, idempotency_key=key)
        if done.exists():
            return done.get()
        payable_check(row)
        balance = receivable_balance(row)
        if amount > balance:
            raise Conflict(
                "This is more than what is owed on the invoice.",
                code="amount_exceeds_balance",
                extra={"balance": balance},
            )
        posted = ledger_post(
            studio=row.studio,
            kind=LedgerTransaction.Kind.INVOICE_PAID,
            idempotency_key=key,
            legs=[debit(bank, amount), credit(row.receivable, amount)],
            memo=f"{memo}{' (' + reference + ')' if reference else ''}"[:300],
            source=("invoice", row.id),
            by=by,
        )
        row = invoice_status_sync(invoice_id=row.id, locked=row)
        _timeline_payment(row, amount)
    logger.info("invoice %s: %s of %s recorded (%s)", row.id, method, amount, posted.transaction.id)
    return posted.transaction


def _timeline_payment(invoice: Invoice, amount: int) -> None:
    timeline_record(
        studio=invoice.studio,
        kind="invoice_payment",
        payload={
            "invoice_id": str(invoice.id),
            "number": invoice.number,
            "amount": amount_text(amount, invoice.currency, invoice.studio.locale),
        },
        job=invoice.job,
        contact=invoice.contact,
    )


# --- the payment services' seam (``billing.services.payments.purposes``) ---------------------


def _invoice_of(payment: Payment) -> Invoice:
    return Invoice.objects.select_related("studio", "receivable").get(
        pk=payment.reference_id, studio_id=payment.studio_id
    )


def _target(payment: Payment) -> LedgerAccount:
    invoice = _invoice_of(payment)
    if invoice.receivable is None:
        raise Conflict("The invoice was never issued.", code="invoice_not_issued")
    return invoice.receivable


def _tips(payment: Payment) -> LedgerAccount:
    return tips_account(studio=payment.studio, currency=payment.currency)


def _lock(payment: Payment) -> None:
    invoice_locked(payment.reference_id)


def _succeeded(payment: Payment, posted: LedgerTransaction) -> None:
    row = invoice_locked(payment.reference_id)  # held already (``_lock``): a re-read
    invoice = invoice_status_sync(invoice_id=row.id, locked=row)
    _timeline_payment(invoice, payment.amount - payment.tip)
    overpaid_to_wallet(invoice=invoice, cause=f"payment:{payment.id}")
    logger.info("invoice %s: payment %s booked", invoice.id, payment.id)
    for hook in INVOICE_PAYMENT_HOOKS:
        hook(invoice, payment)


def _refunded(payment: Payment, refund: Refund) -> None:
    row = invoice_locked(payment.reference_id)
    invoice = invoice_status_sync(invoice_id=row.id, locked=row)
    if refund.state != Refund.State.FAILED:
        timeline_record(
            studio=invoice.studio,
            kind="invoice_refunded",
            payload={
                "invoice_id": str(invoice.id),
                "number": invoice.number,
                "amount": amount_text(refund.amount, invoice.currency, invoice.studio.locale),
            },
            job=invoice.job,
            contact=invoice.contact,
        )


def _disputed(payment: Payment, dispute: Dispute) -> None:
    """A chargeback of an invoice payment: on the job's and contact's timeline, and the studio
    is told by email (the dispute itself is booked by the payment services)."""
    invoice = _invoice_of(payment)
    amount = amount_text(dispute.amount, dispute.currency, invoice.studio.locale)
    with transaction.atomic():
        timeline_record(
            studio=invoice.studio,
            kind="payment_disputed",
            payload={"invoice_id": str(invoice.id), "number": invoice.number, "amount": amount},
            job=invoice.job,
            contact=invoice.contact,
        )
        to = studio_owner_emails(studio=invoice.studio)
        if to:
            email_send_on_commit(
                subject=f"A payment of invoice {invoice.number} is disputed",
                body=(
                    f"The client's bank opened a dispute ({dispute.reason or 'no reason given'})"
                    f" on a payment of {amount} for invoice {invoice.number}. The amount is held"
                    " by the card processor until the dispute is decided; answer it in your"
                    " payment account's dashboard before its deadline.\n"
                ),
                to=to,
            )
    logger.warning("invoice %s: payment %s disputed", invoice.id, payment.id)


def _closed(payment: Payment) -> None:
    for hook in INVOICE_PAYMENT_CLOSED_HOOKS:
        hook(payment)


# Called with (invoice, payment) after an invoice payment is booked (autopay bookkeeping), and
# with (payment) after one failed or was canceled (autopay's dunning).
INVOICE_PAYMENT_HOOKS: list = []
INVOICE_PAYMENT_CLOSED_HOOKS: list = []


def purpose_invoice_register() -> None:
    purpose_register(
        Payment.Purpose.INVOICE,
        Purpose(
            target=_target,
            tips=_tips,
            succeeded=_succeeded,
            refunded=_refunded,
            closed=_closed,
            disputed=_disputed,
            lock=_lock,
        ),
    )
