"""The pure imaging module: formats by magic bytes, one decode, derivatives, hostile files."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from galleries.imaging import (
    DerivativeSpec,
    ImageRejected,
    Watermark,
    decode,
    magic_matches,
    render_derivatives,
    sniff,
)

MAX_PIXELS = 120_000_000
SPECS = [DerivativeSpec("preview", 2048, 82), DerivativeSpec("thumb", 400, 80)]


def jpeg_bytes(size=(3000, 2000), colour=(200, 120, 40), exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(
        out, "JPEG", quality=90, exif=exif if exif is not None else Image.Exif()
    )
    return out.getvalue()


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge size; its data is a few bytes (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


@pytest.mark.parametrize(
    ("head", "family"),
    [
        (b"\xff\xd8\xff\xe0" + b"\0" * 60, "jpeg"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 56, "png"),
        (b"\0\0\0\x18ftypheic" + b"\0" * 52, "heif"),
        (b"\0\0\0\x18ftypcrx " + b"\0" * 52, "cr3"),
        (b"II*\x00\x10\0\0\0CR\x02\0" + b"\0" * 51, "cr2"),
        (b"II*\x00\x08\0\0\0" + b"\0" * 56, "tiff"),
        (b"MM\x00*\0\0\0\x08" + b"\0" * 56, "tiff"),
        (b"FUJIFILMCCD-RAW 0201" + b"\0" * 44, "raf"),
        (b"IIRO\x08\0\0\0" + b"\0" * 56, "orf"),
        (b"IIU\x00\x18\0\0\0" + b"\0" * 56, "rw2"),
        (b"GIF89a" + b"\0" * 58, None),
        (b"%PDF-1.7" + b"\0" * 56, None),
        (b"", None),
    ],
)
def test_sniff_recognises_each_family(head, family):
    assert sniff(head) == family


@pytest.mark.parametrize(
    ("filename", "head", "ok"),
    [
        ("a.jpg", b"\xff\xd8\xff\xe1", True),
        ("a.JPEG", b"\xff\xd8\xff\xe1", True),
        ("a.png", b"\xff\xd8\xff\xe1", False),  # a JPEG named .png
        ("a.nef", b"II*\x00\x08\0\0\0", True),
        ("a.dng", b"MM\x00*\0\0\0\x08", True),
        ("a.cr2", b"II*\x00\x10\0\0\0CR", True),
        ("a.cr2", b"II*\x00\x08\0\0\0", False),
        ("a.cr3", b"\0\0\0\x18ftypcrx ", True),
        ("a.heic", b"\0\0\0\x18ftypcrx ", False),
        ("a.exe", b"MZ\x90\x00", False),
        ("a.jpg", b"<html>", False),
    ],
)
def test_magic_bytes_must_match_the_extension(filename, head, ok):
    assert magic_matches(filename, head + b"\0" * 60) is ok


def test_24mp_jpeg_is_decoded_once_at_reduced_scale(tmp_path):
    path = write(tmp_path, "big.jpg", jpeg_bytes((6000, 4000)))
    decoded = decode(path, filename="big.jpg", min_long_edge=2048, max_pixels=MAX_PIXELS)
    assert (decoded.original_width, decoded.original_height) == (6000, 4000)
    assert decoded.image.size == (3000, 2000)  # libjpeg's 1/2 DCT scaling, not a full decode
    assert decoded.scale == 0.5


def test_derivatives_have_the_requested_sizes_and_no_exif(tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS R5"
    exif.get_ifd(0x8769)[0x9003] = "2026:06:20 15:04:05"
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 24.0)  # GPS latitude: must not leak
    path = write(tmp_path, "a.jpg", jpeg_bytes((6000, 4000), exif=exif))
    decoded = decode(path, filename="a.jpg", min_long_edge=2048, max_pixels=MAX_PIXELS)
    assert decoded.metadata.camera == "Canon EOS R5"
    assert decoded.metadata.captured_at.isoformat() == "2026-06-20T15:04:05"
    preview, thumb = render_derivatives(decoded, SPECS)
    assert (preview.width, preview.height) == (2048, 1365)
    assert (thumb.width, thumb.height) == (400, 267)
    for derivative in (preview, thumb):
        image = Image.open(io.BytesIO(derivative.data))
        assert image.format == "JPEG"
        assert not image.getexif(), "derivatives must carry no EXIF (GPS, serials)"


def test_capture_time_keeps_the_cameras_offset(tmp_path):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2026:06:20 15:04:05"
    exif.get_ifd(0x8769)[0x9011] = "-04:00"
    path = write(tmp_path, "a.jpg", jpeg_bytes((800, 600), exif=exif))
    decoded = decode(path, filename="a.jpg", min_long_edge=2048, max_pixels=MAX_PIXELS)
    assert decoded.metadata.captured_at.isoformat() == "2026-06-20T15:04:05-04:00"


def test_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    path = write(tmp_path, "r.jpg", jpeg_bytes((6000, 4000), exif=exif))
    decoded = decode(path, filename="r.jpg", min_long_edge=2048, max_pixels=MAX_PIXELS)
    assert (decoded.original_width, decoded.original_height) == (4000, 6000)
    assert decoded.image.size == (2000, 3000)
    preview, _ = render_derivatives(decoded, SPECS)
    assert (preview.width, preview.height) == (1365, 2048)


def test_small_image_is_not_upscaled(tmp_path):
    path = write(tmp_path, "s.jpg", jpeg_bytes((640, 480)))
    decoded = decode(path, filename="s.jpg", min_long_edge=2048, max_pixels=MAX_PIXELS)
    preview, thumb = render_derivatives(decoded, SPECS)
    assert (preview.width, preview.height) == (640, 480)
    assert (thumb.width, thumb.height) == (400, 300)


def test_png_with_alpha_is_flattened_to_rgb(tmp_path):
    out = io.BytesIO()
    Image.new("RGBA", (500, 400), (10, 20, 30, 0)).save(out, "PNG")
    path = write(tmp_path, "a.png", out.getvalue())
    decoded = decode(path, filename="a.png", min_long_edge=2048, max_pixels=MAX_PIXELS)
    assert decoded.image.mode == "RGB"
    assert decoded.image.getpixel((0, 0)) == (255, 255, 255)


def test_decompression_bomb_is_rejected_before_decoding(tmp_path):
    path = write(tmp_path, "bomb.png", png_header_claiming(100_000, 100_000))
    with pytest.raises(ImageRejected) as info:
        decode(path, filename="bomb.png", min_long_edge=2048, max_pixels=MAX_PIXELS)
    assert info.value.code == "too_many_pixels"


def test_pixel_cap_applies_below_pillows_own_guard(tmp_path):
    path = write(tmp_path, "big.jpg", jpeg_bytes((3000, 2000)))
    with pytest.raises(ImageRejected) as info:
        decode(path, filename="big.jpg", min_long_edge=2048, max_pixels=5_000_000)
    assert info.value.code == "too_many_pixels"
    assert "6 MP" in info.value.message


def test_truncated_jpeg_fails_with_a_reason(tmp_path):
    data = jpeg_bytes((3000, 2000), colour=(1, 2, 3))
    noisy = io.BytesIO()
    Image.effect_noise((3000, 2000), 50).convert("RGB").save(noisy, "JPEG", quality=90)
    data = noisy.getvalue()
    path = write(tmp_path, "t.jpg", data[: len(data) // 2])
    with pytest.raises(ImageRejected) as info:
        decode(path, filename="t.jpg", min_long_edge=2048, max_pixels=MAX_PIXELS)
    assert info.value.code in {"truncated", "corrupt"}


def test_empty_file_is_rejected(tmp_path):
    path = write(tmp_path, "e.jpg", b"")
    with pytest.raises(ImageRejected) as info:
        decode(path, filename="e.jpg", min_long_edge=2048, max_pixels=MAX_PIXELS)
    assert info.value.code == "empty"


@pytest.mark.parametrize("name", ["x.jpg", "x.png", "x.heic", "x.tif"])
def test_non_image_is_rejected(tmp_path, name):
    path = write(tmp_path, name, b"this is not an image at all" * 10)
    with pytest.raises(ImageRejected) as info:
        decode(path, filename=name, min_long_edge=2048, max_pixels=MAX_PIXELS)
    assert info.value.code == "unreadable"


@pytest.mark.parametrize("name", ["x.nef", "x.cr2", "x.dng", "x.arw"])
def test_garbage_raw_is_rejected(tmp_path, name):
    path = write(tmp_path, name, b"II*\x00\x08\x00\x00\x00" + b"\x00" * 4000)
    with pytest.raises(ImageRejected) as info:
        decode(path, filename=name, min_long_edge=2048, max_pixels=MAX_PIXELS)
    assert info.value.code in {"unreadable", "no_preview"}


def test_heic_is_decoded(tmp_path):
    from pillow_heif import register_heif_opener

    register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", (1200, 800), (90, 160, 30)).save(out, "HEIF", quality=80)
    path = write(tmp_path, "p.heic", out.getvalue())
    assert magic_matches("p.heic", out.getvalue()[:64])
    decoded = decode(path, filename="p.heic", min_long_edge=2048, max_pixels=MAX_PIXELS)
    assert decoded.image.size == (1200, 800)


def test_watermark_changes_only_the_marked_preview(tmp_path):
    path = write(tmp_path, "w.jpg", jpeg_bytes((3000, 2000), colour=(30, 30, 30)))
    decoded = decode(path, filename="w.jpg", min_long_edge=2048, max_pixels=MAX_PIXELS)
    plain, marked = render_derivatives(
        decoded,
        [DerivativeSpec("preview", 2048, 90), DerivativeSpec("preview_wm", 2047, 90, True)],
        watermark=Watermark(text="Anna Smith", position="bottom-right", opacity=0.9),
    )
    plain_image = Image.open(io.BytesIO(plain.data)).convert("L")
    marked_image = Image.open(io.BytesIO(marked.data)).convert("L")
    corner = (marked.width - 400, marked.height - 150, marked.width, marked.height)
    assert marked_image.crop(corner).getextrema()[1] > 200  # white text in the corner
    assert plain_image.crop(corner).getextrema()[1] < 60


def test_pillows_bomb_guard_follows_the_pixel_cap(tmp_path):
    # 100 MP is over Pillow's default guard (~89 MP) but under a 210 MP cap: a medium-format
    # file must get as far as decoding (this one has no pixel data, so it then fails as broken).
    path = write(tmp_path, "gfx.png", png_header_claiming(12_000, 8_400))
    with pytest.raises(ImageRejected) as info:
        decode(path, filename="gfx.png", min_long_edge=2048, max_pixels=210_000_000)
    assert info.value.code in {"truncated", "corrupt"}
    # Between the cap and twice the cap: our readable refusal, before any decoding.
    with pytest.raises(ImageRejected) as info:
        decode(path, filename="gfx.png", min_long_edge=2048, max_pixels=60_000_000)
    assert info.value.code == "too_many_pixels" and "(101 MP)" in info.value.message
    # Over twice the cap: Pillow's own guard refuses it from the header.
    with pytest.raises(ImageRejected) as info:
        decode(path, filename="gfx.png", min_long_edge=2048, max_pixels=40_000_000)
    assert info.value.code == "too_many_pixels" and "decompression bomb" in info.value.message
