"""The client's invoice pages on the studio's site, reached by the invoice's signed link
(``billing.services.invoices.links``); no account needed.

- ``/invoices/<token>/``: the invoice as issued (the PDF's words, amounts and dates, in the
  invoice's language), its schedule (paid, next, overdue), the balance, the PDF, and the pay
  form: the next instalment, the instalments up to one, the whole balance or another amount;
  wallet credit and a gift card first if the client chooses; a tip when the invoice takes
  them; the card saved for the next instalments (autopay).
- ``/invoices/<token>/pay/`` (POST from that form): the card step. The choice is checked
  against what is owed now (else the invoice page again with the error, its status and code);
  the card form is Stripe.js driven by ``static/billing/pay.js``, which pays through the
  public API (``billing.apis.invoices_public``, ``invoice_pay``). This step alone loads
  Stripe.js, and only its Content-Security-Policy names Stripe's origins.
- ``/invoices/<token>/payments/<payment id>/?t=<status token>``: where the card step lands:
  the payment's state as the server knows it (polled until final), then the invoice's.
- ``/invoices/<token>/pdf/``: the stored PDF (the document of record), as an attachment;
  ``/invoices/<token>/receipts/<payment id>/``: a card payment's receipt.

Amounts and dates are written in the invoice's language (else the studio's locale); the
page's own words are English, so the invoice's part carries its own ``lang``. Drafts and credit
notes have no page; a forged link or another studio's is the not-found page. Every request
counts against a per-address limit (429 past it).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods, require_safe

from billing.documents import invoice_pdf_ensure, pdf_open, receipt_pdf
from billing.documents.invoice import invoice_context
from billing.documents.writer import Writer, document_language
from billing.models import GiftCard, Instalment, Invoice, Payment
from billing.money import MoneyError, currency_exponent, money_parse
from billing.pages import page_locale, page_money, render_site_page, studio_site_page
from billing.pay_pages import pay_csp
from billing.payments import payments_configured
from billing.selectors.invoice_pages import (
    invoice_card_payments,
    invoice_instalments,
    invoice_payment_get,
    wallet_credit_available,
)
from billing.selectors.payments import connected_account_get
from billing.services.gift_cards import gift_card_by_code
from billing.services.invoices import paid_of, payable_check, receivable_balance
from billing.services.invoices.common import today_of
from billing.services.invoices.links import invoice_for_link, link_page_allowed
from billing.services.payments import status_token, status_token_valid
from picpick.core.clientaddr import client_address
from picpick.core.csp import content_security_policy
from picpick.core.errors import ApplicationError, Conflict, NotFound, RateLimited

NOT_FOUND = "billing/invoice/not_found.html"
TIP_PERCENTS = (5, 10, 15)
_OPEN = (Instalment.State.PENDING, Instalment.State.PARTIALLY_PAID, Instalment.State.OVERDUE)
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")

STATUS_LABELS = {
    Invoice.Status.OPEN: "Open",
    Invoice.Status.PARTIALLY_PAID: "Partially paid",
    Invoice.Status.PAID: "Paid",
    Invoice.Status.VOID: "Void",
    Invoice.Status.UNCOLLECTIBLE: "Written off",
}

link_page = studio_site_page(
    not_found_template=NOT_FOUND, csp=content_security_policy, noindex=True
)
# The card step: the site's policy plus Stripe.js's origins (script, API, frames).
card_step_page = studio_site_page(not_found_template=NOT_FOUND, csp=pay_csp, noindex=True)


def counted(view):
    """Counts the request against the link pages' per-address limit (a 429 page past it)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            link_page_allowed(address=client_address(request))
        except RateLimited as exc:
            wait = exc.extra["retry_after"]
            context = {"studio": request.studio, "minutes": max(1, wait // 60), "lang": "en"}
            response = render_site_page(request, "billing/invoice/limited.html", context, 429)
            response["Retry-After"] = str(wait)
            return response
        return view(request, *args, **kwargs)

    return wrapped


@dataclass(frozen=True)
class _Locale:
    """What ``page_locale`` reads of a studio (``locale``): here the invoice's language, so
    ``page_money`` writes the page's amounts as its PDF does."""

    locale: str


def _invoice(request, token: str) -> Invoice:
    try:
        return invoice_for_link(studio=request.studio, token=token)
    except NotFound as exc:
        raise NotFound("This link is not valid.") from exc


def _takes_cards(studio) -> bool:
    account = connected_account_get(studio=studio)
    return (
        account is not None
        and account.charges_enabled
        and payments_configured()
        and bool(settings.STRIPE_PUBLISHABLE_KEY)
    )


def _step(currency: str) -> str:
    exponent = currency_exponent(currency)
    return "1" if exponent == 0 else f"0.{'0' * (exponent - 1)}1"


# --- What the page shows -------------------------------------------------------------------
def _schedule(instalments: list[Instalment], writer: Writer, currency: str, today) -> list[dict]:
    """Each instalment with what it is now: paid, partly paid, next, overdue, to come."""
    rows, next_seen = [], False
    for part in instalments:
        is_open = part.state in _OPEN and part.remaining > 0
        overdue = is_open and (part.state == Instalment.State.OVERDUE or part.due_date < today)
        is_next = is_open and not next_seen
        next_seen = next_seen or is_open
        if part.state == Instalment.State.CANCELED:
            state, text = "canceled", "Canceled"
        elif not is_open:
            state, text = "paid", "Paid"
        elif overdue:
            state, text = "overdue", "Overdue"
        elif is_next:
            state, text = "next", "Next"
        else:
            state, text = "pending", "To come"
        if is_open and part.paid:
            text = f"{text} ({page_money(part.paid, currency)} paid)"
        rows.append(
            {
                "label": part.label,
                "due": writer.date(part.due_date),
                "amount": page_money(part.amount, currency),
                "state": state,
                "state_text": text,
                "autopay": part.autopay and is_open,
            }
        )
    return rows


def pay_options(invoice: Invoice, instalments: list[Instalment], writer: Writer, balance: int):
    """What the client may choose to pay: the next instalment, the instalments up to each
    later one, the whole balance (each capped at the balance; the same amount once)."""
    options, running = [], 0
    parts = [p for p in instalments if p.state in _OPEN and p.remaining > 0]
    for index, part in enumerate(parts):
        running += part.remaining
        if running >= balance:
            break
        due = writer.date(part.due_date)
        if index == 0:
            label = f"The next instalment ({part.label}, due {due})"
            value = "next"
        else:
            label = f"The instalments up to {part.label} (due {due})"
            value = f"upto:{part.position}"
        options.append({"value": value, "amount": running, "label": label})
    if balance > 0:
        options.append({"value": "all", "amount": balance, "label": "The whole balance"})
    for option in options:
        option["amount_text"] = page_money(option["amount"], invoice.currency)
    return options


def _invoice_context(request, invoice: Invoice, token: str) -> dict:
    writer = Writer(document_language(invoice))
    balance = receivable_balance(invoice)
    paid = paid_of(invoice, balance)
    instalments = invoice_instalments(invoice=invoice)
    document = invoice_context(invoice, paid=paid)
    status = invoice.status
    payable = status in (Invoice.Status.OPEN, Invoice.Status.PARTIALLY_PAID) and balance > 0
    takes_cards = _takes_cards(invoice.studio)
    bill_to = invoice.bill_to or {}
    context = {
        "studio": request.studio,
        "lang": "en",
        "token": token,
        "base": f"/invoices/{token}/",
        "invoice": invoice,
        "doc": document,
        "doc_lang": document["lang"],
        "status": status,
        "status_text": STATUS_LABELS.get(status, status),
        "paid": page_money(paid, invoice.currency),
        "balance": balance,
        "balance_text": page_money(max(balance, 0), invoice.currency),
        "schedule": _schedule(instalments, writer, invoice.currency, today_of(invoice.studio)),
        "payable": payable,
        "takes_cards": takes_cards,
        "receipts": [],
        "void_reason": invoice.void_reason,
    }
    if status == Invoice.Status.PAID:
        context["receipts"] = [
            {
                "url": f"/invoices/{token}/receipts/{payment.id}/",
                "amount": page_money(payment.amount, payment.currency),
                "when": writer.date(payment.succeeded_at.date() if payment.succeeded_at else None),
            }
            for payment in invoice_card_payments(invoice=invoice)
        ]
    if payable and takes_cards:
        options = pay_options(invoice, instalments, writer, balance)
        wallet = wallet_credit_available(invoice=invoice)
        context.update(
            {
                "options": options,
                "wallet": page_money(wallet, invoice.currency) if wallet else "",
                "tips": [{"value": str(p), "label": f"{p}%"} for p in TIP_PERCENTS],
                "step": _step(invoice.currency),
                "form": {
                    "amount_choice": options[0]["value"] if options else "all",
                    "email": str(bill_to.get("email") or invoice.contact.email or ""),
                    "tip_choice": "0",
                },
                "errors": {},
            }
        )
    return context


# --- The pay form --------------------------------------------------------------------------
@dataclass(frozen=True)
class PayChoice:
    """The pay form read and checked: minor units of the invoice's currency."""

    amount: int
    tip: int
    use_wallet: bool
    gift_card_code: str
    save_card: bool
    email: str
    name: str


def _money_in(text: str, currency: str, *, field: str, allow_zero: bool = False) -> int:
    try:
        amount = money_parse(text.strip(), currency).amount
    except MoneyError as exc:
        raise ApplicationError(
            "Write the amount as a number such as 25.00.",
            code=exc.code,
            fields={field: [exc.message]},
        ) from None
    if amount < 0 or (amount == 0 and not allow_zero):
        raise ApplicationError(
            "The amount must be more than zero.",
            code="amount_invalid",
            fields={field: ["More than zero."]},
        )
    return amount


def pay_choice(post, *, invoice: Invoice, options: list[dict], balance: int) -> PayChoice:
    """The form's choice as amounts; 400 for a bad amount or tip, 409
    ``amount_exceeds_balance`` for more than is owed (nothing is written either way)."""
    choice = post.get("amount_choice", "")
    if choice == "other":
        amount = _money_in(
            post.get("amount_other", "")[:40], invoice.currency, field="amount_other"
        )
    else:
        found = next((o for o in options if o["value"] == choice), None)
        if found is None:
            raise ApplicationError(
                "Choose how much to pay.",
                code="amount_choice_invalid",
                fields={"amount_choice": ["Choose one."]},
            )
        amount = found["amount"]
    if amount > balance:
        raise Conflict(
            "This is more than what is owed on the invoice.",
            code="amount_exceeds_balance",
            fields={"amount_other": [f"At most {page_money(balance, invoice.currency)}."]},
        )
    tip = 0
    if invoice.allow_tips:
        tip_choice = post.get("tip_choice", "0")
        if tip_choice == "custom":
            tip = _money_in(
                post.get("tip_custom", "")[:40],
                invoice.currency,
                field="tip_custom",
                allow_zero=True,
            )
        elif tip_choice.isdigit() and int(tip_choice) in TIP_PERCENTS:
            # A percent of what is paid, half up to the minor unit.
            tip = (amount * int(tip_choice) + 50) // 100
    email = post.get("email", "").strip()[:254]
    if "@" not in email:
        raise ApplicationError(
            "Enter your email address for the receipt.",
            code="invalid_email",
            fields={"email": ["Enter a valid email address."]},
        )
    bill_to = invoice.bill_to or {}
    return PayChoice(
        amount=amount,
        tip=tip,
        use_wallet=post.get("use_wallet") == "1",
        gift_card_code=post.get("gift_card_code", "").strip()[:64],
        save_card=post.get("save_card") == "1",
        email=email,
        name=str(bill_to.get("name") or "")[:200],
    )


def _form_of(post) -> dict:
    """What the client typed, to show it again beside an error."""
    keys = ("amount_choice", "amount_other", "gift_card_code", "tip_choice", "tip_custom", "email")
    form = {key: post.get(key, "")[:254] for key in keys}
    form["use_wallet"] = post.get("use_wallet") == "1"
    form["save_card"] = post.get("save_card") == "1"
    return form


def _error_page(request, invoice: Invoice, token: str, exc: ApplicationError, post):
    context = _invoice_context(request, invoice, token)
    context["error"] = {"code": exc.code, "message": exc.message}
    context["errors"] = {field: messages[0] for field, messages in (exc.fields or {}).items()}
    if "form" in context:
        context["form"] = _form_of(post)
    response = render_site_page(request, "billing/invoice/invoice.html", context, exc.status_code)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.extra["retry_after"])
    return response


# --- Views ---------------------------------------------------------------------------------
@require_safe
@ensure_csrf_cookie
@link_page
@counted
def invoice_page(request, token: str):
    invoice = _invoice(request, token)
    writer = Writer(document_language(invoice))
    with page_locale(_Locale(writer.code)):
        context = _invoice_context(request, invoice, token)
    return render_site_page(request, "billing/invoice/invoice.html", context)


@require_http_methods(["POST"])
@card_step_page
@counted
def invoice_pay_step(request, token: str):
    invoice = _invoice(request, token)
    writer = Writer(document_language(invoice))
    with page_locale(_Locale(writer.code)):
        return _pay_step(request, invoice, token, writer)


def _pay_step(request, invoice: Invoice, token: str, writer: Writer):
    account = connected_account_get(studio=invoice.studio)
    if not _takes_cards(invoice.studio) or account is None:
        raise NotFound("This studio does not take payments online.")
    currency = invoice.currency
    try:
        payable_check(invoice)
        balance = receivable_balance(invoice)
        if balance <= 0:
            raise Conflict("This invoice is paid.", code="invoice_paid")
        options = pay_options(invoice, invoice_instalments(invoice=invoice), writer, balance)
        choice = pay_choice(request.POST, invoice=invoice, options=options, balance=balance)
        gift_applied = 0
        wallet_applied = 0
        left = choice.amount
        if choice.use_wallet:
            wallet_applied = min(wallet_credit_available(invoice=invoice), left)
            left -= wallet_applied
        if choice.gift_card_code and left > 0:
            # Checked now (counted against the guess limits) so a wrong code is said before
            # the card; the payment redeems it.
            card = gift_card_by_code(
                studio=invoice.studio, code=choice.gift_card_code, address=client_address(request)
            )
            expired = card.expires_at is not None and card.expires_at <= timezone.now()
            if card.state != GiftCard.State.ACTIVE or expired or card.currency != currency:
                raise ApplicationError(
                    "This gift card cannot be used for this invoice.",
                    code="gift_card_unusable",
                    fields={"gift_card_code": ["Not usable here."]},
                )
            gift_applied = min(max(card.account.balance, 0), left)
            left -= gift_applied
    except ApplicationError as exc:
        if exc.code == "gift_card_not_found":
            exc.fields = {"gift_card_code": ["No gift card has this code."]}
        return _error_page(request, invoice, token, exc, request.POST)
    # A tip is charged with the card: with nothing left for the card, none is added.
    tip = choice.tip if left > 0 else 0
    card_needed = left > 0
    payment = {
        "amount": choice.amount,
        "tip": tip,
        "use_wallet": choice.use_wallet,
        "gift_card_code": choice.gift_card_code,
        "save_card": choice.save_card and card_needed,
        "email": choice.email,
        "name": choice.name,
    }
    context = {
        "studio": request.studio,
        "lang": "en",
        "invoice": invoice,
        "base": f"/invoices/{token}/",
        "amount": page_money(choice.amount, currency),
        "wallet_applied": page_money(wallet_applied, currency) if wallet_applied else "",
        "gift_applied": page_money(gift_applied, currency) if gift_applied else "",
        "tip": page_money(tip, currency) if tip else "",
        "tip_dropped": bool(choice.tip) and not tip,
        "card_total": page_money(left + tip, currency),
        "card_needed": card_needed,
        "save_card": payment["save_card"],
        "stripe_js_url": settings.STRIPE_JS_URL,
        "config": {
            "publishableKey": settings.STRIPE_PUBLISHABLE_KEY,
            "stripeAccount": account.provider_account_id,
            "purpose": "invoice",
            "card": card_needed,
            "startUrl": f"/api/v1/billing/public/invoices/{token}/payments/",
            "payment": payment,
        },
    }
    return render_site_page(request, "billing/invoice/pay.html", context)


@require_safe
@link_page
@counted
def invoice_payment_return(request, token: str, payment_id):
    invoice = _invoice(request, token)
    payment = invoice_payment_get(invoice=invoice, payment_id=payment_id)
    if payment is None or not status_token_valid(payment, request.GET.get("t", "")):
        raise NotFound("No such payment.")
    writer = Writer(document_language(invoice))
    with page_locale(_Locale(writer.code)):
        balance = receivable_balance(invoice)
        instalments = invoice_instalments(invoice=invoice)
        schedule = _schedule(instalments, writer, invoice.currency, today_of(invoice.studio))
        final = payment.state in Payment.FINAL
        context = {
            "studio": request.studio,
            "lang": "en",
            "invoice": invoice,
            "base": f"/invoices/{token}/",
            "payment": payment,
            "amount": page_money(payment.amount, payment.currency),
            "tip": page_money(payment.tip, payment.currency) if payment.tip else "",
            "final": final,
            "status_text": STATUS_LABELS.get(invoice.status, invoice.status),
            "paid": page_money(paid_of(invoice, balance), invoice.currency),
            "balance_text": page_money(max(balance, 0), invoice.currency),
            "next": next((row for row in schedule if row["state"] in ("next", "overdue")), None),
            "receipt_url": f"/invoices/{token}/receipts/{payment.id}/"
            if payment.state == Payment.State.SUCCEEDED
            else "",
            "status_config": {
                "statusUrl": (
                    f"/api/v1/billing/public/payments/{payment.id}/?t={status_token(payment)}"
                ),
                "state": payment.state,
                # Once the payment is final the page is drawn again, with the invoice's state.
                "reloadWhenFinal": not final,
            },
        }
    return render_site_page(request, "billing/invoice/payment.html", context)


def _pdf_response(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def _file_name(text: str) -> str:
    return _UNSAFE_NAME.sub("-", text).strip("-.") or "invoice"


@require_safe
@link_page
@counted
def invoice_pdf_download(request, token: str):
    invoice = _invoice(request, token)
    invoice = invoice_pdf_ensure(invoice_id=invoice.id)
    return _pdf_response(pdf_open(invoice=invoice), f"{_file_name(invoice.number)}.pdf")


@require_safe
@link_page
@counted
def invoice_receipt_download(request, token: str, payment_id):
    invoice = _invoice(request, token)
    payment = invoice_payment_get(invoice=invoice, payment_id=payment_id)
    if payment is None or payment.state != Payment.State.SUCCEEDED:
        raise NotFound("No such receipt.")
    data = receipt_pdf(payment, invoice=invoice)
    day = payment.succeeded_at.date().isoformat() if payment.succeeded_at else "payment"
    return _pdf_response(data, f"{_file_name(invoice.number)}-receipt-{day}.pdf")
