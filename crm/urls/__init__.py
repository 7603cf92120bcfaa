"""The CRM's API, under /api/v1/crm/; one module of routes per sub-domain."""

from django.urls import include, path

urlpatterns = [
    path("crm/", include("crm.urls.contacts")),
    path("crm/", include("crm.urls.jobs")),
    path("crm/", include("crm.urls.inquiries")),
    path("crm/", include("crm.urls.work")),
    path("crm/", include("crm.urls.timeline")),
]
