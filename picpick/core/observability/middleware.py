"""One log line and one observation per request, and the request id.

The first middleware, so requests refused by the host check are counted and logged too. The
route label is the URL pattern that matched (``api/v1/galleries/<uuid:gallery_id>/``), never
the path: one series per pattern, whatever ids and tokens the paths carry. The time is to the
response object; a streamed body (an event stream, a ZIP) is not waited for.

Gunicorn's access log is not needed beside it (compose runs gunicorn without one): this line
has the route, the studio, the user, the real client address and the request id.
"""

from __future__ import annotations

import logging
import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

from picpick.core.apis import site_studio_id
from picpick.core.clientaddr import client_address
from picpick.core.observability import context, metrics

logger = logging.getLogger("picpick.request")

UNMATCHED = "<unmatched>"  # no URL pattern matched (a 404, or a host refused before routing)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _route(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNMATCHED
    return str(match.route or match.view_name or UNMATCHED)[:200]


def _user_id(request: HttpRequest) -> str | None:
    # Only a user someone already loaded: evaluating Django's lazy session user here would
    # cost a query on requests that never needed one.
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        user = None if user._wrapped is empty else user._wrapped
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(user.pk)


class RequestObservabilityMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if iscoroutinefunction(self):
            return self._acall(request)
        started, tokens = self._begin(request)
        try:
            response = self.get_response(request)
            self._end(request, response, started)
            return response
        finally:
            context.unbind(tokens)

    async def _acall(self, request: HttpRequest):
        started, tokens = self._begin(request)
        try:
            response = await self.get_response(request)
            self._end(request, response, started)
            return response
        finally:
            context.unbind(tokens)

    def _begin(self, request: HttpRequest):
        incoming = context.sane_request_id(request.headers.get(context.REQUEST_ID_HEADER))
        request_id = incoming or context.new_request_id()
        request.request_id = request_id
        return time.perf_counter(), context.bind(request_id=request_id)

    def _end(self, request: HttpRequest, response: HttpResponse, started: float) -> None:
        elapsed = time.perf_counter() - started
        response.headers[context.REQUEST_ID_HEADER] = request.request_id
        route = _route(request)
        method = request.method if request.method in _METHODS else "other"
        status = str(response.status_code)
        metrics.HTTP_REQUESTS.labels(method=method, route=route, status=status).inc()
        metrics.HTTP_LATENCY.labels(method=method, route=route, status=status).observe(elapsed)
        studio_id = context.current_studio_id() or site_studio_id(request)
        level = logging.WARNING if response.status_code >= 500 else logging.INFO
        duration_ms = round(elapsed * 1000, 1)
        logger.log(
            level,
            "%s %s %s %.1fms",
            method,
            route,
            status,
            duration_ms,
            extra={
                "event": "request",
                "method": method,
                "route": route,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "client": client_address(request),
                "user_id": _user_id(request),
                "studio_id": str(studio_id) if studio_id else None,
            },
        )
