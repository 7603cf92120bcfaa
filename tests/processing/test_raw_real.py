"""Real RAW files through the real LibRaw: DNGs written from event scenes (``picpick.testing.dng``)
decoded by ``galleries.imaging`` and processed by the worker's service, on both RAW paths --
the embedded full-size preview and the developed mosaic -- and compared with the scene itself."""

from __future__ import annotations

import datetime as dt
import io
import random
import struct

import numpy as np
import pytest
from PIL import Image

from faces import pipeline
from faces.models import Face
from galleries import imaging
from galleries.demo_images import background
from galleries.models import Photo
from galleries.services.processing import Outcome, photo_process_ensure
from picpick.testing import dng
from picpick.testing.scenes import build_scene
from tests.processing.conftest import camera_exif, read, upload

pytestmark = pytest.mark.django_db

MAX_PIXELS = 210_000_000
SMALL = (1200, 800)
NIKON = dng.Camera(make="NIKON CORPORATION", model="NIKON Z 6_2", iso=1600)
TAKEN_AT = dt.datetime(2026, 6, 20, 17, 45, 12, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
PATHS = {True: "raw-preview", False: "raw-demosaic"}
GREY = (118, 118, 118)  # ~18% grey in sRGB
GREY_BOX = (100, 500, 300, 700)  # bottom left, away from the marker


@pytest.fixture(scope="module")
def picture() -> Image.Image:
    """A grainy event background with a red marker top left (orientation shows in the pixels)
    and a mid-grey card bottom left (white balance shows in it)."""
    image = background(SMALL, random.Random(8))
    image.paste((220, 40, 30), (0, 0, 600, 200))
    image.paste(GREY, GREY_BOX)
    return image


def write(tmp_path, picture, *, preview: bool, orientation: int = 1, **kwargs):
    return dng.write_dng(
        tmp_path / f"DSC_{orientation}_{int(preview)}.DNG",
        picture,
        preview=preview,
        orientation=orientation,
        taken_at=TAKEN_AT,
        camera=NIKON,
        **kwargs,
    )


def shown(image: Image.Image, orientation: int) -> Image.Image:
    """``image`` as a viewer shows it under EXIF ``orientation``."""
    turn = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_270}
    turn[8] = Image.Transpose.ROTATE_90
    return image.transpose(turn[orientation]) if orientation in turn else image


def decode(path) -> imaging.Decoded:
    return imaging.decode(path, filename=path.name, min_long_edge=2048, max_pixels=MAX_PIXELS)


def error(image: Image.Image, expected: Image.Image) -> float:
    """Mean absolute difference per channel value (0-255), ``expected`` fitted to ``image``."""
    if expected.size != image.size:
        expected = expected.resize(image.size, Image.Resampling.BOX)
    return float(np.abs(np.asarray(image, int) - np.asarray(expected, int)).mean())


# --- The two paths -------------------------------------------------------------------------------
@pytest.mark.parametrize("preview", [True, False], ids=["preview", "demosaic"])
@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_a_raw_is_upright_and_looks_like_the_scene(tmp_path, picture, preview, orientation):
    decoded = decode(write(tmp_path, picture, preview=preview, orientation=orientation))
    upright = shown(picture, orientation)
    assert decoded.source == PATHS[preview]
    assert (decoded.original_width, decoded.original_height) == upright.size
    assert decoded.image.size == upright.size  # small: the whole frame, developed at full size
    assert error(decoded.image, upright) < 6
    wrong = shown(picture, {1: 3, 3: 1, 6: 8, 8: 6}[orientation])
    assert error(decoded.image, wrong) > 3 * error(decoded.image, upright)


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "demosaic"])
def test_capture_time_camera_and_exposure_are_read_on_both_paths(tmp_path, picture, preview):
    meta = decode(write(tmp_path, picture, preview=preview)).metadata
    assert meta.captured_at == TAKEN_AT
    assert meta.camera == "NIKON Z 6_2"
    assert (meta.exposure_time, meta.f_number, meta.iso) == ("1/250", 2.8, 1600)
    assert meta.lens == NIKON.lens


def test_the_developed_mosaic_is_white_balanced(tmp_path, picture):
    """The sensor records grey with a green cast (AsShotNeutral); developed, it is grey again,
    at the exposure the photographer chose (no auto-brightening)."""
    decoded = decode(write(tmp_path, picture, preview=False, noise=0.003))
    card = np.asarray(decoded.image.crop(GREY_BOX), float).reshape(-1, 3).mean(axis=0)
    assert max(card) - min(card) < 6, card
    assert abs(card.mean() - GREY[0]) < 6, card
    assert error(decoded.image, picture) < 6


def test_a_large_raw_is_developed_at_half_size(tmp_path):
    """Half size (one pixel per 2×2 block) when that still covers the working edge."""
    picture = background((4400, 2934 // 2 * 2), random.Random(2))
    decoded = decode(dng.write_dng(tmp_path / "big.dng", picture, preview=False))
    assert decoded.source == "raw-demosaic"
    assert decoded.image.size == (2200, 1467) and decoded.original_width == 4400
    assert error(decoded.image, picture) < 6


def test_a_preview_smaller_than_the_working_edge_is_not_used(tmp_path):
    picture = background((4400, 2934), random.Random(2))
    small_preview = dng.preview_jpeg(picture.resize((1100, 734)))
    decoded = decode(dng.write_dng(tmp_path / "p.dng", picture, preview=small_preview))
    assert decoded.source == "raw-demosaic" and decoded.image.width == 2200


def test_a_damaged_preview_falls_back_to_the_mosaic(tmp_path, picture):
    broken = dng.preview_jpeg(picture)[:5000]  # the JPEG stops in its first scan lines
    decoded = decode(dng.write_dng(tmp_path / "p.dng", picture, preview=broken))
    assert decoded.source == "raw-demosaic"
    assert error(decoded.image, picture) < 6


def test_a_raw_cut_short_is_rejected_as_truncated(tmp_path, picture):
    data = write(tmp_path, picture, preview=False).read_bytes()
    path = tmp_path / "cut.DNG"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(imaging.ImageRejected) as info:
        decode(path)
    assert info.value.code == "truncated"


def test_a_raw_whose_header_is_cut_is_unreadable(tmp_path, picture):
    path = tmp_path / "head.DNG"
    path.write_bytes(write(tmp_path, picture, preview=True).read_bytes()[:200])
    with pytest.raises(imaging.ImageRejected) as info:
        decode(path)
    assert info.value.code == "unreadable"


def test_a_capture_time_that_is_no_date_is_left_out(tmp_path, picture):
    path = write(tmp_path, picture, preview=False)
    path.write_bytes(path.read_bytes().replace(b"2026:06:20 17:45:12", b"\xff" * 19))
    decoded = decode(path)
    assert decoded.source == "raw-demosaic" and decoded.metadata.captured_at is None
    assert decoded.metadata.camera == "NIKON Z 6_2"


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "demosaic"])
def test_an_exif_ifd_of_garbage_loses_the_exposure_only(tmp_path, picture, preview):
    """The Exif IFD pointer aimed into the mosaic: its "tags" are noise, skipped; IFD0's
    camera and time (without the offset, which only the Exif IFD has) are still read."""
    path = write(tmp_path, picture, preview=preview)
    entry = b"\x69\x87\x04\x00\x01\x00\x00\x00"  # Exif IFD pointer: one LONG
    data = path.read_bytes()
    at = data.index(entry) + len(entry)
    garbage = struct.pack("<I", len(data) - 100_000)
    path.write_bytes(data[:at] + garbage + data[at + 4 :])
    decoded = decode(path)
    assert decoded.source == PATHS[preview]
    assert decoded.metadata.camera == "NIKON Z 6_2"
    assert decoded.metadata.captured_at == TAKEN_AT.replace(tzinfo=None)
    assert (decoded.metadata.iso, decoded.metadata.exposure_time) == (None, "")


def exif_first(jpeg: bytes, exif: Image.Exif) -> bytes:
    """``jpeg`` with its JFIF segment replaced by an EXIF one, as cameras embed their previews."""
    payload = b"Exif\x00\x00" + exif.tobytes()[6:]
    app1 = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    assert jpeg[2:4] == b"\xff\xe0"
    return jpeg[:2] + app1 + jpeg[4 + int.from_bytes(jpeg[4:6], "big") :]


def test_a_raw_without_tags_of_its_own_takes_its_previews_exif(tmp_path, picture):
    """CR3, RAF and the like keep no TIFF tags we read: the embedded JPEG's EXIF stands in."""
    exif = camera_exif(orientation=6, gps=False)
    preview = exif_first(dng.preview_jpeg(picture), exif)
    path = dng.write_dng(
        tmp_path / "bare.dng",
        picture,
        preview=preview,
        camera=dng.Camera(make="", model=""),
        taken_at=None,
    )
    decoded = decode(path)
    assert decoded.source == "raw-preview"
    assert decoded.metadata.camera == "Canon EOS R5"
    assert decoded.metadata.captured_at == dt.datetime(
        2025, 6, 14, 15, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))
    )
    assert decoded.image.size == SMALL  # the RAW's orientation (1) wins over the preview's


def test_libraws_own_preview_exif_gives_no_capture_time(tmp_path, picture):
    """A preview without EXIF gets LibRaw's own block, dated the Unix epoch when it found no
    time: that is not when the photo was taken."""
    path = dng.write_dng(
        tmp_path / "bare.dng", picture, camera=dng.Camera(make="", model=""), taken_at=None
    )
    decoded = decode(path)
    assert decoded.source == "raw-preview" and decoded.metadata.captured_at is None


# --- Through the worker's service ----------------------------------------------------------------
@pytest.mark.parametrize("preview", [True, False], ids=["preview", "demosaic"])
def test_a_dng_upload_is_processed_upright_with_its_capture_time_and_camera(
    app_storage, gallery_a, alice, tmp_path, picture, preview
):
    data = write(tmp_path, picture, preview=preview, orientation=6).read_bytes()
    photo = upload(gallery_a, alice, data, "DSC_0001.DNG")
    assert photo_process_ensure(photo_id=photo.id) == Outcome.PROCESSED
    photo.refresh_from_db()
    assert photo.state == Photo.State.READY
    assert (photo.width, photo.height) == (800, 1200)
    assert photo.captured_at == TAKEN_AT and photo.camera == "NIKON Z 6_2"
    assert photo.exif["iso"] == 1600
    preview_image = Image.open(io.BytesIO(read(app_storage, photo.derivatives["preview"]["key"])))
    thumb = Image.open(io.BytesIO(read(app_storage, photo.derivatives["thumb"]["key"])))
    assert preview_image.size == (800, 1200) and thumb.size == (267, 400)
    assert error(preview_image, shown(picture, 6)) < 7
    # The red marker of the sensor's top-left corner is at the top right once upright.
    assert thumb.getpixel((260, 5))[0] > 180 and thumb.getpixel((5, 5))[0] < 180


@pytest.fixture(scope="module")
def event_24mp() -> Image.Image:
    return dng.scene(4)  # the demo's event scene at 6000×4000


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "demosaic"])
def test_a_24_megapixel_dng_is_processed(
    local_storage, gallery_a, alice, tmp_path, event_24mp, preview
):
    path = dng.write_dng(
        tmp_path / "DSC_2400.DNG", event_24mp, preview=preview, orientation=8, noise=0.004
    )
    assert path.stat().st_size > 48_000_000
    decoded = decode(path)
    assert decoded.source == PATHS[preview]
    assert (decoded.original_width, decoded.original_height) == (4000, 6000)
    assert decoded.image.size == (2000, 3000)  # libjpeg's 1/2 scale, or LibRaw's half size
    assert error(decoded.image, shown(event_24mp, 8)) < 8

    photo = upload(gallery_a, alice, path.read_bytes(), path.name)
    assert photo_process_ensure(photo_id=photo.id) == Outcome.PROCESSED
    photo.refresh_from_db()
    assert (photo.width, photo.height) == (4000, 6000)
    assert photo.derivatives["preview"]["height"] == 2048
    assert photo.captured_at == dng.DEFAULT_TAKEN_AT


# --- Faces: a RAW finds the faces its JPEG finds -------------------------------------------------
@pytest.fixture(scope="module")
def people_scene():
    return build_scene(seed=11, face_heights=[110, 190, 320], size=(2000, 1334))


@pytest.fixture
def no_clustering(monkeypatch):
    from faces import tasks

    monkeypatch.setattr(tasks, "gallery_cluster_soon", lambda gallery_id: None, raising=False)


def face_boxes(photo: Photo) -> list[tuple[int, int, int, int]]:
    return list(
        Face.objects.filter(photo=photo)
        .order_by("left")
        .values_list("left", "top", "right", "bottom")
    )


@pytest.mark.shared_photos
def test_the_same_scene_as_jpeg_and_as_raw_gives_the_same_faces(
    local_storage,
    gallery_a,
    alice,
    tmp_path,
    people_scene,
    no_clustering,
    django_capture_on_commit_callbacks,
):
    files = {
        "jpeg": ("DSC_0100.JPG", people_scene.jpeg()),
        "raw-preview": (
            "DSC_0100.DNG",
            dng.write_dng(tmp_path / "a.dng", people_scene.image, preview=True).read_bytes(),
        ),
        "raw-demosaic": (
            "DSC_0101.DNG",
            dng.write_dng(
                tmp_path / "b.dng", people_scene.image, preview=False, noise=0.003
            ).read_bytes(),
        ),
    }
    found: dict[str, list[tuple[int, int, int, int]]] = {}
    for kind, (name, data) in files.items():
        photo = upload(gallery_a, alice, data, name)
        with django_capture_on_commit_callbacks(execute=True):
            assert photo_process_ensure(photo_id=photo.id) == Outcome.PROCESSED
        found[kind] = face_boxes(photo)
    assert len(found["jpeg"]) == len(people_scene.faces) == 3
    for kind in ("raw-preview", "raw-demosaic"):
        assert len(found[kind]) == len(found["jpeg"]), kind
        for on_jpeg, on_raw in zip(found["jpeg"], found[kind], strict=True):
            assert pipeline.box_iou(on_jpeg, on_raw) > 0.7, (kind, on_jpeg, on_raw)
