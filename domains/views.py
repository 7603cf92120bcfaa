"""Plain Django views (no DRF: no authentication, no throttle, nothing between the edge and
the answer)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from domains.hostnames import InvalidHostname, normalize_hostname
from domains.selectors import tls_allowed
from picpick.core.errors import error_body


@require_GET
def tls_ask(request: HttpRequest) -> JsonResponse:
    """Caddy's ``on_demand_tls { ask }``: may a certificate be requested for ``?domain=``?

    200 for active custom domains and studio subdomains, 404 for anything else. Answered from
    the routing cache or one indexed query, never a DNS lookup: Caddy asks during the TLS
    handshake of a visitor.
    """
    try:
        host = normalize_hostname(request.GET.get("domain", ""))
    except InvalidHostname:
        host = None
    if host is not None and tls_allowed(host=host):
        return JsonResponse({"status": "ok"})
    return JsonResponse(error_body("not_found", "No site is served on this domain."), status=404)
