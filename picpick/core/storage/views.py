"""The local backend's stand-in for S3's presigned PUT and GET.

Only ``LocalStorage`` signs URLs for these views; with the S3 backend they answer 404. The
signature in the query string is the only credential: no session, no token, no throttle (an
upload of many parts must not trip the anonymous rate limit).
"""

from __future__ import annotations

from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from picpick.core.errors import ApplicationError, Forbidden, NotFound
from picpick.core.openapi import error_responses
from picpick.core.storage import get_storage
from picpick.core.storage.local import LocalStorage
from picpick.core.transactions import outside_request_transaction

TAGS = ["storage (local backend)"]

_SIGNATURE_PARAMETERS = [
    OpenApiParameter(name, str, OpenApiParameter.QUERY, required=required, description=text)
    for name, required, text in (
        ("t", True, "Signing time (part of the signature)."),
        ("s", True, "Signature."),
        ("ttl", True, "Lifetime in seconds from the signing time."),
        ("ct", False, "Signed Content-Type: the request must send exactly this."),
        ("len", False, "Signed Content-Length: the body must be exactly this long."),
        ("sha", False, "Signed SHA-256 (base64): the body must hash to it."),
        ("inm", False, "Signed `*`: create-only, the request must send `If-None-Match: *`."),
        ("uid", False, "Multipart upload id (part uploads)."),
        ("pn", False, "Part number, 1..10000 (part uploads)."),
        ("cd", False, "Content-Disposition the download is answered with."),
    )
]
_E403 = (
    "`signature_invalid` (tampered or for another request), `url_expired`, or "
    "`header_mismatch` (Content-Type, checksum or If-None-Match header other than signed)."
)


def _local_storage() -> LocalStorage:
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        raise NotFound("Not found.")
    return storage


@outside_request_transaction
class LocalObjectApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    parser_classes: list = []  # the body is the object: never parsed, streamed to disk

    @extend_schema(
        tags=TAGS,
        operation_id="storage_object_put",
        summary="Upload an object or a part to a presigned URL (local backend)",
        description=(
            "What S3 does for a presigned PUT, for the embedded backend: the body is streamed "
            "to disk, checked against the signed length and checksum, and moved into place "
            "atomically. A single PUT creates its object and never replaces one: it is "
            "refused with a 412 while the object exists or after it was deleted. The `ETag` "
            "response header (quoted MD5, as S3) is what a client reports for each part when "
            "completing a multipart upload."
        ),
        auth=[],
        parameters=_SIGNATURE_PARAMETERS,
        request={"application/octet-stream": OpenApiTypes.BINARY},
        responses={
            200: OpenApiResponse(description="Stored. The `ETag` header names the content."),
            **error_responses(
                400,
                403,
                404,
                409,
                411,
                412,
                e400="`content_length_mismatch`, `checksum_mismatch`, `checksum_required`.",
                e403=_E403,
                e404="`upload_not_found` (completed or aborted), or the S3 backend is in use.",
                e409="`key_conflict`: the key is used as a folder by other keys.",
                e411="`length_required`: no Content-Length header.",
                e412=(
                    "`object_exists`: the object is stored (a retried PUT) or was deleted; "
                    "presigned PUTs never replace an object."
                ),
            ),
        },
    )
    def put(self, request, key: str):
        storage = _local_storage()
        params = storage.verify(method="PUT", key=key, query=request.query_params)
        meta = request.META
        raw_length = meta.get("CONTENT_LENGTH") or ""
        if not raw_length.isdigit():
            raise ApplicationError(
                "A Content-Length header is required.", code="length_required", status=411
            )
        length = int(raw_length)
        if "len" in params and length != int(params["len"]):
            raise ApplicationError(
                f"Content-Length is {length}; the URL was signed for {params['len']}.",
                code="content_length_mismatch",
            )
        if "ct" in params and meta.get("CONTENT_TYPE", "") != params["ct"]:
            raise Forbidden("Content-Type is not the one signed.", code="header_mismatch")
        checksum = params.get("sha")
        if checksum is not None and meta.get("HTTP_X_AMZ_CHECKSUM_SHA256") != checksum:
            raise Forbidden("x-amz-checksum-sha256 is not the one signed.", code="header_mismatch")
        create_only = "inm" in params
        if create_only and meta.get("HTTP_IF_NONE_MATCH") != params["inm"]:
            raise Forbidden("If-None-Match is not the one signed.", code="header_mismatch")
        stream = request._request  # Django's request, read as a stream of at most `length`
        if "uid" in params:
            part = storage.write_part(
                key=key,
                upload_id=params["uid"],
                part_number=int(params.get("pn", "0")),
                stream=stream,
                length=length,
                checksum_sha256=checksum,
            )
            etag = part.etag
        else:
            info = storage.write_object(
                key=key,
                stream=stream,
                content_type=params.get("ct", "application/octet-stream"),
                length=length,
                checksum_sha256=checksum,
                create_only=create_only,
            )
            etag = info.etag
        return HttpResponse(status=200, headers={"ETag": f'"{etag}"'})

    @extend_schema(
        tags=TAGS,
        operation_id="storage_object_get",
        summary="Download an object from a presigned URL (local backend)",
        auth=[],
        parameters=_SIGNATURE_PARAMETERS,
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                response=OpenApiTypes.BINARY,
                description="The object, with its Content-Type, ETag and Content-Disposition.",
            ),
            **error_responses(
                403, 404, e403=_E403, e404="`object_not_found`, or the S3 backend is in use."
            ),
        },
    )
    def get(self, request, key: str):
        storage = _local_storage()
        # A HEAD reveals less than the GET it was signed for, so the GET signature covers it.
        storage.verify(method="GET", key=key, query=request.query_params)
        disposition = request.query_params.get("cd")
        handle = storage.open(key=key)
        headers = storage.object_headers(key=key)
        response = FileResponse(handle, content_type=headers.pop("Content-Type"))
        for name, value in headers.items():
            response[name] = value
        if disposition:
            response["Content-Disposition"] = disposition
        # Uploaded bytes are served from the API's own origin: never let a browser run them.
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response
