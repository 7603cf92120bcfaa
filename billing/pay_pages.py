"""The client pages that pay by card, on the studio's own site: the gift card shop
(``/gift-cards/buy/``), a wallet top-up (``/wallet/<link token>/top-up/``, reached from the
client's wallet page) and the receipt (``/pay/<payment id>/?t=<status token>``).

The pages are server-rendered; the card form is Stripe.js (``STRIPE_JS_URL``) on the studio's
connected account, driven by ``static/billing/pay.js``, which starts the payment through the
public API, confirms it with Stripe.js (3-D Secure included) and goes to the receipt. The
receipt shows the payment's state as the server knows it (polling the status API, which asks
the provider): "paid" only once the server booked it.

Every page is scoped to the studio of the host; another studio's payment, a wrong token, a
studio that takes no card payments: the same not-found page. The Content-Security-Policy adds
Stripe.js's origins (script, its API, its frames) to the site's own.
"""

from __future__ import annotations

from django.conf import settings
from django.views.decorators.http import require_safe

from billing.models.payments import ConnectedAccount, Payment
from billing.money import currency_exponent
from billing.pages import page_money, render_site_page, studio_site_page
from billing.payments import payments_configured
from billing.selectors.payments import public_payment_get
from billing.services.payments import accepted_currency, status_token, status_token_valid
from billing.services.wallets import billing_settings_get
from picpick.core.csp import content_security_policy, origin_of
from picpick.core.errors import ApplicationError, NotFound

STRIPE_FRAMES = "https://hooks.stripe.com"


def pay_csp() -> str:
    stripe_js = origin_of(settings.STRIPE_JS_URL)
    api = origin_of(settings.STRIPE_API_BASE)
    return content_security_policy(
        script_src=[stripe_js],
        connect_src=sorted({api, stripe_js}),
        frame_src=sorted({stripe_js, STRIPE_FRAMES}),
    )


pay_page = studio_site_page(
    not_found_template="billing/pay/not_found.html", csp=pay_csp, noindex=False
)


def _account(studio) -> ConnectedAccount:
    """The connected account the card form charges on; not-found when the studio takes no
    card payments (none, not enabled, or no keys on this server)."""
    account = ConnectedAccount.objects.filter(studio=studio, charges_enabled=True).first()
    if account is None or not payments_configured() or not settings.STRIPE_PUBLISHABLE_KEY:
        raise NotFound("This studio does not take card payments online.")
    return account


def _config(account: ConnectedAccount, **extra) -> dict:
    """The page script's settings (put in the page with ``json_script``: data, escaped)."""
    return {
        "publishableKey": settings.STRIPE_PUBLISHABLE_KEY,
        "stripeAccount": account.provider_account_id,
        **extra,
    }


def _step(currency: str) -> str:
    exponent = currency_exponent(currency)
    return "1" if exponent == 0 else f"0.{'0' * (exponent - 1)}1"


@require_safe
@pay_page
def gift_card_shop(request):
    studio = request.studio
    account = _account(studio)
    options = billing_settings_get(studio=studio)
    currency = options.currency
    amounts = [{"amount": a, "label": page_money(a, currency)} for a in options.gift_card_amounts]
    free = options.gift_card_min is not None and options.gift_card_max is not None
    if not amounts and not free:
        raise NotFound("This studio does not sell gift cards online.")
    context = {
        "studio": studio,
        "currency": currency,
        "amounts": amounts,
        "free": free,
        "min_label": page_money(options.gift_card_min, currency) if free else "",
        "max_label": page_money(options.gift_card_max, currency) if free else "",
        "step": _step(currency),
        "stripe_js_url": settings.STRIPE_JS_URL,
        "config": _config(
            account,
            purpose="gift_card",
            startUrl="/api/v1/billing/public/gift-card-purchases/",
            currency=currency,
        ),
    }
    return render_site_page(request, "billing/pay/gift_card.html", context)


@require_safe
@pay_page
def wallet_top_up(request, token: str):
    from billing.services.payments.public import wallet_link_contact

    studio = request.studio
    account = _account(studio)
    try:
        contact = wallet_link_contact(studio=studio, token=token)
    except ApplicationError as exc:
        raise NotFound(exc.message) from exc
    currency = accepted_currency(studio)
    context = {
        "studio": studio,
        "contact": contact,
        "currency": currency,
        "step": _step(currency),
        "stripe_js_url": settings.STRIPE_JS_URL,
        "config": _config(
            account,
            purpose="wallet_topup",
            startUrl="/api/v1/billing/public/wallet-top-ups/",
            currency=currency,
            walletToken=token,
        ),
    }
    return render_site_page(request, "billing/pay/top_up.html", context)


@require_safe
@pay_page
def receipt(request, payment_id):
    token = request.GET.get("t", "")
    payment = public_payment_get(payment_id=payment_id, studio_id=request.studio.id)
    if not status_token_valid(payment, token):
        raise NotFound("No such payment.")
    context = {
        "studio": request.studio,
        "payment": payment,
        "amount": page_money(payment.amount, payment.currency),
        "purpose": payment.get_purpose_display(),
        "final": payment.state in Payment.FINAL,
        "status_config": {
            "statusUrl": f"/api/v1/billing/public/payments/{payment.id}/?t={status_token(payment)}",
            "state": payment.state,
        },
    }
    return render_site_page(request, "billing/pay/receipt.html", context)
