"""A guest's favourites."""

from __future__ import annotations

from drf_spectacular.utils import (
    extend_schema,
)
from rest_framework import serializers
from rest_framework.response import Response

from guests import selectors, services
from guests.apis.base import (
    GUEST_ERRORS,
    TAGS,
    TOKEN_HEADER,
    GuestAPIView,
)
from picpick.core.openapi import error_responses
from picpick.core.serializers import InputSerializer


# --- Favourites -------------------------------------------------------------------------------
class FavouriteSerializer(serializers.Serializer):
    photo_id = serializers.UUIDField()
    comment = serializers.CharField()
    created_at = serializers.DateTimeField()


class FavouriteListSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    item_count = serializers.IntegerField()
    items = FavouriteSerializer(many=True, source="items.all")


class FavouriteListsApi(GuestAPIView):
    class FavouriteListsInput(InputSerializer):
        name = serializers.CharField(max_length=80)

    @extend_schema(
        tags=TAGS,
        operation_id="guest_favourites_list",
        summary="The guest's favourite lists with their photos and comments",
        auth=[],
        parameters=[TOKEN_HEADER],
        responses={
            200: FavouriteListSerializer(many=True),
            **error_responses(
                403, 404, 410, **{**GUEST_ERRORS, "e403": "`email_required`, `gallery_locked`."}
            ),
        },
    )
    def get(self, request, gallery_id):
        gallery, grant = self.open_gallery(gallery_id)
        visitor = selectors.visitor_get(gallery=gallery, visitor_id=grant.visitor_id)
        lists = selectors.visitor_lists(visitor=visitor) if visitor else []
        return Response(FavouriteListSerializer(lists, many=True).data)

    @extend_schema(
        tags=TAGS,
        operation_id="guest_favourites_create_list",
        summary="Start another favourite list",
        auth=[],
        parameters=[TOKEN_HEADER],
        request=FavouriteListsInput,
        responses={
            201: FavouriteListSerializer,
            **error_responses(400, 403, 404, 409, 410, 422, e409="`list_exists`."),
        },
    )
    def post(self, request, gallery_id):
        data = self.FavouriteListsInput.validate_or_raise(request.data)
        gallery, grant = self.open_gallery(gallery_id)
        created = services.favourite_list_create(gallery=gallery, grant=grant, name=data["name"])
        return Response(FavouriteListSerializer(created).data, status=201)


class FavouritePhotoApi(GuestAPIView):
    class FavouritePhotoInput(InputSerializer):
        comment = serializers.CharField(required=False, allow_blank=True, max_length=1000)
        list_id = serializers.UUIDField(required=False)

    class RemoveFilters(InputSerializer):
        list_id = serializers.UUIDField(required=False)

    @extend_schema(
        tags=TAGS,
        operation_id="guest_favourite_set",
        summary="Favourite a photo (or change its comment); the first list unless one is named",
        auth=[],
        parameters=[TOKEN_HEADER],
        request=FavouritePhotoInput,
        responses={
            200: FavouriteSerializer,
            **error_responses(
                400, 403, 404, 410, 422, e403="`email_required`.", e422="`list_full`."
            ),
        },
    )
    def put(self, request, gallery_id, photo_id):
        data = self.FavouritePhotoInput.validate_or_raise(request.data)
        gallery, grant = self.open_gallery(gallery_id)
        favourite = services.favourite_set(
            gallery=gallery,
            grant=grant,
            photo_id=photo_id,
            comment=data.get("comment", ""),
            list_id=data.get("list_id"),
        )
        return Response(FavouriteSerializer(favourite).data)

    @extend_schema(
        tags=TAGS,
        operation_id="guest_favourite_remove",
        summary="Remove a photo from the guest's lists (or from one list)",
        auth=[],
        parameters=[RemoveFilters, TOKEN_HEADER],
        responses={204: None, **error_responses(400, 403, 404, 410)},
    )
    def delete(self, request, gallery_id, photo_id):
        filters = self.RemoveFilters.validate_or_raise(request.query_params)
        gallery, grant = self.open_gallery(gallery_id)
        services.favourite_remove(
            gallery=gallery, grant=grant, photo_id=photo_id, list_id=filters.get("list_id")
        )
        return Response(status=204)
