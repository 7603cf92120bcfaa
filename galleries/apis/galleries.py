"""Gallery endpoints: list/create, read/edit/delete, and the status actions."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from galleries import selectors, services
from galleries.apis.serializers import GalleryOutputSerializer, GalleryPageSerializer, page_data
from galleries.filters import GalleryListFilters, filters_parse
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.serializers import InputSerializer

TAGS = ["galleries"]
MAX_TAGS = 50


class GalleryFieldsInputSerializer(InputSerializer):
    """The writable fields of a gallery. ``status`` changes only through the actions."""

    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=80, required=False)
    event_date = serializers.DateField(required=False, allow_null=True)
    cover_photo_id = serializers.UUIDField(required=False, allow_null=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, max_length=MAX_TAGS
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=10_000)


def _gallery_response(request_view: StudioAPIView, gallery_id, code: int = 200) -> Response:
    # Read back through the selector: the answer shows what was committed, tags included.
    gallery = selectors.gallery_get(
        studio=request_view.studio, gallery_id=gallery_id, with_tags=True
    )
    return Response(GalleryOutputSerializer(gallery).data, status=code)


class GalleryListApi(StudioAPIView):
    permissions = {"GET": Perm.GALLERY_VIEW, "POST": Perm.GALLERY_CREATE}

    class GalleryCreateInputSerializer(GalleryFieldsInputSerializer):
        pass

    @extend_schema(
        tags=TAGS,
        operation_id="galleries_list",
        summary="List the studio's galleries",
        parameters=[GalleryListFilters],
        responses={200: GalleryPageSerializer, **error_responses(400, 401, 403)},
    )
    def get(self, request):
        filters = filters_parse(GalleryListFilters, request.query_params)
        page = selectors.gallery_list_page(studio=self.studio, filters=filters)
        return Response(page_data(page, GalleryOutputSerializer))

    @extend_schema(
        tags=TAGS,
        operation_id="galleries_create",
        summary="Create a gallery (draft)",
        request=GalleryCreateInputSerializer,
        responses={
            201: GalleryOutputSerializer,
            **error_responses(400, 401, 403, 409, 422, e409="`slug_taken`", e422="`invalid_cover`"),
        },
    )
    def post(self, request):
        serializer = self.GalleryCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        gallery = services.gallery_create(
            studio=self.studio, by=request.user, **serializer.validated_data
        )
        return _gallery_response(self, gallery.id, status.HTTP_201_CREATED)


class GalleryDetailApi(StudioAPIView):
    permissions = {
        "GET": Perm.GALLERY_VIEW,
        "PATCH": Perm.GALLERY_EDIT,
        "DELETE": Perm.GALLERY_DELETE,
    }
    # Switching face recognition off deletes people and their corrections for good: a studio
    # setting, whatever the level. The watermark decides what guests of a published gallery
    # get, like its guest access, so it takes the publisher's permission.
    field_permissions = {
        "PATCH": {
            "face_recognition_enabled": Perm.STUDIO_EDIT,
            "watermark_id": Perm.GALLERY_PUBLISH,
        }
    }

    class GalleryUpdateInputSerializer(GalleryFieldsInputSerializer):
        name = serializers.CharField(max_length=200, required=False)
        watermark_id = serializers.UUIDField(
            required=False,
            allow_null=True,
            help_text="A watermark of the studio for guest previews; null removes it.",
        )
        face_recognition_enabled = serializers.BooleanField(
            required=False,
            help_text="Off deletes the gallery's face data (faces, people, search index) at "
            "once and needs `confirm`; on again queues its photos for processing.",
        )
        confirm = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=32,
            help_text='`"delete-face-data"`: required to switch face recognition off.',
        )

    @extend_schema(
        tags=TAGS,
        operation_id="galleries_retrieve",
        summary="Read a gallery",
        responses={200: GalleryOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, gallery_id):
        return _gallery_response(self, gallery_id)

    @extend_schema(
        tags=TAGS,
        operation_id="galleries_update",
        summary="Edit a gallery (only the fields sent)",
        request=GalleryUpdateInputSerializer,
        responses={
            200: GalleryOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                422,
                e400="`validation_error`; `confirmation_required`: face recognition switched "
                "off without `confirm`.",
                e403="`permission_denied`: `face_recognition_enabled` needs studio.edit, "
                "`watermark_id` gallery.publish.",
                e409="`slug_taken`",
                e422="`invalid_cover`, `invalid_watermark`",
            ),
        },
    )
    def patch(self, request, gallery_id):
        gallery = selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        serializer = self.GalleryUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        confirm = changes.pop("confirm", None)
        services.gallery_update(gallery=gallery, by=request.user, changes=changes, confirm=confirm)
        return _gallery_response(self, gallery.id)

    @extend_schema(
        tags=TAGS,
        operation_id="galleries_destroy",
        summary="Delete a gallery with its albums and photos",
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(401, 403, 404)},
    )
    def delete(self, request, gallery_id):
        gallery = selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        services.gallery_delete(gallery=gallery, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _GalleryActionApi(StudioAPIView):
    permissions = {"POST": Perm.GALLERY_PUBLISH}
    action_service = staticmethod(services.gallery_publish)

    def post(self, request, gallery_id):
        gallery = selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        self.action_service(gallery=gallery, by=request.user)
        return _gallery_response(self, gallery.id)


def _action_schema(operation_id: str, summary: str):
    return extend_schema(
        tags=TAGS,
        operation_id=operation_id,
        summary=summary,
        request=None,
        responses={
            200: GalleryOutputSerializer,
            **error_responses(401, 403, 404, 409, e409="`invalid_transition`"),
        },
    )


class GalleryPublishApi(_GalleryActionApi):
    action_service = staticmethod(services.gallery_publish)

    @_action_schema("galleries_publish", "Publish a draft gallery (sets published_at)")
    def post(self, request, gallery_id):
        return super().post(request, gallery_id)


class GalleryArchiveApi(_GalleryActionApi):
    action_service = staticmethod(services.gallery_archive)

    @_action_schema("galleries_archive", "Archive a gallery (its photos and albums freeze)")
    def post(self, request, gallery_id):
        return super().post(request, gallery_id)


class GalleryUnarchiveApi(_GalleryActionApi):
    action_service = staticmethod(services.gallery_unarchive)

    @_action_schema(
        "galleries_unarchive",
        "Unarchive: back to published if it was ever published, else to draft",
    )
    def post(self, request, gallery_id):
        return super().post(request, gallery_id)
