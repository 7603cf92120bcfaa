"""Upload fixtures: alice's gallery, small part sizes (so multipart tests stay fast), real HTTP
PUTs to presigned URLs, and a recorder in place of the processing task."""

from __future__ import annotations

import base64
import hashlib
import io

import pytest
from PIL import Image

from galleries import services
from galleries.models import Album, Gallery
from tests.logscan import scan_logs  # noqa: F401  (every log line is scanned for secrets)
from tests.storage_fixtures import HttpResponse, send

MiB = 1024 * 1024


@pytest.fixture(autouse=True)
def upload_settings(settings, local_storage):
    """The local backend unless a test asks for ``s3_settings`` (set up after this one)."""
    settings.PICPICK_UPLOAD_SINGLE_PUT_MAX_BYTES = 5 * MiB
    settings.PICPICK_UPLOAD_PART_BYTES = 5 * MiB
    return settings


@pytest.fixture(params=["s3", "local"])
def backend(request):
    """The app's storage on each backend in turn."""
    if request.param == "s3":
        return request.getfixturevalue("s3_settings")
    return request.getfixturevalue("local_storage")


@pytest.fixture(autouse=True)
def queued(monkeypatch) -> list[str]:
    """Photo ids handed to ``photo_process.delay`` (nothing is processed here)."""
    from galleries import tasks

    calls: list[str] = []
    monkeypatch.setattr(tasks.photo_process, "delay", calls.append)
    return calls


@pytest.fixture
def gallery_a(studio_a, alice) -> Gallery:
    return services.gallery_create(studio=studio_a, by=alice, name="Smith Wedding")


@pytest.fixture
def album_a(gallery_a, alice) -> Album:
    return services.album_create(gallery=gallery_a, by=alice, name="Ceremony")


@pytest.fixture
def gallery_b(studio_b, bob) -> Gallery:
    return services.gallery_create(studio=studio_b, by=bob, name="Bob's gallery")


def _image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


def padded(head: bytes, size: int) -> bytes:
    """``head`` followed by filler up to ``size`` bytes (decoders stop at the image's end)."""
    assert size >= len(head)
    return head + bytes(size - len(head))


def jpeg_bytes(size: int = 4096) -> bytes:
    return padded(_image("JPEG"), size)


def png_bytes(size: int = 4096) -> bytes:
    return padded(_image("PNG"), size)


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def declare(name: str = "IMG_0001.jpg", data: bytes | None = None, **fields) -> dict:
    """A file entry of a start request; size and SHA-256 from ``data`` when given.

    Without ``data`` the file gets a SHA-256 of its own (made from its name and size: two
    declarations never look like duplicates), as every file must declare one; a field given
    as None is left out (``checksum_sha256=None``: a file declared without it).
    """
    entry: dict = {"name": name, "content_type": "image/jpeg"}
    if data is not None:
        entry.update(size=len(data), checksum_sha256=sha256_b64(data))
    entry.update(fields)
    entry.setdefault("checksum_sha256", sha256_b64(f"{entry['name']} {entry.get('size')}".encode()))
    return {key: value for key, value in entry.items() if value is not None}


def start(client, gallery: Gallery, files: list[dict], **body):
    return client.post(
        f"/api/v1/galleries/{gallery.id}/uploads/", {"files": files, **body}, format="json"
    )


def put(url: dict, body: bytes, **headers: str) -> HttpResponse:
    """PUT ``body`` to a presigned URL from the API, as an uploader would (real HTTP)."""
    sent = {k: v for k, v in url["headers"].items() if k.lower() != "content-length"}
    sent.setdefault("Content-Type", "application/octet-stream")
    sent.update(headers)
    return send(url["method"], url["url"], headers=sent, body=body)


def complete(client, upload_id, **body):
    return client.post(f"/api/v1/uploads/{upload_id}/complete/", body, format="json")


def error_code(response) -> str:
    return response.json()["error"]["code"]
