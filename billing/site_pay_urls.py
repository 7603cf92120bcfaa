"""Card payment routes on a studio's site: the gift card shop, a wallet top-up (from the
client's wallet link), the receipt, and the public payment API the pages call."""

from django.urls import include, path

from billing import pay_pages
from billing.urls.payments import public_urlpatterns

urlpatterns = [
    path("gift-cards/buy/", pay_pages.gift_card_shop, name="site-gift-card-shop"),
    path("wallet/<str:token>/top-up/", pay_pages.wallet_top_up, name="site-wallet-top-up"),
    path("pay/<uuid:payment_id>/", pay_pages.receipt, name="site-payment-receipt"),
    path("api/v1/billing/", include(public_urlpatterns)),
]
