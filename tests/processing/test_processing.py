"""The per-photo processing task: derivatives from one decode, metadata, idempotence, failures."""

from __future__ import annotations

import datetime as dt
import io
import struct
import zlib

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from PIL import Image

from galleries import imaging
from galleries.models import Photo
from galleries.services import processing
from galleries.services.processing import Outcome, photo_process_ensure
from galleries.tasks import photo_process
from picpick.core.storage import StorageError, get_storage
from tests.processing.conftest import camera_exif, jpeg, png, read, upload

pytestmark = pytest.mark.django_db


def snapshot(photo: Photo) -> dict:
    return Photo.objects.filter(id=photo.id).values().get()


# --- Happy paths -----------------------------------------------------------------------------
def test_24mp_jpeg_is_processed_on_both_backends(app_storage, gallery_a, alice, scene_24mp):
    photo = upload(gallery_a, alice, scene_24mp, "DSC_0001.jpg")
    seen = []
    processing.DECODED_HOOKS.append(lambda p, decoded: seen.append((p.id, decoded)))
    try:
        assert photo_process.delay(str(photo.id)).get() == "processed"
    finally:
        processing.DECODED_HOOKS.pop()
    photo.refresh_from_db()
    assert photo.state == Photo.State.READY
    assert (photo.width, photo.height) == (6000, 4000)  # the original's, not the working image
    assert photo.captured_at == dt.datetime(2025, 6, 14, 13, 30, tzinfo=dt.UTC)  # +02:00
    assert photo.camera == "Canon EOS R5"
    assert photo.exif["exposure_time"] == "1/250" and photo.exif["iso"] == 400
    assert photo.attempts == 1 and photo.processed_at is not None
    assert photo.processing_started_at is None
    assert set(photo.derivatives) == {"thumb", "preview"}
    assert photo.watermark_version == 0
    thumb, preview = photo.derivatives["thumb"], photo.derivatives["preview"]
    assert (thumb["width"], thumb["height"]) == (400, 267)
    assert (preview["width"], preview["height"]) == (2048, 1365)
    for entry in (thumb, preview):
        assert f"/galleries/{gallery_a.id}/d/" in entry["key"]
        info = app_storage.head(key=entry["key"])
        assert info.size == entry["bytes"]
        assert info.content_type == "image/jpeg"
        image = Image.open(io.BytesIO(read(app_storage, entry["key"])))
        assert (image.width, image.height) == (entry["width"], entry["height"])
        assert not image.getexif()  # no EXIF at all, so no GPS
    original = Image.open(io.BytesIO(read(app_storage, photo.original_key)))
    assert original.getexif().get_ifd(0x8825)[1] == "N"  # the original keeps its GPS
    # The hook got the photo (already ready) and the one decoded working image.
    [(hook_photo_id, decoded)] = seen
    assert hook_photo_id == photo.id
    assert decoded.image.width == 3000 and decoded.scale == 0.5


def test_png_is_processed(local_storage, gallery_a, alice):
    photo = upload(gallery_a, alice, png((900, 600)), "logo-shot.png")
    assert photo_process_ensure(photo_id=photo.id) == Outcome.PROCESSED
    photo.refresh_from_db()
    assert (photo.state, photo.width, photo.height) == (Photo.State.READY, 900, 600)
    assert photo.captured_at is None and photo.camera == ""
    assert photo.derivatives["thumb"]["width"] == 400
    assert photo.derivatives["preview"]["width"] == 900  # never upscaled


def test_heic_is_processed(local_storage, gallery_a, alice):
    from pillow_heif import register_heif_opener

    register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", (1600, 1200), (10, 90, 200)).save(out, "HEIF", quality=80)
    photo = upload(gallery_a, alice, out.getvalue(), "IMG_1234.HEIC")
    assert photo_process_ensure(photo_id=photo.id) == Outcome.PROCESSED
    photo.refresh_from_db()
    assert (photo.state, photo.width, photo.height) == (Photo.State.READY, 1600, 1200)
    assert photo.derivatives["thumb"]["width"] == 400


def test_exif_rotated_jpeg_is_stored_upright(local_storage, gallery_a, alice):
    # Stored 1200×800 with "rotate 90° clockwise": the photo is 800×1200 upright.
    photo = upload(gallery_a, alice, jpeg((1200, 800), exif=camera_exif(orientation=6)))
    photo_process_ensure(photo_id=photo.id)
    photo.refresh_from_db()
    assert (photo.width, photo.height) == (800, 1200)
    assert (photo.derivatives["thumb"]["width"], photo.derivatives["thumb"]["height"]) == (
        267,
        400,
    )
    thumb = Image.open(io.BytesIO(read(local_storage, photo.derivatives["thumb"]["key"])))
    assert thumb.size == (267, 400)
    # The red marker of the stored top-left corner is now at the top right.
    assert thumb.getpixel((260, 5))[0] > 200 and thumb.getpixel((5, 5))[0] < 200


def test_capture_time_without_offset_is_in_the_studios_zone(local_storage, gallery_a, alice):
    gallery_a.studio.timezone = "America/New_York"
    gallery_a.studio.save(update_fields=["timezone"])
    photo = upload(gallery_a, alice, jpeg(exif=camera_exif(offset=None, gps=False)))
    photo_process_ensure(photo_id=photo.id)
    photo.refresh_from_db()
    assert photo.captured_at == dt.datetime(2025, 6, 14, 19, 30, tzinfo=dt.UTC)  # EDT is -4


# --- RAW: real DNGs through LibRaw are in test_raw_real.py; here, what a real file can't do -----
class FakeSizes:
    def __init__(self, width, height, flip=0):
        self.width, self.height, self.flip = width, height, flip


class FakeRaw:
    """A RAW that LibRaw opens but cannot develop, and that has no preview."""

    def __init__(self):
        self.sizes = FakeSizes(6000, 4000)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def extract_thumb(self):
        import rawpy

        raise rawpy.LibRawNoThumbnailError()

    def postprocess(self, **kwargs):
        import rawpy

        raise rawpy.LibRawDataError()


def test_raw_without_a_preview_that_cannot_be_developed_fails(
    local_storage, gallery_a, alice, monkeypatch
):
    import rawpy

    monkeypatch.setattr(rawpy, "imread", lambda path: FakeRaw())
    photo = upload(gallery_a, alice, b"II*\x00" + b"\x00" * 4000, "DSC_0003.ARW")
    assert photo_process_ensure(photo_id=photo.id) == Outcome.FAILED
    photo.refresh_from_db()
    assert (photo.state, photo.failure_code) == (Photo.State.FAILED, "no_preview")
    assert "no usable preview" in photo.failure_message


def test_unreadable_raw_fails_with_a_reason(local_storage, gallery_a, alice):
    photo = upload(gallery_a, alice, b"II*\x00" + b"\x00" * 4000, "DSC_0004.CR2")
    photo_process_ensure(photo_id=photo.id)
    photo.refresh_from_db()
    assert (photo.state, photo.failure_code) == (Photo.State.FAILED, "unreadable")


# --- Idempotence -----------------------------------------------------------------------------
def test_running_twice_changes_nothing_the_second_time(local_storage, gallery_a, alice):
    photo = upload(gallery_a, alice, jpeg())
    assert photo_process.delay(str(photo.id)).get() == "processed"
    before = snapshot(photo)
    thumb_key = before["derivatives"]["thumb"]["key"]
    modified = local_storage.head(key=thumb_key).last_modified
    assert photo_process.delay(str(photo.id)).get() == "skipped"
    assert snapshot(photo) == before
    assert local_storage.head(key=thumb_key).last_modified == modified


def test_duplicate_delivery_while_processing_does_nothing(local_storage, gallery_a, alice):
    """A redelivered message (its worker killed mid-task) leaves the photo to the sweeper."""
    photo = upload(gallery_a, alice, jpeg())
    Photo.objects.filter(id=photo.id).update(
        state=Photo.State.PROCESSING, processing_started_at=dt.datetime.now(dt.UTC), attempts=1
    )
    before = snapshot(photo)
    assert photo_process.delay(str(photo.id)).get() == "skipped"
    assert snapshot(photo) == before
    assert not local_storage.head(key=photo.original_key.replace("originals", "d/thumb"))


def test_a_deleted_photo_is_not_processed(local_storage, gallery_a, alice):
    photo = upload(gallery_a, alice, jpeg())
    Photo.objects.filter(id=photo.id).delete()
    assert photo_process.delay(str(photo.id)).get() == "missing"


def test_photo_deleted_while_processing_leaves_no_derivatives(
    local_storage, gallery_a, alice, monkeypatch
):
    photo = upload(gallery_a, alice, jpeg())
    real_render = imaging.render_derivatives

    def render_then_delete(*args, **kwargs):
        Photo.objects.filter(id=photo.id).delete()
        return real_render(*args, **kwargs)

    monkeypatch.setattr(imaging, "render_derivatives", render_then_delete)
    assert photo_process_ensure(photo_id=photo.id) == Outcome.MISSING
    for name in ("thumb", "preview"):
        key = processing.keys.derivative_key(photo.studio_id, photo.gallery_id, photo.id, name)
        assert local_storage.head(key=key) is None


# --- Failures --------------------------------------------------------------------------------
def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge size; its data is a few bytes (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def truncated_jpeg() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((1600, 1200), 50).convert("RGB").save(out, "JPEG", quality=90)
    data = out.getvalue()
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("filename", "data", "codes"),
    [
        ("bomb.png", png_header_claiming(100_000, 100_000), {"too_many_pixels"}),
        ("cut.jpg", truncated_jpeg(), {"truncated", "corrupt"}),
        ("empty.jpg", b"", {"empty"}),
        ("notes.jpg", b"these are my wedding notes, not a photo" * 20, {"unreadable"}),
    ],
    ids=["decompression-bomb", "truncated-jpeg", "zero-bytes", "not-an-image"],
)
def test_hostile_or_broken_files_end_failed_with_a_reason(
    local_storage, gallery_a, alice, filename, data, codes
):
    photo = upload(gallery_a, alice, data, filename)
    assert photo_process.delay(str(photo.id)).get() == "failed"
    photo.refresh_from_db()
    assert photo.state == Photo.State.FAILED
    assert photo.failure_code in codes
    assert len(photo.failure_message) > 10
    assert photo.derivatives == {} and photo.processing_started_at is None


def test_pixel_cap_setting_applies(local_storage, gallery_a, alice, settings):
    settings.PICPICK_MAX_IMAGE_PIXELS = 1_000_000
    photo = upload(gallery_a, alice, jpeg((1500, 1000)))
    photo_process_ensure(photo_id=photo.id)
    photo.refresh_from_db()
    assert (photo.state, photo.failure_code) == (Photo.State.FAILED, "too_many_pixels")


def test_failed_rerun_removes_the_previous_derivatives(local_storage, gallery_a, alice):
    photo = upload(gallery_a, alice, jpeg())
    photo_process_ensure(photo_id=photo.id)
    photo.refresh_from_db()
    keys = [entry["key"] for entry in photo.derivatives.values()]
    assert all(local_storage.head(key=key) for key in keys)
    # The original replaced behind the app's back: the rerun refuses it before decoding.
    local_storage.put_object(key=photo.original_key, body=b"", content_type="image/jpeg")
    processing.gallery_reprocess(gallery=gallery_a, by=alice, scope="all")
    photo_process_ensure(photo_id=photo.id)
    photo.refresh_from_db()
    assert (photo.state, photo.failure_code, photo.derivatives) == (
        Photo.State.FAILED,
        "original_changed",
        {},
    )
    assert not any(local_storage.head(key=key) for key in keys)


def test_missing_original_fails(local_storage, gallery_a, alice):
    photo = upload(gallery_a, alice, jpeg())
    local_storage.delete_many(keys=[photo.original_key])
    photo_process_ensure(photo_id=photo.id)
    photo.refresh_from_db()
    assert (photo.state, photo.failure_code) == (Photo.State.FAILED, "original_missing")


def test_soft_time_limit_fails_the_photo_with_timeout(local_storage, gallery_a, alice, monkeypatch):
    def slow(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(imaging, "decode", slow)
    photo = upload(gallery_a, alice, jpeg())
    assert photo_process.delay(str(photo.id)).get() == "failed"
    photo.refresh_from_db()
    assert (photo.state, photo.failure_code) == (Photo.State.FAILED, "timeout")
    assert "longer than 120 s" in photo.failure_message


def test_unexpected_decoder_error_fails_the_photo(local_storage, gallery_a, alice, monkeypatch):
    def broken(*args, **kwargs):
        raise IndexError("tile out of range")

    monkeypatch.setattr(imaging, "decode", broken)
    photo = upload(gallery_a, alice, jpeg())
    photo_process_ensure(photo_id=photo.id)
    photo.refresh_from_db()
    assert (photo.state, photo.failure_code) == (Photo.State.FAILED, "unreadable")
    assert "tile out of range" in photo.failure_message


def run_with_retries(photo: Photo) -> str:
    """Run the task as a worker would, retries included (eagerly: no countdown)."""
    conf = photo_process.app.conf
    propagates = conf.task_eager_propagates
    conf.task_eager_propagates = False  # else the first Retry is raised instead of retried
    try:
        return photo_process.apply(args=[str(photo.id)]).get()
    finally:
        conf.task_eager_propagates = propagates


def test_storage_errors_are_retried_then_succeed(local_storage, gallery_a, alice, monkeypatch):
    storage = get_storage()
    real = storage.download_to_file
    calls = []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise StorageError("S3 download failed: connection reset")
        return real(**kwargs)

    monkeypatch.setattr(storage, "download_to_file", flaky)
    photo = upload(gallery_a, alice, jpeg())
    assert run_with_retries(photo) == "processed"
    photo.refresh_from_db()
    assert (photo.state, photo.attempts, len(calls)) == (Photo.State.READY, 2, 2)


def test_storage_errors_fail_the_photo_after_max_attempts(
    local_storage, gallery_a, alice, monkeypatch, settings
):
    settings.PICPICK_PROCESSING_MAX_ATTEMPTS = 3

    def down(**kwargs):
        raise StorageError("S3 download failed: endpoint unreachable")

    monkeypatch.setattr(get_storage(), "download_to_file", down)
    photo = upload(gallery_a, alice, jpeg())
    assert run_with_retries(photo) == "failed"
    photo.refresh_from_db()
    assert (photo.state, photo.failure_code, photo.attempts) == (
        Photo.State.FAILED,
        "storage_error",
        3,
    )
    assert "endpoint unreachable" in photo.failure_message


def test_a_failing_hook_is_logged_and_does_not_fail_the_photo(
    local_storage, gallery_a, alice, caplog
):
    def broken_hook(photo, decoded):
        raise RuntimeError("face model missing")

    processing.DECODED_HOOKS.append(broken_hook)
    try:
        photo = upload(gallery_a, alice, jpeg())
        assert photo_process_ensure(photo_id=photo.id) == Outcome.PROCESSED
    finally:
        processing.DECODED_HOOKS.remove(broken_hook)
    photo.refresh_from_db()
    assert photo.state == Photo.State.READY
    [record] = [r for r in caplog.records if "decoded hook" in r.getMessage()]
    assert str(photo.id) in record.getMessage() and "broken_hook" in record.getMessage()
    assert record.exc_info is not None
