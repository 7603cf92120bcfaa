"""Reprocessing a gallery's photos on demand (e.g. after a decoder fix or a failed batch)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from galleries import selectors
from galleries.services.processing import REPROCESS_SCOPES, gallery_reprocess
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.serializers import InputSerializer


class GalleryReprocessApi(StudioAPIView):
    permissions = {"POST": Perm.GALLERY_EDIT}

    class ReprocessInputSerializer(InputSerializer):
        scope = serializers.ChoiceField(
            choices=REPROCESS_SCOPES,
            help_text=(
                "`all`: every processed or failed photo from scratch; `failed`: only failed "
                "ones; `watermark`: re-stamp the guest previews of ready photos."
            ),
        )

    class ReprocessOutputSerializer(serializers.Serializer):
        scope = serializers.ChoiceField(choices=REPROCESS_SCOPES)
        queued = serializers.IntegerField(help_text="Photos queued for processing.")

    @extend_schema(
        tags=["galleries"],
        operation_id="galleries_reprocess",
        summary="Queue the gallery's photos for processing again",
        request=ReprocessInputSerializer,
        responses={202: ReprocessOutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, gallery_id):
        gallery = selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        serializer = self.ReprocessInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        scope = serializer.validated_data["scope"]
        queued = gallery_reprocess(gallery=gallery, by=request.user, scope=scope)
        return Response({"scope": scope, "queued": queued}, status=status.HTTP_202_ACCEPTED)
