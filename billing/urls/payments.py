"""Card payment routes (under /api/v1/billing/): the studio's payments, refunds, disputes and
payment account, the provider's webhook, and the client pages' public routes (also mounted on
studio sites, where they work: ``public_urlpatterns``)."""

from django.urls import path

from billing.apis import connect, payments, webhooks

public_urlpatterns = [
    path(
        "public/gift-card-purchases/",
        payments.PublicGiftCardPurchaseApi.as_view(),
        name="billing-public-gift-card-purchase",
    ),
    path(
        "public/wallet-top-ups/",
        payments.PublicWalletTopUpApi.as_view(),
        name="billing-public-wallet-top-up",
    ),
    path(
        "public/payments/<uuid:payment_id>/",
        payments.PublicPaymentStatusApi.as_view(),
        name="billing-public-payment",
    ),
]

urlpatterns = [
    path("connect/", connect.ConnectApi.as_view(), name="billing-connect"),
    path("connect/refresh/", connect.ConnectRefreshApi.as_view(), name="billing-connect-refresh"),
    path("payments/", payments.PaymentListApi.as_view(), name="billing-payments"),
    path(
        "payments/<uuid:payment_id>/",
        payments.PaymentDetailApi.as_view(),
        name="billing-payment",
    ),
    path(
        "payments/<uuid:payment_id>/refresh/",
        payments.PaymentRefreshApi.as_view(),
        name="billing-payment-refresh",
    ),
    path(
        "payments/<uuid:payment_id>/refunds/",
        payments.PaymentRefundApi.as_view(),
        name="billing-payment-refunds",
    ),
    path("disputes/", payments.DisputeListApi.as_view(), name="billing-disputes"),
    path("stripe/webhook/", webhooks.StripeWebhookApi.as_view(), name="billing-stripe-webhook"),
    *public_urlpatterns,
]
