"""Card payment routes on a studio's site: the gift card shop, a wallet top-up (from the
client's wallet link), an invoice's card step and payment page (from the invoice's link), the
receipt, and the public payment API the pages call."""

from django.urls import include, path

from billing import invoice_pages, pay_pages
from billing.urls.invoices_public import public_urlpatterns as invoice_public_urlpatterns
from billing.urls.payments import public_urlpatterns

urlpatterns = [
    path("gift-cards/buy/", pay_pages.gift_card_shop, name="site-gift-card-shop"),
    path("wallet/<str:token>/top-up/", pay_pages.wallet_top_up, name="site-wallet-top-up"),
    path("pay/<uuid:payment_id>/", pay_pages.receipt, name="site-payment-receipt"),
    path("invoices/<str:token>/pay/", invoice_pages.invoice_pay_step, name="site-invoice-pay"),
    path(
        "invoices/<str:token>/payments/<uuid:payment_id>/",
        invoice_pages.invoice_payment_return,
        name="site-invoice-payment",
    ),
    path("api/v1/billing/", include(public_urlpatterns)),
    path("api/v1/billing/", include(invoice_public_urlpatterns)),
]
