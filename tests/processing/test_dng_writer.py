"""The test DNG writer makes files that real readers take for camera RAWs: tifffile sees the
DNG structure, LibRaw (rawpy) reads the mosaic, the orientation and the embedded preview."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import random

import numpy as np
import pytest
import rawpy
import tifffile
from PIL import Image

from galleries.demo_images import background
from picpick.testing import dng

SIZE = (600, 400)


@pytest.fixture(scope="module")
def picture() -> Image.Image:
    return background(SIZE, random.Random(5))


def test_the_preview_is_ifd0_and_the_raw_its_sub_ifd(tmp_path, picture):
    path = dng.write_dng(tmp_path / "a.dng", picture, preview=True)
    with tifffile.TiffFile(path) as tif:
        ifd0 = tif.pages[0]
        assert ifd0.tags[254].value == 1
        assert ifd0.compression == 7 and ifd0.shape == (400, 600, 3)
        assert ifd0.tags[50706].value == bytes((1, 4, 0, 0))
        assert ifd0.tags[271].value == "PicPick"
        raw = ifd0.pages[0]
        assert raw.tags[254].value == 0
        assert raw.photometric == 32803 and raw.bitspersample == 16
        assert raw.tags[33422].value == bytes(dng.CFA_RGGB)
        mosaic = raw.asarray()
    assert mosaic.shape == (400, 600)
    assert mosaic.min() >= dng.BLACK_LEVEL and mosaic.max() <= dng.WHITE_LEVEL


def test_without_a_preview_ifd0_is_the_raw(tmp_path, picture):
    path = dng.write_dng(tmp_path / "a.dng", picture, preview=False)
    with tifffile.TiffFile(path) as tif:
        assert len(tif.pages) == 1 and tif.pages[0].photometric == 32803
        assert 330 not in tif.pages[0].tags


@pytest.mark.parametrize(("orientation", "flip"), [(1, 0), (3, 3), (6, 6), (8, 5)])
def test_libraw_reads_size_orientation_and_the_full_size_preview(
    tmp_path, picture, orientation, flip
):
    path = dng.write_dng(tmp_path / "a.dng", picture, orientation=orientation)
    with rawpy.imread(str(path)) as raw:
        assert (raw.sizes.width, raw.sizes.height, raw.sizes.flip) == (600, 400, flip)
        assert raw.raw_pattern.shape == (2, 2) and raw.color_desc == b"RGBG"
        thumb = raw.extract_thumb()
    assert thumb.format == rawpy.ThumbFormat.JPEG
    assert Image.open(io.BytesIO(thumb.data)).size == SIZE  # stored as the sensor saw it


def test_libraw_without_a_preview_finds_no_thumbnail(tmp_path, picture):
    path = dng.write_dng(tmp_path / "a.dng", picture, preview=False)
    with rawpy.imread(str(path)) as raw, pytest.raises(rawpy.LibRawNoThumbnailError):
        raw.extract_thumb()


def test_libraw_develops_the_scene_back(tmp_path, picture):
    """The camera's cast (AsShotNeutral) and its linear response are undone by a developer."""
    path = dng.write_dng(tmp_path / "a.dng", picture, preview=False, noise=0.002)
    with rawpy.imread(str(path)) as raw:
        rgb = raw.postprocess(use_camera_wb=True, no_auto_bright=True, gamma=(2.4, 12.92))
    scene = np.asarray(picture).astype(int)
    assert np.abs(rgb[2:-2, 2:-2].astype(int) - scene[2:-2, 2:-2]).mean() < 6


def test_the_same_seed_writes_the_same_bytes_and_another_seed_other_bytes(tmp_path, picture):
    one = dng.write_dng(tmp_path / "1.dng", picture, noise=0.004, seed=1).read_bytes()
    again = dng.write_dng(tmp_path / "2.dng", picture, noise=0.004, seed=1).read_bytes()
    other = dng.write_dng(tmp_path / "3.dng", picture, noise=0.004, seed=2).read_bytes()
    assert one == again != other


def test_capture_time_camera_and_exposure_are_in_the_exif_ifd(tmp_path, picture):
    when = dt.datetime(2026, 5, 2, 18, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
    path = dng.write_dng(tmp_path / "a.dng", picture, taken_at=when, serial="42")
    with tifffile.TiffFile(path) as tif:
        exif = tif.pages[0].tags[34665].value
    assert exif["DateTimeOriginal"] == "2026:05:02 18:04:05"
    assert exif["OffsetTimeOriginal"] == "-04:00"
    assert exif["ISOSpeedRatings"] == 800
    assert exif["ImageUniqueID"] == "42"


def test_a_mosaic_needs_even_sides(tmp_path):
    with pytest.raises(ValueError, match="even"):
        dng.write_dng(tmp_path / "a.dng", Image.new("RGB", (601, 400)))


def test_event_dng_is_the_demo_scene(tmp_path):
    path = dng.event_dng(tmp_path / "e.dng", 3, size=SIZE, preview=True, orientation=6)
    with rawpy.imread(str(path)) as raw:
        assert raw.sizes.flip == 6
        thumb = Image.open(io.BytesIO(raw.extract_thumb().data)).convert("RGB")
    expected = dng.scene(3, SIZE)
    error = np.abs(np.asarray(thumb).astype(int) - np.asarray(expected).astype(int)).mean()
    assert error < 4


def test_an_event_folder_has_distinct_files_up_to_the_count(tmp_path):
    seen: list[tuple[int, int]] = []
    paths = dng.write_event(
        tmp_path / "card",
        count=6,
        size=SIZE,
        scenes=2,
        preview_ratio=0.5,
        seed=3,
        progress=lambda files, done, wanted, path: seen.append((files, done)),
    )
    assert [p.name for p in paths] == [f"DSC_{n:04d}.DNG" for n in range(1, 7)]
    digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
    assert len(digests) == 6  # two scenes, six different files
    assert [files for files, _ in seen] == [1, 2, 3, 4, 5, 6]
    assert seen[-1][1] == sum(p.stat().st_size for p in paths)
    again = dng.write_event(tmp_path / "again", count=6, size=SIZE, scenes=2, seed=3)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in paths]


def test_an_event_folder_stops_at_the_total_size(tmp_path):
    one_file = dng.write_dng(tmp_path / "one.dng", Image.new("RGB", SIZE), preview=False)
    wanted = int(2.5 * one_file.stat().st_size)
    paths = dng.write_event(tmp_path / "card", total_bytes=wanted, size=SIZE, preview_ratio=0)
    assert len(paths) == 3  # the third file passes the size
    assert sum(p.stat().st_size for p in paths) >= wanted


def test_an_event_folder_needs_a_count_or_a_size(tmp_path):
    with pytest.raises(ValueError, match="count"):
        dng.write_event(tmp_path)


def test_the_command_line_writes_a_folder(tmp_path, capsys):
    assert dng.main([str(tmp_path / "card"), "--count", "2", "--pixels", "600x400"]) == 0
    assert len(list((tmp_path / "card").glob("*.DNG"))) == 2
    assert "2 files" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5GB", 5 * 10**9), ("50GB", 50 * 10**9), ("1.5 MB", 1_500_000), ("2GiB", 2 * 2**30)],
)
def test_sizes_are_read_in_the_units_disks_are_sold_in(text, expected):
    assert dng.parse_bytes(text) == expected


def test_a_size_without_a_number_is_refused():
    with pytest.raises(Exception, match="not a size"):
        dng.parse_bytes("lots")
