"""The URLs of studio sites: ``<slug>.<PICPICK_BASE_DOMAIN>`` and active custom domains.

domains.middleware.HostRoutingMiddleware selects this list for studio hosts (``request.site``
says which studio): the API, the admin and the docs do not exist here.
"""

from django.urls import include, path, re_path

from guests.urls import public_urlpatterns as guests_public
from picpick.core.errors import API_NOT_FOUND, api_not_found
from picpick.core.observability.views import readyz
from picpick.urls import healthz

guest_api = guests_public

handler400 = "picpick.core.errors.json_400"
handler403 = "picpick.core.errors.json_403"
handler404 = "guests.views.not_found"
handler500 = "picpick.core.errors.json_500"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    # The local storage backend serves its signed object URLs here too.
    path("storage/", include("picpick.core.storage.urls")),
    path("", include("crm.site_urls")),  # inquiry pages and the public inquiry API, before api/
    path("", include("billing.site_pay_urls")),  # card payments: shop, top-up, receipt, API
    path("", include("billing.site_urls")),  # the gift card balance and the client's wallet
    # The guest API, as on the API host, but only for this studio's galleries.
    path("api/v1/", include((guest_api, "guest-api"))),
    re_path(r"^api/(?P<path>.*)$", api_not_found, name=API_NOT_FOUND),  # the API's own 404
    path("", include("guests.site_urls")),
]
