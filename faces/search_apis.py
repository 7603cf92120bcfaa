"""Selfie search (guest and studio side) and the guest's "hide me"."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import MemoryFileUploadHandler
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import Throttled
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from accounts.permissions import Perm
from faces import search_service, selectors
from faces.apis import PageFilters, _page, _page_serializer
from galleries import selectors as gallery_selectors
from galleries.filters import filters_parse
from guests.apis import TOKEN_HEADER, GuestAPIView
from picpick.core.apis import StudioAPIView
from picpick.core.clientaddr import client_address
from picpick.core.openapi import error_responses
from picpick.core.serializers import InputSerializer
from picpick.core.transactions import outside_request_transaction

TAGS = ["selfie search"]
# Room for the multipart framing and the other fields around the file.
_MULTIPART_OVERHEAD = 64 * 1024
_SELFIE_BODY_BYTES = settings.PICPICK_SELFIE_MAX_BYTES + _MULTIPART_OVERHEAD


class _SelfieUploadHandler(MemoryFileUploadHandler):
    """Keeps the upload in memory whatever its size (the selfie never touches the disk) and
    stops reading as soon as the file passes the limit."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.activated = True

    def new_file(self, *args, **kwargs):
        self.received = 0
        super().new_file(*args, **kwargs)  # raises StopFutureHandlers: no other handler runs

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.PICPICK_SELFIE_MAX_BYTES:
            raise search_service.SelfieTooLarge(_too_large_message())
        return super().receive_data_chunk(raw_data, start)


def _too_large_message() -> str:
    return f"The selfie is larger than {settings.PICPICK_SELFIE_MAX_BYTES // (1024 * 1024)} MB."


def _selfie_upload_prepare(django_request) -> None:
    """413 before reading a body that declares more than the limit; else the in-memory
    handler, installed before anything (the CSRF check included) reads the body."""
    if getattr(django_request, "_selfie_handler_set", False):
        return
    declared = int(django_request.META.get("CONTENT_LENGTH") or 0)
    if declared > settings.PICPICK_SELFIE_MAX_BYTES + _MULTIPART_OVERHEAD:
        raise search_service.SelfieTooLarge(_too_large_message())
    django_request.upload_handlers = [_SelfieUploadHandler(django_request)]
    django_request._selfie_handler_set = True


class _GuestSelfieView(GuestAPIView):
    parser_classes = [MultiPartParser]
    max_body_bytes = _SELFIE_BODY_BYTES  # read by BodySizeLimitMiddleware

    def initial(self, request, *args, **kwargs):
        _selfie_upload_prepare(request._request)
        super().initial(request, *args, **kwargs)


def _selfie_bytes(request, serializer_class) -> tuple[bytes, dict]:
    """The uploaded selfie's bytes and the validated fields; 413 before reading a body that
    declares more than the limit."""
    _selfie_upload_prepare(request._request)
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    upload = serializer.validated_data.pop("selfie")
    if upload.size > settings.PICPICK_SELFIE_MAX_BYTES:
        raise search_service.SelfieTooLarge(_too_large_message())
    return upload.read(), serializer.validated_data


def _rate_limit(request, gallery_id) -> None:
    wait = search_service.selfie_rate_limit_take(
        gallery_id=gallery_id, address=client_address(request)
    )
    if wait is not None:
        raise Throttled(wait=wait, detail="Too many selfie searches; try again shortly.")


class SelfieInputSerializer(InputSerializer):
    selfie = serializers.FileField(
        help_text="A JPEG, PNG or HEIC photo with the guest's face (≤ 10 MB). Not stored."
    )


class HideMeInputSerializer(SelfieInputSerializer):
    email = serializers.EmailField(
        required=False, default="", help_text="Where the studio may confirm (optional)."
    )


class MatchedPersonSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class PhotoMatchSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="photo_id")
    distance = serializers.FloatField(help_text="Euclidean distance of the closest face.")
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    thumb_url = serializers.CharField(allow_null=True)
    preview_url = serializers.CharField(allow_null=True)


class SelfieSearchOutputSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    faces_in_selfie = serializers.IntegerField(
        help_text="Faces found in the selfie; the largest one is searched."
    )
    matched_person = MatchedPersonSerializer(
        allow_null=True,
        help_text="The studio's person group most matches belong to (more than half), or null.",
    )
    photos = PhotoMatchSerializer(many=True, help_text="Nearest first.")


class HideMeOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    faces_hidden = serializers.IntegerField()


_SELFIE_ERRORS = {
    "e400": "`unreadable_image` (not a JPEG/PNG/HEIC or broken), `validation_error`.",
    "e409": "`face_search_off`: face recognition is off for the studio or the gallery.",
    "e413": "`payload_too_large`: the selfie is over 10 MB.",
    "e422": "`no_face`, `image_too_small`, `too_many_pixels` (includes decompression bombs).",
}
_GUEST_ERRORS = {
    **_SELFIE_ERRORS,
    "e403": "`gallery_locked` (password/PIN needed), `registration_required`, `csrf_failed`.",
    "e404": "`not_found`: no such published gallery here.",
    "e410": "`gallery_expired`.",
    "e429": "`rate_limited` per client address or per gallery; see Retry-After.",
}


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
            **error_responses(400, 403, 404, 409, 410, 413, 422, 429, **_GUEST_ERRORS),
        },
    )
    def post(self, request, gallery_id):
        gallery, _grant = self.open_gallery(gallery_id)
        search_service.face_search_check(gallery=gallery)
        _rate_limit(request, gallery.id)
        data, _ = _selfie_bytes(request, SelfieInputSerializer)
        result = search_service.selfie_search(gallery=gallery, data=data, for_guest=True)
        return Response(SelfieSearchOutputSerializer(result).data)


@outside_request_transaction
class StudioSelfieSearchApi(StudioAPIView):
    permissions = {"POST": Perm.GALLERY_VIEW}
    parser_classes = [MultiPartParser]
    max_body_bytes = _SELFIE_BODY_BYTES  # read by BodySizeLimitMiddleware

    @extend_schema(
        tags=TAGS,
        operation_id="galleries_selfie_search",
        summary="Find the photos of a person in a gallery from a photo of their face",
        request={"multipart/form-data": SelfieInputSerializer},
        responses={
            200: SelfieSearchOutputSerializer,
            **error_responses(400, 401, 403, 404, 409, 413, 422, **_SELFIE_ERRORS),
        },
    )
    def post(self, request, gallery_id):
        gallery = gallery_selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        search_service.face_search_check(gallery=gallery)
        data, _ = _selfie_bytes(request, SelfieInputSerializer)
        result = search_service.selfie_search(gallery=gallery, data=data, for_guest=False)
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
            **error_responses(400, 403, 404, 409, 410, 413, 422, 429, **_GUEST_ERRORS),
        },
    )
    def post(self, request, gallery_id):
        gallery, _grant = self.open_gallery(gallery_id)
        search_service.face_search_check(gallery=gallery)
        _rate_limit(request, gallery.id)
        data, fields = _selfie_bytes(request, HideMeInputSerializer)
        hide = search_service.hide_me(
            gallery=gallery, data=data, email=fields["email"], address=client_address(request)
        )
        return Response(HideMeOutputSerializer(hide).data)


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
        parameters=[PageFilters],
        responses={
            200: _page_serializer("HideRequestPage", HideRequestOutputSerializer),
            **error_responses(400, 401, 403, 404),
        },
    )
    def get(self, request, gallery_id):
        filters = filters_parse(PageFilters, request.query_params)
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
        return Response(_page(page, rows, HideRequestOutputSerializer))
