"""The upload protocol's endpoints: start a batch, resume, complete, abort, follow progress.

A desktop uploader needs about one API request per file besides the PUT of its bytes: one
start per 500 files, the PUTs straight to storage, one batch complete per 500 files.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from galleries import selectors
from galleries.models import Upload
from galleries.selectors import uploads as upload_selectors
from galleries.services import uploads as upload_services
from galleries.services.uploads import PartUrl, StartedFile
from picpick.core.apis import StudioAPIView
from picpick.core.errors import ApplicationError
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body
from picpick.core.serializers import InputSerializer
from picpick.core.storage import MAX_PARTS, UploadedPart, get_storage
from picpick.core.transactions import outside_request_transaction

TAGS = ["uploads"]


# --- Output shapes -----------------------------------------------------------------------------
class UploadUrlSerializer(serializers.Serializer):
    part_number = serializers.IntegerField(
        allow_null=True, help_text="The part this URL uploads; null for a single PUT."
    )
    method = serializers.CharField()
    url = serializers.CharField()
    headers = serializers.DictField(
        child=serializers.CharField(),
        help_text=(
            "Send exactly these headers (they are signed). Content-Length is set by the HTTP "
            "client from the body; browsers refuse to set it themselves."
        ),
    )
    expires_at = serializers.DateTimeField()


# How a file is sent: one presigned PUT, or a multipart upload of parts.
UPLOAD_METHODS = ["single", "multipart"]


class UploadedPartSerializer(serializers.Serializer):
    part_number = serializers.IntegerField()
    size = serializers.IntegerField()
    etag = serializers.CharField()


class UploadOutputSerializer(serializers.Serializer):
    upload_id = serializers.UUIDField()
    batch_id = serializers.UUIDField()
    gallery_id = serializers.UUIDField()
    photo_id = serializers.UUIDField(
        allow_null=True, help_text="Null once an aborted or expired upload's photo was removed."
    )
    photo_state = serializers.CharField(allow_null=True)
    name = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField(help_text="The canonical type the URLs are signed for.")
    state = serializers.ChoiceField(choices=Upload.State.choices)
    method = serializers.ChoiceField(choices=UPLOAD_METHODS)
    part_size = serializers.IntegerField(help_text="0 for a single PUT.")
    part_count = serializers.IntegerField()
    expires_at = serializers.DateTimeField(
        help_text="Abandoned (and cleaned up) if not completed by then; renewing extends it."
    )
    completed_at = serializers.DateTimeField(allow_null=True)
    failure_code = serializers.CharField(
        help_text="Why verification failed: `size_mismatch`, `checksum_mismatch`, `type_mismatch`."
    )
    failure_message = serializers.CharField()
    urls = UploadUrlSerializer(
        many=True,
        help_text=(
            "Fresh URLs while the upload is pending: the single PUT, or up to 100 missing parts."
        ),
    )
    uploaded_parts = UploadedPartSerializer(
        many=True, help_text="Multipart: the parts storage already has (resume from there)."
    )
    missing_parts = serializers.ListField(child=serializers.IntegerField())


class UploadStartFileSerializer(UploadOutputSerializer):
    index = serializers.IntegerField(help_text="The file's index in the request.")
    replayed = serializers.BooleanField(
        help_text="An earlier start with the same idempotency key: its upload, not a new one."
    )
    duplicate_of = serializers.UUIDField(
        allow_null=True,
        help_text="With allow_duplicates: the photo of the gallery with the same SHA-256.",
    )


class UploadRejectedSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    name = serializers.CharField()
    code = serializers.CharField(
        help_text=(
            "`unsupported_type`, `empty_file`, `file_too_large`, `invalid_checksum`, "
            "`checksum_required`, "
            "`quota_exceeded`, `duplicate`, `idempotency_key_reused`, "
            "`duplicate_idempotency_key`."
        )
    )
    message = serializers.CharField()
    duplicate_of = serializers.UUIDField(allow_null=True)


class UploadBatchStartOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    gallery_id = serializers.UUIDField()
    album_id = serializers.UUIDField(allow_null=True)
    files = UploadStartFileSerializer(many=True)
    rejected = UploadRejectedSerializer(many=True)


class UploadBatchCountsSerializer(serializers.Serializer):
    pending = serializers.IntegerField(help_text="Waiting for their bytes.")
    uploaded = serializers.IntegerField(help_text="Verified, waiting for processing.")
    processing = serializers.IntegerField()
    ready = serializers.IntegerField()
    failed = serializers.IntegerField(help_text="Failed verification or processing.")
    aborted = serializers.IntegerField()
    expired = serializers.IntegerField()
    deleted = serializers.IntegerField(help_text="Completed, then the photo was deleted.")
    rejected = serializers.IntegerField(help_text="Refused at start (duplicates included).")


class UploadBatchOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    gallery_id = serializers.UUIDField()
    album_id = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()
    declared = serializers.IntegerField(help_text="Files declared at start (rejected included).")
    accepted_bytes = serializers.IntegerField()
    completed_bytes = serializers.IntegerField()
    counts = UploadBatchCountsSerializer()


class UploadBatchFileSerializer(serializers.Serializer):
    upload_id = serializers.UUIDField()
    photo_id = serializers.UUIDField(allow_null=True)
    name = serializers.CharField()
    size = serializers.IntegerField()
    state = serializers.ChoiceField(choices=upload_selectors.FILE_STATES)
    failure_code = serializers.CharField()
    failure_message = serializers.CharField()
    completed_at = serializers.DateTimeField(allow_null=True)


class UploadBatchFilePageSerializer(serializers.Serializer):
    results = UploadBatchFileSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class UploadCompleteFailureSerializer(serializers.Serializer):
    upload_id = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class UploadBatchCompleteOutputSerializer(serializers.Serializer):
    completed = UploadOutputSerializer(many=True)
    failed = UploadCompleteFailureSerializer(many=True)


# --- Presenters --------------------------------------------------------------------------------
def _url_data(url: PartUrl) -> dict:
    return {
        "part_number": url.part_number,
        "method": url.request.method,
        "url": url.request.url,
        "headers": url.request.headers,
        "expires_at": url.request.expires_at,
    }


def _upload_data(
    upload: Upload,
    urls: list[PartUrl] | None = None,
    parts: list[UploadedPart] | None = None,
    missing: list[int] | None = None,
) -> dict:
    photo = upload.photo if upload.photo_id else None
    return {
        "upload_id": upload.id,
        "batch_id": upload.batch_id,
        "gallery_id": upload.gallery_id,
        "photo_id": upload.photo_id,
        "photo_state": photo.state if photo is not None else None,
        "name": upload.filename,
        "size": upload.size,
        "content_type": upload.content_type,
        "state": upload.state,
        "method": "multipart" if upload_services.upload_is_multipart(upload) else "single",
        "part_size": upload.part_size,
        "part_count": upload.part_count,
        "expires_at": upload.expires_at,
        "completed_at": upload.completed_at,
        "failure_code": upload.failure_code,
        "failure_message": upload.failure_message,
        "urls": [_url_data(url) for url in urls or []],
        "uploaded_parts": [
            {"part_number": p.part_number, "size": p.size, "etag": p.etag} for p in parts or []
        ],
        "missing_parts": missing or [],
    }


def _started_data(started: StartedFile) -> dict:
    return {
        **_upload_data(started.upload, started.urls),
        "index": started.index,
        "replayed": started.replayed,
        "duplicate_of": started.duplicate_of,
    }


# --- Inputs ------------------------------------------------------------------------------------
class UploadFileInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=255, help_text="The file name; its extension counts.")
    size = serializers.IntegerField(min_value=0, help_text="Bytes.")
    content_type = serializers.CharField(max_length=100)
    checksum_sha256 = serializers.CharField(
        max_length=100,
        help_text=(
            "Base64 of the file's SHA-256 (32 bytes). Required: the PUT URL is signed with it, "
            "so storage accepts exactly these bytes (multipart files are checked against it "
            "when processed). Missing: a 400 `checksum_required`."
        ),
    )
    checksum_crc32c = serializers.CharField(
        max_length=100, required=False, help_text="Base64 of the file's CRC32C (4 bytes)."
    )
    idempotency_key = serializers.CharField(
        max_length=100,
        required=False,
        help_text="Per file: a retried start returns the same upload instead of a new photo.",
    )


class UploadPartInputSerializer(InputSerializer):
    part_number = serializers.IntegerField(min_value=1, max_value=MAX_PARTS)
    etag = serializers.CharField(max_length=200, help_text="The ETag answered to the part's PUT.")


class UploadBatchCompleteItemInputSerializer(InputSerializer):
    upload_id = serializers.UUIDField()
    parts = UploadPartInputSerializer(many=True, required=False, min_length=1, max_length=MAX_PARTS)


def _parts(data: dict) -> list[tuple[int, str]] | None:
    parts = data.get("parts")
    if parts is None:
        return None
    return [(part["part_number"], part["etag"]) for part in parts]


# --- Views -------------------------------------------------------------------------------------
_E409_RESUME = (
    "`upload_completed`, `upload_aborted`, `upload_expired`, `upload_failed`: the upload can "
    "no longer take bytes."
)
_E409_COMPLETE = (
    "`upload_incomplete` (bytes or parts missing; `missing_parts` lists some), "
    "`upload_aborted`, `upload_expired`, `photo_deleted`."
)
_E422_COMPLETE = (
    "Verification failed and the file was discarded: `size_mismatch`, `checksum_mismatch`, "
    "`type_mismatch`; or `invalid_part` (a part's ETag does not match)."
)


@outside_request_transaction
class UploadBatchStartApi(StudioAPIView):
    permissions = {"POST": Perm.PHOTO_UPLOAD}

    class UploadBatchStartInputSerializer(InputSerializer):
        album_id = serializers.UUIDField(required=False, allow_null=True)
        allow_duplicates = serializers.BooleanField(required=False, default=False)
        files = UploadFileInputSerializer(
            many=True, min_length=1, max_length=upload_services.MAX_FILES_PER_BATCH
        )

        def to_internal_value(self, data):
            # Its own code, not the generic validation_error: uploaders written before the
            # checksum was required must learn exactly what to add.
            files = data.get("files") if isinstance(data, dict) else None
            if isinstance(files, list):
                missing = {
                    f"files.{index}.checksum_sha256": ["Required: base64 of the file's SHA-256."]
                    for index, file in enumerate(files)
                    if isinstance(file, dict) and not file.get("checksum_sha256")
                }
                if missing:
                    raise ApplicationError(
                        "Every file needs its SHA-256 (checksum_sha256): the upload URL is "
                        "signed with it.",
                        code="checksum_required",
                        fields=missing,
                    )
            return super().to_internal_value(data)

    @extend_schema(
        tags=TAGS,
        operation_id="uploads_start",
        summary="Start uploading files to a gallery: presigned URLs per file",
        description=(
            "Every file declares its SHA-256 (`checksum_sha256`; a 400 `checksum_required` "
            "otherwise). Each file is checked on its own (extension and content type, size, "
            "checksum format, duplicates, the studio's quota); files that fail are listed in "
            "`rejected` with a code while the others get a pending photo and presigned "
            "requests: one `PUT` for files up to the single-PUT limit, S3 multipart for larger "
            "ones (the first 100 part URLs here, more from `POST /uploads/{id}/parts/`). Send "
            "the bytes to the URLs with the headers given (a single PUT is signed with the "
            "SHA-256 and `If-None-Match: *`: it creates the object once and never replaces it; "
            "a 412 on a retried PUT means it is stored), then complete the upload (or the "
            "whole batch). Answers 200 instead of 201 when every file replays an earlier start "
            "(same idempotency keys)."
        ),
        request=UploadBatchStartInputSerializer,
        responses={
            201: UploadBatchStartOutputSerializer,
            200: UploadBatchStartOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                413,
                422,
                e400="`checksum_required` (a file without `checksum_sha256`), `validation_error`.",
                e409="`gallery_archived`",
                e422=(
                    "`no_files_accepted` (every file was rejected; `rejected` lists why) or "
                    "`invalid_album`."
                ),
            ),
        },
    )
    def post(self, request, gallery_id):
        gallery = selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        serializer = self.UploadBatchStartInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = upload_services.upload_batch_start(
            gallery=gallery,
            by=request.user,
            album_id=data.get("album_id"),
            allow_duplicates=data["allow_duplicates"],
            files=[upload_services.FileDeclaration(**file) for file in data["files"]],
        )
        body = {
            "id": result.batch.id,
            "gallery_id": result.batch.gallery_id,
            "album_id": result.batch.album_id,
            "files": [_started_data(started) for started in result.files],
            "rejected": [
                {
                    "index": r.index,
                    "name": r.name,
                    "code": r.code,
                    "message": r.message,
                    "duplicate_of": r.duplicate_of,
                }
                for r in result.rejected
            ],
        }
        return Response(
            UploadBatchStartOutputSerializer(body).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


@outside_request_transaction
class UploadDetailApi(StudioAPIView):
    permissions = {"GET": Perm.PHOTO_UPLOAD, "DELETE": Perm.PHOTO_UPLOAD}

    @extend_schema(
        tags=TAGS,
        operation_id="uploads_retrieve",
        summary="An upload's state; for resuming, the parts storage has and fresh URLs",
        responses={200: UploadOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, upload_id):
        upload = upload_selectors.upload_get(studio=self.studio, upload_id=upload_id)
        urls, parts, missing = upload_services.upload_resume_urls(
            storage=get_storage(), upload=upload
        )
        return Response(UploadOutputSerializer(_upload_data(upload, urls, parts, missing)).data)

    @extend_schema(
        tags=TAGS,
        operation_id="uploads_abort",
        summary="Abort an upload (its multipart upload, partial object and pending photo)",
        description="Aborting an aborted or expired upload again answers 204 as well.",
        responses={
            204: OpenApiResponse(description="Aborted."),
            **error_responses(
                401, 403, 404, 409, e409="`upload_completed`: delete the photo instead."
            ),
        },
    )
    def delete(self, request, upload_id):
        upload = upload_selectors.upload_get(studio=self.studio, upload_id=upload_id)
        upload_services.upload_abort(upload=upload, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@outside_request_transaction
class UploadRenewApi(StudioAPIView):
    permissions = {"POST": Perm.PHOTO_UPLOAD}

    @extend_schema(
        tags=TAGS,
        operation_id="uploads_renew",
        summary="Renew an upload's URLs (the single PUT, or the missing parts)",
        description="Also pushes the upload's abandonment deadline (`expires_at`) forward.",
        request=None,
        responses={
            200: UploadOutputSerializer,
            **error_responses(401, 403, 404, 409, e409=_E409_RESUME),
        },
    )
    def post(self, request, upload_id):
        upload = upload_selectors.upload_get(studio=self.studio, upload_id=upload_id)
        urls, parts, missing = upload_services.upload_renew(upload=upload, by=request.user)
        return Response(UploadOutputSerializer(_upload_data(upload, urls, parts, missing)).data)


class UploadPartUrlsOutputSerializer(serializers.Serializer):
    urls = UploadUrlSerializer(many=True)


class UploadPartsApi(StudioAPIView):
    permissions = {"POST": Perm.PHOTO_UPLOAD}

    class UploadPartsInputSerializer(InputSerializer):
        part_numbers = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_PARTS),
            min_length=1,
            max_length=upload_services.MAX_PART_URLS_PER_REQUEST,
        )

    @extend_schema(
        tags=TAGS,
        operation_id="uploads_parts",
        summary="Presigned URLs for parts of a multipart upload (next batch, or resume)",
        request=UploadPartsInputSerializer,
        responses={
            200: UploadPartUrlsOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400="`invalid_part_number` (outside 1..part_count, repeated), `validation_error`.",
                e409=f"`not_multipart`, {_E409_RESUME}",
            ),
        },
    )
    def post(self, request, upload_id):
        upload = upload_selectors.upload_get(studio=self.studio, upload_id=upload_id)
        serializer = self.UploadPartsInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        urls = upload_services.upload_part_urls(
            upload=upload, by=request.user, part_numbers=serializer.validated_data["part_numbers"]
        )
        return Response({"urls": UploadUrlSerializer([_url_data(u) for u in urls], many=True).data})


@outside_request_transaction
class UploadCompleteApi(StudioAPIView):
    permissions = {"POST": Perm.PHOTO_UPLOAD}

    class UploadCompleteInputSerializer(InputSerializer):
        parts = UploadPartInputSerializer(
            many=True,
            required=False,
            min_length=1,
            max_length=MAX_PARTS,
            help_text="Multipart only; when omitted the parts storage has are used.",
        )

    @extend_schema(
        tags=TAGS,
        operation_id="uploads_complete",
        summary="Complete an upload: verify the stored bytes and queue processing",
        description=(
            "Checks the object's size, its SHA-256 where storage recorded it (single PUTs "
            "signed with the declared checksum) and its magic bytes. On success the photo is "
            "`uploaded` and its processing is queued. Idempotent: completing again answers the "
            "same result and queues nothing."
        ),
        request=UploadCompleteInputSerializer,
        responses={
            200: UploadOutputSerializer,
            **error_responses(
                400, 401, 403, 404, 409, 422, e409=_E409_COMPLETE, e422=_E422_COMPLETE
            ),
        },
    )
    def post(self, request, upload_id):
        upload = upload_selectors.upload_get(studio=self.studio, upload_id=upload_id)
        serializer = self.UploadCompleteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = upload_services.upload_complete(
            upload=upload, by=request.user, parts=_parts(serializer.validated_data)
        )
        return Response(UploadOutputSerializer(_upload_data(upload)).data)


class UploadBatchDetailApi(StudioAPIView):
    permissions = {"GET": Perm.PHOTO_UPLOAD}

    @extend_schema(
        tags=TAGS,
        operation_id="upload_batches_retrieve",
        summary="A batch's progress: files per state (for a progress bar)",
        responses={200: UploadBatchOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, batch_id):
        batch = upload_selectors.upload_batch_get(studio=self.studio, batch_id=batch_id)
        progress = upload_selectors.upload_batch_progress(batch=batch)
        body = {
            "id": batch.id,
            "gallery_id": batch.gallery_id,
            "album_id": batch.album_id,
            "created_at": batch.created_at,
            "declared": progress.declared,
            "accepted_bytes": progress.accepted_bytes,
            "completed_bytes": progress.completed_bytes,
            "counts": {**progress.counts, "rejected": progress.rejected},
        }
        return Response(UploadBatchOutputSerializer(body).data)


class UploadBatchFilesApi(StudioAPIView):
    permissions = {"GET": Perm.PHOTO_UPLOAD}

    class UploadBatchFilesFilterSerializer(InputSerializer, PageParams):
        state = serializers.ChoiceField(choices=upload_selectors.FILE_STATES, required=False)

    @extend_schema(
        tags=TAGS,
        operation_id="upload_batches_files",
        summary="A batch's files, e.g. ?state=failed for the per-file errors (keyset pages)",
        parameters=[
            OpenApiParameter("state", str, enum=list(upload_selectors.FILE_STATES), required=False),
            OpenApiParameter("cursor", str, required=False),
            OpenApiParameter("page_size", int, required=False),
        ],
        responses={200: UploadBatchFilePageSerializer, **error_responses(400, 401, 403, 404)},
    )
    def get(self, request, batch_id):
        filters = self.UploadBatchFilesFilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        batch = upload_selectors.upload_batch_get(studio=self.studio, batch_id=batch_id)
        page = upload_selectors.upload_batch_files_page(
            batch=batch,
            state=filters.validated_data.get("state"),
            cursor=filters.validated_data.get("cursor") or None,
            page_size=filters.validated_data["page_size"],
        )
        results = [
            {
                "upload_id": upload.id,
                "photo_id": upload.photo_id,
                "name": upload.filename,
                "size": upload.size,
                "state": upload_selectors.file_state(
                    state=upload.state,
                    photo_state=upload.photo.state if upload.photo_id else None,
                    failed_verification=bool(upload.failure_code),
                ),
                "failure_code": upload.failure_code
                or (upload.photo.failure_code if upload.photo_id else ""),
                "failure_message": upload.failure_message
                or (upload.photo.failure_message if upload.photo_id else ""),
                "completed_at": upload.completed_at,
            }
            for upload in page.items
        ]
        body = page_body(page, results)
        return Response(UploadBatchFilePageSerializer(body).data)


@outside_request_transaction
class UploadBatchCompleteApi(StudioAPIView):
    permissions = {"POST": Perm.PHOTO_UPLOAD}

    class UploadBatchCompleteInputSerializer(InputSerializer):
        uploads = UploadBatchCompleteItemInputSerializer(
            many=True, min_length=1, max_length=upload_services.MAX_FILES_PER_BATCH
        )

    @extend_schema(
        tags=TAGS,
        operation_id="upload_batches_complete",
        summary="Complete many uploads of a batch in one request (partial success)",
        description=(
            "Each upload is verified and completed as by `POST /uploads/{id}/complete/`; "
            "those that cannot be are listed in `failed` with the code that endpoint would "
            "answer (`not_found` for an id that is not an upload of this batch)."
        ),
        request=UploadBatchCompleteInputSerializer,
        responses={200: UploadBatchCompleteOutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, batch_id):
        batch = upload_selectors.upload_batch_get(studio=self.studio, batch_id=batch_id)
        serializer = self.UploadBatchCompleteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        wanted = serializer.validated_data["uploads"]
        uploads = {
            upload.id: upload
            for upload in upload_selectors.upload_batch_uploads(
                batch=batch, upload_ids=[item["upload_id"] for item in wanted]
            )
        }
        items, failed, seen = [], [], set()
        for item in wanted:
            upload = uploads.get(item["upload_id"])
            if upload is None or upload.id in seen:
                failed.append(
                    {
                        "upload_id": str(item["upload_id"]),
                        "code": "not_found" if upload is None else "repeated",
                        "message": "Not an upload of this batch."
                        if upload is None
                        else "This upload is listed twice.",
                    }
                )
                continue
            seen.add(upload.id)
            items.append((upload, _parts(item)))
        outcomes = upload_services.uploads_complete(
            gallery=batch.gallery, by=request.user, items=items
        )
        completed = []
        for outcome in outcomes:
            if outcome.error is None:
                completed.append(_upload_data(outcome.upload))
            else:
                failed.append(_failure(outcome.upload, outcome.error))
        return Response(
            UploadBatchCompleteOutputSerializer({"completed": completed, "failed": failed}).data
        )


def _failure(upload: Upload, error: ApplicationError) -> dict:
    return {"upload_id": str(upload.id), "code": error.code, "message": error.message}
