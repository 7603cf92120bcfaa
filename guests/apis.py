"""The guest API: what the guest pages do, as JSON for the mobile apps.

Served on the API host (any studio's gallery, by id) and on every studio site (only that
studio's galleries: another studio's gallery id is a 404 there). A guest proves access with
a gallery token (``guests.access``): the ``X-Gallery-Token`` header from the apps, or the
page's HttpOnly cookie on a studio site — then unsafe methods need the CSRF token too.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.http import HttpResponseRedirect
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from domains.selectors import site_for_host
from galleries.models import DownloadJob, Gallery
from galleries.selectors.delivery import download_job_url, gallery_cover_thumb_urls
from guests import access, selectors, services
from guests.access import Grant
from picpick.core.clientaddr import client_address
from picpick.core.errors import Forbidden, NotFound, Unprocessable
from picpick.core.openapi import error_responses
from picpick.core.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, page_body
from picpick.core.serializers import InputSerializer

TAGS = ["guests"]
TOKEN_HEADER = OpenApiParameter(
    "X-Gallery-Token",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="The token from open/unlock/register (not needed for a public gallery).",
)
_GUEST_ERRORS = {
    "e403": "`gallery_locked` (password/PIN needed), `registration_required`, `csrf_failed`.",
    "e404": "`not_found`: no such published gallery here.",
    "e410": "`gallery_expired`: the studio can extend it.",
}


def site_studio_id(request) -> uuid.UUID | None:
    site = getattr(request, "site", None)
    return site.studio_id if site is not None and site.kind == "studio" else None


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):
        return reason


def csrf_failure(request) -> str | None:
    check = _CsrfCheck(lambda r: None)
    check.process_request(request)
    return check.process_view(request, None, (), {})


def grant_from_request(request, gallery: Gallery) -> Grant | None:
    """The guest's grant for ``gallery`` from the header, else from the site cookie."""
    header = request.META.get(access.HEADER)
    if header:
        grant = access.load(header)
    else:
        raw = request.COOKIES.get(access.cookie_name(gallery.id))
        grant = access.load(raw) if raw else None
        if grant is not None and request.method not in ("GET", "HEAD", "OPTIONS"):
            django_request = getattr(request, "_request", request)
            if csrf_failure(django_request):
                raise Forbidden("CSRF check failed; reload the page.", code="csrf_failed")
    if grant is not None and grant.gallery_id != gallery.id:
        return None
    return grant


def set_grant_cookie(response, request, grant: Grant) -> None:
    """Keep the grant in an HttpOnly cookie on a studio site (not on the API host)."""
    if site_studio_id(request) is None:
        return
    response.set_cookie(
        access.cookie_name(grant.gallery_id),
        access.dump(grant),
        max_age=int(access.lifetime().total_seconds()),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


class GuestAPIView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []  # guest limits are counted atomically by the services

    def gallery(self, gallery_id) -> Gallery:
        return selectors.guest_gallery_get(
            gallery_id=gallery_id, studio_id=site_studio_id(self.request)
        )

    def grant(self, gallery: Gallery) -> Grant | None:
        return grant_from_request(self.request, gallery)

    def open_gallery(self, gallery_id) -> tuple[Gallery, Grant]:
        """The gallery and the guest's valid grant, or the reason they may not look."""
        gallery = self.gallery(gallery_id)
        return gallery, services.grant_require(gallery=gallery, grant=self.grant(gallery))

    def with_token(self, body: dict, grant: Grant, status: int = 200) -> Response:
        body = {
            **body,
            "token": access.dump(grant),
            "expires_at": timezone.now() + access.lifetime(),
        }
        response = Response(body, status=status)
        set_grant_cookie(response, self.request, grant)
        return response


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
                e404=_GUEST_ERRORS["e404"],
                e410=_GUEST_ERRORS["e410"],
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
        responses={200: GuestGallerySerializer, **error_responses(403, 404, 410, **_GUEST_ERRORS)},
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
                e404=_GUEST_ERRORS["e404"],
                e410=_GUEST_ERRORS["e410"],
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

    @extend_schema(
        tags=TAGS,
        operation_id="guest_register",
        summary="Give an email: the studio sees the visit; favourites are kept under it",
        auth=[],
        parameters=[TOKEN_HEADER],
        request=RegisterInput,
        responses={200: TokenResponse, **error_responses(400, 403, 404, 410, **_GUEST_ERRORS)},
    )
    def post(self, request, gallery_id):
        data = self.RegisterInput.validate_or_raise(request.data)
        gallery = self.gallery(gallery_id)
        grant = services.visitor_register(
            gallery=gallery,
            grant=self.grant(gallery),
            email=data["email"],
            name=data.get("name", ""),
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
    class Filters(InputSerializer):
        album = serializers.UUIDField(required=False)
        cursor = serializers.CharField(required=False, max_length=500)
        page_size = serializers.IntegerField(
            required=False, min_value=1, max_value=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE
        )

    @extend_schema(
        tags=TAGS,
        operation_id="guest_photos_list",
        summary="A page of the gallery's photos with signed thumbnail and preview URLs",
        auth=[],
        parameters=[Filters, TOKEN_HEADER],
        responses={200: GuestPhotoPage, **error_responses(400, 403, 404, 410, **_GUEST_ERRORS)},
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
                403, 404, 410, **{**_GUEST_ERRORS, "e403": "`email_required`, `gallery_locked`."}
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


# --- Downloads --------------------------------------------------------------------------------
SIZE_CHOICES = DownloadJob.Size.choices
_DOWNLOAD_ERRORS = {
    "e403": "`download_not_allowed` (size not offered), `download_pin_required`, `gallery_locked`.",
    "e404": _GUEST_ERRORS["e404"],
    "e409": "`not_ready` / `nothing_to_download`.",
    "e410": _GUEST_ERRORS["e410"],
}


class DownloadsUnlockApi(GuestAPIView):
    class DownloadsUnlockInput(InputSerializer):
        pin = serializers.CharField(max_length=16)

    @extend_schema(
        tags=TAGS,
        operation_id="guest_downloads_unlock",
        summary="Give the download PIN",
        auth=[],
        parameters=[TOKEN_HEADER],
        request=DownloadsUnlockInput,
        responses={
            200: TokenResponse,
            **error_responses(
                400,
                403,
                404,
                410,
                429,
                e403="`wrong_download_pin`.",
                e429="`too_many_attempts`: 10 guesses per 15 minutes; see Retry-After.",
            ),
        },
    )
    def post(self, request, gallery_id):
        data = self.DownloadsUnlockInput.validate_or_raise(request.data)
        gallery, grant = self.open_gallery(gallery_id)
        grant = services.downloads_unlock(
            gallery=gallery, grant=grant, pin=data["pin"], address=client_address(request)
        )
        return self.with_token({"gallery": gallery_body(gallery, grant)}, grant)


class PhotoDownloadApi(GuestAPIView):
    class Filters(InputSerializer):
        size = serializers.ChoiceField(choices=SIZE_CHOICES, default="web")
        redirect = serializers.BooleanField(required=False, default=False)

    @extend_schema(
        tags=TAGS,
        operation_id="guest_photo_download",
        summary="A signed download URL of one photo (302 to it with redirect=true)",
        auth=[],
        parameters=[Filters, TOKEN_HEADER],
        responses={
            200: inline_serializer(
                "GuestDownloadUrl",
                {"url": serializers.URLField(), "expires_at": serializers.DateTimeField()},
            ),
            302: OpenApiResponse(description="Redirect to the signed URL (`Location`)."),
            **error_responses(400, 403, 404, 409, 410, **_DOWNLOAD_ERRORS),
        },
    )
    def get(self, request, gallery_id, photo_id):
        filters = self.Filters.validate_or_raise(request.query_params)
        gallery, grant = self.open_gallery(gallery_id)
        signed = services.photo_download(
            gallery=gallery, grant=grant, photo_id=photo_id, size=filters["size"]
        )
        if filters["redirect"]:
            return HttpResponseRedirect(signed.url)
        return Response({"url": signed.url, "expires_at": signed.expires_at})


class ZipJobSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=DownloadJob.State.choices)  # DownloadJobStateEnum
    size = serializers.CharField()
    album_id = serializers.UUIDField(allow_null=True)
    file_count = serializers.IntegerField()
    files_done = serializers.IntegerField()
    files_skipped = serializers.IntegerField()
    url = serializers.CharField(allow_null=True, help_text="When ready: the signed ZIP URL.")


def zip_body(job: DownloadJob) -> dict:
    signed = download_job_url(job=job) if job.state == DownloadJob.State.READY else None
    return ZipJobSerializer(
        {
            "id": job.id,
            "state": job.state,
            "size": job.size,
            "album_id": job.album_id,
            "file_count": job.file_count,
            "files_done": job.files_done,
            "files_skipped": job.files_skipped,
            "url": signed.url if signed else None,
        }
    ).data


class ZipRequestApi(GuestAPIView):
    class ZipRequestInput(InputSerializer):
        size = serializers.ChoiceField(choices=SIZE_CHOICES)
        album_id = serializers.UUIDField(required=False, allow_null=True)

    @extend_schema(
        tags=TAGS,
        operation_id="guest_zip_request",
        summary="Ask for the whole gallery or an album as a ZIP; poll the job",
        auth=[],
        parameters=[TOKEN_HEADER],
        request=ZipRequestInput,
        responses={
            202: ZipJobSerializer,
            **error_responses(400, 403, 404, 409, 410, 422, **_DOWNLOAD_ERRORS),
        },
    )
    def post(self, request, gallery_id):
        data = self.ZipRequestInput.validate_or_raise(request.data)
        gallery, grant = self.open_gallery(gallery_id)
        job, _created = services.zip_request(
            gallery=gallery, grant=grant, size=data["size"], album_id=data.get("album_id")
        )
        return Response(zip_body(job), status=202)


class ZipJobApi(GuestAPIView):
    @extend_schema(
        tags=TAGS,
        operation_id="guest_zip_get",
        summary="A ZIP job's progress, and its URL when ready",
        auth=[],
        parameters=[TOKEN_HEADER],
        responses={200: ZipJobSerializer, **error_responses(403, 404, 410, **_DOWNLOAD_ERRORS)},
    )
    def get(self, request, gallery_id, job_id):
        gallery, grant = self.open_gallery(gallery_id)
        job = services.zip_job_get(gallery=gallery, grant=grant, job_id=job_id)
        return Response(zip_body(job))
