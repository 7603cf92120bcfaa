"""What every guest endpoint shares: the gallery token (header or the site's cookie, with CSRF
on unsafe methods there), the base view and the schema pieces.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiParameter,
)
from rest_framework.response import Response

from galleries.models import Gallery
from guests import access, selectors, services
from guests.access import Grant
from picpick.core.apis import PublicAPIView, csrf_failure, site_studio_id
from picpick.core.errors import Forbidden

TAGS = ["guests"]
TOKEN_HEADER = OpenApiParameter(
    "X-Gallery-Token",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="The token from open/unlock/register (not needed for a public gallery).",
)
GUEST_ERRORS = {
    "e403": "`gallery_locked` (password/PIN needed), `registration_required`, `csrf_failed`.",
    "e404": "`not_found`: no such published gallery here.",
    "e410": "`gallery_expired`: the studio can extend it.",
}


def grant_from_request(request, gallery: Gallery) -> Grant | None:
    """The guest's grant for ``gallery`` from the header, else from the site cookie."""
    header = request.META.get(access.HEADER)
    if header:
        grant = access.load(header)
    else:
        raw = request.COOKIES.get(access.cookie_name(gallery.id))
        grant = access.load(raw) if raw else None
        if grant is not None and request.method not in ("GET", "HEAD", "OPTIONS"):
            django_request = getattr(request, "_request", request)
            if csrf_failure(django_request):
                raise Forbidden("CSRF check failed; reload the page.", code="csrf_failed")
    if grant is not None and grant.gallery_id != gallery.id:
        return None
    return grant


def set_grant_cookie(response, request, grant: Grant) -> None:
    """Keep the grant in an HttpOnly cookie on a studio site (not on the API host)."""
    if site_studio_id(request) is None:
        return
    response.set_cookie(
        access.cookie_name(grant.gallery_id),
        access.dump(grant),
        max_age=int(access.lifetime().total_seconds()),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


class GuestAPIView(PublicAPIView):
    throttle_classes: list = []  # guest limits are counted atomically by the services

    def gallery(self, gallery_id) -> Gallery:
        return selectors.guest_gallery_get(
            gallery_id=gallery_id, studio_id=site_studio_id(self.request)
        )

    def grant(self, gallery: Gallery) -> Grant | None:
        return grant_from_request(self.request, gallery)

    def open_gallery(self, gallery_id) -> tuple[Gallery, Grant]:
        """The gallery and the guest's valid grant, or the reason they may not look."""
        gallery = self.gallery(gallery_id)
        return gallery, services.grant_require(gallery=gallery, grant=self.grant(gallery))

    def with_token(self, body: dict, grant: Grant, status: int = 200) -> Response:
        body = {
            **body,
            "token": access.dump(grant),
            "expires_at": timezone.now() + access.lifetime(),
        }
        response = Response(body, status=status)
        set_grant_cookie(response, self.request, grant)
        return response
