"""Billing's routes on a studio's site: the gift-card balance check and the client's wallet
page (reached by the signed link in their reminder email)."""

from django.urls import path

from billing import pages

urlpatterns = [
    path("gift-card/", pages.gift_card_balance, name="site-gift-card-balance"),
    path("wallet/<str:token>/", pages.wallet_page, name="site-wallet"),
]
