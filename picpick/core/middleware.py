"""Request guards that run before any view."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve

from picpick.core.errors import error_body


def _view_body_limit(path: str) -> int:
    """A view may allow a larger body with a ``max_body_bytes`` attribute (a logo upload);
    resolved only for bodies over the general limit, so ordinary requests pay nothing."""
    try:
        match = resolve(path)
    except Resolver404:
        return 0
    return getattr(getattr(match.func, "cls", None), "max_body_bytes", 0) or 0


class BodySizeLimitMiddleware:
    """Answer 413 for API bodies over the limit before anything reads them.

    Django only enforces DATA_UPLOAD_MAX_MEMORY_SIZE when ``request.body`` is accessed; DRF's
    parsers read the stream directly, so an oversized JSON body would otherwise be read whole.
    Photo bytes never come here (they go straight to object storage), so the API limit is small.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            raw = request.META.get("CONTENT_LENGTH") or "0"
            try:
                length = int(raw)
            except ValueError:
                return JsonResponse(
                    error_body("malformed_request", "Content-Length is not a number."), status=400
                )
            limit = settings.PICPICK_API_MAX_BODY_BYTES
            if length > limit:
                limit = max(limit, _view_body_limit(request.path_info))
            if length > limit:
                return JsonResponse(
                    error_body(
                        "payload_too_large",
                        f"The request body is {length} bytes; the limit is {limit} bytes.",
                        limit=limit,
                    ),
                    status=413,
                )
        return self.get_response(request)
