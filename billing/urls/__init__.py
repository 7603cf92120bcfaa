"""Billing's API, under /api/v1/billing/; one module of routes per sub-domain."""

from django.urls import include, path

urlpatterns = [
    path("billing/", include("billing.urls.ledger")),
    path("billing/", include("billing.urls.wallets")),
    path("billing/", include("billing.urls.payments")),
    path("billing/", include("billing.urls.cards")),
    path("billing/", include("billing.urls.catalogue")),
    path("billing/", include("billing.urls.invoices")),
    path("billing/", include("billing.urls.reports")),
    path("billing/", include("billing.urls.quotes")),
    path("billing/", include("billing.urls.invoices_public")),
]
