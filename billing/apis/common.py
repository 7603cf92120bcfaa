"""What billing's API views share: the idempotency key of a money-moving request, and a
client as money answers name them."""

from __future__ import annotations

import re

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from picpick.core.errors import ApplicationError

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX_LENGTH = 100
_PRINTABLE = re.compile(rf"[\x20-\x7e]{{1,{IDEMPOTENCY_KEY_MAX_LENGTH}}}")

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=True,
    description=(
        "The client's name for this operation, 1-100 printable ASCII characters (a UUID is "
        "best). Sending the request again with the same key, after a timeout or a dropped "
        "connection, answers the first result (200 instead of 201) and moves no money twice; "
        "the same key with another request is a 409 (`idempotency_key_reused`)."
    ),
)


def idempotency_key_from(request, scope: str) -> str:
    """The request's ``Idempotency-Key`` header, namespaced ``api:<scope>:<key>`` for the
    ledger (so an API client's keys never meet the services' own keys).

    Every money-moving POST requires one: missing is 400 ``idempotency_key_required``, not
    1-100 printable ASCII characters is 400 ``idempotency_key_invalid``.
    """
    key = request.headers.get(IDEMPOTENCY_HEADER, "")
    if not key:
        raise ApplicationError(
            f"Send an {IDEMPOTENCY_HEADER} header: a key of your own for this operation, so "
            "a retry cannot move money twice.",
            code="idempotency_key_required",
        )
    if not _PRINTABLE.fullmatch(key):
        raise ApplicationError(
            f"The {IDEMPOTENCY_HEADER} header is 1-{IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII "
            "characters.",
            code="idempotency_key_invalid",
        )
    return f"api:{scope}:{key}"


class ContactBriefSerializer(serializers.Serializer):
    """The client a wallet, a payment or an invoice is of."""

    id = serializers.UUIDField()
    name = serializers.CharField(source="__str__")
    email = serializers.CharField()
