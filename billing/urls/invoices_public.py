"""The client invoice page's public route (under /api/v1/billing/; it works on studio sites
only, where its link's token names an invoice of the site's studio)."""

from django.urls import path

from billing.apis import invoices_public

public_urlpatterns = [
    path(
        "public/invoices/<str:token>/payments/",
        invoices_public.PublicInvoicePaymentApi.as_view(),
        name="billing-public-invoice-payment",
    ),
]

urlpatterns = [*public_urlpatterns]
