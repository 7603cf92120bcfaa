"""A finished upload stays the file that was verified: on the S3 API (moto server) and on the
local backend, with real HTTP PUTs to the presigned URLs.

Every file declares its SHA-256, and a single PUT is signed with it and with
``If-None-Match: *``.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from galleries.apis.uploads import UploadFileInputSerializer
from galleries.models import Photo, Upload
from tests.uploads.conftest import (
    complete,
    declare,
    error_code,
    put,
    sha256_b64,
    start,
)

pytestmark = pytest.mark.django_db

HTML = b"<html><script>alert('not a photo')</script></html>"


def photo_jpeg(seed: int = 1) -> bytes:
    """A decodable photo, followed by filler (bytes a swap can change without a size change)."""
    image = Image.new("RGB", (800, 600), (seed * 40 % 256, 120, 200))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue() + bytes(4096)


def read(storage, key: str) -> bytes:
    with storage.open(key=key) as stream:
        return stream.read()


def uploaded(client, gallery, data: bytes, capture, name: str = "IMG_0001.jpg") -> dict:
    """Start, PUT and complete one file; its start entry (with the PUT URL) and its photo."""
    [file] = start(client, gallery, [declare(name, data)]).json()["files"]
    assert put(file["urls"][0], data).status == 200
    with capture(execute=True):
        response = complete(client, file["upload_id"])
    assert response.status_code == 200, response.content
    return file


# --- Declaring -------------------------------------------------------------------------------
def test_a_file_declared_without_its_sha256_is_a_400_with_its_code(alice_client, gallery_a):
    files = [declare("a.jpg", photo_jpeg()), declare("b.jpg", size=1000, checksum_sha256=None)]

    response = start(alice_client, gallery_a, files)

    assert response.status_code == 400, response.content
    assert error_code(response) == "checksum_required"
    assert list(response.json()["error"]["fields"]) == ["files.1.checksum_sha256"]
    assert Photo.objects.count() == 0
    assert Upload.objects.count() == 0


def test_the_schema_says_the_sha256_is_required():
    assert UploadFileInputSerializer().fields["checksum_sha256"].required


# --- PUT after completion --------------------------------------------------------------------
def test_a_put_after_completion_cannot_change_the_original(
    backend, alice_client, gallery_a, django_capture_on_commit_callbacks
):
    data = photo_jpeg()
    file = uploaded(alice_client, gallery_a, data, django_capture_on_commit_callbacks)
    [url] = file["urls"]
    assert url["headers"]["If-None-Match"] == "*"
    key = Photo.objects.get(id=file["photo_id"]).original_key
    stored = backend.head(key=key)
    page = HTML.ljust(len(data))

    again = put(url, data)  # the same bytes: a retried PUT
    swapped = put(url, page)  # other bytes under the signed checksum
    unsigned = put(url, page, **{"x-amz-checksum-sha256": sha256_b64(page)})
    unconditional = put(url, data, **{"If-None-Match": "W/x"})

    assert again.status == 412, again.body
    assert swapped.status >= 400 and unsigned.status == 403 and unconditional.status == 403
    assert backend.head(key=key) == stored
    assert read(backend, key) == data
    renewed = alice_client.post(f"/api/v1/uploads/{file['upload_id']}/renew/")
    assert renewed.status_code == 409
    assert error_code(renewed) == "upload_completed"
