"""The local backend's signed endpoints: exact error codes, and nothing half-written."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest
from django.test import Client

from picpick.core.storage import InvalidKey, UploadNotFound, get_storage, sha256_base64
from picpick.core.storage.local import LocalStorage
from tests.storage_fixtures import put_presigned, send, sign_in_the_past

BODY = b"\x89PNG\r\n\x1a\n" + os.urandom(500)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def put(url: str, body: bytes, content_type: str = "image/png", **meta):
    meta.setdefault("HTTP_IF_NONE_MATCH", "*")  # signed into every single PUT
    return Client().generic("PUT", path_of(url), data=body, content_type=content_type, **meta)


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code


@pytest.fixture
def presigned_put(local_storage):
    return local_storage.presign_put(
        key="studios/s1/originals/p1.png",
        content_type="image/png",
        content_length=len(BODY),
        checksum_sha256=sha256_base64(BODY),
        expires_in=300,
    )


def nothing_written(storage: LocalStorage) -> bool:
    tmp = storage.root / ".tmp"
    return storage.head(key="studios/s1/originals/p1.png") is None and not any(tmp.iterdir())


def test_put_stores_the_body_and_answers_its_etag(local_storage, presigned_put):
    response = put(presigned_put.url, BODY, HTTP_X_AMZ_CHECKSUM_SHA256=sha256_base64(BODY))

    assert response.status_code == 200
    info = local_storage.head(key="studios/s1/originals/p1.png")
    assert response["ETag"] == f'"{info.etag}"'
    assert info.checksum_sha256 == sha256_base64(BODY)
    assert (local_storage.root / "studios/s1/originals/p1.png").read_bytes() == BODY


@pytest.mark.parametrize(
    ("body", "content_type", "checksum", "status", "code"),
    [
        (BODY + b"!", "image/png", sha256_base64(BODY), 400, "content_length_mismatch"),
        (BODY[:-1], "image/png", sha256_base64(BODY), 400, "content_length_mismatch"),
        (BODY, "text/html", sha256_base64(BODY), 403, "header_mismatch"),
        (BODY, "image/png", sha256_base64(b"other"), 403, "header_mismatch"),
        (BODY, "image/png", None, 403, "header_mismatch"),
    ],
    ids=["longer", "shorter", "other-type", "other-checksum-header", "no-checksum-header"],
)
def test_put_refuses_what_was_not_signed(
    local_storage, presigned_put, body, content_type, checksum, status, code
):
    extra = {"HTTP_X_AMZ_CHECKSUM_SHA256": checksum} if checksum else {}
    assert_error(put(presigned_put.url, body, content_type, **extra), status, code)
    assert nothing_written(local_storage)


def test_a_body_that_does_not_match_its_checksum_is_refused(local_storage):
    declared = sha256_base64(b"x" * len(BODY))
    presigned = local_storage.presign_put(
        key="studios/s1/originals/p1.png",
        content_type="image/png",
        content_length=len(BODY),
        checksum_sha256=declared,
        expires_in=60,
    )
    response = put(presigned.url, BODY, HTTP_X_AMZ_CHECKSUM_SHA256=declared)
    assert_error(response, 400, "checksum_mismatch")
    assert nothing_written(local_storage)


def test_a_put_after_the_object_was_deleted_is_refused(local_storage, presigned_put):
    key = "studios/s1/originals/p1.png"
    checksum = sha256_base64(BODY)
    assert put(presigned_put.url, BODY, HTTP_X_AMZ_CHECKSUM_SHA256=checksum).status_code == 200
    assert local_storage.delete_many(keys=[key]) == []

    response = put(presigned_put.url, BODY, HTTP_X_AMZ_CHECKSUM_SHA256=checksum)

    assert_error(response, 412, "object_exists")
    assert nothing_written(local_storage)


def test_a_put_after_its_never_written_key_was_deleted_is_refused(local_storage, presigned_put):
    # An abandoned upload: the sweeper deletes its key although nothing was stored yet.
    assert local_storage.delete_many(keys=["studios/s1/originals/p1.png"]) == []

    response = put(presigned_put.url, BODY, HTTP_X_AMZ_CHECKSUM_SHA256=sha256_base64(BODY))

    assert_error(response, 412, "object_exists")
    assert nothing_written(local_storage)


def test_workers_may_write_again_where_an_object_was_deleted(local_storage):
    key = "studios/s1/d/thumb/p1.jpg"
    local_storage.put_object(key=key, body=b"one", content_type="image/jpeg")
    local_storage.delete_many(keys=[key])
    local_storage.put_object(key=key, body=b"two", content_type="image/jpeg")

    assert local_storage.head(key=key).size == 3
    assert local_storage.object_headers(key=key)["Content-Type"] == "image/jpeg"


def test_a_missing_content_length_is_refused(local_storage):
    presigned = local_storage.presign_put(
        key="studios/s1/originals/p1.png",
        content_type="image/png",
        content_length=3,
        checksum_sha256=sha256_base64(b"abc"),
        expires_in=60,
    )
    response = put(presigned.url, b"abc", CONTENT_LENGTH="")
    assert_error(response, 411, "length_required")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: url.replace("p1.png", "p2.png"),
        lambda url: url.replace("len=", "len=1"),
        lambda url: url.replace("ttl=300", "ttl=3000"),
        lambda url: url.replace("&s=", "&s=x"),
        lambda url: url.split("&s=")[0],
        lambda url: url.split("?")[0],
    ],
    ids=["other-key", "other-length", "longer-life", "bad-signature", "no-signature", "no-query"],
)
def test_tampered_urls_are_refused(local_storage, presigned_put, tamper):
    response = put(tamper(presigned_put.url), BODY, HTTP_X_AMZ_CHECKSUM_SHA256=sha256_base64(BODY))
    assert_error(response, 403, "signature_invalid")
    assert not any((local_storage.root / ".tmp").iterdir())


def test_a_put_url_does_not_read_and_a_get_url_does_not_write(local_storage, presigned_put):
    local_storage.put_object(key="studios/s1/a.png", body=BODY, content_type="image/png")
    get_url = local_storage.presign_get(key="studios/s1/a.png", expires_in=60)

    assert_error(Client().get(path_of(presigned_put.url)), 403, "signature_invalid")
    assert_error(put(get_url, BODY), 403, "signature_invalid")


def test_expired_urls_answer_url_expired(local_storage, monkeypatch):
    local_storage.put_object(key="studios/s1/a.png", body=BODY, content_type="image/png")
    with monkeypatch.context() as clock:
        sign_in_the_past(clock, seconds=30)
        url = local_storage.presign_get(key="studios/s1/a.png", expires_in=1)
    assert_error(Client().get(path_of(url)), 403, "url_expired")


def test_get_serves_the_file_safely(local_storage):
    local_storage.put_object(
        key="studios/s1/a.html", body=b"<script>x</script>", content_type="text/html"
    )
    url = local_storage.presign_get(
        key="studios/s1/a.html", expires_in=60, download_filename="a.html"
    )

    response = Client().get(path_of(url))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"<script>x</script>"
    assert response["Content-Disposition"] == 'attachment; filename="a.html"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_a_part_for_an_aborted_upload_is_not_found(local_storage):
    key = "studios/s1/originals/big.NEF"
    upload_id = local_storage.create_multipart(key=key, content_type="image/x-nikon-nef")
    [url] = local_storage.presign_parts(
        key=key, upload_id=upload_id, part_numbers=[1], expires_in=60
    )
    local_storage.abort_multipart(key=key, upload_id=upload_id)

    assert_error(put(url.url, b"part", "application/octet-stream"), 404, "upload_not_found")
    assert not any((local_storage.root / ".tmp").iterdir())


def test_an_upload_id_of_another_key_is_not_found(local_storage):
    upload_id = local_storage.create_multipart(key="studios/s1/a.NEF", content_type="x/y")
    with pytest.raises(UploadNotFound):
        local_storage.list_parts(key="studios/s1/b.NEF", upload_id=upload_id)
    [url] = local_storage.presign_parts(
        key="studios/s1/b.NEF", upload_id=upload_id, part_numbers=[1], expires_in=60
    )
    assert_error(put(url.url, b"part", "application/octet-stream"), 404, "upload_not_found")
    for bad_id in ("../../etc", "x", "a/b"):
        with pytest.raises(UploadNotFound):
            local_storage.list_parts(key="studios/s1/a.NEF", upload_id=bad_id)


@pytest.mark.parametrize(
    "key",
    ["../outside", "a/../../outside", "/etc/passwd", "a\\..\\b", "a\x00b", ".uploads/x", "a//b"],
)
def test_keys_never_escape_the_root(local_storage, key):
    with pytest.raises(InvalidKey):
        local_storage.path_for(key)
    with pytest.raises(InvalidKey):
        local_storage.put_object(key=key, body=b"x", content_type="text/plain")


def test_a_symlink_out_of_the_root_is_refused(local_storage, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (local_storage.root / "studios").mkdir()
    (local_storage.root / "studios" / "evil").symlink_to(outside)

    with pytest.raises(InvalidKey):
        local_storage.put_object(key="studios/evil/x", body=b"x", content_type="text/plain")
    assert not any(outside.iterdir())


@pytest.mark.parametrize(
    "path",
    ["/storage/o/../../etc/passwd", "/storage/o/%2e%2e/%2e%2e/etc/passwd", "/storage/o/.meta/x"],
)
def test_traversal_through_the_url_is_refused(local_storage, path):
    response = Client().get(path + "?ttl=60&t=x&s=y")
    assert response.status_code in (403, 404)


def test_a_key_used_as_a_folder_conflicts(local_storage, django_http_server):
    local_storage.put_object(key="studios/s1/a/b", body=b"x", content_type="text/plain")
    presigned = local_storage.presign_put(
        key="studios/s1/a",
        content_type="text/plain",
        content_length=1,
        checksum_sha256=sha256_base64(b"y"),
        expires_in=60,
    )
    response = put_presigned(presigned, b"y")
    assert response.status == 409
    assert not any((local_storage.root / ".tmp").iterdir())


def test_the_endpoints_answer_404_when_storage_is_s3(local_storage, settings):
    url = local_storage.presign_get(key="studios/s1/a.png", expires_in=60)
    settings.PICPICK_STORAGE = "s3"
    settings.PICPICK_S3_BUCKET = "somewhere"
    settings.PICPICK_S3_ENDPOINT_URL = "http://127.0.0.1:9"
    assert get_storage().__class__.__name__ == "S3Storage"
    assert_error(Client().get(path_of(url)), 404, "not_found")


def test_real_http_get_of_a_multipart_object(local_storage):
    key = "studios/s1/originals/two.bin"
    upload_id = local_storage.create_multipart(key=key, content_type="application/octet-stream")
    urls = local_storage.presign_parts(
        key=key, upload_id=upload_id, part_numbers=[1], expires_in=60
    )
    etag = put_presigned(urls[0], b"only part").headers["ETag"]
    local_storage.complete_multipart(key=key, upload_id=upload_id, parts=[(1, etag)])
    assert not (local_storage.root / ".uploads" / upload_id).exists()
    assert send("GET", local_storage.presign_get(key=key, expires_in=60)).body == b"only part"
