"""A client's saved cards (under /api/v1/billing/): card setups through the provider's
SetupIntents, the saved cards."""

from django.urls import path

from billing.apis import cards

urlpatterns = [
    path(
        "contacts/<uuid:contact_id>/card-setups/",
        cards.CardSetupStartApi.as_view(),
        name="billing-card-setups",
    ),
    path(
        "contacts/<uuid:contact_id>/card-setups/<str:setup_id>/refresh/",
        cards.CardSetupRefreshApi.as_view(),
        name="billing-card-setup-refresh",
    ),
    path(
        "contacts/<uuid:contact_id>/cards/",
        cards.SavedCardListApi.as_view(),
        name="billing-saved-cards",
    ),
    path(
        "contacts/<uuid:contact_id>/cards/<uuid:card_id>/",
        cards.SavedCardDetailApi.as_view(),
        name="billing-saved-card",
    ),
]
