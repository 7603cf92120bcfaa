"""Photo endpoints (metadata only): list/register, read/edit/delete, reorder, bulk actions."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from galleries import selectors, services
from galleries.apis.serializers import (
    PhotoListSerializer,
    PhotoOutputSerializer,
    PhotoPageSerializer,
    page_data,
)
from galleries.filters import PhotoListFilters, filters_parse
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.serializers import InputSerializer

TAGS = ["photos"]
MAX_PHOTO_BYTES = 2**40  # 1 TiB: far above any real photo, below the column's range


class PhotoListApi(StudioAPIView):
    permissions = {"GET": Perm.GALLERY_VIEW, "POST": Perm.PHOTO_UPLOAD}

    class PhotoCreateInputSerializer(InputSerializer):
        filename = serializers.CharField(max_length=255)
        size = serializers.IntegerField(min_value=0, max_value=MAX_PHOTO_BYTES)
        content_type = serializers.CharField(max_length=100)
        width = serializers.IntegerField(min_value=1, required=False, allow_null=True)
        height = serializers.IntegerField(min_value=1, required=False, allow_null=True)
        captured_at = serializers.DateTimeField(required=False, allow_null=True)
        camera = serializers.CharField(max_length=120, required=False, allow_blank=True)
        checksum = serializers.CharField(max_length=100, required=False, allow_blank=True)
        album_id = serializers.UUIDField(required=False, allow_null=True)

        def validate_content_type(self, value: str) -> str:
            if not value.lower().startswith("image/"):
                raise serializers.ValidationError("Must be an image type, e.g. image/jpeg.")
            return value.lower()

    @extend_schema(
        tags=TAGS,
        operation_id="photos_list",
        summary="List a gallery's photos (keyset-paginated)",
        parameters=[PhotoListFilters],
        responses={200: PhotoPageSerializer, **error_responses(400, 401, 403, 404)},
    )
    def get(self, request, gallery_id):
        filters = filters_parse(PhotoListFilters, request.query_params)
        gallery = selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        page = selectors.photo_list_page(studio=self.studio, gallery=gallery, filters=filters)
        return Response(page_data(page, PhotoOutputSerializer))

    @extend_schema(
        tags=TAGS,
        operation_id="photos_create",
        summary="Register a photo's metadata (state pending, placed last)",
        request=PhotoCreateInputSerializer,
        responses={
            201: PhotoOutputSerializer,
            **error_responses(
                400, 401, 403, 404, 409, 422, e409="`gallery_archived`", e422="`invalid_album`"
            ),
        },
    )
    def post(self, request, gallery_id):
        gallery = selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        serializer = self.PhotoCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        photo = services.photo_create(gallery=gallery, by=request.user, **serializer.validated_data)
        return Response(PhotoOutputSerializer(photo).data, status=status.HTTP_201_CREATED)


class PhotoDetailApi(StudioAPIView):
    permissions = {"GET": Perm.GALLERY_VIEW, "PATCH": Perm.PHOTO_EDIT, "DELETE": Perm.PHOTO_DELETE}

    class PhotoUpdateInputSerializer(InputSerializer):
        filename = serializers.CharField(max_length=255, required=False)
        hidden = serializers.BooleanField(required=False)
        album_id = serializers.UUIDField(required=False, allow_null=True)
        position = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
        captured_at = serializers.DateTimeField(required=False, allow_null=True)
        camera = serializers.CharField(max_length=120, required=False, allow_blank=True)

    @extend_schema(
        tags=TAGS,
        operation_id="photos_retrieve",
        summary="Read a photo's metadata",
        responses={200: PhotoOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, photo_id):
        photo = selectors.photo_get(studio=self.studio, photo_id=photo_id)
        return Response(PhotoOutputSerializer(photo).data)

    @extend_schema(
        tags=TAGS,
        operation_id="photos_update",
        summary="Edit a photo's metadata",
        request=PhotoUpdateInputSerializer,
        responses={
            200: PhotoOutputSerializer,
            **error_responses(
                400, 401, 403, 404, 409, 422, e409="`gallery_archived`", e422="`invalid_album`"
            ),
        },
    )
    def patch(self, request, photo_id):
        photo = selectors.photo_get(studio=self.studio, photo_id=photo_id)
        serializer = self.PhotoUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        photo = services.photo_update(
            photo=photo, by=request.user, changes=serializer.validated_data
        )
        return Response(PhotoOutputSerializer(photo).data)

    @extend_schema(
        tags=TAGS,
        operation_id="photos_destroy",
        summary="Delete a photo row",
        responses={
            204: OpenApiResponse(description="Deleted."),
            **error_responses(401, 403, 404, 409, e409="`gallery_archived`"),
        },
    )
    def delete(self, request, photo_id):
        photo = selectors.photo_get(studio=self.studio, photo_id=photo_id)
        services.photo_delete(photo=photo, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PhotoReorderApi(StudioAPIView):
    permissions = {"POST": Perm.PHOTO_EDIT}

    class PhotoReorderInputSerializer(InputSerializer):
        photo_ids = serializers.ListField(
            child=serializers.UUIDField(), min_length=1, max_length=services.BULK_MAX_IDS
        )
        before_id = serializers.UUIDField(required=False)
        after_id = serializers.UUIDField(required=False)

        def validate(self, attrs):
            if ("before_id" in attrs) == ("after_id" in attrs):
                message = "Give exactly one of before_id and after_id."
                raise serializers.ValidationError({"before_id": [message], "after_id": [message]})
            if len(set(attrs["photo_ids"])) != len(attrs["photo_ids"]):
                raise serializers.ValidationError({"photo_ids": ["Ids must be unique."]})
            return attrs

    @extend_schema(
        tags=TAGS,
        operation_id="photos_reorder",
        summary="Move photos as a block just before or after another photo",
        request=PhotoReorderInputSerializer,
        responses={
            200: PhotoListSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                422,
                e409="`gallery_archived`",
                e422="`unknown_photos` or `invalid_anchor`",
            ),
        },
    )
    def post(self, request, gallery_id):
        gallery = selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        serializer = self.PhotoReorderInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        services.photo_reorder(
            gallery=gallery,
            by=request.user,
            photo_ids=data["photo_ids"],
            before_id=data.get("before_id"),
            after_id=data.get("after_id"),
        )
        moved = selectors.photo_list(studio=self.studio, gallery=gallery).filter(
            id__in=data["photo_ids"]
        )
        return Response(
            {"results": PhotoOutputSerializer(moved.order_by("position", "id"), many=True).data}
        )


class PhotoBulkFailureSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The id as sent (it may not even be a UUID).")
    code = serializers.CharField()
    message = serializers.CharField()


class PhotoBulkApi(StudioAPIView):
    # photo.edit admits the request; "delete" additionally needs photo.delete (checked below,
    # once the action is known).
    permissions = {"POST": Perm.PHOTO_EDIT}

    class PhotoBulkInputSerializer(InputSerializer):
        action = serializers.ChoiceField(choices=["move", "hide", "unhide", "delete"])
        photo_ids = serializers.ListField(
            child=serializers.CharField(max_length=64),
            min_length=1,
            max_length=services.BULK_MAX_IDS,
        )
        album_id = serializers.UUIDField(required=False, allow_null=True)

        def validate(self, attrs):
            if attrs["action"] == "move" and "album_id" not in attrs:
                raise serializers.ValidationError(
                    {"album_id": ["Required for move (null moves the photos out of any album)."]}
                )
            if attrs["action"] != "move" and "album_id" in attrs:
                raise serializers.ValidationError({"album_id": ["Only used by move."]})
            return attrs

    class PhotoBulkOutputSerializer(serializers.Serializer):
        succeeded = serializers.ListField(child=serializers.UUIDField())
        failed = serializers.ListField(child=PhotoBulkFailureSerializer())

    @extend_schema(
        tags=TAGS,
        operation_id="photos_bulk",
        summary="Move, hide, unhide or delete up to 1000 photos at once",
        description=(
            "Ids that are not photos of this gallery (including malformed ids and other "
            "studios' ids) are reported in `failed` with code `not_found`; the others succeed "
            "together. `move` and `hide`/`unhide` need photo.edit, `delete` needs photo.delete."
        ),
        request=PhotoBulkInputSerializer,
        responses={
            200: PhotoBulkOutputSerializer,
            **error_responses(
                400, 401, 403, 404, 409, 422, e409="`gallery_archived`", e422="`invalid_album`"
            ),
        },
    )
    def post(self, request, gallery_id):
        gallery = selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        serializer = self.PhotoBulkInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["action"] == "delete":
            self.require(Perm.PHOTO_DELETE)
        result = services.photos_bulk_action(
            gallery=gallery,
            by=request.user,
            action=data["action"],
            photo_ids=data["photo_ids"],
            album_id=data.get("album_id"),
        )
        return Response({"succeeded": result.succeeded, "failed": result.failed})
