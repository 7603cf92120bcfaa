"""The URLs of internal hosts (PICPICK_INTERNAL_HOSTS, e.g. "web" for Caddy inside compose).

Only what other services of the deployment call: the health checks, the metrics (Prometheus)
and the TLS "ask" endpoint.
"""

from django.urls import include, path

from picpick.core.observability.views import metrics_view, readyz
from picpick.urls import healthz

handler400 = "picpick.core.errors.json_400"
handler403 = "picpick.core.errors.json_403"
handler404 = "picpick.core.errors.json_404"
handler500 = "picpick.core.errors.json_500"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("internal/", include("domains.internal_urls")),
]
