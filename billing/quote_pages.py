"""The client's quote page on the studio's site, reached by the quote's signed link
(``billing.services.quotes.quote_link_url``); no account needed.

``/quotes/<token>/`` shows the quote: its packages to choose between (radio buttons), the
items always in, the add-ons to tick, the totals of the choice (taxes and discount as its
invoice would have them, ``quote_totals``) with the payment schedule, and until when it is
valid. One form, posted back to the page, works without JavaScript: "recalculate" draws the
totals of the choice again; "accept" (a typed full name and a ticked box) accepts it
(``quote_accept``, which records the name, the time, the client's address and browser) and
goes to the page of the invoice it issued, its deposit ready to pay; "decline" (with a reason,
maybe) declines it. With JavaScript, ``static/billing/invoice.js`` redraws the totals as the
choice changes, from ``/quotes/<token>/totals/`` (JSON).

An accepted, declined, withdrawn or expired quote shows that state and no form. A draft, a
forged link or another studio's quote is the not-found page. Every request counts against the
link pages' per-address limit. Accepting runs outside the request transaction: the service
commits what the invoice's issue needs before its own transaction (see
``billing.services.quotes.accept``).
"""

from __future__ import annotations

from django.http import HttpResponseRedirect, JsonResponse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods, require_safe

from billing import pricing
from billing.documents.writer import Writer
from billing.invoice_pages import counted, link_page
from billing.models import CatalogueItem, Quote, QuoteItem
from billing.pages import page_locale, page_money, render_site_page
from billing.selectors.quotes import quote_for_link
from billing.services.invoices import invoice_link_token, parts_check
from billing.services.invoices.common import today_of
from billing.services.quotes import choice_default, quote_accept, quote_decline, quote_totals
from picpick.core.clientaddr import client_address
from picpick.core.errors import ApplicationError, NotFound

PACKAGE = CatalogueItem.Kind.PACKAGE
State = Quote.State
_DUE = {
    "acceptance": "on acceptance",
    "issue": "on acceptance",
}


class _OwnTransactions:
    """Read by ``picpick.core.transactions.RequestTransactionMiddleware`` (as a class-based
    view's ``request_transaction``): this view's POSTs are not one request transaction."""

    request_transaction = False


def own_transactions(view):
    """The function view runs outside the request transaction (innermost decorator: the
    others copy the mark with ``functools.wraps``)."""
    view.view_class = _OwnTransactions
    return view


class _Locale:
    """What ``page_locale`` reads of a studio: here the quote's language."""

    def __init__(self, locale: str) -> None:
        self.locale = locale


def _quote(request, token: str) -> Quote:
    try:
        quote = quote_for_link(token, studio=request.studio)
    except NotFound as exc:
        raise NotFound("This link is not valid.") from exc
    quote.studio = request.studio
    return quote


def _writer(quote: Quote) -> Writer:
    return Writer(quote.language or getattr(quote.studio, "locale", "") or "en")


# --- What the page shows -------------------------------------------------------------------
def _item_row(item: QuoteItem, writer: Writer, currency: str) -> dict:
    quantity = writer.quantity(item.quantity)
    price = page_money(item.unit_price, currency)
    return {
        "id": str(item.id),
        "name": item.name,
        "description": item.description,
        "price": price if quantity == "1" else f"{quantity} × {price}",
    }


def _due_text(spec, writer: Writer) -> str:
    kind = spec.due_kind
    if kind in _DUE:
        return _DUE[kind]
    if kind == "date":
        return f"on {writer.date(spec.due_date)}"
    if kind == "before_event":
        return f"{spec.due_days} days before the event"
    if kind == "after_event":
        return f"{spec.due_days} days after the event"
    return "by the invoice's due date"


def totals_view(quote: Quote, writer: Writer, *, package_id, addon_ids) -> dict:
    """The totals of a choice, written for the page, and the schedule's amounts for them
    (400 ``package_required``, ``choice_invalid``, ``choice_empty`` for a bad choice)."""
    totals = quote_totals(quote=quote, package_id=package_id, addon_ids=addon_ids)
    currency = quote.currency
    rows = [
        {"kind": "subtotal", "label": "Subtotal", "amount": page_money(totals.subtotal, currency)}
    ]
    if totals.discount:
        rows.append(
            {
                "kind": "discount",
                "label": "Discount",
                "amount": page_money(-totals.discount, currency),
            }
        )
    for tax in totals.taxes:
        label = f"{tax.name} {writer.rate(tax.rate)}"
        rows.append(
            {
                "kind": "tax",
                "label": f"{label} (included)" if tax.inclusive else label,
                "amount": page_money(tax.amount, currency),
            }
        )
    rows.append({"kind": "total", "label": "Total", "amount": page_money(totals.total, currency)})
    schedule = []
    try:
        specs = parts_check(quote.schedule)
        if specs and totals.total > 0:
            amounts = pricing.schedule_split(
                totals.total, [spec.part for spec in specs], rounding=totals.rounding
            )
            schedule = [
                {
                    "label": spec.label,
                    "due": _due_text(spec, writer),
                    "amount": page_money(amount, currency),
                }
                for spec, amount in zip(specs, amounts, strict=True)
            ]
    except (ApplicationError, pricing.PricingError):
        schedule = []  # the studio's schedule is checked when written; shown when it adds up
    return {"rows": rows, "total": page_money(totals.total, currency), "schedule": schedule}


def _state(quote: Quote, today) -> tuple[str, bool]:
    """The quote's state for the client, and whether it can still be accepted."""
    if quote.state == State.SENT:
        if quote.expires_on is not None and quote.expires_on < today:
            return "expired", False
        return "open", True
    return quote.state, False


def _context(request, quote: Quote, token: str, *, package_id, addon_ids) -> dict:
    writer = _writer(quote)
    today = today_of(quote.studio)
    state, acceptable = _state(quote, today)
    items = list(quote.items.all())
    currency = quote.currency
    packages = [_item_row(i, writer, currency) for i in items if i.kind == PACKAGE]
    included = [
        _item_row(i, writer, currency) for i in items if i.kind != PACKAGE and not i.optional
    ]
    addons = [_item_row(i, writer, currency) for i in items if i.kind != PACKAGE and i.optional]
    chosen = {str(a) for a in addon_ids}
    for row in packages:
        row["checked"] = row["id"] == str(package_id)
    for row in addons:
        row["checked"] = row["id"] in chosen
    context = {
        "studio": request.studio,
        "lang": "en",
        "quote": quote,
        "base": f"/quotes/{token}/",
        "state": state,
        "acceptable": acceptable,
        "expires_on": writer.date(quote.expires_on),
        "accepted_on": writer.date(quote.accepted_at.date()) if quote.accepted_at else "",
        "declined_on": writer.date(quote.declined_at.date()) if quote.declined_at else "",
        "packages": packages,
        "included": included,
        "addons": addons,
        "totals": None,
        "invoice_url": "",
        "errors": {},
        "form": {"accepted_name": "", "agree": False, "reason": ""},
    }
    if quote.invoice_id is not None and quote.invoice is not None:
        context["invoice_url"] = f"/invoices/{invoice_link_token(invoice=quote.invoice)}/"
    if acceptable:
        try:
            context["totals"] = totals_view(
                quote, writer, package_id=package_id, addon_ids=addon_ids
            )
        except ApplicationError as exc:
            context["choice_error"] = exc.message
    return context


def _error_page(request, quote: Quote, token: str, exc: ApplicationError, *, package_id, addon_ids):
    quote.refresh_from_db()  # another tab may have accepted it: show what it is now
    quote.studio = request.studio
    context = _context(request, quote, token, package_id=package_id, addon_ids=addon_ids)
    context["error"] = {"code": exc.code, "message": exc.message}
    context["errors"] = {field: messages[0] for field, messages in (exc.fields or {}).items()}
    context["form"] = {
        "accepted_name": request.POST.get("accepted_name", "")[:200],
        "agree": request.POST.get("agree") == "1",
        "reason": request.POST.get("reason", "")[:300],
    }
    return render_site_page(request, "billing/quote/quote.html", context, exc.status_code)


# --- Views ---------------------------------------------------------------------------------
@require_http_methods(["GET", "HEAD", "POST"])
@ensure_csrf_cookie
@link_page
@counted
@own_transactions
def quote_page(request, token: str):
    quote = _quote(request, token)
    with page_locale(_Locale(_writer(quote).code)):
        if request.method != "POST":
            package_id, addon_ids = choice_default(list(quote.items.all()))
            context = _context(request, quote, token, package_id=package_id, addon_ids=addon_ids)
            return render_site_page(request, "billing/quote/quote.html", context)
        package_id = request.POST.get("package") or None
        addon_ids = request.POST.getlist("addon")[:100]
        action = request.POST.get("action", "recalculate")
        try:
            if action == "accept":
                if request.POST.get("agree") != "1":
                    raise ApplicationError(
                        "Tick the box to accept the quote.",
                        code="acceptance_required",
                        fields={"agree": ["Tick the box to accept."]},
                    )
                invoice = quote_accept(
                    quote=quote,
                    accepted_name=request.POST.get("accepted_name", "")[:201],
                    address=client_address(request),
                    user_agent=request.headers.get("user-agent", ""),
                    package_id=package_id,
                    addon_ids=addon_ids,
                )
                response = HttpResponseRedirect(f"/invoices/{invoice_link_token(invoice=invoice)}/")
                response.status_code = 303  # see the invoice (a GET), whatever was posted
                return response
            if action == "decline":
                quote = quote_decline(quote=quote, reason=request.POST.get("reason", "")[:1000])
                quote.studio = request.studio
                package_id, addon_ids = None, []
        except ApplicationError as exc:
            return _error_page(
                request, quote, token, exc, package_id=package_id, addon_ids=addon_ids
            )
        context = _context(request, quote, token, package_id=package_id, addon_ids=addon_ids)
        if context.get("choice_error"):
            context["error"] = {"code": "choice_invalid", "message": context["choice_error"]}
            return render_site_page(request, "billing/quote/quote.html", context, 400)
        return render_site_page(request, "billing/quote/quote.html", context)


@require_safe
@link_page
@counted
def quote_totals_json(request, token: str):
    """The totals of a choice (``?package=<id>&addon=<id>...``) for the page's script."""
    quote = _quote(request, token)
    if _state(quote, today_of(quote.studio))[0] != "open":
        return JsonResponse(
            {"error": {"code": "quote_closed", "message": "This quote can no longer be accepted."}},
            status=409,
        )
    writer = _writer(quote)
    with page_locale(_Locale(writer.code)):
        try:
            body = totals_view(
                quote,
                writer,
                package_id=request.GET.get("package") or None,
                addon_ids=request.GET.getlist("addon")[:100],
            )
        except ApplicationError as exc:
            return JsonResponse(
                {"error": {"code": exc.code, "message": exc.message}}, status=exc.status_code
            )
    return JsonResponse(body)
