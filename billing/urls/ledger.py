"""Ledger routes: accounts, their statements, transactions, reversals (under /api/v1/billing/)."""

from django.urls import path

from billing.apis import ledger as apis

urlpatterns = [
    path("accounts/", apis.AccountListApi.as_view(), name="billing-accounts"),
    path("accounts/<uuid:account_id>/", apis.AccountDetailApi.as_view(), name="billing-account"),
    path(
        "accounts/<uuid:account_id>/entries/",
        apis.AccountEntriesApi.as_view(),
        name="billing-account-entries",
    ),
    path("transactions/", apis.TransactionListApi.as_view(), name="billing-transactions"),
    path(
        "transactions/<uuid:transaction_id>/",
        apis.TransactionDetailApi.as_view(),
        name="billing-transaction",
    ),
    path(
        "transactions/<uuid:transaction_id>/reverse/",
        apis.TransactionReverseApi.as_view(),
        name="billing-transaction-reverse",
    ),
]
