"""The base of every studio-side API view: authentication, the active studio, permissions.

A view declares what it needs per HTTP method::

    class GalleryListApi(StudioAPIView):
        permissions = {"GET": Perm.GALLERY_VIEW, "POST": Perm.GALLERY_CREATE}

and reads ``self.studio`` / ``self.membership``; it never looks a row up without the studio.
A field whose change needs more than the method's permission is declared beside it::

    field_permissions = {"PATCH": {"face_recognition_enabled": Perm.STUDIO_EDIT}}

and checked whenever the request sends the field, before the view runs.
"""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from accounts.models import Membership, Studio
from accounts.permissions import Perm, role_has
from accounts.selectors import membership_for_request
from picpick.core.errors import Forbidden


class StudioAPIView(APIView):
    permission_classes = [IsAuthenticated]
    permissions: dict[str, Perm] = {}
    field_permissions: dict[str, dict[str, Perm]] = {}

    studio: Studio
    membership: Membership

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication, throttles
        claims = request.auth or {}
        membership = membership_for_request(user=request.user, studio_id=claims.get("studio"))
        if membership is None:
            raise Forbidden(
                "You are not a member of this studio; switch to one of your studios.",
                code="not_a_member",
            )
        if membership.studio.is_deleted:
            raise Forbidden("This studio has been deleted.", code="studio_deleted")
        self.membership = membership
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

    def require(self, perm: Perm) -> None:
        """The 403 every permission check answers; for checks that depend on the input too."""
        if not role_has(self.membership.role, perm):
            raise Forbidden(
                f"Your role ({self.membership.role}) may not do this ({perm}).",
                code="permission_denied",
                extra={"permission": str(perm)},
            )
