"""A guest's selfie: "find my photos" and "hide me" (the face search itself is faces')."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import Throttled
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from faces import services
from faces.selfie_http import (
    SELFIE_BODY_BYTES,
    SELFIE_ERRORS,
    HideMeInputSerializer,
    HideMeOutputSerializer,
    SelfieInputSerializer,
    SelfieSearchOutputSerializer,
    selfie_bytes,
    selfie_upload_prepare,
)
from guests.apis.base import TOKEN_HEADER, GuestAPIView
from picpick.core.clientaddr import client_address
from picpick.core.openapi import error_responses
from picpick.core.transactions import outside_request_transaction

TAGS = ["selfie search"]
_SELFIE_GUEST_ERRORS = {
    **SELFIE_ERRORS,
    "e403": "`gallery_locked` (password/PIN needed), `registration_required`, `csrf_failed`.",
    "e404": "`not_found`: no such published gallery here.",
    "e410": "`gallery_expired`.",
    "e429": "`rate_limited` per client address or per gallery; see Retry-After.",
}


class _GuestSelfieView(GuestAPIView):
    parser_classes = [MultiPartParser]
    max_body_bytes = SELFIE_BODY_BYTES  # read by BodySizeLimitMiddleware

    def initial(self, request, *args, **kwargs):
        selfie_upload_prepare(request._request)
        super().initial(request, *args, **kwargs)


def _rate_limit(request, gallery_id) -> None:
    wait = services.selfie_rate_limit_take(gallery_id=gallery_id, address=client_address(request))
    if wait is not None:
        raise Throttled(wait=wait, detail="Too many selfie searches; try again shortly.")


@outside_request_transaction
class PublicSelfieSearchApi(_GuestSelfieView):
    @extend_schema(
        tags=TAGS,
        operation_id="public_selfie_search",
        summary="Find a guest's photos in a published gallery from a selfie",
        auth=[],
        parameters=[TOKEN_HEADER],
        request={"multipart/form-data": SelfieInputSerializer},
        responses={
            200: SelfieSearchOutputSerializer,
            **error_responses(400, 403, 404, 409, 410, 413, 422, 429, **_SELFIE_GUEST_ERRORS),
        },
    )
    def post(self, request, gallery_id):
        gallery, _grant = self.open_gallery(gallery_id)
        services.face_search_check(gallery=gallery)
        _rate_limit(request, gallery.id)
        data, _ = selfie_bytes(request, SelfieInputSerializer)
        result = services.selfie_search(gallery=gallery, data=data, for_guest=True)
        return Response(SelfieSearchOutputSerializer(result).data)


class PublicHideMeApi(_GuestSelfieView):
    @extend_schema(
        tags=TAGS,
        operation_id="public_hide_me",
        summary="Hide a guest's face from search and person lists, from a selfie",
        description=(
            "Every face of the gallery within the match distance of the selfie's largest face "
            "is hidden; the request is recorded for the studio (count, optional e-mail, a "
            "salted hash of the client address). The selfie is not stored."
        ),
        auth=[],
        parameters=[TOKEN_HEADER],
        request={"multipart/form-data": HideMeInputSerializer},
        responses={
            200: HideMeOutputSerializer,
            **error_responses(400, 403, 404, 409, 410, 413, 422, 429, **_SELFIE_GUEST_ERRORS),
        },
    )
    def post(self, request, gallery_id):
        gallery, _grant = self.open_gallery(gallery_id)
        services.face_search_check(gallery=gallery)
        _rate_limit(request, gallery.id)
        data, fields = selfie_bytes(request, HideMeInputSerializer)
        hide = services.hide_me(
            gallery=gallery, data=data, email=fields["email"], address=client_address(request)
        )
        return Response(HideMeOutputSerializer(hide).data)
