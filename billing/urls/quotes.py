"""Quote routes (under /api/v1/billing/)."""

from django.urls import path

from billing.apis import quotes

urlpatterns = [
    path("quotes/", quotes.QuoteListApi.as_view(), name="billing-quotes"),
    path("quotes/<uuid:quote_id>/", quotes.QuoteDetailApi.as_view(), name="billing-quote"),
    path("quotes/<uuid:quote_id>/send/", quotes.QuoteSendApi.as_view(), name="billing-quote-send"),
    path(
        "quotes/<uuid:quote_id>/withdraw/",
        quotes.QuoteWithdrawApi.as_view(),
        name="billing-quote-withdraw",
    ),
    path(
        "quotes/<uuid:quote_id>/totals/",
        quotes.QuoteTotalsApi.as_view(),
        name="billing-quote-totals",
    ),
]
