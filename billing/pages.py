"""The client's billing pages on a studio's site (server-rendered): the gift-card balance check
(``/gift-card/``) and the client's wallet page (``/wallet/<signed token>/``, the link in the
credit expiry reminder).

Every page is scoped to the studio of the host (``request.site``). The balance check takes the
code in a POST (never in a URL, where logs and the history would keep it) and counts wrong
codes against the same limits as a redemption. The wallet page is reached only by a signed,
expiring link naming one contact of this studio; a forged, expired or another studio's link
is the same not-found page.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable

from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods, require_safe

from billing.models import GiftCard, LedgerTransaction
from billing.money import Money, money_format
from billing.selectors.gift_cards import gift_card_statement
from billing.selectors.wallets import contact_wallets, wallet_open_lots, wallet_statement
from billing.services.gift_cards import gift_card_by_code
from billing.services.wallets import wallet_link_read
from domains.selectors import studio_for_site
from guests.selectors import studio_logo_url
from picpick.core.clientaddr import client_address
from picpick.core.csp import content_security_policy
from picpick.core.errors import ApplicationError, NotFound, RateLimited

# The studio of the page being drawn writes the amounts in its locale (set by billing_page).
_LOCALE: contextvars.ContextVar[str] = contextvars.ContextVar("billing_page_locale", default="en")
HISTORY_SIZE = 50
STATEMENT_PAGE = 25
TxKind = LedgerTransaction.Kind

# What the client reads for each kind of movement on their card or wallet.
CLIENT_LABELS = {
    TxKind.WALLET_GRANT: "Credit from the studio",
    TxKind.WALLET_TOPUP: "Top-up",
    TxKind.WALLET_SPEND: "Payment",
    TxKind.WALLET_REFUND: "Refund",
    TxKind.WALLET_EXPIRED: "Expired",
    TxKind.GIFT_CARD_SOLD: "Gift card bought",
    TxKind.GIFT_CARD_REDEEMED: "Redeemed",
    TxKind.GIFT_CARD_EXPIRED: "Expired",
    TxKind.ADJUSTMENT: "Adjustment by the studio",
    TxKind.REVERSAL: "Correction",
}


def render_site_page(request, template: str, context: dict, status: int = 200):
    """A page of the studio's site, with the studio's logo."""
    studio = context.get("studio")
    logo_url = studio_logo_url(studio=studio) if studio is not None else None
    return render(request, template, {**context, "logo_url": logo_url}, status=status)


def studio_site_page(*, not_found_template: str, csp: Callable[[], str], noindex: bool):
    """A decorator for the billing pages of a studio's site: the studio of the host for the
    view (``request.studio``; the not-found page otherwise), amounts in its locale, the
    security headers and no caching (balances and payments are the client's own)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            site = getattr(request, "site", None)
            studio = studio_for_site(site=site) if site is not None else None
            try:
                if studio is None:
                    raise NotFound("No such site.")
                request.studio = studio
                with page_locale(studio):
                    response = view(request, *args, **kwargs)
            except NotFound as exc:
                context = {"studio": studio, "message": exc.message}
                response = render_site_page(request, not_found_template, context, 404)
            response["Content-Security-Policy"] = csp()
            response["Referrer-Policy"] = "same-origin"
            response["X-Content-Type-Options"] = "nosniff"
            if noindex:
                response["X-Robots-Tag"] = "noindex"
            response.setdefault("Cache-Control", "private, no-store")
            return response

        return wrapped

    return decorate


billing_page = studio_site_page(
    not_found_template="billing/not_found.html", csp=content_security_policy, noindex=True
)


def page_money(amount: int, currency: str) -> str:
    """An amount as the page's studio writes it (its locale; "en" outside a page)."""
    return money_format(Money(amount, currency), _LOCALE.get())


@contextlib.contextmanager
def page_locale(studio):
    """Amounts drawn inside are written in ``studio``'s locale."""
    token = _LOCALE.set(getattr(studio, "locale", "") or "en")
    try:
        yield
    finally:
        _LOCALE.reset(token)


def _rows(entries, *, currency: str) -> list[dict]:
    """Statement lines in the holder's sign: + when money arrived on the card or wallet."""
    rows = []
    for entry in entries:
        natural = -entry.amount  # wallets and gift cards are credit-normal
        rows.append(
            {
                "when": entry.transaction.posted_at,
                "label": CLIENT_LABELS.get(entry.transaction.kind, "Movement"),
                "amount": page_money(natural, currency),
                "incoming": natural > 0,
            }
        )
    return rows


def _top_up_path(token: str) -> str | None:
    """The card top-up page beside this one, when the site has it (payments' pages)."""
    path = f"/wallet/{token}/top-up/"
    try:
        resolve(path, urlconf="picpick.urls_site")
    except Resolver404:
        return None
    return path


@require_http_methods(["GET", "HEAD", "POST"])
@ensure_csrf_cookie
@billing_page
def gift_card_balance(request):
    context: dict = {"studio": request.studio, "code": "", "error": "", "card": None}
    if request.method != "POST":
        return render_site_page(request, "billing/gift_card_balance.html", context)
    code = request.POST.get("code", "")[:64]
    try:
        card = gift_card_by_code(studio=request.studio, code=code, address=client_address(request))
    except RateLimited as exc:
        minutes = max(1, exc.extra["retry_after"] // 60)
        context["error"] = f"Too many wrong codes. Try again in {minutes} min."
        response = render_site_page(request, "billing/gift_card_balance.html", context, status=429)
        response["Retry-After"] = str(exc.extra["retry_after"])
        return response
    except ApplicationError as exc:
        context["error"] = "No gift card has this code. Check it and try again."
        context["code"] = code
        return render_site_page(request, "billing/gift_card_balance.html", context, exc.status_code)
    page = gift_card_statement(card=card, cursor=None, page_size=HISTORY_SIZE)
    context["card"] = {
        "last4": card.code_last4,
        "balance": page_money(card.account.balance, card.currency),
        "initial": page_money(card.initial_amount, card.currency),
        "state": card.state,
        "state_label": GiftCard.State(card.state).label,
        "expires_at": card.expires_at,
        "history": _rows(page.items, currency=card.currency),
    }
    return render_site_page(request, "billing/gift_card_balance.html", context)


@require_safe
@billing_page
def wallet_page(request, token: str):
    read = wallet_link_read(token)
    if read is None or read[0] != request.studio.id:
        raise NotFound("This link is not valid or has expired.")
    wallets = contact_wallets(studio_id=request.studio.id, contact_id=read[1])
    if not wallets:
        raise NotFound("No wallet here.")
    chosen = next((w for w in wallets if str(w.id) == request.GET.get("wallet")), wallets[0])
    try:
        page = wallet_statement(
            wallet=chosen, cursor=request.GET.get("cursor") or None, page_size=STATEMENT_PAGE
        )
    except ApplicationError as exc:  # a cursor edited by hand
        raise NotFound("No such page.") from exc
    shown = [
        {
            "id": wallet.id,
            "currency": wallet.currency,
            "balance": page_money(wallet.account.balance, wallet.currency),
            "available": page_money(wallet.account.balance - wallet.held, wallet.currency),
            "held": wallet.held,
            "chosen": wallet.id == chosen.id,
        }
        for wallet in wallets
    ]
    lots = [
        {"remaining": page_money(lot.remaining, chosen.currency), "expires_at": lot.expires_at}
        for lot in wallet_open_lots(wallet=chosen)
        if lot.expires_at is not None
    ]
    context = {
        "studio": request.studio,
        "top_up": _top_up_path(token),
        "wallets": shown,
        "chosen": chosen,
        "lots": lots,
        "rows": _rows(page.items, currency=chosen.currency),
        "base": f"/wallet/{token}/",
        "next": page.next_cursor,
        "previous": page.previous_cursor,
    }
    return render_site_page(request, "billing/wallet.html", context)
