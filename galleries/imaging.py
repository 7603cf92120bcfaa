"""Pure image work of the media pipeline: sniff, decode once, derive, read metadata.

No Django and no ORM here: functions take paths or bytes and return images, bytes and plain
data, so they are cheap to test and to benchmark. The processing service calls them.

Speed comes from decoding once at the smallest scale that still serves every derivative: a
24 MP JPEG is decoded by libjpeg's DCT scaling (Pillow's draft mode) straight to 1/2 or 1/4
size, and the preview, the thumbnail and the face step's working image are all made from that
one decoded image. RAW files use their embedded JPEG preview when it is large enough and are
demosaiced (at half size) only when it is not.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import struct
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageCms, ImageDraw, ImageFile, ImageFont, UnidentifiedImageError

# Truncated files must fail loudly, not decode as grey bands (Pillow's process-wide flag; a
# library that turns it on, as WeasyPrint does at import, is turned back where it is imported).
ImageFile.LOAD_TRUNCATED_IMAGES = False

# --- Formats ---------------------------------------------------------------------------------

# Extension -> (format family checked by magic bytes, canonical content type).
FORMATS: dict[str, tuple[str, str]] = {
    "jpg": ("jpeg", "image/jpeg"),
    "jpeg": ("jpeg", "image/jpeg"),
    "png": ("png", "image/png"),
    "heic": ("heif", "image/heic"),
    "heif": ("heif", "image/heif"),
    "tif": ("tiff", "image/tiff"),
    "tiff": ("tiff", "image/tiff"),
    "dng": ("tiff", "image/x-adobe-dng"),
    "cr2": ("cr2", "image/x-canon-cr2"),
    "cr3": ("cr3", "image/x-canon-cr3"),
    "nef": ("tiff", "image/x-nikon-nef"),
    "arw": ("tiff", "image/x-sony-arw"),
    "raf": ("raf", "image/x-fuji-raf"),
    "orf": ("orf", "image/x-olympus-orf"),
    "rw2": ("rw2", "image/x-panasonic-rw2"),
}
RAW_EXTENSIONS = frozenset({"dng", "cr2", "cr3", "nef", "arw", "raf", "orf", "rw2"})
# Content types a client may declare for each extension (browsers and OSes disagree on RAW).
ACCEPTED_CONTENT_TYPES: dict[str, frozenset[str]] = {
    ext: frozenset({ctype, "application/octet-stream"})
    | ({"image/jpg", "image/pjpeg"} if family == "jpeg" else set())
    | ({"image/heic-sequence", "image/heif"} if family == "heif" else set())
    | ({"image/x-dcraw", "image/x-raw"} if ext in RAW_EXTENSIONS else set())
    for ext, (family, ctype) in FORMATS.items()
}
MAGIC_BYTES_NEEDED = 64

_HEIF_BRANDS = {
    b"heic",
    b"heix",
    b"hevc",
    b"hevx",
    b"heim",
    b"heis",
    b"hevm",
    b"hevs",
    b"mif1",
    b"msf1",
}


def extension_of(filename: str) -> str:
    return Path(filename).suffix.lower().lstrip(".")


def sniff(head: bytes) -> str | None:
    """The format family that the first bytes of a file prove, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"crx ":
            return "cr3"
        if brand in _HEIF_BRANDS:
            return "heif"
        return None
    if head.startswith(b"FUJIFILMCCD-RAW"):
        return "raf"
    if head[:4] in (b"IIRO", b"IIRS", b"MMOR"):
        return "orf"
    if head[:4] == b"IIU\x00":
        return "rw2"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "cr2" if head[8:10] == b"CR" else "tiff"
    return None


def magic_matches(filename: str, head: bytes) -> bool:
    """Whether the bytes are what the extension claims (CR2 is TIFF-based, so TIFF is not CR2)."""
    expected = FORMATS.get(extension_of(filename), (None, None))[0]
    found = sniff(head)
    if expected is None or found is None:
        return False
    if expected == "tiff":  # NEF, ARW, DNG and TIFF share TIFF's header (CR2 adds a mark)
        return found in {"tiff", "cr2"}
    return found == expected


# --- Errors ----------------------------------------------------------------------------------


class ImageRejected(Exception):
    """A file we will not or cannot decode; ``code`` is stored on the photo as its reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- Metadata --------------------------------------------------------------------------------


@dataclass
class Metadata:
    captured_at: dt.datetime | None = None  # aware when the camera wrote an offset, else naive
    camera_make: str = ""
    camera_model: str = ""
    lens: str = ""
    exposure_time: str = ""  # "1/250"
    f_number: float | None = None
    iso: int | None = None
    focal_length: float | None = None

    @property
    def camera(self) -> str:
        make, model = self.camera_make.strip(), self.camera_model.strip()
        if make and model.lower().startswith(make.lower().split()[0]):
            return model
        return f"{make} {model}".strip()

    def as_dict(self) -> dict:
        return {
            "camera": self.camera,
            "lens": self.lens,
            "exposure_time": self.exposure_time,
            "f_number": self.f_number,
            "iso": self.iso,
            "focal_length": self.focal_length,
        }


_EXIF_IFD = 0x8769
_TAG_MAKE, _TAG_MODEL, _TAG_DATETIME = 0x010F, 0x0110, 0x0132
_TAG_EXPOSURE, _TAG_FNUMBER, _TAG_ISO = 0x829A, 0x829D, 0x8827
_TAG_ORIGINAL, _TAG_OFFSET_ORIGINAL = 0x9003, 0x9011
_TAG_FOCAL, _TAG_LENS = 0x920A, 0xA434


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value or "").replace("\x00", "").strip()[:120]


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def read_metadata(exif: Image.Exif | None) -> Metadata:
    """Capture time, camera, lens and exposure from EXIF; anything malformed is skipped."""
    meta = Metadata()
    if exif is None:
        return meta
    sub = exif.get_ifd(_EXIF_IFD)
    meta.camera_make = _text(exif.get(_TAG_MAKE))
    meta.camera_model = _text(exif.get(_TAG_MODEL))
    meta.lens = _text(sub.get(_TAG_LENS))
    raw_time = _text(sub.get(_TAG_ORIGINAL) or exif.get(_TAG_DATETIME))
    try:
        when = dt.datetime.strptime(raw_time[:19], "%Y:%m:%d %H:%M:%S")
        offset = _text(sub.get(_TAG_OFFSET_ORIGINAL))
        if offset:
            sign = -1 if offset.startswith("-") else 1
            hours, minutes = offset.lstrip("+-").split(":")
            delta = dt.timedelta(hours=int(hours), minutes=int(minutes))
            when = when.replace(tzinfo=dt.timezone(sign * delta))
        meta.captured_at = when
    except (ValueError, TypeError):
        pass
    exposure = _number(sub.get(_TAG_EXPOSURE))
    if exposure:
        meta.exposure_time = f"1/{round(1 / exposure)}" if exposure < 1 else f"{exposure:g}"
    meta.f_number = _number(sub.get(_TAG_FNUMBER))
    iso = sub.get(_TAG_ISO)
    if isinstance(iso, tuple):
        iso = iso[0] if iso else None
    meta.iso = int(iso) if isinstance(iso, int | float) and iso > 0 else None
    meta.focal_length = _number(sub.get(_TAG_FOCAL))
    return meta


# --- Decoding --------------------------------------------------------------------------------


@dataclass
class Decoded:
    """One decode of a photo, upright and in sRGB, at working scale."""

    image: Image.Image  # RGB
    original_width: int  # upright size of the full-resolution photo
    original_height: int
    metadata: Metadata = field(default_factory=Metadata)
    source: str = ""  # how it was decoded: jpeg, png, heif, tiff, raw-preview, raw-demosaic

    @property
    def scale(self) -> float:
        """Working-image pixels per original pixel (≤ 1)."""
        return self.image.width / self.original_width


_SRGB = ImageCms.createProfile("sRGB")


def _to_srgb(image: Image.Image) -> Image.Image:
    icc = image.info.get("icc_profile")
    if image.mode not in ("RGB", "RGBA", "L", "LA", "P", "CMYK", "I;16", "I", "F"):
        image = image.convert("RGB")
    if icc:
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            name = ImageCms.getProfileDescription(profile) or ""
            if "srgb" not in name.lower():
                mode = "RGB" if image.mode in ("RGB", "CMYK") else None
                if mode:
                    return ImageCms.profileToProfile(image, profile, _SRGB, outputMode=mode)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: show the pixels as they are rather than fail the photo
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        flat = Image.new("RGB", image.size, (255, 255, 255))
        flat.paste(image, mask=image.getchannel("A"))
        return flat
    if image.mode in ("I;16", "I", "F"):
        image = image.point(lambda v: v / 256).convert("L")  # 16-bit grey TIFF/PNG
    return image.convert("RGB") if image.mode != "RGB" else image


_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _orient(image: Image.Image, orientation: int) -> Image.Image:
    """Apply an EXIF orientation (1 to 8) so the image is upright."""
    method = _TRANSPOSE.get(orientation)
    return image.transpose(method) if method is not None else image


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageRejected("corrupt", "The image has no pixels.")
    if width * height > max_pixels:
        raise ImageRejected(
            "too_many_pixels",
            f"The image is {width}×{height} ({width * height / 1e6:.0f} MP); "
            f"the limit is {max_pixels / 1e6:.0f} MP.",
        )


def _open_pillow(
    source, *, min_long_edge: int, max_pixels: int, kind: str, orientation: int | None = None
) -> Decoded:
    """Decode with Pillow; ``orientation`` overrides the file's own (a RAW's preview)."""
    # Pillow's decompression-bomb guard follows our cap: its default (~89 MP) would refuse a
    # 100 MP medium-format JPEG that the cap allows. Pillow refuses from the header alone what
    # is over twice the cap; between the cap and that, its warning is replaced by the readable
    # check just below, which also runs before a pixel is decoded. (A module global: workers
    # are processes, one photo at a time each.)
    Image.MAX_IMAGE_PIXELS = max_pixels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(source)
        except UnidentifiedImageError as exc:
            raise ImageRejected("unreadable", f"The file is not a readable image: {exc}") from exc
        except Image.DecompressionBombError as exc:
            raise ImageRejected(
                "too_many_pixels",
                f"The image claims more than twice the {max_pixels / 1e6:.0f} MP limit "
                f"(a decompression bomb): {exc}",
            ) from exc
    _check_pixels(image.width, image.height, max_pixels)
    try:
        exif = image.getexif()  # PNG reads its trailing chunks for it: a broken file fails here
    except (OSError, SyntaxError, ValueError, struct.error):
        exif = Image.Exif()  # the decode below reports the damage
    if orientation is None:
        orientation = exif.get(0x0112, 1)
    upright = (image.height, image.width) if orientation in (5, 6, 7, 8) else image.size
    long_edge = max(image.size)
    if image.format == "JPEG" and long_edge > min_long_edge:
        ratio = min_long_edge / long_edge
        # libjpeg scales by 1/2, 1/4 or 1/8 while decoding: the largest reduction that keeps
        # both sides at or above the requested size is picked.
        image.draft("RGB", (math.ceil(image.width * ratio), math.ceil(image.height * ratio)))
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, struct.error) as exc:
        message = str(exc)
        code = "truncated" if "truncated" in message.lower() else "corrupt"
        raise ImageRejected(code, f"The image could not be decoded: {message}") from exc
    if image.format != "JPEG" and max(image.size) >= 2 * min_long_edge:
        image = image.reduce(max(image.size) // min_long_edge)  # box-average, cheap
    image = _to_srgb(image)
    image = _orient(image, orientation)
    return Decoded(
        image=image,
        original_width=upright[0],
        original_height=upright[1],
        metadata=read_metadata(exif),
        source=kind,
    )


# LibRaw's ``sizes.flip`` (dcraw's bits: 1 mirror, 2 upside down, 4 transposed) for each EXIF
# orientation; LibRaw maps the TIFF tag through "50132467"[orientation & 7].
_RAW_FLIP_TO_ORIENTATION = {0: 1, 1: 2, 3: 3, 2: 4, 4: 5, 6: 6, 7: 7, 5: 8}
# Developing the mosaic (half size: one pixel per 2×2 CFA block, no interpolation, ~4× less
# work than a full demosaic and still 3000 px wide at 24 MP; full size only for a RAW too
# small for that). The camera's white balance (DNG:
# AsShotNeutral) and its colour matrix to sRGB; no auto-brightening, so a frame keeps the
# exposure the photographer chose and the shots of a series keep their relative brightness
# (LibRaw's default lifts each frame until 1% of it clips); the sRGB curve, since every
# derivative is sRGB (LibRaw's default is BT.709's).
_DEVELOP = {
    "half_size": True,
    "use_camera_wb": True,
    "no_auto_bright": True,
    "gamma": (2.4, 12.92),
    "output_bps": 8,
}


def _raw_metadata(path: Path) -> Metadata:
    """Capture time, camera, lens and exposure from the TIFF tags of a TIFF-based RAW (DNG,
    NEF, ARW, CR2): IFD0 and its Exif IFD, read in place without decoding any pixels. LibRaw
    reads them too but rawpy does not hand them over."""
    try:
        with path.open("rb") as stream, warnings.catch_warnings():
            # Pillow warns of each tag it skips in a broken IFD; the tags read are what counts.
            warnings.simplefilter("ignore")
            if sniff(stream.read(MAGIC_BYTES_NEEDED)) not in ("tiff", "cr2"):
                return Metadata()
            stream.seek(0)
            exif = Image.Exif()
            exif.load_from_fp(stream)
            return read_metadata(exif)  # reads the Exif IFD through the open stream
    except (OSError, SyntaxError, ValueError, KeyError, TypeError, struct.error):
        return Metadata()  # malformed tags: the photo still decodes, without its metadata


def _preview_metadata(meta: Metadata) -> Metadata:
    """The EXIF of a RAW's preview, for RAWs whose own tags we do not read (CR3, RAF...).

    When the embedded JPEG has no EXIF first thing, LibRaw hands it out with an EXIF block of
    its own making: Make, Model and a DateTime from its parse, the Unix epoch (in the worker's
    local time) when it found no time. That is no capture time.
    """
    if meta.captured_at is not None and meta.captured_at.year <= 1970:
        meta.captured_at = None
    return meta


def _raw_preview(raw, *, min_long_edge: int, max_pixels: int, orientation: int) -> Decoded | None:
    """The RAW's embedded JPEG, upright, when there is one that decodes; else None."""
    import rawpy

    try:
        thumb = raw.extract_thumb()
    except rawpy.LibRawError:  # none, an unsupported kind, or a broken one: develop instead
        return None
    if thumb.format != rawpy.ThumbFormat.JPEG:
        return None
    try:
        return _open_pillow(
            io.BytesIO(thumb.data),
            min_long_edge=min_long_edge,
            max_pixels=max_pixels,
            kind="raw-preview",
            orientation=orientation,
        )
    except ImageRejected:
        return None  # a damaged preview does not condemn the mosaic beside it


def _decode_raw(path: Path, *, min_long_edge: int, max_pixels: int) -> Decoded:
    """The embedded preview when it is large enough for every derivative, else the mosaic
    developed at half size. Either way upright by the RAW header's orientation: cameras store
    the preview as the sensor saw it, without an orientation of its own."""
    import rawpy  # heavy import, only for RAW

    try:
        raw = rawpy.imread(str(path))
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise ImageRejected("unreadable", f"The RAW file could not be read: {exc}") from exc
    with raw:
        sizes = raw.sizes
        _check_pixels(sizes.width, sizes.height, max_pixels)
        orientation = _RAW_FLIP_TO_ORIENTATION.get(sizes.flip, 1)
        upright = (sizes.height, sizes.width) if sizes.flip & 4 else (sizes.width, sizes.height)
        metadata = _raw_metadata(path)
        preview = _raw_preview(
            raw, min_long_edge=min_long_edge, max_pixels=max_pixels, orientation=orientation
        )
        if preview is not None:
            if not (metadata.captured_at or metadata.camera):
                metadata = _preview_metadata(preview.metadata)
            if max(preview.image.size) >= min(min_long_edge, max(upright)):
                return Decoded(preview.image, upright[0], upright[1], metadata, "raw-preview")
        # Half size unless that would leave the working image short of its edge (a small RAW).
        half = max(upright) // 2 >= min_long_edge
        try:
            # LibRaw applies the orientation itself.
            rgb = raw.postprocess(**(_DEVELOP | {"half_size": half}))
        except rawpy.LibRawIOError as exc:
            raise ImageRejected(
                "truncated", "The RAW file ends early: its sensor data could not be read."
            ) from exc
        except rawpy.LibRawError as exc:
            raise ImageRejected(
                "no_preview", f"The RAW file has no usable preview and cannot be developed: {exc}"
            ) from exc
    image = Image.fromarray(rgb)
    if max(image.size) >= 2 * min_long_edge:
        image = image.reduce(max(image.size) // min_long_edge)
    return Decoded(image, upright[0], upright[1], metadata, "raw-demosaic")


def decode(path: str | Path, *, filename: str, min_long_edge: int, max_pixels: int) -> Decoded:
    """Decode ``path`` once, at the smallest scale whose long edge is ≥ ``min_long_edge``.

    ``filename`` gives the declared type; magic bytes were checked at upload. Raises
    ImageRejected with a readable reason for anything hostile, broken or unsupported.
    """
    path = Path(path)
    ext = extension_of(filename)
    if path.stat().st_size == 0:
        raise ImageRejected("empty", "The file is empty.")
    if ext in RAW_EXTENSIONS:
        return _decode_raw(path, min_long_edge=min_long_edge, max_pixels=max_pixels)
    if FORMATS.get(ext, ("",))[0] == "heif":
        from pillow_heif import register_heif_opener

        register_heif_opener()
    family = FORMATS.get(ext, ("unknown",))[0]
    return _open_pillow(path, min_long_edge=min_long_edge, max_pixels=max_pixels, kind=family)


def decode_bytes(
    data: bytes,
    *,
    min_long_edge: int,
    max_pixels: int,
    families: frozenset[str] = frozenset({"jpeg", "png", "heif"}),
) -> Decoded:
    """``decode`` for an in-memory upload (a guest's selfie): the type comes from the magic
    bytes alone, limited to ``families``, and the file never touches the disk."""
    if not data:
        raise ImageRejected("empty", "The file is empty.")
    family = sniff(data[:MAGIC_BYTES_NEEDED])
    if family not in families:
        raise ImageRejected("unreadable", "The file is not a JPEG, PNG or HEIC image.")
    if family == "heif":
        from pillow_heif import register_heif_opener

        register_heif_opener()
    return _open_pillow(
        io.BytesIO(data), min_long_edge=min_long_edge, max_pixels=max_pixels, kind=family
    )


# --- Derivatives -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DerivativeSpec:
    name: str
    long_edge: int
    quality: int
    watermark: bool = False


@dataclass(frozen=True)
class Watermark:
    text: str = ""
    logo: bytes | None = None  # PNG with alpha
    position: str = "bottom-right"  # or top-left, top-right, bottom-left, center, tile
    opacity: float = 0.5  # 0..1
    scale: float = 0.2  # logo width / text width as a share of the image width


@dataclass(frozen=True)
class Derivative:
    name: str
    data: bytes
    width: int
    height: int
    content_type: str = "image/jpeg"


def _fit(size: tuple[int, int], long_edge: int) -> tuple[int, int]:
    width, height = size
    if max(width, height) <= long_edge:
        return width, height
    ratio = long_edge / max(width, height)
    return max(1, round(width * ratio)), max(1, round(height * ratio))


def _stamp(mark: Watermark, image_width: int) -> Image.Image:
    """The logo or text as an RGBA stamp at its final size, its alpha scaled by the opacity."""
    target_width = max(16, int(image_width * mark.scale))
    if mark.logo:
        stamp = Image.open(io.BytesIO(mark.logo)).convert("RGBA")
        ratio = target_width / stamp.width
        stamp = stamp.resize((target_width, max(1, round(stamp.height * ratio))))
    else:
        size = max(10, target_width // max(4, len(mark.text) // 2 or 1))
        font = ImageFont.load_default(size=size)
        probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
        left, top, right, bottom = probe.textbbox((0, 0), mark.text, font=font)
        stamp = Image.new("RGBA", (right - left + 4, bottom - top + 4), (0, 0, 0, 0))
        draw = ImageDraw.Draw(stamp)
        draw.text((2 - left + 1, 2 - top + 1), mark.text, font=font, fill=(0, 0, 0, 160))
        draw.text((2 - left, 2 - top), mark.text, font=font, fill=(255, 255, 255, 255))
    alpha = stamp.getchannel("A").point(lambda a: int(a * max(0.0, min(1.0, mark.opacity))))
    stamp.putalpha(alpha)
    return stamp


def apply_watermark(image: Image.Image, mark: Watermark) -> Image.Image:
    """``image`` with the studio's logo or text stamped on it (a new image).

    The stamp is pasted through its own alpha onto a copy of the RGB image: over an opaque
    photo that is exactly an alpha composite, without turning the whole frame into RGBA and
    back (which cost more than the resize itself on a 2048 px preview).
    """
    out = image.convert("RGB") if image.mode != "RGB" else image.copy()
    stamp = _stamp(mark, out.width)
    colour, alpha = stamp.convert("RGB"), stamp.getchannel("A")
    margin = max(8, out.width // 50)
    spots = {
        "top-left": (margin, margin),
        "top-right": (out.width - stamp.width - margin, margin),
        "bottom-left": (margin, out.height - stamp.height - margin),
        "bottom-right": (out.width - stamp.width - margin, out.height - stamp.height - margin),
        "center": ((out.width - stamp.width) // 2, (out.height - stamp.height) // 2),
    }
    if mark.position == "tile":
        for y in range(0, out.height, stamp.height * 3):
            for x in range((y // 3) % max(1, stamp.width), out.width, stamp.width * 2):
                out.paste(colour, (x, y), alpha)
    else:
        out.paste(colour, spots.get(mark.position, spots["bottom-right"]), alpha)
    return out


def render_derivatives(
    decoded: Decoded, specs: Iterable[DerivativeSpec], *, watermark: Watermark | None = None
) -> list[Derivative]:
    """Every derivative from the one decoded image, largest first, each resized from the last.

    Pillow writes no EXIF unless asked, so GPS and personal EXIF never reach a derivative; the
    original keeps them.
    """
    out: list[Derivative] = []
    current = decoded.image
    for spec in sorted(specs, key=lambda s: -s.long_edge):
        size = _fit(current.size, spec.long_edge)
        if size != current.size:
            # reducing_gap: a box reduce by an integer factor first when shrinking 4× or more
            # (the thumbnail from the preview), then bicubic; Pillow's thumbnail() default,
            # visually the same as a full bicubic and ~3× cheaper for that step.
            current = current.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)
        image = apply_watermark(current, watermark) if spec.watermark and watermark else current
        buffer = io.BytesIO()
        # optimize: Huffman tables fitted to the image, ~10% fewer bytes for every guest view
        # at ~4 ms per preview; baseline (not progressive) decodes fastest on phones.
        image.save(buffer, "JPEG", quality=spec.quality, optimize=True, progressive=False)
        out.append(Derivative(spec.name, buffer.getvalue(), image.width, image.height))
    return out
