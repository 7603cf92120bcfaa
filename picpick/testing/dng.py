"""Real DNG files for the tests and the benchmarks: a camera's RAW made from an event scene.

A DNG is a TIFF whose raw IFD holds a Bayer mosaic: one 16-bit sample per photosite, each
photosite behind one colour of the colour filter array. ``write_dng`` makes one from an sRGB
image the way a sensor would have recorded the scene: every pixel keeps the channel its CFA
colour names (RGGB), the sRGB curve is undone (a sensor is linear), the channel is multiplied
by the camera's white-balance cast (``AsShotNeutral``: green is the most sensitive), scaled
between ``BlackLevel`` and ``WhiteLevel`` (14-bit) and, optionally, given sensor noise.
``ColorMatrix1`` is the XYZ→linear-sRGB matrix at D65, so a correct raw developer (LibRaw)
gets the scene back: a test can compare what the server decodes with the scene itself.

The file layout is DNG 1.4's usual one. With a preview: IFD0 is a full-size baseline JPEG of
the scene (``NewSubFileType`` 1) and the raw is its SubIFD (``NewSubFileType`` 0); without:
IFD0 is the raw. IFD0 carries Make, Model, Orientation and an Exif IFD (capture time with its
offset, exposure, lens) -- the orientation applies to the whole file, so the preview JPEG
holds the sensor's orientation and no EXIF of its own, as cameras write it.

The TIFF structure is written here directly rather than through ``tifffile``: tifffile writes
neither an Exif IFD nor a pre-encoded JPEG strip without its codec package, and a writer of
three IFDs is a page of code. The IFDs come first (a reader finds the tags in the first few
KB), then the preview, then the mosaic in contiguous strips. ``tifffile`` reads the files back
in the tests.

Speed: the mosaic is four strided numpy look-ups through a 256-entry table per channel, so a
24 MP file costs the scene's encode as a preview JPEG plus a 48 MB write; ``write_event``
builds a few scenes and varies exposure, noise, time and serial per file, so every file's bytes
are different (an uploader skips files it has seen by their hash). Pure: no Django.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import random
import re
import struct
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from galleries.demo_images import demo_image, faces_dir, portraits

EVENT_SIZE = (6000, 4000)  # 24 MP, the size of a typical event camera's RAW
BLACK_LEVEL = 512
WHITE_LEVEL = 16383  # 14-bit samples in 16-bit words
# The camera's raw values of a neutral (white) object, relative to green: a daylight cast.
AS_SHOT_NEUTRAL = (0.47, 1.0, 0.66)
# XYZ (D65) -> linear sRGB (IEC 61966-2-1): the camera's "native space" is linear sRGB.
XYZ_TO_SRGB = (
    (3.2406, -1.5372, -0.4986),
    (-0.9689, 1.8758, 0.0415),
    (0.0557, -0.2040, 1.0570),
)
CFA_RGGB = (0, 1, 1, 2)  # DNG CFA colours: 0 red, 1 green, 2 blue; rows of 2
ORIENTATIONS = (1, 3, 6, 8)  # upright, upside down, rotate 90° clockwise / anticlockwise to view
DEFAULT_TAKEN_AT = dt.datetime(2025, 6, 14, 15, 30, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
STRIP_ROWS = 256

# TIFF field types.
_BYTE, _ASCII, _SHORT, _LONG, _RATIONAL, _SRATIONAL = 1, 2, 3, 4, 5, 10
_TYPE_SIZE = {_BYTE: 1, _ASCII: 1, _SHORT: 2, _LONG: 4, _RATIONAL: 8, _SRATIONAL: 8}
_TYPE_CODE = {_BYTE: "B", _SHORT: "H", _LONG: "I"}


@dataclass(frozen=True)
class Camera:
    make: str = "PicPick"
    model: str = "PicPick Event 24"
    lens: str = "PicPick 24-70mm F2.8"
    exposure_time: tuple[int, int] = (1, 250)
    f_number: tuple[int, int] = (28, 10)
    iso: int = 800
    focal_length: tuple[int, int] = (50, 1)

    @property
    def unique_model(self) -> str:
        return f"{self.make} {self.model}"


# --- TIFF writing ----------------------------------------------------------------------------


class _Ifd:
    """One IFD: entries, then the values that do not fit in an entry's four bytes."""

    def __init__(self) -> None:
        self.entries: dict[int, tuple[int, int, bytes]] = {}

    def add(self, tag: int, kind: int, values) -> None:
        if kind == _ASCII:
            data = values.encode("ascii") + b"\x00"
            count = len(data)
        elif kind in (_RATIONAL, _SRATIONAL):
            code = "I" if kind == _RATIONAL else "i"
            pairs = list(values)
            data = b"".join(struct.pack(f"<{code}{code}", n, d) for n, d in pairs)
            count = len(pairs)
        elif kind == _BYTE and isinstance(values, bytes):
            data, count = values, len(values)
        else:
            items = list(values) if isinstance(values, list | tuple) else [values]
            data = struct.pack(f"<{len(items)}{_TYPE_CODE[kind]}", *items)
            count = len(items)
        self.entries[tag] = (kind, count, data)

    def size(self) -> int:
        extra = sum(len(d) + len(d) % 2 for _, _, d in self.entries.values() if len(d) > 4)
        return 2 + 12 * len(self.entries) + 4 + extra

    def pack(self, offset: int, next_ifd: int = 0) -> bytes:
        """The IFD as bytes when written at ``offset`` (values follow the entries)."""
        head = [struct.pack("<H", len(self.entries))]
        tail: list[bytes] = []
        extra_at = offset + 2 + 12 * len(self.entries) + 4
        for tag in sorted(self.entries):
            kind, count, data = self.entries[tag]
            if len(data) <= 4:
                head.append(struct.pack("<HHI", tag, kind, count) + data.ljust(4, b"\x00"))
            else:
                head.append(struct.pack("<HHII", tag, kind, count, extra_at))
                padded = data + b"\x00" * (len(data) % 2)
                tail.append(padded)
                extra_at += len(padded)
        head.append(struct.pack("<I", next_ifd))
        return b"".join(head + tail)


def _srgb_to_linear_table() -> np.ndarray:
    v = np.arange(256, dtype=np.float64) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


_LINEAR = _srgb_to_linear_table()


def _channel_tables(exposure: float, neutral: tuple[float, float, float]) -> list[np.ndarray]:
    """For each CFA colour, 8-bit sRGB value -> the sensor's 16-bit sample."""
    span = WHITE_LEVEL - BLACK_LEVEL
    return [
        np.clip(np.rint(BLACK_LEVEL + _LINEAR * exposure * gain * span), 0, WHITE_LEVEL).astype(
            np.uint16
        )
        for gain in neutral
    ]


def mosaic(
    rgb: np.ndarray,
    *,
    exposure: float = 1.0,
    neutral: tuple[float, float, float] = AS_SHOT_NEUTRAL,
    noise: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """The RGGB Bayer mosaic (uint16, H×W) a linear sensor records of sRGB ``rgb`` (H×W×3).

    ``noise`` is the standard deviation of added read noise, as a share of the white level.
    """
    height, width, _ = rgb.shape
    tables = _channel_tables(exposure, neutral)
    out = np.empty((height, width), dtype=np.uint16)
    for index, colour in enumerate(CFA_RGGB):
        row, col = divmod(index, 2)
        out[row::2, col::2] = tables[colour][rgb[row::2, col::2, colour]]
    if noise > 0:
        # Read noise drawn for a quarter of the rows and repeated down the frame: it looks the
        # same and costs a quarter of the draws (the per-file bytes differ all the same). It
        # is added in place in uint16, wrapping: kept within ±BLACK_LEVEL, a sample plus its
        # noise never leaves 0..65535, so the wrapped sum is the true one.
        rng = np.random.default_rng(seed)
        rows = -(-height // 4)
        grain = rng.standard_normal((rows, width), dtype=np.float32)
        grain *= noise * WHITE_LEVEL
        np.clip(grain, -BLACK_LEVEL, BLACK_LEVEL, out=grain)
        step = grain.astype(np.int16).view(np.uint16)
        for top in range(0, height, rows):
            band = out[top : top + rows]
            band += step[: band.shape[0]]
        np.minimum(out, WHITE_LEVEL, out=out)
    return out


def preview_jpeg(image: Image.Image, *, quality: int = 88) -> bytes:
    """The full-size JPEG a camera embeds in its RAW (baseline, 4:2:0, no EXIF of its own)."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, subsampling="4:2:0")
    return buffer.getvalue()


def _rational(value: float, denominator: int = 10_000) -> tuple[int, int]:
    return round(value * denominator), denominator


def _exif_time(when: dt.datetime) -> tuple[str, str | None]:
    offset = None
    if when.utcoffset() is not None:
        minutes = int(when.utcoffset().total_seconds() // 60)
        sign = "-" if minutes < 0 else "+"
        offset = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return when.strftime("%Y:%m:%d %H:%M:%S"), offset


def write_dng(
    path: str | Path,
    image: Image.Image | np.ndarray,
    *,
    preview: bool | bytes = True,
    orientation: int = 1,
    taken_at: dt.datetime | None = DEFAULT_TAKEN_AT,
    camera: Camera = Camera(),
    exposure: float = 1.0,
    noise: float = 0.0,
    seed: int = 0,
    serial: str = "",
    preview_quality: int = 88,
) -> Path:
    """Write ``image`` (sRGB, as the sensor saw it: before ``orientation``) as a DNG 1.4.

    ``orientation`` is the EXIF value (1 to 8) a viewer applies to show the photo upright;
    ``taken_at`` goes to DateTimeOriginal (with OffsetTimeOriginal when it is aware).
    ``preview`` may be the preview's JPEG bytes already encoded (``write_event`` encodes each
    scene's once); ``serial`` goes to CameraSerialNumber and ImageUniqueID.
    """
    path = Path(path)
    if isinstance(image, Image.Image):
        pil = image.convert("RGB") if image.mode != "RGB" else image
        rgb = np.asarray(pil)
    else:
        rgb = np.ascontiguousarray(image, dtype=np.uint8)
        pil = Image.fromarray(rgb) if preview is True else None
    height, width = rgb.shape[:2]
    if width % 2 or height % 2:
        raise ValueError(f"a Bayer mosaic needs even sides, not {width}×{height}")
    if orientation not in range(1, 9):
        raise ValueError(f"orientation must be 1 to 8, not {orientation}")
    raw = mosaic(rgb, exposure=exposure, noise=noise, seed=seed)

    jpeg = preview if isinstance(preview, bytes) else b""
    if preview is True:
        jpeg = preview_jpeg(pil, quality=preview_quality)
    preview = bool(jpeg)

    # IFD0: the whole file's tags (and the preview, when there is one).
    ifd0, exif = _Ifd(), _Ifd()
    raw_ifd = _Ifd() if preview else ifd0
    ifd0.add(0x010F, _ASCII, camera.make)
    ifd0.add(0x0110, _ASCII, camera.model)
    ifd0.add(0x0112, _SHORT, orientation)
    ifd0.add(0x0131, _ASCII, "PicPick test DNG writer")
    if taken_at is not None:
        ifd0.add(0x0132, _ASCII, _exif_time(taken_at)[0])
    ifd0.add(0xC612, _BYTE, bytes((1, 4, 0, 0)))  # DNGVersion
    ifd0.add(0xC613, _BYTE, bytes((1, 1, 0, 0)))  # DNGBackwardVersion
    ifd0.add(0xC614, _ASCII, camera.unique_model)  # UniqueCameraModel
    ifd0.add(0xC621, _SRATIONAL, [_rational(v) for row in XYZ_TO_SRGB for v in row])
    ifd0.add(0xC628, _RATIONAL, [_rational(v) for v in AS_SHOT_NEUTRAL])  # AsShotNeutral
    ifd0.add(0xC65A, _SHORT, 21)  # CalibrationIlluminant1: D65
    if serial:
        ifd0.add(0xC62F, _ASCII, serial)  # CameraSerialNumber
        exif.add(0xA420, _ASCII, serial)  # ImageUniqueID
    ifd0.add(0x8769, _LONG, 0)  # Exif IFD, offset set below
    if preview:
        ifd0.add(0x00FE, _LONG, 1)  # NewSubFileType: reduced-resolution (here full) preview
        ifd0.add(0x0100, _LONG, width)
        ifd0.add(0x0101, _LONG, height)
        ifd0.add(0x0102, _SHORT, [8, 8, 8])
        ifd0.add(0x0103, _SHORT, 7)  # JPEG
        ifd0.add(0x0106, _SHORT, 6)  # YCbCr
        ifd0.add(0x0111, _LONG, 0)  # StripOffsets, set below
        ifd0.add(0x0115, _SHORT, 3)
        ifd0.add(0x0116, _LONG, height)
        ifd0.add(0x0117, _LONG, len(jpeg))
        ifd0.add(0x011C, _SHORT, 1)
        ifd0.add(0x014A, _LONG, 0)  # SubIFDs, set below

    strips = list(range(0, height, STRIP_ROWS))
    raw_ifd.add(0x00FE, _LONG, 0)  # NewSubFileType: the main image
    raw_ifd.add(0x0100, _LONG, width)
    raw_ifd.add(0x0101, _LONG, height)
    raw_ifd.add(0x0102, _SHORT, 16)
    raw_ifd.add(0x0103, _SHORT, 1)  # uncompressed
    raw_ifd.add(0x0106, _SHORT, 32803)  # CFA
    raw_ifd.add(0x0111, _LONG, [0] * len(strips))
    raw_ifd.add(0x0115, _SHORT, 1)
    raw_ifd.add(0x0116, _LONG, STRIP_ROWS)
    raw_ifd.add(0x0117, _LONG, [min(STRIP_ROWS, height - y) * width * 2 for y in strips])
    raw_ifd.add(0x011C, _SHORT, 1)
    raw_ifd.add(0x828D, _SHORT, [2, 2])  # CFARepeatPatternDim
    raw_ifd.add(0x828E, _BYTE, bytes(CFA_RGGB))  # CFAPattern
    raw_ifd.add(0xC619, _SHORT, [1, 1])  # BlackLevelRepeatDim
    raw_ifd.add(0xC61A, _LONG, BLACK_LEVEL)
    raw_ifd.add(0xC61D, _LONG, WHITE_LEVEL)
    raw_ifd.add(0xC61F, _LONG, [0, 0])  # DefaultCropOrigin
    raw_ifd.add(0xC620, _LONG, [width, height])  # DefaultCropSize

    exif.add(0x829A, _RATIONAL, [camera.exposure_time])
    exif.add(0x829D, _RATIONAL, [camera.f_number])
    exif.add(0x8827, _SHORT, camera.iso)
    exif.add(0x9000, _BYTE, b"0231")  # ExifVersion (UNDEFINED in the standard; same bytes)
    if taken_at is not None:
        stamp, offset = _exif_time(taken_at)
        exif.add(0x9003, _ASCII, stamp)
        if offset:
            exif.add(0x9011, _ASCII, offset)
    exif.add(0x920A, _RATIONAL, [camera.focal_length])
    exif.add(0xA434, _ASCII, camera.lens)

    # Layout: header, IFD0, raw IFD, Exif IFD, preview JPEG, raw strips.
    ifd0_at = 8
    raw_at = ifd0_at + ifd0.size() if preview else ifd0_at
    exif_at = raw_at + (raw_ifd.size() if preview else ifd0.size())
    data_at = exif_at + exif.size()
    jpeg_at = data_at
    raw_data_at = jpeg_at + len(jpeg) + len(jpeg) % 2
    ifd0.add(0x8769, _LONG, exif_at)
    if preview:
        ifd0.add(0x0111, _LONG, jpeg_at)
        ifd0.add(0x014A, _LONG, raw_at)
    raw_ifd.add(0x0111, _LONG, [raw_data_at + y * width * 2 for y in strips])

    with path.open("wb") as out:
        out.write(b"II*\x00" + struct.pack("<I", ifd0_at))
        out.write(ifd0.pack(ifd0_at))
        if preview:
            out.write(raw_ifd.pack(raw_at))
        out.write(exif.pack(exif_at))
        out.write(jpeg + b"\x00" * (len(jpeg) % 2))
        out.write(memoryview(np.ascontiguousarray(raw, dtype="<u2")).cast("B"))
    return path


# --- Event scenes as RAW ---------------------------------------------------------------------


@lru_cache(maxsize=1)
def _portraits() -> tuple[Image.Image, ...]:
    return tuple(portraits(faces_dir()))


@contextmanager
def _seeded_grain(seed: int) -> Iterator[None]:
    """Pillow's ``effect_noise`` (the scenes' sensor grain) draws from the C library's
    unseeded ``rand()``; while this is open it draws the same Gaussian from ``seed``. It swaps
    a module attribute, so a scene is built by one thread at a time (the builders here are
    sequential)."""
    rng = np.random.default_rng(seed)

    def effect_noise(size: tuple[int, int], sigma: float) -> Image.Image:
        values = rng.standard_normal((size[1], size[0]), dtype=np.float32)
        values *= sigma
        values += 128
        return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8), "L")

    original = Image.effect_noise
    Image.effect_noise = effect_noise
    try:
        yield
    finally:
        Image.effect_noise = original


def scene(index: int, size: tuple[int, int] = EVENT_SIZE) -> Image.Image:
    """The ``index``-th event photo of the demo gallery (``demo_image``): the shared face
    photos pasted on every fourth one when they are beside the repository, drawn guests
    otherwise. Deterministic (the same pixels for the same index and size)."""
    with _seeded_grain(index):
        return demo_image(index, size, list(_portraits()))


def event_dng(
    path: str | Path,
    index: int,
    *,
    size: tuple[int, int] = EVENT_SIZE,
    preview: bool = True,
    orientation: int = 1,
    taken_at: dt.datetime | None = DEFAULT_TAKEN_AT,
    noise: float = 0.0,
) -> Path:
    """The ``index``-th event scene of ``size`` (the sensor's, before ``orientation``) as a
    DNG at ``path``."""
    return write_dng(
        path,
        scene(index, size),
        preview=preview,
        orientation=orientation,
        taken_at=taken_at,
        noise=noise,
        seed=index,
        serial=f"{index:08d}",
    )


Progress = Callable[[int, int, int, Path], None]  # files done, bytes done, bytes wanted, file


def write_event(
    folder: str | Path,
    *,
    total_bytes: int | None = None,
    count: int | None = None,
    size: tuple[int, int] = EVENT_SIZE,
    preview_ratio: float = 0.5,
    seed: int = 0,
    scenes: int = 8,
    noise: float = 0.004,
    start: dt.datetime = DEFAULT_TAKEN_AT,
    progress: Progress | None = None,
) -> list[Path]:
    """A photographer's card: DNG files ``DSC_0001.DNG``... in ``folder`` until ``count`` files
    or ``total_bytes`` are written (the first reached; one of them is required).

    Files are built from ``scenes`` distinct event scenes, each file with its own sensor noise
    (``noise``: 0 turns it off), capture time (a few seconds apart from ``start``) and serial, so
    no two files share their bytes. About ``preview_ratio`` of them embed a full-size preview;
    one in five is a portrait shot (orientation 6 or 8). Deterministic from ``seed``.
    """
    if count is None and total_bytes is None:
        raise ValueError("give count, total_bytes or both")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    made: list[Path] = []
    written = 0
    wanted = total_bytes if total_bytes is not None else 0
    cache: dict[int, tuple[np.ndarray, bytes]] = {}
    when = start
    while (count is None or len(made) < count) and (total_bytes is None or written < total_bytes):
        number = len(made)
        base = (seed * 1_000 + number % max(1, scenes)) % 1_000_000
        if base not in cache:
            image = scene(base, size)
            cache[base] = (np.asarray(image), preview_jpeg(image))
        rgb, jpeg = cache[base]
        with_preview = rng.random() < preview_ratio
        orientation = rng.choice((6, 8)) if rng.random() < 0.2 else 1
        when += dt.timedelta(seconds=rng.randint(2, 40))
        path = write_dng(
            folder / f"DSC_{number + 1:04d}.DNG",
            rgb,
            preview=jpeg if with_preview else False,
            orientation=orientation,
            taken_at=when,
            noise=noise,
            seed=seed * 1_000_003 + number,
            serial=f"{seed:04d}{number:06d}",
        )
        made.append(path)
        written += path.stat().st_size
        if progress is not None:
            progress(len(made), written, wanted, path)
    return made


# --- Command line ----------------------------------------------------------------------------

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNITS |= {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_bytes(text: str) -> int:
    """``5GB`` -> 5_000_000_000 (decimal units as disks are sold; ``GiB`` for binary)."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).upper() not in _UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 500MB, 5GB, 50GB)")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def _dimensions(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"([0-9]+)[x×]([0-9]+)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a size in pixels: {text!r} (e.g. 6000x4000)")
    return int(match.group(1)), int(match.group(2))


def _bar(started: float, count: int | None) -> Progress:
    def show(files: int, done: int, wanted: int, path: Path) -> None:
        elapsed = max(time.perf_counter() - started, 1e-6)
        speed = done / elapsed / 1e6
        if count and (not wanted or files / count > done / wanted):
            wanted = max(done, round(done * count / files))  # the files' count ends it first
        if wanted:
            share = min(1.0, done / wanted)
            filled = int(share * 30)
            bar = "#" * filled + "-" * (30 - filled)
            left = (wanted - done) / 1e6 / speed if speed and done < wanted else 0
            line = (
                f"[{bar}] {share:4.0%} {done / 1e9:6.2f}/{wanted / 1e9:.2f} GB "
                f"{files} files {speed:5.0f} MB/s ETA {left:4.0f} s {path.name}"
            )
        else:
            line = f"{files} files {done / 1e9:6.2f} GB {speed:5.0f} MB/s {path.name}"
        sys.stderr.write("\r" + line)
        sys.stderr.flush()

    return show


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m picpick.testing.dng",
        description="Write an event's worth of real DNG files (Bayer mosaics of event scenes).",
    )
    parser.add_argument("folder", type=Path)
    parser.add_argument("--size", type=parse_bytes, help="total size, e.g. 5GB (default)")
    parser.add_argument("--count", type=int, help="number of files (with --size: the first)")
    parser.add_argument("--pixels", type=_dimensions, default=EVENT_SIZE, help="e.g. 6000x4000")
    parser.add_argument("--preview-ratio", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", type=float, default=0.004)
    args = parser.parse_args(argv)
    total = args.size if args.size is not None or args.count else parse_bytes("5GB")
    started = time.perf_counter()
    paths = write_event(
        args.folder,
        total_bytes=total,
        count=args.count,
        size=args.pixels,
        preview_ratio=args.preview_ratio,
        seed=args.seed,
        noise=args.noise,
        progress=_bar(started, args.count),
    )
    seconds = time.perf_counter() - started
    written = sum(p.stat().st_size for p in paths)
    sys.stderr.write(
        f"\n{len(paths)} files, {written / 1e9:.2f} GB in {seconds:.1f} s "
        f"({written / 1e6 / max(seconds, 1e-6):.0f} MB/s) in {args.folder}\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
