"""Opening a gallery, unlocking it, registering, and its photo pages."""

from __future__ import annotations

from drf_spectacular.utils import (
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response

from domains.selectors import site_for_host
from galleries.models import Gallery
from galleries.selectors.delivery import gallery_cover_thumb_urls
from guests import selectors, services
from guests.access import Grant
from guests.apis.base import (
    GUEST_ERRORS,
    TAGS,
    TOKEN_HEADER,
    GuestAPIView,
)
from picpick.core.apis import site_studio_id
from picpick.core.clientaddr import client_address
from picpick.core.errors import NotFound, Unprocessable
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body
from picpick.core.serializers import InputSerializer


# --- Gallery ----------------------------------------------------------------------------------
class StudioBriefSerializer(serializers.Serializer):
    name = serializers.CharField()


class AlbumSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField()
    photo_count = serializers.IntegerField()


class GuestVisitorSerializer(serializers.Serializer):
    email = serializers.EmailField()
    name = serializers.CharField()


class GuestGallerySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.CharField()
    event_date = serializers.DateField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    studio = StudioBriefSerializer()
    cover_url = serializers.CharField(allow_null=True)
    photo_count = serializers.IntegerField()
    access = serializers.ChoiceField(choices=Gallery.Access.choices)
    require_registration = serializers.BooleanField()
    download_sizes = serializers.ListField(child=serializers.CharField())
    download_pin_required = serializers.BooleanField()
    downloads_unlocked = serializers.BooleanField()
    face_search = serializers.BooleanField()
    albums = AlbumSerializer(many=True)
    visitor = GuestVisitorSerializer(allow_null=True)


def gallery_body(gallery: Gallery, grant: Grant) -> dict:
    visitor = selectors.visitor_get(gallery=gallery, visitor_id=grant.visitor_id)
    return GuestGallerySerializer(
        {
            "id": gallery.id,
            "name": gallery.name,
            "slug": gallery.slug,
            "event_date": gallery.event_date,
            "expires_at": gallery.expires_at,
            "studio": {"name": gallery.studio.name},
            "cover_url": gallery_cover_thumb_urls(galleries=[gallery])[gallery.id],
            "photo_count": gallery.photo_count,
            "access": gallery.access,
            "require_registration": gallery.require_registration,
            "download_sizes": gallery.download_sizes or [],
            "download_pin_required": bool(gallery.download_pin),
            "downloads_unlocked": grant.downloads_unlocked or not gallery.download_pin,
            "face_search": gallery.face_recognition_enabled
            and gallery.studio.face_recognition_enabled,
            "albums": selectors.guest_albums(gallery=gallery),
            "visitor": visitor,
        }
    ).data


TokenResponse = inline_serializer(
    "GuestTokenResponse",
    {
        "token": serializers.CharField(help_text="Send as X-Gallery-Token."),
        "expires_at": serializers.DateTimeField(),
        "gallery": GuestGallerySerializer(),
    },
)


class GalleryOpenApi(GuestAPIView):
    class GalleryOpenInput(InputSerializer):
        url = serializers.URLField(required=False, max_length=2000)
        gallery_id = serializers.UUIDField(required=False)
        secret = serializers.CharField(required=False, allow_blank=True, max_length=128)

    @extend_schema(
        tags=TAGS,
        operation_id="guest_gallery_open",
        summary="Open a gallery by its link (+ password/PIN) and get a gallery token",
        auth=[],
        request=GalleryOpenInput,
        responses={
            200: TokenResponse,
            **error_responses(
                400,
                403,
                404,
                410,
                429,
                e400="`validation_error`: give `url` or `gallery_id`.",
                e403="`gallery_locked`, `wrong_password`, `wrong_pin`.",
                e404=GUEST_ERRORS["e404"],
                e410=GUEST_ERRORS["e410"],
                e429="`too_many_attempts`: 10 guesses per 15 minutes; see Retry-After.",
            ),
        },
    )
    def post(self, request):
        data = self.GalleryOpenInput.validate_or_raise(request.data)
        gallery = self._target(data)
        secret = data.get("secret") or ""
        grant = services.gallery_open(
            gallery=gallery, secret=secret, address=client_address(request)
        )
        return self.with_token({"gallery": gallery_body(gallery, grant)}, grant)

    def _target(self, data: dict) -> Gallery:
        if data.get("gallery_id"):
            return self.gallery(data["gallery_id"])
        if not data.get("url"):
            raise Unprocessable(
                "Give the gallery's link or its id.",
                code="validation_error",
                fields={"url": ["Required without gallery_id."]},
                status=400,
            )
        from urllib.parse import urlsplit

        parts = urlsplit(data["url"])
        site = site_for_host(host=parts.hostname or "")
        segments = [s for s in parts.path.split("/") if s]
        if site is None or site.kind != "studio" or len(segments) < 2 or segments[0] != "g":
            raise NotFound("That link is not a gallery link of a studio here.")
        here = site_studio_id(self.request)
        if here is not None and here != site.studio_id:
            raise NotFound("No such gallery.")
        return selectors.site_gallery_by_slug(studio_id=site.studio_id, slug=segments[1])


class GalleryDetailApi(GuestAPIView):
    @extend_schema(
        tags=TAGS,
        operation_id="guest_gallery_get",
        summary="A gallery as its guest sees it: albums, download and face-search options",
        auth=[],
        parameters=[TOKEN_HEADER],
        responses={200: GuestGallerySerializer, **error_responses(403, 404, 410, **GUEST_ERRORS)},
    )
    def get(self, request, gallery_id):
        gallery, grant = self.open_gallery(gallery_id)
        return Response(gallery_body(gallery, grant))


class GalleryUnlockApi(GuestAPIView):
    class GalleryUnlockInput(InputSerializer):
        secret = serializers.CharField(max_length=128, help_text="The password or PIN.")

    @extend_schema(
        tags=TAGS,
        operation_id="guest_gallery_unlock",
        summary="Unlock a password/PIN gallery",
        auth=[],
        request=GalleryUnlockInput,
        responses={
            200: TokenResponse,
            **error_responses(
                400,
                403,
                404,
                410,
                429,
                e403="`wrong_password`, `wrong_pin`, `csrf_failed`.",
                e404=GUEST_ERRORS["e404"],
                e410=GUEST_ERRORS["e410"],
                e429="`too_many_attempts`: 10 guesses per 15 minutes; see Retry-After.",
            ),
        },
    )
    def post(self, request, gallery_id):
        data = self.GalleryUnlockInput.validate_or_raise(request.data)
        gallery = self.gallery(gallery_id)
        grant = services.gallery_unlock(
            gallery=gallery,
            secret=data["secret"],
            address=client_address(request),
            grant=self.grant(gallery),
        )
        return self.with_token({"gallery": gallery_body(gallery, grant)}, grant)


class RegisterApi(GuestAPIView):
    class RegisterInput(InputSerializer):
        email = serializers.EmailField()
        name = serializers.CharField(required=False, allow_blank=True, max_length=120)
        marketing_opt_in = serializers.BooleanField(
            required=False,
            default=False,
            help_text="The guest agrees to hear from the studio (off unless ticked).",
        )

    @extend_schema(
        tags=TAGS,
        operation_id="guest_register",
        summary="Give an email: the studio sees the visit; favourites are kept under it",
        auth=[],
        parameters=[TOKEN_HEADER],
        request=RegisterInput,
        responses={200: TokenResponse, **error_responses(400, 403, 404, 410, **GUEST_ERRORS)},
    )
    def post(self, request, gallery_id):
        data = self.RegisterInput.validate_or_raise(request.data)
        gallery = self.gallery(gallery_id)
        grant = services.visitor_register(
            gallery=gallery,
            grant=self.grant(gallery),
            email=data["email"],
            name=data.get("name", ""),
            marketing_opt_in=data["marketing_opt_in"],
        )
        return self.with_token({"gallery": gallery_body(gallery, grant)}, grant)


# --- Photos -----------------------------------------------------------------------------------
class GuestPhotoSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    filename = serializers.CharField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    album_id = serializers.UUIDField(allow_null=True)
    thumb_url = serializers.CharField(allow_null=True)
    preview_url = serializers.CharField(allow_null=True, help_text="Watermarked when set.")


GuestPhotoPage = inline_serializer(
    "GuestPhotoPage",
    {
        "results": GuestPhotoSerializer(many=True),
        "next": serializers.CharField(allow_null=True),
        "previous": serializers.CharField(allow_null=True),
    },
)


class PhotoListApi(GuestAPIView):
    class Filters(InputSerializer, PageParams):
        album = serializers.UUIDField(required=False)

    @extend_schema(
        tags=TAGS,
        operation_id="guest_photos_list",
        summary="A page of the gallery's photos with signed thumbnail and preview URLs",
        auth=[],
        parameters=[Filters, TOKEN_HEADER],
        responses={200: GuestPhotoPage, **error_responses(400, 403, 404, 410, **GUEST_ERRORS)},
    )
    def get(self, request, gallery_id):
        filters = self.Filters.validate_or_raise(request.query_params)
        gallery, _grant = self.open_gallery(gallery_id)
        page, items = selectors.guest_photos_page(
            gallery=gallery,
            album_id=filters.get("album"),
            cursor=filters.get("cursor"),
            page_size=filters["page_size"],
        )
        return Response(page_body(page, GuestPhotoSerializer(items, many=True).data))
