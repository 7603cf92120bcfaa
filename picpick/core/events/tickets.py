"""Stream tickets: how a browser's EventSource, which cannot send an Authorization header,
authenticates to an event stream.

The client asks for a ticket with its token (``POST .../events/ticket/``) and opens the stream
with ``?ticket=<t>``. A ticket is signed (``TimestampSigner``, its own salt), lives
``TICKET_MAX_AGE`` seconds, and is bound to the user, the studio the token named, the user's
token version (revoking tokens revokes tickets) and one scope (``gallery:<id>``): it opens that
one stream and nothing else. The view still checks that the membership is alive, exactly as for
a token. It travels in a URL, so it is short-lived and grants reading one stream only.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core import signing
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

TICKET_MAX_AGE = 60
_SALT = "picpick.events.ticket"
QUERY_PARAM = "ticket"


@dataclass(frozen=True)
class Ticket:
    user_id: str
    studio_id: str
    token_version: int
    scope: str


def ticket_issue(*, user, studio_id, scope: str) -> str:
    payload = {
        "u": str(user.pk),
        "s": str(studio_id),
        "v": getattr(user, "token_version", 0),
        "t": scope,
    }
    return signing.TimestampSigner(salt=_SALT).sign_object(payload, compress=False)


def ticket_read(value: str, *, max_age: int | None = None) -> Ticket | None:
    """The ticket's claims, or None when forged, altered or expired."""
    max_age = TICKET_MAX_AGE if max_age is None else max_age
    try:
        payload = signing.TimestampSigner(salt=_SALT).unsign_object(value, max_age=max_age)
        return Ticket(
            user_id=str(payload["u"]),
            studio_id=str(payload["s"]),
            token_version=int(payload["v"]),
            scope=str(payload["t"]),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


class StreamTicketAuthentication(BaseAuthentication):
    """``?ticket=`` on a view that declares ``ticket_scope(**url_kwargs) -> str``.

    Without the parameter it steps aside (the token authentication runs next); with one, the
    ticket must be valid for this very stream, or the request is refused.
    """

    def authenticate(self, request):
        value = request.query_params.get(QUERY_PARAM)
        if not value:
            return None
        context = getattr(request, "parser_context", None) or {}
        view = context.get("view")
        scope_of = getattr(view, "ticket_scope", None)
        ticket = ticket_read(value)
        if ticket is None or scope_of is None or ticket.scope != scope_of(**context["kwargs"]):
            raise AuthenticationFailed(
                "The stream ticket is invalid or expired; ask for a new one.",
                code="ticket_invalid",
            )
        user = get_user_model().objects.filter(pk=ticket.user_id, is_active=True).first()
        if user is None or getattr(user, "token_version", 0) != ticket.token_version:
            raise AuthenticationFailed("The stream ticket has been revoked.", code="ticket_invalid")
        # The claims StudioAPIView reads: the studio, as a token names it.
        return user, {"studio": ticket.studio_id, "ticket_scope": ticket.scope}

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class StreamTicketAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "picpick.core.events.tickets.StreamTicketAuthentication"
    name = "streamTicket"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "query",
            "name": QUERY_PARAM,
            "description": (
                "A stream ticket from `POST /api/v1/galleries/{gallery_id}/events/ticket/`, for "
                f"clients that cannot send headers (EventSource); valid {TICKET_MAX_AGE} s."
            ),
        }
