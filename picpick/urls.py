from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from crm.urls.inquiries import public_urlpatterns as inquiries_public
from picpick.core.errors import API_NOT_FOUND, api_not_found
from picpick.core.observability.views import metrics_view, readyz
from picpick.views import landing

handler400 = "picpick.core.errors.json_400"
handler403 = "picpick.core.errors.json_403"
handler404 = "picpick.core.errors.json_404"
handler500 = "picpick.core.errors.json_500"


def healthz(request):
    return JsonResponse({"status": "ok"})


api_v1 = [
    path("", include("accounts.urls")),
    path("", include("galleries.urls")),
    path("", include("faces.urls")),
    path("", include("domains.urls")),
    path("", include("guests.urls")),
    path("", include("crm.urls")),
    path("", include("billing.urls")),
    # The inquiry forms' JSON API for apps: on the API host too (a form named by its id only).
    path("", include(inquiries_public)),
]

urlpatterns = [
    path("", landing, name="landing"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    # Internal hosts, or a bearer token here; a 404 to anyone else (picpick.core.observability).
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("storage/", include("picpick.core.storage.urls")),
    # No internal/ here: what only other services of the deployment may call (the TLS ask) is
    # served on internal hosts alone (picpick.urls_internal), never on the public API host.
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    re_path(r"^api/(?P<path>.*)$", api_not_found, name=API_NOT_FOUND),  # last under api/
]
