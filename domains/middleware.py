"""The first middleware: which site a request is for, and the host validation.

Django's ALLOWED_HOSTS cannot list custom domains (rows added at any time), so it is ``["*"]``
and this is the host check: a host that is not an API host, an internal host, a studio
subdomain or an active custom domain gets a 400 before anything else runs. The answer never
echoes the host (it would be reflected into logs, caches and pages as attacker text).

It sets ``request.site`` (``domains.routing.Site``) and, for studio and internal hosts, the URL
list they see (``request.urlconf``): the API, the admin and the docs exist on API hosts only.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import set_urlconf

from domains.hostnames import InvalidHostname, normalize_hostname, split_host_port
from domains.selectors import site_for_host
from picpick.core.errors import error_body
from picpick.core.observability.context import set_studio_id

URLCONFS = {"studio": "picpick.urls_site", "internal": "picpick.urls_internal"}


def _raw_host(request: HttpRequest) -> tuple[str, str]:
    """The host as Django would read it, and the META key it came from."""
    if settings.USE_X_FORWARDED_HOST and "HTTP_X_FORWARDED_HOST" in request.META:
        return request.META["HTTP_X_FORWARDED_HOST"], "HTTP_X_FORWARDED_HOST"
    if "HTTP_HOST" in request.META:
        return request.META["HTTP_HOST"], "HTTP_HOST"
    return request.META.get("SERVER_NAME", ""), "SERVER_NAME"


def _bad_host(code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=400)


class HostRoutingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw, meta_key = _raw_host(request)
        try:
            name, port = split_host_port(raw)
            host = normalize_hostname(name)
        except InvalidHostname:
            return _bad_host("invalid_host", "The Host header is not a valid hostname.")
        site = site_for_host(host=host)
        if site is None:
            return _bad_host("unknown_host", "This host is not served here.")

        # Everything downstream (request.get_host(), redirects, CSRF) sees the normal form,
        # e.g. punycode instead of the raw UTF-8 an odd client sent.
        if meta_key != "SERVER_NAME":
            request.META[meta_key] = f"{host}:{port}" if port else host
        request.site = site
        if site.studio_id is not None:
            set_studio_id(site.studio_id)  # every log line of a studio site's request names it
        urlconf = URLCONFS.get(site.kind)
        if urlconf is not None:
            request.urlconf = urlconf
            set_urlconf(urlconf)  # for reverse() in the middlewares below, too
        response = self.get_response(request)
        if site.is_custom_domain:
            _hsts_for_custom_domain(response)
        return response


def _hsts_for_custom_domain(response: HttpResponse) -> None:
    # includeSubDomains and preload are ours to promise for our domain, not for a studio's: on
    # its apex they would force HTTPS on every other subdomain the studio has (its mail web
    # interface, an old blog) and ask browsers to hard-code that.
    header = response.headers.get("Strict-Transport-Security")
    if header:
        directives = [part.strip() for part in header.split(";")]
        kept = [d for d in directives if d.lower() not in {"includesubdomains", "preload"}]
        response.headers["Strict-Transport-Security"] = "; ".join(kept)
