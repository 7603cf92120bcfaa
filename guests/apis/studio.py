"""The studio's side of guests: who may open a gallery and download what, who visited, and
the favourites guests picked (with an export for Lightroom)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from accounts.permissions import Perm
from domains.selectors import studio_site_url
from galleries import selectors as gallery_selectors
from galleries.models import DownloadJob, Gallery
from galleries.services.access import gallery_guest_access_update
from galleries.services.watermarks import LOGO_MAX_BYTES
from guests import selectors, services
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.pagination import page_body
from picpick.core.serializers import InputSerializer

TAGS = ["guests"]


class GuestAccessSerializer(serializers.Serializer):
    access = serializers.ChoiceField(choices=Gallery.Access.choices)
    listed = serializers.BooleanField()
    require_registration = serializers.BooleanField()
    download_sizes = serializers.ListField(child=serializers.CharField())
    download_pin_set = serializers.BooleanField()
    guest_url = serializers.CharField(help_text="The gallery's link on the studio's site.")


def access_body(gallery: Gallery) -> dict:
    return GuestAccessSerializer(
        {
            "access": gallery.access,
            "listed": gallery.listed,
            "require_registration": gallery.require_registration,
            "download_sizes": gallery.download_sizes or [],
            "download_pin_set": bool(gallery.download_pin),
            "guest_url": f"{studio_site_url(studio=gallery.studio)}/g/{gallery.slug}",
        }
    ).data


class GuestAccessApi(StudioAPIView):
    permissions = {"GET": Perm.GALLERY_VIEW, "PATCH": Perm.GALLERY_PUBLISH}

    class InputSerializer(InputSerializer):
        access = serializers.ChoiceField(choices=Gallery.Access.choices, required=False)
        secret = serializers.CharField(
            required=False,
            max_length=128,
            help_text="The password or PIN (4–8 digits); required when access changes to one.",
        )
        listed = serializers.BooleanField(required=False)
        require_registration = serializers.BooleanField(required=False)
        download_sizes = serializers.ListField(
            child=serializers.ChoiceField(choices=DownloadJob.Size.choices),
            required=False,
            max_length=3,
        )
        download_pin = serializers.CharField(
            required=False, allow_blank=True, max_length=8, help_text="Empty: no download PIN."
        )

    @extend_schema(
        tags=TAGS,
        operation_id="galleries_guest_access_get",
        summary="Who may open the gallery and download what",
        responses={200: GuestAccessSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, gallery_id):
        gallery = gallery_selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        return Response(access_body(gallery))

    @extend_schema(
        tags=TAGS,
        operation_id="galleries_guest_access_update",
        summary="Change guest access (a new password/PIN logs every guest out)",
        request=InputSerializer,
        responses={
            200: GuestAccessSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                422,
                e422="`secret_required`, `invalid_pin`, `invalid_password`.",
            ),
        },
    )
    def patch(self, request, gallery_id):
        data = self.InputSerializer.validate_or_raise(request.data)
        gallery = gallery_selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        gallery = gallery_guest_access_update(gallery=gallery, changes=data)
        return Response(access_body(gallery))


class StudioVisitorSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    name = serializers.CharField()
    visits = serializers.IntegerField()
    created_at = serializers.DateTimeField(help_text="First visit.")
    last_seen_at = serializers.DateTimeField()


class VisitorPageSerializer(serializers.Serializer):
    results = StudioVisitorSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class VisitorListApi(StudioAPIView):
    permissions = {"GET": Perm.GALLERY_VIEW}

    class Filters(InputSerializer):
        cursor = serializers.CharField(required=False, max_length=500)

    @extend_schema(
        tags=TAGS,
        operation_id="galleries_visitors_list",
        summary="Guests who gave their email on the gallery, most recent first",
        parameters=[Filters],
        responses={200: VisitorPageSerializer, **error_responses(400, 401, 403, 404)},
    )
    def get(self, request, gallery_id):
        filters = self.Filters.validate_or_raise(request.query_params)
        gallery = gallery_selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        page = selectors.studio_visitors_page(
            studio=self.studio, gallery=gallery, cursor=filters.get("cursor")
        )
        return Response(page_body(page, StudioVisitorSerializer(page.items, many=True).data))


class FavouriteItemSerializer(serializers.Serializer):
    photo_id = serializers.UUIDField()
    filename = serializers.CharField(source="photo.filename")
    comment = serializers.CharField()
    created_at = serializers.DateTimeField()


class StudioFavouriteListSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    visitor_email = serializers.EmailField(source="visitor.email")
    visitor_name = serializers.CharField(source="visitor.name")
    item_count = serializers.IntegerField()
    items = FavouriteItemSerializer(many=True, source="items.all")
    updated_at = serializers.DateTimeField()


class FavouriteListsApi(StudioAPIView):
    permissions = {"GET": Perm.GALLERY_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="galleries_favourites_list",
        summary="Every guest's favourite lists of the gallery, with photos and comments",
        responses={
            200: StudioFavouriteListSerializer(many=True),
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request, gallery_id):
        gallery = gallery_selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        lists = selectors.studio_favourite_lists(studio=self.studio, gallery=gallery)
        return Response(StudioFavouriteListSerializer(lists, many=True).data)


class FavouriteExportApi(StudioAPIView):
    permissions = {"GET": Perm.GALLERY_VIEW}

    class Filters(InputSerializer):
        format = serializers.ChoiceField(choices=["lightroom", "txt"], default="lightroom")

    def perform_content_negotiation(self, request, force=False):
        # ``?format=`` is this view's own parameter (lightroom/txt), not DRF's renderer
        # override, which would answer 404 to it; the body is text, errors are JSON.
        renderer = self.get_renderers()[0]
        return renderer, renderer.media_type

    @extend_schema(
        tags=TAGS,
        operation_id="favourite_lists_export",
        summary="A favourite list as filenames, to select the photos in Lightroom",
        description=(
            "`lightroom`: the file names without extension, comma-separated, for the Library "
            "filter's *Text → Filename → Contains* (matches RAW and JPEG alike); `txt`: one "
            "original filename per line."
        ),
        parameters=[
            Filters,
            OpenApiParameter("list_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
        ],
        responses={
            (200, "text/plain"): OpenApiTypes.STR,
            **error_responses(400, 401, 403, 404),
        },
    )
    def get(self, request, list_id):
        filters = self.Filters.validate_or_raise(request.query_params)
        favourite_list = selectors.studio_favourite_list_get(studio=self.studio, list_id=list_id)
        names = selectors.favourite_filenames(favourite_list=favourite_list)
        if filters["format"] == "lightroom":
            body = ", ".join(name.rsplit(".", 1)[0] if "." in name else name for name in names)
        else:
            body = "\n".join(names)
        response = HttpResponse(body + "\n", content_type="text/plain; charset=utf-8")
        safe = "".join(c if c.isalnum() else "-" for c in favourite_list.name)[:40]
        response["Content-Disposition"] = f'attachment; filename="favourites-{safe}.txt"'
        return response


class StudioLogoSerializer(serializers.Serializer):
    logo_url = serializers.CharField(allow_null=True, help_text="Short-lived; null: no logo.")


class StudioLogoApi(StudioAPIView):
    """The logo guests see on the studio's site (home and gallery pages)."""

    permissions = {"GET": Perm.STUDIO_VIEW, "POST": Perm.STUDIO_EDIT, "DELETE": Perm.STUDIO_EDIT}
    parser_classes = [MultiPartParser]
    # The API's body limit is 1 MiB; a logo may be 2 MiB, plus the multipart framing.
    max_body_bytes = LOGO_MAX_BYTES + 64 * 1024

    class StudioLogoInputSerializer(InputSerializer):
        file = serializers.FileField(help_text="A PNG, at most 2 MiB and 4096 px a side.")

    def _body(self) -> dict:
        return StudioLogoSerializer(
            {"logo_url": selectors.studio_logo_url(studio=self.studio)}
        ).data

    @extend_schema(
        tags=TAGS,
        operation_id="studio_logo_get",
        summary="The studio site's logo",
        responses={200: StudioLogoSerializer, **error_responses(401, 403)},
    )
    def get(self, request):
        return Response(self._body())

    @extend_schema(
        tags=TAGS,
        operation_id="studio_logo_upload",
        summary="Upload the studio site's logo (multipart field `file`, a PNG ≤ 2 MiB)",
        request={"multipart/form-data": StudioLogoInputSerializer},
        responses={
            200: StudioLogoSerializer,
            **error_responses(
                400,
                401,
                403,
                413,
                e400="`validation_error` (no file), `invalid_logo` (not a PNG, too many pixels)",
                e413="`logo_too_large` or `payload_too_large`",
            ),
        },
    )
    def post(self, request):
        serializer = self.StudioLogoInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # At most max_body_bytes (the middleware refused anything larger), so reading is fine.
        services.studio_logo_set(studio=self.studio, data=serializer.validated_data["file"].read())
        return Response(self._body())

    @extend_schema(
        tags=TAGS,
        operation_id="studio_logo_delete",
        summary="Remove the studio site's logo",
        responses={200: StudioLogoSerializer, **error_responses(401, 403)},
    )
    def delete(self, request):
        services.studio_logo_remove(studio=self.studio)
        return Response(self._body())
