"""One error type for services and one renderer for every API error.

Every error the API returns has the shape::

    {"error": {"code": "gallery_archived", "message": "...", "fields": {...}}}

``code`` is stable and machine-readable; ``message`` is for humans; ``fields`` maps input
field names to lists of messages (empty when the error is not about a field).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404, JsonResponse
from django.urls import is_valid_path
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf
from rest_framework import status as http
from rest_framework.response import Response

from picpick.core.transactions import in_request_transaction

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A business-rule failure raised by a service or selector."""

    status_code = http.HTTP_400_BAD_REQUEST
    default_code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.fields = fields or {}
        self.extra = extra or {}
        if status is not None:
            self.status_code = status


class NotFound(ApplicationError):
    status_code = http.HTTP_404_NOT_FOUND
    default_code = "not_found"


class Conflict(ApplicationError):
    status_code = http.HTTP_409_CONFLICT
    default_code = "conflict"


class Forbidden(ApplicationError):
    status_code = http.HTTP_403_FORBIDDEN
    default_code = "permission_denied"


class Unprocessable(ApplicationError):
    status_code = http.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "unprocessable"


class RateLimited(ApplicationError):
    """429 with a Retry-After header: a limit counted in the cache (picpick.core.ratelimit)."""

    status_code = http.HTTP_429_TOO_MANY_REQUESTS
    default_code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code, extra={"retry_after": int(retry_after)})


def error_body(code: str, message: str, fields: dict | None = None, **extra: Any) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}, **extra}}


def _flatten_fields(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF nests errors (lists of dicts for many=True); flatten them to dotted field paths."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "__all__" if key == "non_field_errors" else str(key)
            path = f"{prefix}.{name}" if prefix else name
            out.update(_flatten_fields(value, path))
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out[prefix or "__all__"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item:
                    out.update(_flatten_fields(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out[prefix or "__all__"] = [str(detail)]
    return out


_DRF_CODES: dict[type, tuple[int, str]] = {
    drf.NotAuthenticated: (401, "not_authenticated"),
    drf.AuthenticationFailed: (401, "authentication_failed"),
    drf.PermissionDenied: (403, "permission_denied"),
    drf.NotFound: (404, "not_found"),
    drf.MethodNotAllowed: (405, "method_not_allowed"),
    drf.NotAcceptable: (406, "not_acceptable"),
    drf.UnsupportedMediaType: (415, "unsupported_media_type"),
    drf.Throttled: (429, "rate_limited"),
    drf.ParseError: (400, "malformed_request"),
}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's EXCEPTION_HANDLER: render every known error in the one shape."""
    headers: dict[str, str] = {}
    if isinstance(exc, ApplicationError):
        status = exc.status_code
        body = error_body(exc.code, exc.message, exc.fields, **exc.extra)
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.extra["retry_after"])
    elif isinstance(exc, drf.ValidationError):
        status = 400
        fields = _flatten_fields(exc.detail)
        body = error_body("validation_error", "The request has invalid fields.", fields)
    elif isinstance(exc, Http404):
        status = 404
        body = error_body("not_found", "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        status = 403
        body = error_body("permission_denied", "You do not have permission to do this.")
    elif isinstance(exc, DjangoValidationError):
        status = 400
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        body = error_body("validation_error", "The request has invalid fields.", fields)
    elif isinstance(exc, RequestDataTooBig):
        status = 413
        body = error_body("payload_too_large", "The request body is too large.")
    elif isinstance(exc, drf.APIException):
        status, code = next(
            (value for klass, value in _DRF_CODES.items() if isinstance(exc, klass)),
            (exc.status_code, "error"),
        )
        # A specific code given by whoever raised it (e.g. "token_revoked") beats the generic one.
        detail_code = _specific_code(exc)
        if detail_code and status in (401, 403):
            code = {"token_not_valid": "token_invalid"}.get(detail_code, detail_code)
        message = exc.detail if isinstance(exc.detail, str) else _first_message(exc.detail)
        extra: dict[str, Any] = {}
        if isinstance(exc, drf.Throttled) and exc.wait is not None:
            extra["retry_after"] = int(exc.wait) + 1
            headers["Retry-After"] = str(extra["retry_after"])
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
        body = error_body(code, str(message), **extra)
    else:
        return None  # a real bug: let Django log it and answer 500

    request = context.get("request")
    if request is not None and in_request_transaction(request):
        # Nothing half-written: the request's own transaction (the innermost open block here:
        # the services' blocks have ended) is rolled back.
        transaction.set_rollback(True)
    return Response(body, status=status, headers=headers)


def _specific_code(exc: drf.APIException) -> str | None:
    if isinstance(exc.detail, dict) and "code" in exc.detail:
        # simplejwt's errors carry their code as a value: {"detail": "...", "code": "..."}
        codes = str(exc.detail["code"])
    else:
        codes = exc.get_codes()
    if isinstance(codes, list):
        codes = codes[0] if codes else None
    generic = {"authentication_failed", "not_authenticated", "permission_denied", "error"}
    return codes if isinstance(codes, str) and codes not in generic else None


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        detail = detail.get("detail", next(iter(detail.values()), ""))
    if isinstance(detail, list):
        detail = detail[0] if detail else ""
    return str(detail)


# Django-level handlers for errors raised outside DRF views (URL not found, server error).
def json_404(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def json_500(request) -> JsonResponse:
    return JsonResponse(error_body("server_error", "Something went wrong on our side."), status=500)


def json_400(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("bad_request", "Bad request."), status=400)


def json_403(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("permission_denied", "Forbidden."), status=403)


API_NOT_FOUND = "api-not-found"


@csrf_exempt  # it writes nothing; else an unknown POST would get Django's HTML CSRF page
def api_not_found(request, path: str = "") -> JsonResponse:
    """The last route under ``/api/``: an unknown API path is the JSON 404 with DEBUG on too,
    where Django renders its HTML page instead of calling ``handler404``.

    Being a route, it also ends Django's slash redirect for API paths (a redirected POST loses
    its body): a path that exists with a trailing slash is a 404 that says so.
    """
    message = "Not found."
    if not request.path_info.endswith("/"):
        match = is_valid_path(f"{request.path_info}/", getattr(request, "urlconf", None))
        if match and match.url_name != API_NOT_FOUND:
            message = f"Not found. API paths end with a slash: {request.path}/"
    return JsonResponse(error_body("not_found", message), status=404)
