"""The current studio: its settings, usage and deletion."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import services
from accounts.models import Role
from accounts.permissions import Perm
from accounts.selectors import (
    studio_usage_get,
)
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.serializers import InputSerializer

# --- the current studio --------------------------------------------------------------------


class StudioUsageOutputSerializer(serializers.Serializer):
    gallery_count = serializers.IntegerField()
    photo_count = serializers.IntegerField()
    storage_bytes = serializers.IntegerField()


class StudioOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.CharField()
    timezone = serializers.CharField()
    default_currency = serializers.CharField()
    locale = serializers.CharField(help_text="How money and dates are written (e.g. `de_DE`).")
    plan = serializers.CharField()
    face_recognition_enabled = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    role = serializers.ChoiceField(choices=Role.choices, help_text="The caller's role.")
    usage = StudioUsageOutputSerializer()


class _DeleteWithBodySchema(AutoSchema):
    """Documents the DELETE body too (spectacular only documents PUT/PATCH/POST bodies).

    Deleting a studio takes a typed confirmation, like GitHub's "type the repository name".
    """

    def _get_request_body(self, direction="request"):
        if self.method != "DELETE":
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"


class StudioApi(StudioAPIView):
    schema = _DeleteWithBodySchema()
    permissions = {"GET": Perm.STUDIO_VIEW, "PATCH": Perm.STUDIO_EDIT, "DELETE": Perm.STUDIO_DELETE}

    class StudioUpdateInputSerializer(InputSerializer):
        name = serializers.CharField(max_length=120, required=False)
        slug = serializers.CharField(max_length=63, required=False)
        timezone = serializers.CharField(max_length=64, required=False)
        default_currency = serializers.CharField(max_length=3, required=False)
        locale = serializers.CharField(max_length=20, required=False)
        face_recognition_enabled = serializers.BooleanField(
            required=False,
            help_text="Off deletes the face data of every gallery at once (and needs `confirm`); "
            "on again queues the photos of galleries that have it on for processing.",
        )
        confirm = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=32,
            help_text='`"delete-face-data"`: required to switch face recognition off.',
        )

    class StudioDeleteInputSerializer(InputSerializer):
        confirm_slug = serializers.CharField(max_length=63)

    def _studio(self) -> Response:
        studio = self.studio
        fields = (
            "id",
            "name",
            "slug",
            "timezone",
            "default_currency",
            "locale",
            "plan",
            "face_recognition_enabled",
            "created_at",
        )
        data = {name: getattr(studio, name) for name in fields}
        data.update(role=self.membership.role, usage=studio_usage_get(studio=studio))
        return Response(StudioOutputSerializer(data).data)

    @extend_schema(
        operation_id="studio_get",
        responses={200: StudioOutputSerializer, **error_responses(401, 403)},
    )
    def get(self, request: Request) -> Response:
        return self._studio()

    @extend_schema(
        operation_id="studio_update",
        request=StudioUpdateInputSerializer,
        responses={
            200: StudioOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                409,
                e400="`validation_error`; `confirmation_required`: face recognition switched "
                "off without `confirm`.",
                e409="`slug_taken`.",
            ),
        },
    )
    def patch(self, request: Request) -> Response:
        data = self.StudioUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.studio_update(studio=self.studio, by=request.user, **data.validated_data)
        return self._studio()

    @extend_schema(
        operation_id="studio_delete",
        request=StudioDeleteInputSerializer,
        responses={
            204: OpenApiResponse(description="Soft-deleted; studio endpoints now answer 403."),
            **error_responses(
                400,
                401,
                403,
                e400="`confirmation_mismatch`: `confirm_slug` is not the studio's slug.",
            ),
        },
    )
    def delete(self, request: Request) -> Response:
        data = self.StudioDeleteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.studio_delete(studio=self.studio, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)
