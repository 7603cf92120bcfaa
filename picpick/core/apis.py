"""The base of every studio-side API view: authentication, the active studio, permissions.

A view declares what it needs per HTTP method::

    class GalleryListApi(StudioAPIView):
        permissions = {"GET": Perm.GALLERY_VIEW, "POST": Perm.GALLERY_CREATE}

and reads ``self.studio`` / ``self.membership``; it never looks a row up without the studio.
A field whose change needs more than the method's permission is declared beside it::

    field_permissions = {"PATCH": {"face_recognition_enabled": Perm.STUDIO_EDIT}}

and checked whenever the request sends the field, before the view runs.

Who the caller is in the token's studio, and what a role may do, are the accounts app's to
say; accounts sits above core, so it registers both here from its ``AppConfig.ready``
(``STUDIO_ACCESS``), the one way a lower layer calls a higher one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.views import APIView

from picpick.core.errors import Forbidden
from picpick.core.observability.context import set_studio_id

if TYPE_CHECKING:
    from accounts.models import Membership, Studio


@dataclass(frozen=True)
class StudioAccess:
    # (user, studio id from the token) -> the membership with its studio, or None
    membership_for_request: Callable[..., Any]
    # (role, permission) -> whether the role has it
    role_has: Callable[[str, str], bool]


STUDIO_ACCESS: list[StudioAccess] = []


def _access() -> StudioAccess:
    if not STUDIO_ACCESS:
        raise ImproperlyConfigured("No app registered picpick.core.apis.STUDIO_ACCESS.")
    return STUDIO_ACCESS[-1]


def site_studio_id(request) -> uuid.UUID | None:
    """The studio whose site this request came to (``request.site``, set by the host routing
    middleware); None on the API host."""
    site = getattr(request, "site", None)
    return site.studio_id if site is not None and site.kind == "studio" else None


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):
        return reason


def csrf_failure(request: HttpRequest) -> str | None:
    """Django's CSRF check run on demand, for views that take a cookie as their credential (a
    guest's gallery cookie on a studio site) but are exempt when a header carries it; the
    reason it failed, or None."""
    check = _CsrfCheck(lambda r: None)
    check.process_request(request)
    return check.process_view(request, None, (), {})


class PublicAPIView(APIView):
    """A view anyone may call (sign-up, login, the guest API): no authentication."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


class StudioAPIView(APIView):
    permission_classes = [IsAuthenticated]
    permissions: dict[str, str] = {}  # accounts.permissions.Perm values
    field_permissions: dict[str, dict[str, str]] = {}

    studio: Studio
    membership: Membership

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication, throttles
        claims = request.auth or {}
        membership = _access().membership_for_request(
            user=request.user, studio_id=claims.get("studio")
        )
        if membership is None:
            raise Forbidden(
                "You are not a member of this studio; switch to one of your studios.",
                code="not_a_member",
            )
        if membership.studio.is_deleted:
            raise Forbidden("This studio has been deleted.", code="studio_deleted")
        self.membership = membership
        set_studio_id(membership.studio_id)  # every log line of the request (and its tasks)
        needed = self.permissions.get(request.method)
        if needed is None and request.method in ("HEAD", "OPTIONS"):
            needed = self.permissions.get("GET")
        if needed is not None:
            self.require(needed)
        fields = self.field_permissions.get(request.method)
        if fields and isinstance(request.data, Mapping):
            for name, perm in fields.items():
                if name in request.data:
                    self.require(perm)
        self.studio = membership.studio

    def require(self, perm: str) -> None:
        """The 403 every permission check answers; for checks that depend on the input too."""
        if not _access().role_has(self.membership.role, perm):
            raise Forbidden(
                f"Your role ({self.membership.role}) may not do this ({perm}).",
                code="permission_denied",
                extra={"permission": str(perm)},
            )
