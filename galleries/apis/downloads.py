"""Download endpoints: one photo (redirect to a signed URL) and ZIPs of a gallery or album."""

from __future__ import annotations

from django.http import HttpResponseRedirect
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from galleries import selectors
from galleries.models import DownloadJob
from galleries.selectors import delivery
from galleries.services.downloads import download_job_request
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.serializers import InputSerializer

TAGS = ["downloads"]


class SignedUrlOutputSerializer(serializers.Serializer):
    url = serializers.URLField()
    expires_at = serializers.DateTimeField()


class PhotoDownloadApi(StudioAPIView):
    permissions = {"GET": Perm.GALLERY_VIEW}

    class PhotoDownloadParamsSerializer(InputSerializer):
        size = serializers.ChoiceField(choices=["original", "preview"], default="original")
        redirect = serializers.BooleanField(default=True)

    @extend_schema(
        tags=TAGS,
        operation_id="photos_download",
        summary="Download a photo's original or preview",
        description=(
            "Answers `302` to a short-lived signed URL whose response is an attachment named "
            "after the original file (the preview as `<name>.jpg`). With `redirect=0` the URL "
            "is returned as JSON instead, for apps that fetch it themselves."
        ),
        parameters=[
            OpenApiParameter(
                "size", str, enum=["original", "preview"], description="Default `original`."
            ),
            OpenApiParameter(
                "redirect", OpenApiTypes.BOOL, description="Default true; 0 answers JSON."
            ),
        ],
        responses={
            200: SignedUrlOutputSerializer,
            302: OpenApiResponse(description="Redirect to the signed URL (`Location`)."),
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e409="`not_ready`: that size does not exist (yet) for this photo.",
            ),
        },
    )
    def get(self, request, photo_id):
        params = self.PhotoDownloadParamsSerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        photo = selectors.photo_get(studio=self.studio, photo_id=photo_id)
        signed = delivery.photo_download_url(photo=photo, size=params.validated_data["size"])
        if params.validated_data["redirect"]:
            response = HttpResponseRedirect(signed.url)
            response["Cache-Control"] = "private, no-store"  # the URL expires; never reuse it
            return response
        return Response(SignedUrlOutputSerializer(signed).data)


class DownloadJobOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    gallery_id = serializers.UUIDField()
    album_id = serializers.UUIDField(allow_null=True)
    size = serializers.ChoiceField(choices=DownloadJob.Size.choices)
    state = serializers.ChoiceField(choices=DownloadJob.State.choices)
    file_count = serializers.IntegerField(help_text="Files the ZIP holds (or will hold).")
    files_done = serializers.IntegerField()
    files_skipped = serializers.IntegerField(
        help_text="Photos left out: not processed yet, failed, or their file missing."
    )
    bytes_total = serializers.IntegerField(help_text="Expected bytes (0 until known).")
    bytes_done = serializers.IntegerField()
    filename = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField(
        help_text="Signed download link, only while the job is ready."
    )
    url_expires_at = serializers.SerializerMethodField()
    result_size = serializers.IntegerField()
    expires_at = serializers.DateTimeField(
        allow_null=True, help_text="When the ZIP is deleted (set once ready)."
    )
    failure_message = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def _signed(self, job: DownloadJob) -> delivery.SignedUrl | None:
        if not hasattr(job, "signed_url"):
            job.signed_url = delivery.download_job_url(job=job)
        return job.signed_url

    def get_filename(self, job: DownloadJob) -> str:
        return delivery.download_filename(job=job)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_url(self, job: DownloadJob) -> str | None:
        signed = self._signed(job)
        return signed.url if signed else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_url_expires_at(self, job: DownloadJob) -> str | None:
        signed = self._signed(job)
        return serializers.DateTimeField().to_representation(signed.expires_at) if signed else None


class DownloadJobListOutputSerializer(serializers.Serializer):
    results = DownloadJobOutputSerializer(many=True)


class GalleryDownloadListApi(StudioAPIView):
    permissions = {"GET": Perm.GALLERY_VIEW, "POST": Perm.GALLERY_VIEW}

    class DownloadRequestInputSerializer(InputSerializer):
        size = serializers.ChoiceField(choices=DownloadJob.Size.choices)
        album_id = serializers.UUIDField(required=False, allow_null=True)

    @extend_schema(
        tags=TAGS,
        operation_id="downloads_list",
        summary="The gallery's recent ZIP downloads (newest first, at most 50)",
        responses={200: DownloadJobListOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, gallery_id):
        gallery = selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        jobs = delivery.download_job_list(studio=self.studio, gallery=gallery)
        return Response({"results": DownloadJobOutputSerializer(jobs, many=True).data})

    @extend_schema(
        tags=TAGS,
        operation_id="downloads_create",
        summary="Request a ZIP of the gallery or of one album",
        description=(
            "A worker builds the ZIP (no size limit) into storage; poll the job for progress "
            "and its `url`. `original` holds the uploaded files, `high` the ~2048 px previews, "
            "`web` what guests see (watermarked when the gallery has a watermark). Hidden "
            "photos are left out; photos without that size yet are skipped and counted. An "
            "identical request while a job is queued, running, or ready and still current "
            "answers that job with `200` instead of starting another."
        ),
        request=DownloadRequestInputSerializer,
        responses={
            202: DownloadJobOutputSerializer,
            200: DownloadJobOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                422,
                e409="`nothing_to_download`: no photo in scope has that size.",
                e422="`invalid_album`: not an album of this gallery.",
            ),
        },
    )
    def post(self, request, gallery_id):
        gallery = selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        serializer = self.DownloadRequestInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job, created = download_job_request(
            gallery=gallery,
            by=request.user,
            size=serializer.validated_data["size"],
            album_id=serializer.validated_data.get("album_id"),
        )
        job = delivery.download_job_get(studio=self.studio, job_id=job.id)
        return Response(
            DownloadJobOutputSerializer(job).data,
            status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
        )


class DownloadJobDetailApi(StudioAPIView):
    permissions = {"GET": Perm.GALLERY_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="downloads_retrieve",
        summary="A ZIP download: progress, and its link once ready",
        responses={200: DownloadJobOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, job_id):
        job = delivery.download_job_get(studio=self.studio, job_id=job_id)
        return Response(DownloadJobOutputSerializer(job).data)
