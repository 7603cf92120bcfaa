"""Fixtures for the processing tests: the app's storage on both backends, photos uploaded the
way the upload flow leaves them, and test images (one real 24 MP event scene, built once)."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from galleries import keys, services
from galleries.models import Gallery, Photo
from picpick.core.storage import ObjectStorage, get_storage


@pytest.fixture(params=["s3", "local"])
def app_storage(request) -> ObjectStorage:
    """The app's configured storage, on each backend in turn."""
    return request.getfixturevalue("s3_settings" if request.param == "s3" else "local_storage")


@pytest.fixture
def gallery_a(studio_a, alice) -> Gallery:
    return services.gallery_create(studio=studio_a, by=alice, name="Smith Wedding")


@pytest.fixture
def gallery_b(studio_b, bob) -> Gallery:
    return services.gallery_create(studio=studio_b, by=bob, name="Bob's gallery")


def upload(gallery: Gallery, by, data: bytes, filename: str = "IMG_0001.jpg") -> Photo:
    """A photo as a completed upload leaves it: its original stored, state ``uploaded``."""
    photo = services.photo_create(
        gallery=gallery, by=by, filename=filename, size=len(data), content_type="image/jpeg"
    )
    photo.original_key = keys.original_key(photo.studio_id, photo.gallery_id, photo.id, filename)
    get_storage().put_object(key=photo.original_key, body=data, content_type="image/jpeg")
    photo.state = Photo.State.UPLOADED
    photo.save(update_fields=["original_key", "state", "updated_at"])
    return photo


def read(storage: ObjectStorage, key: str) -> bytes:
    with storage.open(key=key) as stream:
        return stream.read()


def camera_exif(*, orientation: int = 1, gps: bool = True, offset: str | None = "+02:00"):
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS R5"
    exif[0x0112] = orientation
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2025:06:14 15:30:00"
    if offset:
        sub[0x9011] = offset
    sub[0x829A] = 1 / 250
    sub[0x8827] = 400
    if gps:
        gps_ifd = exif.get_ifd(0x8825)
        gps_ifd[1] = "N"
        gps_ifd[2] = (48.0, 51.0, 29.0)
        gps_ifd[3] = "E"
        gps_ifd[4] = (2.0, 17.0, 40.0)
    return exif


def jpeg(size=(1200, 800), *, exif: Image.Exif | None = None, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randint(0, 255) for _ in range(3)))
    # A left-half marker makes orientation visible in the pixels.
    image.paste((250, 20, 20), (0, 0, size[0] // 2, size[1] // 4))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif.tobytes() if exif else b"")
    return out.getvalue()


def png(size=(900, 600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (30, 140, 60, 200)).save(out, "PNG")
    return out.getvalue()


def logo_png(size=(200, 80)) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    image.paste((255, 255, 255, 255), (10, 10, size[0] - 10, size[1] - 10))
    image.save(out, "PNG")
    return out.getvalue()


def with_exif(data: bytes, exif: Image.Exif) -> bytes:
    """A JPEG with an EXIF segment spliced in after its JFIF header (no re-encoding)."""
    payload = exif.tobytes()
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    end = 4 + int.from_bytes(data[4:6], "big") if data[2:4] == b"\xff\xe0" else 2
    return data[:end] + segment + data[end:]


@pytest.fixture(scope="session")
def scene_24mp() -> bytes:
    """A 6000×4000 event-like JPEG with the camera's EXIF and GPS (built once: ~2 s)."""
    from picpick.testing.scenes import event_scene, faces_dir

    if (faces_dir() / "manifest.json").is_file():
        data = event_scene(3).jpeg()
    else:  # the shared faces are not beside the repo: the same background, without people
        from galleries.demo_images import background

        out = io.BytesIO()
        background((6000, 4000), random.Random(3)).save(out, "JPEG", quality=90)
        data = out.getvalue()
    return with_exif(data, camera_exif())
