"""The studio's selfie search and its list of guests' hide-me requests (the guests' side of
the selfie is guests.apis.selfie)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from accounts.permissions import Perm
from faces import selectors, services
from faces.apis.common import page_data, page_serializer
from faces.selfie_http import (
    SELFIE_BODY_BYTES,
    SELFIE_ERRORS,
    SelfieInputSerializer,
    SelfieSearchOutputSerializer,
    selfie_bytes,
)
from galleries import selectors as gallery_selectors
from galleries.filters import filters_parse
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams
from picpick.core.transactions import outside_request_transaction

TAGS = ["selfie search"]


@outside_request_transaction
class StudioSelfieSearchApi(StudioAPIView):
    permissions = {"POST": Perm.GALLERY_VIEW}
    parser_classes = [MultiPartParser]
    max_body_bytes = SELFIE_BODY_BYTES  # read by BodySizeLimitMiddleware

    @extend_schema(
        tags=TAGS,
        operation_id="galleries_selfie_search",
        summary="Find the photos of a person in a gallery from a photo of their face",
        request={"multipart/form-data": SelfieInputSerializer},
        responses={
            200: SelfieSearchOutputSerializer,
            **error_responses(400, 401, 403, 404, 409, 413, 422, **SELFIE_ERRORS),
        },
    )
    def post(self, request, gallery_id):
        gallery = gallery_selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        services.face_search_check(gallery=gallery)
        data, _ = selfie_bytes(request, SelfieInputSerializer)
        result = services.selfie_search(gallery=gallery, data=data, for_guest=False)
        return Response(SelfieSearchOutputSerializer(result).data)


class HideRequestOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    faces_hidden = serializers.IntegerField(help_text="Faces the request hid.")
    email = serializers.CharField(help_text="The e-mail the guest left, or empty.")


class HideRequestListApi(StudioAPIView):
    """The studio's view of its guests' "hide me" requests (no client address, only counts)."""

    permissions = {"GET": Perm.GALLERY_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="galleries_hide_requests_list",
        summary="Guests' hide-me requests of a gallery, newest first",
        parameters=[PageParams],
        responses={
            200: page_serializer("HideRequestPage", HideRequestOutputSerializer),
            **error_responses(400, 401, 403, 404),
        },
    )
    def get(self, request, gallery_id):
        filters = filters_parse(PageParams, request.query_params)
        gallery = gallery_selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        page = selectors.hide_requests_page(
            gallery=gallery,
            cursor=filters.get("cursor") or None,
            page_size=filters["page_size"],
        )
        rows = [
            {
                "id": r.id,
                "created_at": r.created_at,
                "faces_hidden": r.faces_hidden,
                "email": r.email,
            }
            for r in page.items
        ]
        return Response(page_data(page, rows, HideRequestOutputSerializer))
