"""The S3 backend (AWS S3, MinIO, or any S3 API), with optional CloudFront signed reads."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlencode

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from picpick.core.storage import (
    MAX_DELETE_BATCH,
    SHA256_ALGORITHM,
    InvalidPart,
    MultipartUpload,
    ObjectInfo,
    ObjectNotFound,
    ObjectStorage,
    PartRef,
    PresignedRequest,
    StorageError,
    UploadedPart,
    UploadNotFound,
    content_disposition,
    normalize_parts,
    parse_tag,
    utcnow,
    validate_checksum_sha256,
    validate_expiry,
    validate_key,
    validate_part_numbers,
    validate_prefix,
    validate_presign_parts,
    validate_single_put,
)
from picpick.core.storage.sigv4 import Credentials, SigV4Presigner, encode_key

ARCHIVE_RULE_ID = "picpick-archive-tagged"
ABORT_RULE_ID = "picpick-abort-incomplete-multipart"


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


class CloudFrontSigner:
    """CloudFront signed URLs (RSA-SHA1, as CloudFront requires) for reads through the CDN.

    An RSA signature costs ~0.5-1 ms, so a page of 100 canned-policy URLs would take most of
    the 50 ms budget. :meth:`sign_many` instead signs one custom policy whose resource is a
    wildcard over the folder the page's keys share, and appends that one signature to every
    URL. Signatures are cached per (resource, expiry): expiries are rounded up to the minute,
    so a page asked for again within the minute costs no RSA operation and yields the same
    URLs, which the browser then serves from its cache.

    The wildcard grants every object under that folder until it expires, to whoever holds any
    URL of the page: lay keys out so a page's folder holds only what its viewer may see (e.g.
    ``.../derivatives/web/``), never originals. Folders shallower than ``min_depth`` segments
    are refused and each URL is signed alone.
    """

    def __init__(self, *, domain: str, key_id: str, private_key_pem: str, min_depth: int) -> None:
        from botocore.signers import CloudFrontSigner as BotoCloudFrontSigner
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)

        def rsa_sign(message: bytes) -> bytes:
            return key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303

        self.domain = domain.removeprefix("https://").rstrip("/")
        self.key_id = key_id
        self.min_depth = min_depth
        self._signer = BotoCloudFrontSigner(key_id, rsa_sign)
        self._cache: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()

    def url(self, key: str) -> str:
        return f"https://{self.domain}/{encode_key(key)}"

    @staticmethod
    def _rounded_expiry(expires_in: int) -> int:
        deadline = int(utcnow().timestamp()) + expires_in
        return -(-deadline // 60) * 60

    def _signature_query(self, resource: str, expires: int, *, canned: bool) -> str:
        """The signing query string (``Expires``/``Policy``, ``Signature``, ``Key-Pair-Id``).

        A canned policy (one URL) keeps the URL short; a custom one allows the wildcard.
        """
        cached = self._cache.get((resource, expires))
        if cached is not None:
            return cached
        if canned:
            deadline = datetime.fromtimestamp(expires, tz=UTC)
            signed = self._signer.generate_presigned_url(resource, date_less_than=deadline)
        else:
            condition = {"DateLessThan": {"AWS:EpochTime": expires}}
            policy = json.dumps(
                {"Statement": [{"Resource": resource, "Condition": condition}]},
                separators=(",", ":"),
            )
            signed = self._signer.generate_presigned_url(resource, policy=policy)
        query = signed.partition("?")[2]
        with self._lock:
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[(resource, expires)] = query
        return query

    def sign(self, key: str, expires_in: int) -> str:
        url = self.url(key)
        query = self._signature_query(url, self._rounded_expiry(expires_in), canned=True)
        return f"{url}?{query}"

    def sign_many(self, keys: Sequence[str], expires_in: int) -> list[str]:
        if not keys:
            return []
        folder = os.path.commonpath([f"/{key}" for key in keys]).lstrip("/")
        # commonpath of a single key is the key itself; a wildcard needs its folder.
        if len(keys) == 1 or folder in keys:
            folder = folder.rpartition("/")[0]
        if len(keys) == 1 or not folder or folder.count("/") + 1 < self.min_depth:
            return [self.sign(key, expires_in) for key in keys]
        resource = f"https://{self.domain}/{encode_key(folder)}/*"
        query = self._signature_query(resource, self._rounded_expiry(expires_in), canned=False)
        return [f"{self.url(key)}?{query}" for key in keys]


class S3Storage(ObjectStorage):
    def __init__(
        self,
        *,
        bucket: str,
        region: str,
        endpoint_url: str | None = None,
        addressing_style: str = "auto",
        session: boto3.session.Session | None = None,
        cloudfront: CloudFrontSigner | None = None,
    ) -> None:
        self.bucket = bucket
        self.region = region
        self.cloudfront = cloudfront
        self._session = session or boto3.session.Session()
        self.client = self._session.client(
            "s3",
            region_name=region,
            endpoint_url=endpoint_url or None,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": addressing_style},
                retries={"mode": "standard", "max_attempts": 5},
                # Newer botocore adds CRC32 trailers to every upload by default; MinIO and
                # older S3 clones reject them. Checksums we want are sent explicitly.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                max_pool_connections=20,
            ),
        )
        # Derive the bucket's base URL from botocore itself, so endpoint rules (path or
        # virtual style, regional and global endpoints, FIPS) are botocore's, not ours. An
        # unsigned client needs no credentials, so building the backend never looks them up.
        unsigned = self._session.client(
            "s3",
            region_name=region,
            endpoint_url=endpoint_url or None,
            config=Config(signature_version=UNSIGNED, s3={"addressing_style": addressing_style}),
        )
        probe = unsigned.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "probe"}, ExpiresIn=60
        )
        bucket_url = probe.partition("?")[0].removesuffix("/probe")
        self.presigner = SigV4Presigner(
            bucket_url=bucket_url, region=region, credentials=self._credentials
        )

    @classmethod
    def from_settings(cls) -> S3Storage:
        cloudfront = None
        if settings.PICPICK_CLOUDFRONT_DOMAIN:
            cloudfront = CloudFrontSigner(
                domain=settings.PICPICK_CLOUDFRONT_DOMAIN,
                key_id=settings.PICPICK_CLOUDFRONT_KEY_ID,
                private_key_pem=settings.PICPICK_CLOUDFRONT_PRIVATE_KEY,
                min_depth=settings.PICPICK_CLOUDFRONT_WILDCARD_MIN_DEPTH,
            )
        return cls(
            bucket=settings.PICPICK_S3_BUCKET,
            region=settings.PICPICK_S3_REGION,
            endpoint_url=settings.PICPICK_S3_ENDPOINT_URL or None,
            addressing_style=settings.PICPICK_S3_ADDRESSING_STYLE,
            cloudfront=cloudfront,
        )

    def _credentials(self) -> Credentials:
        creds = self._session.get_credentials()
        if creds is None:
            raise StorageError("No AWS credentials: set AWS_ACCESS_KEY_ID/... or a role.")
        # Frozen: a refreshable (role) credential cannot change between key and secret.
        frozen = creds.get_frozen_credentials()
        return Credentials(frozen.access_key, frozen.secret_key, frozen.token)

    def _call(self, operation: str, **params: Any) -> dict:
        try:
            return getattr(self.client, operation)(Bucket=self.bucket, **params)
        except BotoCoreError as exc:
            raise StorageError(f"S3 {operation} failed: {exc}") from exc

    # -- uploads --
    def presign_put(
        self,
        *,
        key: str,
        content_type: str,
        content_length: int,
        checksum_sha256: str,
        expires_in: int,
    ) -> PresignedRequest:
        validate_single_put(key=key, content_length=content_length, expires_in=expires_in)
        # Both headers are signed, so a client must send them as they are:
        # - x-amz-checksum-sha256: S3 refuses a body that does not hash to it (BadDigest), so
        #   the URL can store exactly one content, the declared one;
        # - If-None-Match: * (S3 conditional writes, also in MinIO and moto): S3 answers 412
        #   once an object exists, so the URL cannot rewrite a verified original while it
        #   lives, not even with the same bytes (a new Last-Modified, a new version).
        # Either alone leaves a hole: the checksum allows re-PUTting the same bytes, the
        # condition allows any bytes before the first PUT. What neither can stop is a PUT
        # after the photo's object was deleted (the key is empty again); the URL is short-lived
        # and galleries' orphan sweep deletes what nothing references.
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(content_length),
            "If-None-Match": "*",
            "x-amz-checksum-sha256": validate_checksum_sha256(checksum_sha256),
        }
        now = utcnow()
        url = self.presigner.presign(
            method="PUT", key=key, expires_in=expires_in, now=now, headers=headers
        )
        return PresignedRequest(
            method="PUT", url=url, headers=headers, expires_at=now + timedelta(seconds=expires_in)
        )

    def create_multipart(
        self, *, key: str, content_type: str, checksum_algorithm: str | None = None
    ) -> str:
        validate_key(key)
        params: dict[str, Any] = {"Key": key, "ContentType": content_type}
        if checksum_algorithm is not None:
            if checksum_algorithm != SHA256_ALGORITHM:
                raise ValueError("only SHA256 is supported")
            params["ChecksumAlgorithm"] = checksum_algorithm
        return self._call("create_multipart_upload", **params)["UploadId"]

    def presign_parts(
        self,
        *,
        key: str,
        upload_id: str,
        part_numbers: Sequence[int],
        expires_in: int,
        checksums_sha256: dict[int, str] | None = None,
    ) -> list[PresignedRequest]:
        numbers = validate_presign_parts(key=key, part_numbers=part_numbers, expires_in=expires_in)
        checksums = checksums_sha256 or {}
        now = utcnow()
        expires_at = now + timedelta(seconds=expires_in)
        credentials = self.presigner.credentials()  # once for the batch
        out = []
        for number in numbers:
            headers: dict[str, str] = {}
            if number in checksums:
                headers["x-amz-checksum-sha256"] = validate_checksum_sha256(checksums[number])
            url = self.presigner.presign(
                method="PUT",
                key=key,
                expires_in=expires_in,
                now=now,
                query=(("uploadId", upload_id), ("partNumber", str(number))),
                headers=headers,
                credentials=credentials,
            )
            out.append(
                PresignedRequest(method="PUT", url=url, headers=headers, expires_at=expires_at)
            )
        return out

    def list_parts(self, *, key: str, upload_id: str) -> list[UploadedPart]:
        validate_key(key)
        parts: list[UploadedPart] = []
        marker = 0
        while True:  # S3 answers at most 1,000 parts per call; an upload may have 10,000
            try:
                page = self._call(
                    "list_parts",
                    Key=key,
                    UploadId=upload_id,
                    MaxParts=1000,
                    PartNumberMarker=marker,
                )
            except ClientError as exc:
                if _error_code(exc) == "NoSuchUpload" or _status(exc) == 404:
                    raise UploadNotFound("No such multipart upload.") from exc
                raise StorageError(f"S3 list_parts failed: {exc}") from exc
            for part in page.get("Parts", []):
                parts.append(
                    UploadedPart(
                        part_number=part["PartNumber"],
                        size=part["Size"],
                        etag=part["ETag"].strip('"'),
                        checksum_sha256=part.get("ChecksumSHA256"),
                    )
                )
            if not page.get("IsTruncated"):
                return parts
            marker = int(page["NextPartNumberMarker"])

    def complete_multipart(
        self, *, key: str, upload_id: str, parts: Iterable[PartRef]
    ) -> ObjectInfo:
        validate_key(key)
        ordered = normalize_parts(parts)
        entries = []
        for part in ordered:
            entry: dict[str, Any] = {"PartNumber": part.part_number, "ETag": f'"{part.etag}"'}
            if part.checksum_sha256:
                entry["ChecksumSHA256"] = part.checksum_sha256
            entries.append(entry)
        try:
            self._call(
                "complete_multipart_upload",
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": entries},
            )
        except ClientError as exc:
            code = _error_code(exc)
            if code == "NoSuchUpload":
                raise UploadNotFound("No such multipart upload.") from exc
            if code in {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "InvalidRequest"}:
                raise InvalidPart(f"The parts cannot be assembled ({code}).") from exc
            raise StorageError(f"S3 complete_multipart_upload failed: {exc}") from exc
        info = self.head(key=key)
        if info is None:
            raise StorageError("The completed object is not visible.")
        return info

    def abort_multipart(self, *, key: str, upload_id: str) -> None:
        validate_key(key)
        try:
            self._call("abort_multipart_upload", Key=key, UploadId=upload_id)
        except ClientError as exc:
            if _error_code(exc) == "NoSuchUpload" or _status(exc) == 404:
                return
            raise StorageError(f"S3 abort_multipart_upload failed: {exc}") from exc

    def list_multipart_uploads(
        self, *, prefix: str, initiated_before: datetime
    ) -> list[MultipartUpload]:
        out: list[MultipartUpload] = []
        params: dict[str, Any] = {"Prefix": prefix}
        while True:
            try:
                page = self._call("list_multipart_uploads", **params)
            except ClientError as exc:
                raise StorageError(f"S3 list_multipart_uploads failed: {exc}") from exc
            for upload in page.get("Uploads", []):
                if upload["Initiated"] < initiated_before:
                    out.append(
                        MultipartUpload(
                            key=upload["Key"],
                            upload_id=upload["UploadId"],
                            initiated=upload["Initiated"],
                        )
                    )
            if not page.get("IsTruncated"):
                return out
            params["KeyMarker"] = page.get("NextKeyMarker", "")
            params["UploadIdMarker"] = page.get("NextUploadIdMarker", "")

    # -- reads --
    def head(self, *, key: str) -> ObjectInfo | None:
        validate_key(key)
        try:
            meta = self._call("head_object", Key=key, ChecksumMode="ENABLED")
        except ClientError as exc:
            if _status(exc) == 404:
                return None
            raise StorageError(f"S3 head_object failed: {exc}") from exc
        return ObjectInfo(
            key=key,
            size=meta["ContentLength"],
            etag=meta["ETag"].strip('"'),
            content_type=meta.get("ContentType"),
            checksum_sha256=meta.get("ChecksumSHA256"),
            storage_class=meta.get("StorageClass"),
            last_modified=meta.get("LastModified"),
        )

    def _get(self, key: str, **params: Any) -> dict:
        validate_key(key)
        try:
            return self._call("get_object", Key=key, **params)
        except ClientError as exc:
            if _error_code(exc) in {"NoSuchKey", "404"} or _status(exc) == 404:
                raise ObjectNotFound("No such object.") from exc
            if _error_code(exc) == "InvalidRange":
                return {}
            raise StorageError(f"S3 get_object failed: {exc}") from exc

    def read_range(self, *, key: str, start: int, length: int) -> bytes:
        if start < 0 or length < 0:
            raise ValueError("start and length must not be negative")
        if length == 0:
            return b""
        response = self._get(key, Range=f"bytes={start}-{start + length - 1}")
        if not response:  # the range starts past the end of the object
            return b""
        with response["Body"] as body:
            return body.read()

    def open(self, *, key: str) -> BinaryIO:
        return self._get(key)["Body"]

    def download_to_file(self, *, key: str, path: str | Path) -> None:
        validate_key(key)
        try:
            # s3transfer: ranged GETs in parallel for large originals, retried per range.
            self.client.download_file(self.bucket, key, str(path))
        except ClientError as exc:
            if _status(exc) == 404:
                raise ObjectNotFound("No such object.") from exc
            raise StorageError(f"S3 download failed: {exc}") from exc

    # -- writes --
    def put_object(
        self,
        *,
        key: str,
        body: bytes | BinaryIO,
        content_type: str,
        cache_control: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        validate_key(key)
        params: dict[str, Any] = {"Key": key, "Body": body, "ContentType": content_type}
        if cache_control:
            params["CacheControl"] = cache_control
        if tags:
            params["Tagging"] = urlencode(tags)
        try:
            self._call("put_object", **params)
        except ClientError as exc:
            raise StorageError(f"S3 put_object failed: {exc}") from exc

    # -- browser reads --
    def presign_get(
        self, *, key: str, expires_in: int, download_filename: str | None = None
    ) -> str:
        validate_key(key)
        validate_expiry(expires_in)
        if download_filename is None and self.cloudfront is not None:
            return self.cloudfront.sign(key, expires_in)
        # Downloads go straight to the bucket even with CloudFront: the bucket honours a
        # signed response-content-disposition; a CDN would need it forwarded and cached per
        # filename, for files downloaded once.
        query: tuple[tuple[str, str], ...] = ()
        if download_filename is not None:
            query = (("response-content-disposition", content_disposition(download_filename)),)
        return self.presigner.presign(
            method="GET", key=key, expires_in=expires_in, now=utcnow(), query=query
        )

    def presign_get_many(self, *, keys: Sequence[str], expires_in: int) -> list[str]:
        validate_expiry(expires_in)
        for key in keys:
            validate_key(key)
        if self.cloudfront is not None:
            return self.cloudfront.sign_many(keys, expires_in)
        now = utcnow()
        credentials = self.presigner.credentials()
        return [
            self.presigner.presign(
                method="GET", key=key, expires_in=expires_in, now=now, credentials=credentials
            )
            for key in keys
        ]

    # -- housekeeping --
    def delete_many(self, *, keys: Iterable[str]) -> list[str]:
        pending = [validate_key(key) for key in keys]
        failed: list[str] = []
        for start in range(0, len(pending), MAX_DELETE_BATCH):
            batch = pending[start : start + MAX_DELETE_BATCH]
            try:
                response = self._call(
                    "delete_objects",
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )
            except (ClientError, StorageError):
                failed.extend(batch)  # the caller retries what is reported, not everything
                continue
            failed.extend(error["Key"] for error in response.get("Errors", []))
        return failed

    def upload_part(
        self, *, key: str, upload_id: str, part_number: int, body: bytes
    ) -> UploadedPart:
        validate_key(key)
        validate_part_numbers([part_number])
        try:
            answer = self._call(
                "upload_part", Key=key, UploadId=upload_id, PartNumber=part_number, Body=body
            )
        except ClientError as exc:
            if _status(exc) == 404:
                raise UploadNotFound("No such multipart upload.") from exc
            raise StorageError(f"S3 upload_part {part_number} of {key} failed: {exc}") from exc
        return UploadedPart(part_number=part_number, size=len(body), etag=answer["ETag"].strip('"'))

    def list_keys(self, *, prefix: str, limit: int | None = None) -> list[str]:
        validate_prefix(prefix)
        found: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    found.append(item["Key"])
                    if limit is not None and len(found) >= limit:
                        return found
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"S3 list_objects_v2 failed: {exc}") from exc
        return found

    def list_objects(
        self, *, prefix: str, start_after: str | None = None, limit: int = MAX_DELETE_BATCH
    ) -> list[ObjectInfo]:
        validate_prefix(prefix)
        if limit < 1:
            raise ValueError("limit must be at least 1")
        found: list[ObjectInfo] = []
        params: dict[str, Any] = {"Prefix": prefix}
        if start_after:
            params["StartAfter"] = start_after
        while len(found) < limit:
            params["MaxKeys"] = min(1000, limit - len(found))
            try:
                page = self._call("list_objects_v2", **params)
            except ClientError as exc:
                raise StorageError(f"S3 list_objects_v2 failed: {exc}") from exc
            for item in page.get("Contents", []):
                found.append(
                    ObjectInfo(
                        key=item["Key"],
                        size=item["Size"],
                        etag=item["ETag"].strip('"'),
                        content_type=None,  # not in a listing
                        storage_class=item.get("StorageClass"),
                        last_modified=item["LastModified"],
                    )
                )
            if not page.get("IsTruncated"):
                break
            params.pop("StartAfter", None)
            params["ContinuationToken"] = page["NextContinuationToken"]
        return found

    def delete_prefix(self, *, prefix: str) -> int:
        validate_prefix(prefix)
        deleted = 0
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys = [item["Key"] for item in page.get("Contents", [])]
                if keys:
                    failed = self.delete_many(keys=keys)
                    deleted += len(keys) - len(failed)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"S3 delete_prefix failed: {exc}") from exc
        return deleted

    def set_object_tags(self, *, key: str, tags: dict[str, str]) -> None:
        validate_key(key)
        try:
            self._call(
                "put_object_tagging",
                Key=key,
                Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]},
            )
        except ClientError as exc:
            if _status(exc) == 404:
                raise ObjectNotFound("No such object.") from exc
            raise StorageError(f"S3 put_object_tagging failed: {exc}") from exc

    def ensure_lifecycle(
        self,
        *,
        archive_tag: str,
        transition_days: int,
        storage_class: str,
        abort_incomplete_multipart_days: int,
    ) -> None:
        tag_key, tag_value = parse_tag(archive_tag)
        ours = [
            {
                "ID": ARCHIVE_RULE_ID,
                "Status": "Enabled",
                "Filter": {"Tag": {"Key": tag_key, "Value": tag_value}},
                "Transitions": [{"Days": transition_days, "StorageClass": storage_class}],
            },
            {
                "ID": ABORT_RULE_ID,
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "AbortIncompleteMultipartUpload": {
                    "DaysAfterInitiation": abort_incomplete_multipart_days
                },
            },
        ]
        try:
            current = self._call("get_bucket_lifecycle_configuration").get("Rules", [])
        except ClientError as exc:
            if _error_code(exc) != "NoSuchLifecycleConfiguration":
                raise StorageError(f"S3 get_bucket_lifecycle_configuration failed: {exc}") from exc
            current = []
        # Rules someone added by hand (or another app) stay; ours are replaced.
        others = [
            rule for rule in current if rule.get("ID") not in {ARCHIVE_RULE_ID, ABORT_RULE_ID}
        ]
        mine = [rule for rule in current if rule.get("ID") in {ARCHIVE_RULE_ID, ABORT_RULE_ID}]
        if _normalized(mine) == _normalized(ours):
            return  # an ensure_*: nothing to change, nothing written
        try:
            self._call(
                "put_bucket_lifecycle_configuration",
                LifecycleConfiguration={"Rules": others + ours},
            )
        except ClientError as exc:
            raise StorageError(f"S3 put_bucket_lifecycle_configuration failed: {exc}") from exc


def _normalized(rules: list[dict]) -> list[str]:
    return sorted(json.dumps(rule, sort_keys=True, default=str) for rule in rules)
