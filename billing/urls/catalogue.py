"""Tax rate and catalogue routes (under /api/v1/billing/)."""

from django.urls import path

from billing.apis import catalogue

urlpatterns = [
    path("tax-rates/", catalogue.TaxRateListApi.as_view(), name="billing-tax-rates"),
    path(
        "tax-rates/<uuid:tax_rate_id>/",
        catalogue.TaxRateDetailApi.as_view(),
        name="billing-tax-rate",
    ),
    path("catalogue/", catalogue.CatalogueListApi.as_view(), name="billing-catalogue"),
    path(
        "catalogue/reorder/",
        catalogue.CatalogueReorderApi.as_view(),
        name="billing-catalogue-reorder",
    ),
    path(
        "catalogue/<uuid:item_id>/",
        catalogue.CatalogueDetailApi.as_view(),
        name="billing-catalogue-item",
    ),
]
