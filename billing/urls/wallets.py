"""Wallet and gift card routes, and the billing settings (under /api/v1/billing/)."""

from django.urls import path

from billing.apis import gift_cards, wallets

urlpatterns = [
    path("settings/", wallets.BillingSettingsApi.as_view(), name="billing-settings"),
    path("wallets/", wallets.WalletListApi.as_view(), name="billing-wallets"),
    path("wallets/<uuid:wallet_id>/", wallets.WalletDetailApi.as_view(), name="billing-wallet"),
    path(
        "wallets/<uuid:wallet_id>/entries/",
        wallets.WalletEntriesApi.as_view(),
        name="billing-wallet-entries",
    ),
    path(
        "wallets/<uuid:wallet_id>/grant/",
        wallets.WalletGrantApi.as_view(),
        name="billing-wallet-grant",
    ),
    path(
        "wallets/<uuid:wallet_id>/spend/",
        wallets.WalletSpendApi.as_view(),
        name="billing-wallet-spend",
    ),
    path(
        "wallets/<uuid:wallet_id>/refund/",
        wallets.WalletRefundApi.as_view(),
        name="billing-wallet-refund",
    ),
    path(
        "wallets/<uuid:wallet_id>/holds/",
        wallets.WalletHoldListApi.as_view(),
        name="billing-wallet-holds",
    ),
    path(
        "wallet-holds/<uuid:hold_id>/capture/",
        wallets.WalletHoldCaptureApi.as_view(),
        name="billing-wallet-hold-capture",
    ),
    path(
        "wallet-holds/<uuid:hold_id>/release/",
        wallets.WalletHoldReleaseApi.as_view(),
        name="billing-wallet-hold-release",
    ),
    path("gift-cards/", gift_cards.GiftCardListApi.as_view(), name="billing-gift-cards"),
    path(
        "gift-cards/redeem/",
        gift_cards.GiftCardRedeemApi.as_view(),
        name="billing-gift-cards-redeem",
    ),
    path(
        "gift-cards/<uuid:card_id>/",
        gift_cards.GiftCardDetailApi.as_view(),
        name="billing-gift-card",
    ),
    path(
        "gift-cards/<uuid:card_id>/entries/",
        gift_cards.GiftCardEntriesApi.as_view(),
        name="billing-gift-card-entries",
    ),
    path(
        "gift-cards/<uuid:card_id>/resend/",
        gift_cards.GiftCardResendApi.as_view(),
        name="billing-gift-card-resend",
    ),
    path(
        "gift-cards/<uuid:card_id>/void/",
        gift_cards.GiftCardVoidApi.as_view(),
        name="billing-gift-card-void",
    ),
]
