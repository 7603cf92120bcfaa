"""Finding the photo files of a folder and hashing them (SHA-256, streamed once).

What counts as a photo is what the service accepts: RAW (CR2 CR3 NEF ARW RAF ORF RW2 DNG),
JPEG, HEIC/HEIF, PNG and TIFF, by extension, case-insensitive. Sidecars (.xmp, .thm, ...),
hidden files and anything under a hidden folder (.git, .Trashes, ._AppleDouble files) are
skipped without a word; other files are reported as ignored.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from picpick_upload.errors import Interrupted

# extension -> the canonical content type the service signs URLs for
CONTENT_TYPES: dict[str, str] = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "heic": "image/heic",
    "heif": "image/heif",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "dng": "image/x-adobe-dng",
    "cr2": "image/x-canon-cr2",
    "cr3": "image/x-canon-cr3",
    "nef": "image/x-nikon-nef",
    "arw": "image/x-sony-arw",
    "raf": "image/x-fuji-raf",
    "orf": "image/x-olympus-orf",
    "rw2": "image/x-panasonic-rw2",
}

# Files cameras and editors write next to photos: never uploaded, never reported.
SIDECARS = frozenset({"xmp", "thm", "pp3", "dop", "on1", "xml", "lrv", "aae", "cos", "ctg"})

HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FoundFile:
    path: Path  # absolute
    relpath: str  # relative to the pushed folder, '/'-separated
    size: int
    mtime_ns: int

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[extension(self.path.name)]


def extension(name: str) -> str:
    return name.rpartition(".")[2].lower() if "." in name else ""


def is_hidden(name: str) -> bool:
    return name.startswith(".")


def classify(name: str) -> str:
    """``photo``, ``skip`` (sidecar or hidden: silently) or ``ignored`` (reported)."""
    if is_hidden(name):
        return "skip"
    ext = extension(name)
    if ext in CONTENT_TYPES:
        return "photo"
    if ext in SIDECARS:
        return "skip"
    return "ignored"


def found_file(root: Path, path: Path) -> FoundFile | None:
    """The file as found now, or None if it vanished (or is not a regular file)."""
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not path.is_file():
        return None
    relpath = path.relative_to(root).as_posix()
    return FoundFile(path=path, relpath=relpath, size=st.st_size, mtime_ns=st.st_mtime_ns)


def scan(root: Path) -> tuple[list[FoundFile], list[str]]:
    """The photo files under ``root`` (recursive, sorted by path) and the ignored ones."""
    root = root.resolve()
    photos: list[FoundFile] = []
    ignored: list[str] = []
    for path in _walk(root):
        kind = classify(path.name)
        if kind == "photo":
            # Empty files are kept: the service refuses them with its own reason (empty_file).
            found = found_file(root, path)
            if found is not None:
                photos.append(found)
        elif kind == "ignored":
            ignored.append(path.relative_to(root).as_posix())
    photos.sort(key=lambda f: f.relpath)
    ignored.sort()
    return photos, ignored


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root, onerror=None, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not is_hidden(d))
        for filename in sorted(filenames):
            yield Path(dirpath) / filename


def in_hidden_dir(root: Path, path: Path) -> bool:
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return True
    return any(is_hidden(part) for part in parts[:-1])


class HashStopped(Interrupted):
    """Hashing was asked to stop (Ctrl-C) before the end of the file."""

    def __init__(self) -> None:
        super().__init__("interrupted", code="interrupted")


def sha256_file(path: Path, stop: threading.Event | None = None) -> str:
    """Base64 of the file's SHA-256 (what the API and S3's x-amz-checksum-sha256 take),
    read in 1 MiB chunks (a 2 GB TIFF stops at the next chunk on Ctrl-C)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            if stop is not None and stop.is_set():
                raise HashStopped()
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode("ascii")
