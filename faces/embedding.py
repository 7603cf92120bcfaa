"""Pure face work: an image in, faces out (boxes in original pixels, 128-d embeddings, quality).

No Django, no ORM. The media step hands over the working image it already decoded
(``galleries.imaging.Decoded``: upright RGB, ``scale`` working pixels per original pixel), so a
photo is decoded once. Boxes are returned in *original-image* coordinates.

The detector settings here are a first, safe choice (HOG on the working image with one
upsample); they are to be tuned by measurement against the naive full-resolution baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

EMBEDDING_DIM = 128
# face_recognition's documented operating point: same person below ~0.6 Euclidean distance.
MATCH_DISTANCE = 0.6


@dataclass(frozen=True)
class FaceConfig:
    upsample: int = 1
    # Detection runs on the working image downscaled to at most this long edge.
    detect_long_edge: int = 2048
    # Landmark model for alignment before encoding: "small" (5 points) or "large" (68).
    landmarks: str = "small"
    jitters: int = 1


DEFAULT_CONFIG = FaceConfig()


@dataclass(frozen=True)
class FoundFace:
    box: tuple[int, int, int, int]  # left, top, right, bottom in original-image pixels
    embedding: np.ndarray  # (128,) float32
    score: float  # detector confidence (HOG margin)
    size: int  # face height in original pixels
    sharpness: float  # variance of the Laplacian of the face crop; low = blurred


def to_bytes(vector: np.ndarray) -> bytes:
    """512 raw bytes (float32, little-endian)."""
    return np.asarray(vector, dtype="<f4").reshape(EMBEDDING_DIM).tobytes()


def from_bytes(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype="<f4", count=EMBEDDING_DIM)


def matrix_from_bytes(raws: list[bytes]) -> np.ndarray:
    """(N, 128) float32 from N embeddings, in one allocation."""
    if not raws:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    return np.frombuffer(b"".join(raws), dtype="<f4").reshape(len(raws), EMBEDDING_DIM)


def _sharpness(gray: np.ndarray) -> float:
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        return 0.0
    lap = (
        -4 * gray[1:-1, 1:-1] + gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:]
    )
    return float(lap.var())


def _prepare(image: Image.Image, scale: float, config: FaceConfig) -> tuple[np.ndarray, float]:
    """The RGB array detection runs on, and its pixels per original pixel."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    long_edge = max(image.size)
    if long_edge > config.detect_long_edge:
        ratio = config.detect_long_edge / long_edge
        size = (max(1, round(image.width * ratio)), max(1, round(image.height * ratio)))
        image = image.resize(size, Image.Resampling.BILINEAR)
        scale *= ratio
    return np.asarray(image), scale


def _found(array: np.ndarray, rects, scores, scale: float, config: FaceConfig) -> list[FoundFace]:
    import face_recognition

    locations = [(r.top(), r.right(), r.bottom(), r.left()) for r in rects]
    encodings = face_recognition.face_encodings(
        array,
        known_face_locations=locations,
        num_jitters=config.jitters,
        model=config.landmarks,
    )
    gray = array.mean(axis=2, dtype=np.float32)
    height, width = gray.shape
    out: list[FoundFace] = []
    for rect, score, encoding in zip(rects, scores, encodings, strict=True):
        left, top = max(0, rect.left()), max(0, rect.top())
        right, bottom = min(width, rect.right()), min(height, rect.bottom())
        if right <= left or bottom <= top:
            continue
        out.append(
            FoundFace(
                box=(
                    round(left / scale),
                    round(top / scale),
                    round(right / scale),
                    round(bottom / scale),
                ),
                embedding=np.asarray(encoding, dtype=np.float32),
                score=float(score),
                size=round((bottom - top) / scale),
                sharpness=_sharpness(gray[top:bottom, left:right]),
            )
        )
    return out


def find_faces(
    image: Image.Image, *, scale: float = 1.0, config: FaceConfig = DEFAULT_CONFIG
) -> list[FoundFace]:
    """Every face in ``image`` (a working image at ``scale`` px per original px)."""
    array, det_scale = _prepare(image, scale, config)
    rects, scores, _ = _hog().run(array, config.upsample, 0.0)
    return _found(array, list(rects), list(scores), det_scale, config)


def encode_box(
    image: Image.Image,
    *,
    scale: float,
    box: tuple[int, int, int, int],
    config: FaceConfig = DEFAULT_CONFIG,
) -> FoundFace:
    """The face inside ``box`` (original pixels) drawn by hand: no detection, just encoding."""
    import dlib

    array, det_scale = _prepare(image, scale, config)
    left, top, right, bottom = (round(v * det_scale) for v in box)
    rect = dlib.rectangle(left, top, right, bottom)
    found = _found(array, [rect], [0.0], det_scale, config)
    if not found:
        raise ValueError("the box is outside the image")
    return found[0]


def largest_face(faces: list[FoundFace]) -> FoundFace | None:
    return max(faces, key=lambda face: face.size, default=None)


_DETECTOR = None


def _hog():
    global _DETECTOR
    if _DETECTOR is None:
        import dlib

        _DETECTOR = dlib.get_frontal_face_detector()
    return _DETECTOR
