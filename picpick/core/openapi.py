"""OpenAPI helpers shared by every app: the one error shape, documented once."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable error code.")
    message = serializers.CharField(help_text="A human-readable explanation.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Input field name -> messages; empty when the error is not about a field.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


_DESCRIPTIONS = {
    400: "Invalid input (`validation_error`, `invalid_cursor`, ...).",
    401: "Not authenticated, or the token is invalid or revoked.",
    403: "The caller's role lacks the permission (`permission_denied`).",
    404: "No such object in the caller's studio (`not_found`).",
    409: "Conflicts with the current state of the object.",
    413: "The request body is too large (`payload_too_large`).",
    422: "Well-formed but refers to something that cannot be used here.",
    429: "Rate limited (`rate_limited`).",
}


def error_responses(*statuses: int, **descriptions: str) -> dict[int, OpenApiResponse]:
    """``responses`` entries for the error statuses an endpoint can answer.

    ``descriptions`` override the generic text, keyed ``e409="... slug_taken ..."``.
    """
    return {
        status: OpenApiResponse(
            response=ErrorSerializer,
            description=descriptions.get(f"e{status}", _DESCRIPTIONS.get(status, "Error.")),
        )
        for status in statuses
    }


_METHODS = {"get", "post", "put", "patch", "delete"}


def document_common_errors(result: dict, generator, request, public) -> dict:
    """drf-spectacular post-processing hook: errors every endpoint can answer, documented once.

    The body-size guard runs before any view (413 on every operation with a request body) and
    throttles apply everywhere (429); listing them by hand on each view would drift.
    """
    error_ref = {"$ref": "#/components/schemas/Error"}
    if "Error" not in result.get("components", {}).get("schemas", {}):
        return result
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            common = {"429": _DESCRIPTIONS[429]}
            if "requestBody" in operation:
                common["413"] = _DESCRIPTIONS[413]
            for status, description in common.items():
                responses.setdefault(
                    status,
                    {
                        "content": {"application/json": {"schema": error_ref}},
                        "description": description,
                    },
                )
    return result
