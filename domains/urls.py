from django.urls import path

from domains import apis

app_name = "domains"
urlpatterns = [
    path("studio/domains/", apis.DomainListApi.as_view(), name="domain-list"),
    path("studio/domains/<uuid:domain_id>/", apis.DomainDetailApi.as_view(), name="domain-detail"),
    path(
        "studio/domains/<uuid:domain_id>/verify-now/",
        apis.DomainVerifyNowApi.as_view(),
        name="domain-verify-now",
    ),
    path(
        "studio/domains/<uuid:domain_id>/make-primary/",
        apis.DomainMakePrimaryApi.as_view(),
        name="domain-make-primary",
    ),
]
