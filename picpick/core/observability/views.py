"""``/metrics`` (protected) and ``/readyz`` (readiness; ``/healthz``, liveness, is picpick.urls').

``/metrics`` answers on internal hosts (``PICPICK_INTERNAL_HOSTS``: Prometheus inside the
deployment) and, elsewhere, to ``Authorization: Bearer <PICPICK_METRICS_TOKEN>``; anyone else
gets the host's ordinary 404, so the endpoint is not even revealed.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from picpick.core.observability import health, metrics
from picpick.core.observability.collectors import QueueDepthCollector


def _metrics_allowed(request: HttpRequest) -> bool:
    site = getattr(request, "site", None)
    if site is not None and site.kind == "internal":
        return True
    token = settings.PICPICK_METRICS_TOKEN
    if not token:
        return False
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not offered:
        return False
    return hmac.compare_digest(offered.strip().encode(), token.encode())


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _metrics_allowed(request):
        raise Http404
    body = metrics.exposition(QueueDepthCollector())
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when every dependency answered within its budget, else 503 naming the
    ones that did not."""
    results = health.run_checks()
    ready = all(result.ok for result in results)
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": {r.name: {"ok": r.ok, "detail": r.detail, "ms": r.ms} for r in results},
    }
    if not ready:
        body["failed"] = [r.name for r in results if not r.ok]
    return JsonResponse(body, status=200 if ready else 503)
