"""Watermark endpoints: list/create, read/edit/delete, and the logo upload."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from accounts.permissions import Perm
from galleries.models import Watermark
from galleries.selectors.watermarks import watermark_get, watermark_list
from galleries.services import watermarks as service
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.serializers import InputSerializer

TAGS = ["watermarks"]
# Watermarks are the studio's: one edit or delete re-stamps (or un-stamps) the guest previews
# of every gallery that uses it, published ones included, so changing them is a studio setting.
PERMISSIONS = {
    "GET": Perm.GALLERY_VIEW,
    "POST": Perm.STUDIO_EDIT,
    "PATCH": Perm.STUDIO_EDIT,
    "DELETE": Perm.STUDIO_EDIT,
}


class WatermarkOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    text = serializers.CharField()
    position = serializers.ChoiceField(choices=Watermark.Position.choices)
    opacity = serializers.FloatField()
    scale = serializers.FloatField()
    has_logo = serializers.SerializerMethodField()
    version = serializers.IntegerField(help_text="Bumped by every change that alters the stamp.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_has_logo(self, watermark: Watermark) -> bool:
        return bool(watermark.logo_key)


class WatermarkListSerializer(serializers.Serializer):
    results = WatermarkOutputSerializer(many=True)


class WatermarkFieldsInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=100)
    text = serializers.CharField(max_length=100, required=False, allow_blank=True)
    position = serializers.ChoiceField(choices=Watermark.Position.choices, required=False)
    opacity = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    scale = serializers.FloatField(
        min_value=0.02, max_value=1.0, required=False, help_text="Stamp width / image width."
    )


class WatermarkListApi(StudioAPIView):
    permissions = PERMISSIONS

    class WatermarkCreateInputSerializer(WatermarkFieldsInputSerializer):
        pass

    @extend_schema(
        tags=TAGS,
        operation_id="watermarks_list",
        summary="List the studio's watermarks",
        responses={200: WatermarkListSerializer, **error_responses(401, 403)},
    )
    def get(self, request):
        rows = watermark_list(studio=self.studio)
        return Response({"results": WatermarkOutputSerializer(rows, many=True).data})

    @extend_schema(
        tags=TAGS,
        operation_id="watermarks_create",
        summary="Create a watermark (text now, a logo with the logo endpoint)",
        request=WatermarkCreateInputSerializer,
        responses={201: WatermarkOutputSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request):
        serializer = self.WatermarkCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        watermark = service.watermark_create(
            studio=self.studio, by=request.user, **serializer.validated_data
        )
        return Response(WatermarkOutputSerializer(watermark).data, status=status.HTTP_201_CREATED)


class WatermarkDetailApi(StudioAPIView):
    permissions = PERMISSIONS

    class WatermarkUpdateInputSerializer(WatermarkFieldsInputSerializer):
        name = serializers.CharField(max_length=100, required=False)

    @extend_schema(
        tags=TAGS,
        operation_id="watermarks_retrieve",
        summary="Read a watermark",
        responses={200: WatermarkOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, watermark_id):
        watermark = watermark_get(studio=self.studio, watermark_id=watermark_id)
        return Response(WatermarkOutputSerializer(watermark).data)

    @extend_schema(
        tags=TAGS,
        operation_id="watermarks_update",
        summary="Edit a watermark; galleries using it get their guest previews re-stamped",
        request=WatermarkUpdateInputSerializer,
        responses={200: WatermarkOutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request, watermark_id):
        watermark = watermark_get(studio=self.studio, watermark_id=watermark_id)
        serializer = self.WatermarkUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        watermark = service.watermark_update(
            watermark=watermark, by=request.user, changes=serializer.validated_data
        )
        return Response(WatermarkOutputSerializer(watermark).data)

    @extend_schema(
        tags=TAGS,
        operation_id="watermarks_destroy",
        summary="Delete a watermark; galleries using it go without",
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(401, 403, 404)},
    )
    def delete(self, request, watermark_id):
        watermark = watermark_get(studio=self.studio, watermark_id=watermark_id)
        service.watermark_delete(watermark=watermark, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WatermarkLogoApi(StudioAPIView):
    permissions = {"POST": Perm.STUDIO_EDIT}
    parser_classes = [MultiPartParser]
    # The API's body limit is 1 MiB; a logo may be 2 MiB, plus the multipart framing.
    max_body_bytes = service.LOGO_MAX_BYTES + 64 * 1024

    class LogoInputSerializer(InputSerializer):
        file = serializers.FileField(help_text="A PNG (with transparency), at most 2 MiB.")

    @extend_schema(
        tags=TAGS,
        operation_id="watermarks_logo_upload",
        summary="Upload the watermark's logo (multipart field `file`, a PNG ≤ 2 MiB)",
        request={"multipart/form-data": LogoInputSerializer},
        responses={
            200: WatermarkOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                413,
                e400="`validation_error` (no file), `invalid_logo` (not a PNG, too many pixels)",
                e413="`logo_too_large` or `payload_too_large`",
            ),
        },
    )
    def post(self, request, watermark_id):
        watermark = watermark_get(studio=self.studio, watermark_id=watermark_id)
        serializer = self.LogoInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # At most max_body_bytes (the middleware refused anything larger), so reading is fine.
        data = serializer.validated_data["file"].read()
        watermark = service.watermark_logo_set(watermark=watermark, by=request.user, data=data)
        return Response(WatermarkOutputSerializer(watermark).data)
