"""Downloads: the download PIN, single photos and ZIPs."""

from __future__ import annotations

from django.http import HttpResponseRedirect
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response

from galleries.models import DownloadJob
from galleries.selectors.delivery import download_job_url
from guests import services
from guests.apis.base import (
    GUEST_ERRORS,
    TAGS,
    TOKEN_HEADER,
    GuestAPIView,
)
from guests.apis.galleries import TokenResponse, gallery_body
from picpick.core.clientaddr import client_address
from picpick.core.openapi import error_responses
from picpick.core.serializers import InputSerializer

# --- Downloads --------------------------------------------------------------------------------
SIZE_CHOICES = DownloadJob.Size.choices
_DOWNLOAD_ERRORS = {
    "e403": "`download_not_allowed` (size not offered), `download_pin_required`, `gallery_locked`.",
    "e404": GUEST_ERRORS["e404"],
    "e409": "`not_ready` / `nothing_to_download`.",
    "e410": GUEST_ERRORS["e410"],
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
