"""Pure pieces: part sizes, key rules, the SigV4 presigner against botocore, CloudFront."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.stub import Stubber
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from picpick.core.storage import (
    MAX_OBJECT_SIZE,
    MAX_PART_SIZE,
    MAX_PARTS,
    MIN_PART_SIZE,
    GiB,
    InvalidKey,
    MiB,
    ObjectTooLarge,
    TiB,
    choose_part_size,
    content_disposition,
    get_storage,
    part_count,
    sha256_base64,
    validate_key,
)
from picpick.core.storage import s3 as s3_module
from picpick.core.storage.local import LocalStorage
from picpick.core.storage.s3 import CloudFrontSigner, S3Storage
from picpick.core.storage.sigv4 import Credentials, SigV4Presigner

FROZEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


# --- part sizes ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("size", "part_size"),
    [
        (0, 16 * MiB),
        (5 * MiB, 16 * MiB),
        (80 * GiB, 16 * MiB),  # 5,120 parts
        (10_000 * 16 * MiB, 16 * MiB),  # exactly 10,000 parts
        (10_000 * 16 * MiB + 1, 17 * MiB),
        (5 * TiB, 525 * MiB),
    ],
)
def test_choose_part_size(size, part_size):
    chosen = choose_part_size(size)
    assert chosen == part_size
    assert MIN_PART_SIZE <= chosen <= MAX_PART_SIZE
    assert chosen % MiB == 0
    assert part_count(size, chosen) <= MAX_PARTS


def test_choose_part_size_refuses_what_s3_cannot_store():
    with pytest.raises(ObjectTooLarge):
        choose_part_size(MAX_OBJECT_SIZE + 1)
    with pytest.raises(ValueError):
        choose_part_size(-1)


def test_part_count():
    assert part_count(0, 16 * MiB) == 1
    assert part_count(16 * MiB, 16 * MiB) == 1
    assert part_count(16 * MiB + 1, 16 * MiB) == 2


# --- keys and headers ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key", ["studios/0193/originals/0193abc.NEF", "a", "a b/ü+~=%.jpg", "x/.hidden-inside-ok"]
)
def test_valid_keys(key):
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        *("", "/abs", "a/", "a//b", "./a", "a/./b", "..", "a/../b", "a\\b", "a\x00b", "a\nb"),
        ".tmp/x",
        "x" * 1025,
    ],
)
def test_invalid_keys(key):
    with pytest.raises(InvalidKey):
        validate_key(key)


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("IMG_0001.jpg", 'attachment; filename="IMG_0001.jpg"'),
        (
            'a"b\r\nSet-Cookie: x.jpg',
            'attachment; filename="a_bSet-Cookie_ x.jpg"; '
            "filename*=UTF-8''a%22bSet-Cookie%3A%20x.jpg",
        ),
        ("../../etc/passwd", 'attachment; filename="_.._etc_passwd"'),
        ("Mariée.jpg", "attachment; filename=\"Mari_e.jpg\"; filename*=UTF-8''Mari%C3%A9e.jpg"),
        ("", 'attachment; filename="download"'),
    ],
)
def test_content_disposition_is_safe(name, header):
    assert content_disposition(name) == header


# --- SigV4: byte-identical to botocore -------------------------------------------------------
CASES = [
    ("path", "http://127.0.0.1:5123", "eu-west-1", None),
    ("virtual", None, "eu-west-1", "session/token+with=chars"),
    ("auto", None, "us-east-1", None),
    ("path", "https://minio.example:443", "us-east-1", None),
]


def _clients(style, endpoint, region, token):
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        aws_session_token=token,
    )
    storage = S3Storage(
        bucket="my-bucket",
        region=region,
        endpoint_url=endpoint,
        addressing_style=style,
        session=session,
    )
    return storage, storage.client


@pytest.mark.parametrize(("style", "endpoint", "region", "token"), CASES)
def test_presigned_urls_are_byte_identical_to_botocore(style, endpoint, region, token):
    storage, client = _clients(style, endpoint, region, token)
    key = "studios/a b/ü+~=%.NEF"
    checksum = sha256_base64(b"body")
    with (
        mock.patch("botocore.auth.get_current_datetime", return_value=FROZEN.replace(tzinfo=None)),
        mock.patch.object(s3_module, "utcnow", return_value=FROZEN),
    ):
        expected_put = client.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": "my-bucket",
                "Key": key,
                "ContentType": "image/x-nikon-nef",
                "ContentLength": 123456789,
                "ChecksumSHA256": checksum,
                "IfNoneMatch": "*",
            },
            ExpiresIn=900,
        )
        expected_parts = [
            client.generate_presigned_url(
                "upload_part",
                Params={"Bucket": "my-bucket", "Key": key, "UploadId": "up/id+=", "PartNumber": n},
                ExpiresIn=3600,
            )
            for n in (1, 10000)
        ]
        expected_get = client.generate_presigned_url(
            "get_object", Params={"Bucket": "my-bucket", "Key": key}, ExpiresIn=60
        )
        expected_download = client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": "my-bucket",
                "Key": key,
                "ResponseContentDisposition": content_disposition("Mariée.NEF"),
            },
            ExpiresIn=60,
        )

        put = storage.presign_put(
            key=key,
            content_type="image/x-nikon-nef",
            content_length=123456789,
            checksum_sha256=checksum,
            expires_in=900,
        )
        parts = storage.presign_parts(
            key=key, upload_id="up/id+=", part_numbers=[1, 10000], expires_in=3600
        )
        get = storage.presign_get_many(keys=[key], expires_in=60)
        download = storage.presign_get(key=key, expires_in=60, download_filename="Mariée.NEF")

    assert put.url == expected_put
    assert [p.url for p in parts] == expected_parts
    assert get == [expected_get]
    assert download == expected_download


def test_the_signing_key_is_derived_once_per_day():
    presigner = SigV4Presigner(
        bucket_url="https://b.s3.amazonaws.com",
        region="us-east-1",
        credentials=lambda: Credentials("AK", "SK"),
    )
    with mock.patch("picpick.core.storage.sigv4.hmac.new", wraps=__import__("hmac").new) as spy:
        presigner.presign(method="GET", key="a", expires_in=60, now=FROZEN)
        first = spy.call_count
        presigner.presign(method="GET", key="b", expires_in=60, now=FROZEN)
    assert first == 5  # 4 to derive the key + 1 signature
    assert spy.call_count == 6


# --- S3 pagination and lifecycle -------------------------------------------------------------
def test_list_parts_follows_pagination_past_1000_parts():
    storage, client = _clients("path", "http://127.0.0.1:9", "eu-west-1", None)
    page = [{"PartNumber": n, "Size": 5 * MiB, "ETag": f'"{n:032x}"'} for n in range(1, 1001)]
    with Stubber(client) as stub:
        stub.add_response(
            "list_parts",
            {"Parts": page, "IsTruncated": True, "NextPartNumberMarker": 1000},
            {
                "Bucket": "my-bucket",
                "Key": "k",
                "UploadId": "u",
                "MaxParts": 1000,
                "PartNumberMarker": 0,
            },
        )
        stub.add_response(
            "list_parts",
            {"Parts": [{"PartNumber": 1001, "Size": 3, "ETag": '"ab"'}], "IsTruncated": False},
            {
                "Bucket": "my-bucket",
                "Key": "k",
                "UploadId": "u",
                "MaxParts": 1000,
                "PartNumberMarker": 1000,
            },
        )
        parts = storage.list_parts(key="k", upload_id="u")
    assert [p.part_number for p in parts] == list(range(1, 1002))
    assert parts[-1].etag == "ab"


def test_ensure_lifecycle_sets_our_rules_and_keeps_others(s3_storage):
    client = s3_storage.client
    foreign = {
        "ID": "someone-else",
        "Status": "Enabled",
        "Filter": {"Prefix": "logs/"},
        "Expiration": {"Days": 30},
    }
    client.put_bucket_lifecycle_configuration(
        Bucket=s3_storage.bucket, LifecycleConfiguration={"Rules": [foreign]}
    )
    for _ in range(2):  # an ensure_*: a second run is harmless
        s3_storage.ensure_lifecycle(
            archive_tag="archived=true",
            transition_days=30,
            storage_class="DEEP_ARCHIVE",
            abort_incomplete_multipart_days=7,
        )
    rules = {
        r["ID"]: r
        for r in client.get_bucket_lifecycle_configuration(Bucket=s3_storage.bucket)["Rules"]
    }
    assert set(rules) == {"someone-else", s3_module.ARCHIVE_RULE_ID, s3_module.ABORT_RULE_ID}
    archive = rules[s3_module.ARCHIVE_RULE_ID]
    assert archive["Filter"]["Tag"] == {"Key": "archived", "Value": "true"}
    assert archive["Transitions"][0]["Days"] == 30
    assert archive["Transitions"][0]["StorageClass"] == "DEEP_ARCHIVE"
    abort = rules[s3_module.ABORT_RULE_ID]["AbortIncompleteMultipartUpload"]
    assert abort["DaysAfterInitiation"] == 7
    client.delete_bucket_lifecycle(Bucket=s3_storage.bucket)


def test_ensure_lifecycle_is_a_checked_no_op_locally(local_storage):
    local_storage.ensure_lifecycle(
        archive_tag="archived=true",
        transition_days=30,
        storage_class="GLACIER",
        abort_incomplete_multipart_days=7,
    )
    with pytest.raises(ValueError):
        local_storage.ensure_lifecycle(
            archive_tag="archived",
            transition_days=30,
            storage_class="GLACIER",
            abort_incomplete_multipart_days=7,
        )


# --- CloudFront ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def cloudfront(rsa_key):
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return CloudFrontSigner(
        domain="cdn.example.com", key_id="K2JCJMDEHXQW5F", private_key_pem=pem, min_depth=3
    )


def _cf_b64decode(value: str) -> bytes:
    return base64.b64decode(value.replace("-", "+").replace("_", "=").replace("~", "/"))


def _verify(rsa_key, policy: bytes, signature: str) -> None:
    rsa_key.public_key().verify(_cf_b64decode(signature), policy, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303


def test_a_page_under_one_folder_shares_one_wildcard_signature(cloudfront, rsa_key):
    keys = [f"studios/s1/galleries/g1/web/{n}.jpg" for n in range(100)]

    urls = cloudfront.sign_many(keys, 3600)

    queries = [parse_qs(urlsplit(url).query) for url in urls]
    assert [urlsplit(url).path for url in urls] == [f"/{key}" for key in keys]
    assert len({q["Signature"][0] for q in queries}) == 1
    policy = _cf_b64decode(queries[0]["Policy"][0])
    statement = json.loads(policy)["Statement"][0]
    assert statement["Resource"] == "https://cdn.example.com/studios/s1/galleries/g1/web/*"
    assert statement["Condition"]["DateLessThan"]["AWS:EpochTime"] % 60 == 0
    assert queries[0]["Key-Pair-Id"] == ["K2JCJMDEHXQW5F"]
    _verify(rsa_key, policy, queries[0]["Signature"][0])


def test_keys_without_a_deep_common_folder_are_signed_one_by_one(cloudfront, rsa_key):
    keys = ["studios/s1/a/1.jpg", "studios/s2/a/2.jpg"]  # common folder "studios": too wide

    urls = cloudfront.sign_many(keys, 3600)

    for key, url in zip(keys, urls, strict=True):
        query = parse_qs(urlsplit(url).query)
        assert "Policy" not in query  # canned policy: the resource is this URL only
        expires = int(query["Expires"][0])
        canned = json.dumps(
            {
                "Statement": [
                    {
                        "Resource": f"https://cdn.example.com/{key}",
                        "Condition": {"DateLessThan": {"AWS:EpochTime": expires}},
                    }
                ]
            },
            separators=(",", ":"),
        ).encode()
        _verify(rsa_key, canned, query["Signature"][0])


def test_s3_storage_reads_through_cloudfront_but_downloads_from_the_bucket(cloudfront):
    storage, _client = _clients("path", "http://127.0.0.1:9", "eu-west-1", None)
    storage.cloudfront = cloudfront
    keys = [f"studios/s1/galleries/g1/web/{n}.jpg" for n in range(3)]

    assert all(
        u.startswith("https://cdn.example.com/")
        for u in storage.presign_get_many(keys=keys, expires_in=60)
    )
    assert storage.presign_get(key=keys[0], expires_in=60).startswith("https://cdn.example.com/")
    download = storage.presign_get(key=keys[0], expires_in=60, download_filename="a.jpg")
    assert download.startswith("http://127.0.0.1:9/my-bucket/")
    assert "response-content-disposition" in download


# --- get_storage -----------------------------------------------------------------------------
def test_get_storage_is_built_once_and_rebuilt_when_settings_change(settings, tmp_path):
    settings.PICPICK_STORAGE = "local"
    settings.PICPICK_LOCAL_STORAGE_ROOT = tmp_path / "one"
    first = get_storage()
    assert isinstance(first, LocalStorage)
    assert get_storage() is first

    settings.PICPICK_LOCAL_STORAGE_ROOT = tmp_path / "two"

    assert get_storage().root == Path(tmp_path / "two")


def test_get_storage_builds_s3_from_settings(settings, rsa_key):
    settings.PICPICK_STORAGE = "s3"
    settings.PICPICK_S3_BUCKET = "photos"
    settings.PICPICK_S3_REGION = "eu-central-1"
    settings.PICPICK_S3_ENDPOINT_URL = ""
    settings.PICPICK_S3_ADDRESSING_STYLE = "virtual"
    settings.PICPICK_CLOUDFRONT_DOMAIN = "cdn.example.com"
    settings.PICPICK_CLOUDFRONT_KEY_ID = "K1"
    settings.PICPICK_CLOUDFRONT_PRIVATE_KEY = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()

    storage = get_storage()

    assert isinstance(storage, S3Storage)
    assert storage.presigner._origin == "https://photos.s3.eu-central-1.amazonaws.com"
    assert storage.cloudfront is not None
    assert storage.cloudfront.key_id == "K1"
