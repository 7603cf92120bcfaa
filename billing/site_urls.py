"""Billing's routes on a studio's site: the gift-card balance check, the client's wallet
page (reached by the signed link in their reminder email), an invoice's page with its PDF and
receipts, and a quote's page (each reached by its signed link)."""

from django.urls import path

from billing import invoice_pages, pages, quote_pages

urlpatterns = [
    path("gift-card/", pages.gift_card_balance, name="site-gift-card-balance"),
    path("wallet/<str:token>/", pages.wallet_page, name="site-wallet"),
    path("invoices/<str:token>/", invoice_pages.invoice_page, name="site-invoice"),
    path("invoices/<str:token>/pdf/", invoice_pages.invoice_pdf_download, name="site-invoice-pdf"),
    path(
        "invoices/<str:token>/receipts/<uuid:payment_id>/",
        invoice_pages.invoice_receipt_download,
        name="site-invoice-receipt",
    ),
    path("quotes/<str:token>/", quote_pages.quote_page, name="site-quote"),
    path("quotes/<str:token>/totals/", quote_pages.quote_totals_json, name="site-quote-totals"),
]
