"""Album endpoints: list/create in a gallery, reorder, read/edit/delete one album."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from galleries import selectors, services
from galleries.apis.serializers import AlbumListSerializer, AlbumOutputSerializer
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.serializers import InputSerializer

TAGS = ["albums"]
MAX_ALBUMS = 500


class AlbumListApi(StudioAPIView):
    """A gallery's albums are few, so the list is not paginated."""

    permissions = {"GET": Perm.GALLERY_VIEW, "POST": Perm.GALLERY_EDIT}

    class AlbumCreateInputSerializer(InputSerializer):
        name = serializers.CharField(max_length=200)
        description = serializers.CharField(required=False, allow_blank=True, max_length=5000)

    @extend_schema(
        tags=TAGS,
        operation_id="albums_list",
        summary="List a gallery's albums in their order",
        responses={200: AlbumListSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, gallery_id):
        gallery = selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        albums = selectors.album_list(studio=self.studio, gallery=gallery)
        return Response({"results": AlbumOutputSerializer(albums, many=True).data})

    @extend_schema(
        tags=TAGS,
        operation_id="albums_create",
        summary="Add an album at the end of the gallery",
        request=AlbumCreateInputSerializer,
        responses={
            201: AlbumOutputSerializer,
            **error_responses(400, 401, 403, 404, 409, e409="`gallery_archived`"),
        },
    )
    def post(self, request, gallery_id):
        gallery = selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        serializer = self.AlbumCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        album = services.album_create(gallery=gallery, by=request.user, **serializer.validated_data)
        return Response(AlbumOutputSerializer(album).data, status=status.HTTP_201_CREATED)


class AlbumReorderApi(StudioAPIView):
    permissions = {"POST": Perm.GALLERY_EDIT}

    class AlbumReorderInputSerializer(InputSerializer):
        album_ids = serializers.ListField(
            child=serializers.UUIDField(), allow_empty=True, max_length=MAX_ALBUMS
        )

    @extend_schema(
        tags=TAGS,
        operation_id="albums_reorder",
        summary="Set the order of all the gallery's albums",
        request=AlbumReorderInputSerializer,
        responses={
            200: AlbumListSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                422,
                e409="`gallery_archived`",
                e422="`album_set_mismatch`: album_ids must list every album exactly once",
            ),
        },
    )
    def post(self, request, gallery_id):
        gallery = selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        serializer = self.AlbumReorderInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        albums = services.album_reorder(
            gallery=gallery, by=request.user, album_ids=serializer.validated_data["album_ids"]
        )
        return Response({"results": AlbumOutputSerializer(albums, many=True).data})


class AlbumDetailApi(StudioAPIView):
    permissions = {
        "GET": Perm.GALLERY_VIEW,
        "PATCH": Perm.GALLERY_EDIT,
        "DELETE": Perm.GALLERY_EDIT,
    }

    class AlbumUpdateInputSerializer(InputSerializer):
        name = serializers.CharField(max_length=200, required=False)
        description = serializers.CharField(required=False, allow_blank=True, max_length=5000)

    @extend_schema(
        tags=TAGS,
        operation_id="albums_retrieve",
        summary="Read an album",
        responses={200: AlbumOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, album_id):
        album = selectors.album_get(studio=self.studio, album_id=album_id)
        return Response(AlbumOutputSerializer(album).data)

    @extend_schema(
        tags=TAGS,
        operation_id="albums_update",
        summary="Rename or describe an album",
        request=AlbumUpdateInputSerializer,
        responses={
            200: AlbumOutputSerializer,
            **error_responses(400, 401, 403, 404, 409, e409="`gallery_archived`"),
        },
    )
    def patch(self, request, album_id):
        album = selectors.album_get(studio=self.studio, album_id=album_id)
        serializer = self.AlbumUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        album = services.album_update(
            album=album, by=request.user, changes=serializer.validated_data
        )
        return Response(AlbumOutputSerializer(album).data)

    @extend_schema(
        tags=TAGS,
        operation_id="albums_destroy",
        summary="Delete an album; its photos stay in the gallery outside any album",
        responses={
            204: OpenApiResponse(description="Deleted."),
            **error_responses(401, 403, 404, 409, e409="`gallery_archived`"),
        },
    )
    def delete(self, request, album_id):
        album = selectors.album_get(studio=self.studio, album_id=album_id)
        services.album_delete(album=album, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
