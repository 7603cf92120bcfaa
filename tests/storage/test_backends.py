"""One behavioural suite, run against S3 (moto's server) and the local backend, with real
HTTP requests to the presigned URLs — the flow the web and desktop uploaders follow."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from picpick.core.storage import (
    InvalidKey,
    InvalidPart,
    MiB,
    ObjectNotFound,
    UploadedPart,
    UploadNotFound,
    content_disposition,
    sha256_base64,
    utcnow,
)
from picpick.core.storage.s3 import S3Storage
from tests.storage_fixtures import put_presigned, send, sign_in_the_past

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + os.urandom(2000)
PART = os.urandom(5 * MiB)  # the smallest part S3 accepts before the last


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()  # noqa: S324


def refused(status: int) -> bool:
    # S3 answers 403 for a signed header that differs and 400 for a bad digest; the local
    # backend answers 400 for a length mismatch (see test_local.py for its exact codes).
    return status in (400, 403)


def test_single_put_then_read_back_every_way(storage, prefix, tmp_path):
    key = f"{prefix}originals/IMG_0001.jpg"
    presigned = storage.presign_put(
        key=key,
        content_type="image/jpeg",
        content_length=len(JPEG),
        checksum_sha256=sha256_base64(JPEG),
        expires_in=300,
    )
    assert presigned.method == "PUT"
    assert presigned.headers["Content-Type"] == "image/jpeg"
    assert presigned.expires_at > utcnow() + timedelta(seconds=290)

    response = put_presigned(presigned, JPEG)

    assert response.status == 200, response.body
    assert response.headers["ETag"] == f'"{md5_hex(JPEG)}"'
    info = storage.head(key=key)
    assert (info.key, info.size, info.etag, info.content_type) == (
        key,
        len(JPEG),
        md5_hex(JPEG),
        "image/jpeg",
    )
    assert storage.read_range(key=key, start=0, length=4) == JPEG[:4]
    assert storage.read_range(key=key, start=len(JPEG) - 2, length=10) == JPEG[-2:]
    assert storage.read_range(key=key, start=len(JPEG) + 10, length=10) == b""
    with storage.open(key=key) as stream:
        assert stream.read() == JPEG
    storage.download_to_file(key=key, path=tmp_path / "copy.jpg")
    assert (tmp_path / "copy.jpg").read_bytes() == JPEG
    got = send("GET", storage.presign_get(key=key, expires_in=60))
    assert got.status == 200
    assert got.body == JPEG
    assert got.headers["Content-Type"] == "image/jpeg"


def test_missing_objects(storage, prefix):
    key = f"{prefix}nothing.jpg"
    assert storage.head(key=key) is None
    with pytest.raises(ObjectNotFound):
        storage.read_range(key=key, start=0, length=64)
    with pytest.raises(ObjectNotFound):
        storage.open(key=key)
    assert send("GET", storage.presign_get(key=key, expires_in=60)).status == 404


def test_multipart_resume_after_two_parts_then_complete(storage, prefix):
    key = f"{prefix}originals/DSC_9999.NEF"
    last = os.urandom(1234)
    bodies = {1: PART, 2: PART[::-1], 3: last}
    upload_id = storage.create_multipart(key=key, content_type="image/x-nikon-nef")
    urls = storage.presign_parts(
        key=key, upload_id=upload_id, part_numbers=[1, 2, 3], expires_in=600
    )
    assert [u.method for u in urls] == ["PUT"] * 3

    etags = {}
    for number in (1, 2):
        response = put_presigned(urls[number - 1], bodies[number])
        assert response.status == 200, response.body
        etags[number] = response.headers["ETag"]

    # The uploader crashed; on restart it asks what is already there.
    parts = storage.list_parts(key=key, upload_id=upload_id)
    assert [(p.part_number, p.size, p.etag) for p in parts] == [
        (1, len(PART), md5_hex(PART)),
        (2, len(PART), md5_hex(PART[::-1])),
    ]
    response = put_presigned(urls[2], last)
    assert response.status == 200
    etags[3] = response.headers["ETag"]

    info = storage.complete_multipart(
        key=key, upload_id=upload_id, parts=[(3, etags[3]), parts[0], (2, etags[2])]
    )

    assert info.size == 2 * len(PART) + len(last)
    assert info.etag.endswith("-3")
    assert info.content_type == "image/x-nikon-nef"
    assert storage.head(key=key).size == info.size
    got = send("GET", storage.presign_get(key=key, expires_in=60))
    assert hashlib.sha256(got.body).digest() == hashlib.sha256(PART + PART[::-1] + last).digest()
    with pytest.raises(UploadNotFound):  # a completed upload is gone
        storage.list_parts(key=key, upload_id=upload_id)


def test_complete_with_a_wrong_etag_or_a_small_part_is_refused(storage, prefix):
    key = f"{prefix}originals/bad.NEF"
    upload_id = storage.create_multipart(key=key, content_type="application/octet-stream")
    urls = storage.presign_parts(key=key, upload_id=upload_id, part_numbers=[1, 2], expires_in=60)
    small = put_presigned(urls[0], b"too small for a first part").headers["ETag"]
    put_presigned(urls[1], b"last")

    with pytest.raises(InvalidPart):
        storage.complete_multipart(key=key, upload_id=upload_id, parts=[(1, md5_hex(b"other"))])
    with pytest.raises(InvalidPart):
        storage.complete_multipart(
            key=key, upload_id=upload_id, parts=[(1, small), (2, md5_hex(b"last"))]
        )
    assert storage.head(key=key) is None
    storage.abort_multipart(key=key, upload_id=upload_id)


def test_abort_drops_the_upload_and_is_idempotent(storage, prefix):
    key = f"{prefix}originals/abandoned.NEF"
    upload_id = storage.create_multipart(key=key, content_type="image/x-nikon-nef")
    [url] = storage.presign_parts(key=key, upload_id=upload_id, part_numbers=[1], expires_in=60)
    assert put_presigned(url, b"some bytes").status == 200

    storage.abort_multipart(key=key, upload_id=upload_id)

    with pytest.raises(UploadNotFound):
        storage.list_parts(key=key, upload_id=upload_id)
    storage.abort_multipart(key=key, upload_id=upload_id)  # again: fine
    if not isinstance(storage, S3Storage):  # moto answers 500 here; S3 answers NoSuchUpload
        with pytest.raises(UploadNotFound):
            storage.complete_multipart(key=key, upload_id=upload_id, parts=[(1, md5_hex(b"x"))])
    assert storage.head(key=key) is None


def test_put_with_another_length_or_type_than_signed_is_refused(storage, prefix):
    key = f"{prefix}originals/declared.jpg"
    presigned = storage.presign_put(
        key=key,
        content_type="image/jpeg",
        content_length=len(JPEG),
        checksum_sha256=sha256_base64(JPEG),
        expires_in=300,
    )

    longer = put_presigned(presigned, JPEG + b"extra")
    shorter = put_presigned(presigned, JPEG[:-1])
    other_type = put_presigned(presigned, JPEG, **{"Content-Type": "text/html"})

    assert refused(longer.status) and refused(shorter.status) and refused(other_type.status)
    assert storage.head(key=key) is None


def test_a_url_for_one_key_does_not_write_another(storage, prefix):
    presigned = storage.presign_put(
        key=f"{prefix}mine.jpg",
        content_type="image/jpeg",
        content_length=len(JPEG),
        checksum_sha256=sha256_base64(JPEG),
        expires_in=60,
    )
    tampered = presigned.__class__(
        method="PUT",
        url=presigned.url.replace("mine.jpg", "yours.jpg"),
        headers=presigned.headers,
        expires_at=presigned.expires_at,
    )
    assert put_presigned(tampered, JPEG).status == 403
    assert storage.head(key=f"{prefix}yours.jpg") is None


def test_expired_urls_are_refused(storage, prefix, monkeypatch):
    key = f"{prefix}late.jpg"
    storage.put_object(key=key, body=JPEG, content_type="image/jpeg")
    with monkeypatch.context() as clock:
        sign_in_the_past(clock, seconds=30)
        put = storage.presign_put(
            key=f"{prefix}late-put.jpg",
            content_type="image/jpeg",
            content_length=3,
            checksum_sha256=sha256_base64(b"abc"),
            expires_in=1,
        )
        get = storage.presign_get(key=key, expires_in=1)

    assert put_presigned(put, b"abc").status == 403
    assert send("GET", get).status == 403
    assert storage.head(key=f"{prefix}late-put.jpg") is None


def test_checksum_mismatch_is_refused_and_a_match_accepted(storage, prefix):
    key = f"{prefix}originals/checked.jpg"
    wrong = storage.presign_put(
        key=key,
        content_type="image/jpeg",
        content_length=len(JPEG),
        checksum_sha256=sha256_base64(b"not the body"),
        expires_in=60,
    )
    assert put_presigned(wrong, JPEG).status == 400
    assert storage.head(key=key) is None

    right = storage.presign_put(
        key=key,
        content_type="image/jpeg",
        content_length=len(JPEG),
        checksum_sha256=sha256_base64(JPEG),
        expires_in=60,
    )
    assert right.headers["x-amz-checksum-sha256"] == sha256_base64(JPEG)
    assert put_presigned(right, JPEG).status == 200
    assert storage.head(key=key).size == len(JPEG)


def _create_url(storage, key: str, body: bytes):
    return storage.presign_put(
        key=key,
        content_type="image/jpeg",
        content_length=len(body),
        checksum_sha256=sha256_base64(body),
        expires_in=60,
    )


def test_a_presigned_put_creates_its_object_and_never_replaces_it(storage, prefix):
    key = f"{prefix}originals/verified.jpg"
    presigned = _create_url(storage, key, JPEG)
    assert presigned.headers["If-None-Match"] == "*"
    assert put_presigned(presigned, JPEG).status == 200
    stored = storage.head(key=key)

    again = put_presigned(presigned, JPEG)  # the same URL, even with the same bytes
    html = b"<html>not a photo</html>".ljust(len(JPEG))
    other = put_presigned(_create_url(storage, key, html), html)  # a URL for other bytes

    assert again.status == 412, again.body
    assert other.status == 412, other.body
    assert storage.head(key=key) == stored
    with storage.open(key=key) as stream:
        assert stream.read() == JPEG


def test_a_put_without_the_signed_if_none_match_is_refused(storage, prefix):
    key = f"{prefix}originals/unconditional.jpg"
    presigned = _create_url(storage, key, JPEG)
    headers = {
        name: value
        for name, value in presigned.headers.items()
        if name.lower() not in ("content-length", "if-none-match")
    }

    response = send("PUT", presigned.url, headers=headers, body=JPEG)

    assert response.status == 403, response.body
    assert storage.head(key=key) is None


def test_list_objects_pages_in_key_order_from_any_key(storage, prefix):
    keys = [f"{prefix}{name}" for name in ("b/2.jpg", "a/1.jpg", "b/10.jpg", "c.jpg")]
    for key in keys:
        storage.put_object(key=key, body=JPEG, content_type="image/jpeg")
    storage.put_object(key=f"t/{prefix[2:-1]}-other/x.jpg", body=b"x", content_type="image/jpeg")

    first = storage.list_objects(prefix=prefix, limit=3)
    rest = storage.list_objects(prefix=prefix, start_after=first[-1].key, limit=3)

    assert [o.key for o in first + rest] == sorted(keys)
    assert all(o.size == len(JPEG) and o.etag == md5_hex(JPEG) for o in first + rest)
    assert all(o.last_modified > utcnow() - timedelta(minutes=5) for o in first + rest)
    assert storage.list_objects(prefix=prefix, start_after=sorted(keys)[-1]) == []
    assert storage.list_objects(prefix=f"{prefix}none/") == []


def test_presign_get_with_a_download_name_makes_an_attachment(storage, prefix):
    key = f"{prefix}originals/0192.jpg"
    storage.put_object(key=key, body=JPEG, content_type="image/jpeg")
    name = 'Smith wedding "final" – 0192.jpg'

    got = send("GET", storage.presign_get(key=key, expires_in=60, download_filename=name))

    assert got.status == 200
    assert got.headers["Content-Disposition"] == content_disposition(name)
    assert got.headers["Content-Disposition"].startswith(
        'attachment; filename="Smith wedding _final_'
    )


def test_presign_get_many_gives_working_urls_in_order(storage, prefix):
    keys = [f"{prefix}web/{n}.jpg" for n in range(5)]
    for n, key in enumerate(keys):
        storage.put_object(key=key, body=bytes([n]) * 10, content_type="image/jpeg")

    urls = storage.presign_get_many(keys=keys, expires_in=60)

    assert [send("GET", url).body for url in urls] == [bytes([n]) * 10 for n in range(5)]


def test_delete_many_in_batches(storage, prefix):
    keys = [f"{prefix}d/{n:04d}" for n in range(1500)]
    # Every tenth key exists (and both sides of the 1,000-key batch boundary); deleting a
    # missing key is a success in S3, so 1,500 keys still make two DeleteObjects calls.
    existing = sorted({*keys[::10], keys[999], keys[1000], keys[-1]})
    with ThreadPoolExecutor(4) as pool:
        list(
            pool.map(
                lambda k: storage.put_object(key=k, body=b"x", content_type="text/plain"),
                existing,
            )
        )
    calls = []
    if isinstance(storage, S3Storage):
        storage.client.meta.events.register(
            "before-call.s3.DeleteObjects", lambda **kwargs: calls.append(1)
        )

    try:
        failed = storage.delete_many(keys=keys)
    finally:
        if isinstance(storage, S3Storage):
            storage.client.meta.events.unregister("before-call.s3.DeleteObjects")

    assert failed == []
    assert all(storage.head(key=k) is None for k in existing)
    if isinstance(storage, S3Storage):
        assert len(calls) == 2  # 1,000 + 500


def test_delete_prefix_deletes_only_that_folder(storage, prefix):
    for key in ("g1/a.jpg", "g1/sub/b.jpg", "g1/sub/c.jpg", "g10/d.jpg"):
        storage.put_object(key=f"{prefix}{key}", body=b"x", content_type="image/jpeg")

    assert storage.delete_prefix(prefix=f"{prefix}g1/") == 3

    assert storage.head(key=f"{prefix}g1/sub/b.jpg") is None
    assert storage.head(key=f"{prefix}g10/d.jpg") is not None
    with pytest.raises(InvalidKey):
        storage.delete_prefix(prefix="")
    with pytest.raises(InvalidKey):
        storage.delete_prefix(prefix=f"{prefix}g1")  # would also match g10/


def test_list_multipart_uploads_initiated_before(storage, prefix):
    first = storage.create_multipart(key=f"{prefix}a.NEF", content_type="image/x-nikon-nef")
    second = storage.create_multipart(key=f"{prefix}b.NEF", content_type="image/x-nikon-nef")
    later = utcnow() + timedelta(minutes=1)

    listed = storage.list_multipart_uploads(prefix=prefix, initiated_before=later)

    assert sorted((u.key, u.upload_id) for u in listed) == [
        (f"{prefix}a.NEF", first),
        (f"{prefix}b.NEF", second),
    ]
    assert all(u.initiated.tzinfo is not None for u in listed)
    # moto reports every upload as initiated in 2010, so the cut-off is taken from the listing.
    earliest = min(u.initiated for u in listed)
    assert storage.list_multipart_uploads(prefix=prefix, initiated_before=earliest) == []
    assert storage.list_multipart_uploads(prefix=f"{prefix}zzz", initiated_before=later) == []
    for upload in listed:
        storage.abort_multipart(key=upload.key, upload_id=upload.upload_id)
    assert storage.list_multipart_uploads(prefix=prefix, initiated_before=later) == []


def test_put_object_with_tags_and_cache_control(storage, prefix):
    key = f"{prefix}web/thumb.webp"
    storage.put_object(
        key=key,
        body=b"webp",
        content_type="image/webp",
        cache_control="public, max-age=31536000, immutable",
        tags={"kind": "derivative"},
    )
    storage.set_object_tags(key=key, tags={"archived": "true"})

    got = send("GET", storage.presign_get(key=key, expires_in=60))
    assert got.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    if isinstance(storage, S3Storage):
        tagging = storage.client.get_object_tagging(Bucket=storage.bucket, Key=key)
        tags = {t["Key"]: t["Value"] for t in tagging["TagSet"]}
    else:
        tags = storage.get_object_tags(key=key)
    assert tags == {"archived": "true"}
    with pytest.raises(ObjectNotFound):
        storage.set_object_tags(key=f"{prefix}missing", tags={"archived": "true"})


def test_invalid_keys_are_refused_before_any_request(storage):
    for key in ("../etc/passwd", "/abs", "a//b", "a/./b", "a\x00b", ".meta/x", ""):
        with pytest.raises(InvalidKey):
            storage.presign_put(
                key=key,
                content_type="image/jpeg",
                content_length=1,
                checksum_sha256=sha256_base64(b"x"),
                expires_in=60,
            )
        with pytest.raises(InvalidKey):
            storage.head(key=key)


def test_uploaded_part_objects_are_accepted_for_completion(storage, prefix):
    key = f"{prefix}one-part.bin"
    upload_id = storage.create_multipart(key=key, content_type="application/octet-stream")
    [url] = storage.presign_parts(key=key, upload_id=upload_id, part_numbers=[1], expires_in=60)
    etag = put_presigned(url, b"tiny").headers["ETag"]

    info = storage.complete_multipart(
        key=key, upload_id=upload_id, parts=[UploadedPart(part_number=1, size=4, etag=etag)]
    )

    assert info.size == 4
    assert storage.read_range(key=key, start=0, length=64) == b"tiny"


def test_list_keys_lists_only_that_folder_up_to_a_limit(storage, prefix):
    for key in ("g1/a.jpg", "g1/sub/b.jpg", "g10/d.jpg"):
        storage.put_object(key=f"{prefix}{key}", body=b"x", content_type="image/jpeg")

    assert sorted(storage.list_keys(prefix=f"{prefix}g1/")) == [
        f"{prefix}g1/a.jpg",
        f"{prefix}g1/sub/b.jpg",
    ]
    assert len(storage.list_keys(prefix=f"{prefix}g1/", limit=1)) == 1
    assert storage.list_keys(prefix=f"{prefix}nothing/") == []
    with pytest.raises(InvalidKey):
        storage.list_keys(prefix=f"{prefix}g1")  # would also match g10/


def test_a_worker_uploads_parts_itself_and_completes(storage, prefix):
    key = f"{prefix}zips/all.zip"
    upload_id = storage.create_multipart(key=key, content_type="application/zip")
    first = os.urandom(5 * MiB)
    parts = [
        storage.upload_part(key=key, upload_id=upload_id, part_number=1, body=first),
        storage.upload_part(key=key, upload_id=upload_id, part_number=2, body=b"tail"),
    ]
    assert [part.size for part in parts] == [5 * MiB, 4]

    info = storage.complete_multipart(key=key, upload_id=upload_id, parts=parts)

    assert info.size == 5 * MiB + 4
    assert storage.read_range(key=key, start=5 * MiB, length=4) == b"tail"
    if not isinstance(storage, S3Storage):  # moto answers 500 where S3 answers NoSuchUpload
        with pytest.raises(UploadNotFound):
            storage.upload_part(key=key, upload_id="no-such-upload", part_number=1, body=b"x")
