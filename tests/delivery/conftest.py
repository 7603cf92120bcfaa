"""Delivery fixtures: the app's storage pointed at moto (S3) or at the local backend, and
photos whose original and derivatives really exist in that storage."""

from __future__ import annotations

import pytest

from galleries import keys, services
from galleries.models import Album, Gallery, Photo
from picpick.core.storage import ObjectStorage


@pytest.fixture(params=["s3", "local"])
def app_storage(request) -> ObjectStorage:
    """The app's configured storage, on each backend in turn (``s3_settings`` is the shared
    fixture of tests/storage_fixtures.py)."""
    fixture = "s3_settings" if request.param == "s3" else "local_storage"
    return request.getfixturevalue(fixture)


@pytest.fixture
def gallery_a(studio_a, alice) -> Gallery:
    return services.gallery_create(studio=studio_a, by=alice, name="Smith Wedding")


@pytest.fixture
def gallery_b(studio_b, bob) -> Gallery:
    return services.gallery_create(studio=studio_b, by=bob, name="Bob's gallery")


def original_bytes(label: str, size: int = 3000) -> bytes:
    seed = label.encode()
    return (seed * (size // len(seed) + 1))[:size]


def stored_photo(
    storage: ObjectStorage,
    gallery: Gallery,
    by,
    *,
    filename: str = "IMG_0001.jpg",
    album: Album | None = None,
    state: str = Photo.State.READY,
    derivatives: tuple[str, ...] = ("thumb", "preview"),
    body: bytes | None = None,
    hidden: bool = False,
) -> Photo:
    """A photo made through the service (counters right) whose original and derivatives
    are real objects in ``storage`` (what the upload and processing steps would leave)."""
    body = body if body is not None else original_bytes(filename)
    photo = services.photo_create(
        gallery=gallery,
        by=by,
        filename=filename,
        size=len(body),
        content_type="image/jpeg",
        album_id=album.id if album else None,
        state=state,
    )
    studio_id, gallery_id = gallery.studio_id, gallery.id
    photo.original_key = keys.original_key(studio_id, gallery_id, photo.id, filename)
    if state != Photo.State.PENDING:
        storage.put_object(key=photo.original_key, body=body, content_type="image/jpeg")
    made = {}
    for name in derivatives:
        key = keys.derivative_key(studio_id, gallery_id, photo.id, name)
        data = derivative_bytes(photo, name)
        storage.put_object(key=key, body=data, content_type="image/jpeg")
        made[name] = {"key": key, "width": 400, "height": 300, "bytes": len(data)}
    photo.derivatives = made
    photo.hidden = hidden
    photo.save(update_fields=["original_key", "derivatives", "hidden"])
    return photo


def derivative_bytes(photo: Photo, name: str) -> bytes:
    return f"{name} of {photo.filename} ({photo.id})".encode()


def error_code(response) -> str:
    return response.json()["error"]["code"]


def list_keys(storage: ObjectStorage, prefix: str) -> list[str]:
    """Every key under ``prefix``, listed by the backend itself (not by our code paths)."""
    from picpick.core.storage.local import LocalStorage

    if isinstance(storage, LocalStorage):
        folder = storage.root.joinpath(*prefix.rstrip("/").split("/"))
        if not folder.is_dir():
            return []
        return sorted(
            path.relative_to(storage.root).as_posix()
            for path in folder.rglob("*")
            if path.is_file()
        )
    found: list[str] = []
    paginator = storage.client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=storage.bucket, Prefix=prefix):
        found += [item["Key"] for item in page.get("Contents", [])]
    return sorted(found)
