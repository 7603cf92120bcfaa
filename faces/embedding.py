"""Pure face work: an image in, faces out (boxes in original pixels, 128-d embeddings, quality).

No Django, no ORM. The media step hands over the working image it already decoded
(``galleries.imaging.Decoded``: upright RGB, ``scale`` working pixels per original pixel), so a
photo is decoded once. Boxes are returned in *original-image* coordinates.

Chosen by measurement (``bench/bench_faces.py``; 9 scenes of 24 MP, 66 faces of 40–600 px,
against the naive full-resolution HOG with one upsample, ~10 s a photo here):

- one HOG pass over the whole working image is either cheap and blind to small faces (800 px,
  no upsample: ~0.09 s, faces ≥ ~600 px only) or as slow as the baseline (3000 px, one
  upsample: ~2.9 s and still 11/21 of the 40–80 px faces); 40 px faces need the pyramid of
  the baseline itself;
- so a second pass looks only where a face can be: textured skin-coloured blobs of a 1000 px
  copy, each re-scanned by HOG on a small crop zoomed so the candidate is ~200 px. Both
  passes together find all 66 of the baseline's faces in ~0.3 s a photo (an upsampled first
  pass finds nothing more and costs 0.2 s more; crops zoomed to 160–180 px or cut tighter
  lose 1–8 small faces);
- encoding: dlib's ResNet through numpy's BLAS (``faces/resnet.py``, the same weights and
  output), ~16 ms a face batched, instead of ~90+ ms in the prebuilt dlib (built without
  BLAS); 5-point landmarks (the 68-point model costs the same and aligns the same chip).

What it misses: faces the second pass has no cue for, in its size range (about 30–300 px in
a 24 MP original): faces in deep shadow or under strong colour casts, and some in black-and-
white photos (there, texture alone proposes: 56/66 on the grey-scale copies of the set, all of
those > 300 px and 80–150 px, 15/21 of 40–80 px). ``FaceConfig(small_faces=False)`` with a larger
``detect_long_edge`` trades speed for not depending on these cues.
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
    # First pass (every face the HOG window sees at this size): the working image downscaled
    # to ``detect_long_edge``, upsampled ``upsample`` times.
    upsample: int = 0
    detect_long_edge: int = 800
    # Landmark model for alignment before encoding: "small" (5 points) or "large" (68).
    landmarks: str = "small"
    jitters: int = 1
    # "numpy": dlib's network run through numpy's BLAS (faces/resnet.py, ~16 ms a face);
    # "dlib": dlib's own (~90+ ms a face with the prebuilt wheel, which has no BLAS).
    encoder: str = "numpy"
    # Second pass for faces too small for the first: skin-coloured blobs of a low-resolution
    # copy are proposed as candidates, and only those regions are re-scanned by HOG at the
    # resolution that makes the candidate face ~``small_target`` px high.
    small_faces: bool = True
    proposal_long_edge: int = 1000
    # Local luma gradient (×8, box-blurred) a skin pixel needs to count as part of a face.
    min_texture: int = 40
    small_target: int = 200
    max_proposals: int = 80
    # Largest blob looked at, in multiples of the smallest face the first pass finds: a
    # blob is a face plus some skin around it, and the first pass misses some faces near
    # its limit.
    blob_reach: float = 1.8
    # Crop side around a blob, in blob sizes; the blob is skin (face, neck, ears).
    crop_factor: float = 1.4
    # Mean |Cr-128| + |Cb-128| below which a photo counts as black and white.
    grey_chroma: float = 4.0
    # Share of the blob's bounding box that must be skin: drops grain and thin edges.
    min_fill: float = 0.25


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


def _models(config: FaceConfig):
    """The landmark predictor and the encoder for ``config`` (loaded once per process)."""
    import dlib
    import face_recognition_models as frm

    if config.landmarks not in ("small", "large"):
        raise ValueError(f"unknown landmark model {config.landmarks!r}")
    if config.encoder not in ("numpy", "dlib"):
        raise ValueError(f"unknown encoder {config.encoder!r}")
    if config.landmarks not in _PREDICTORS:
        path = (
            frm.pose_predictor_five_point_model_location()
            if config.landmarks == "small"
            else frm.pose_predictor_model_location()
        )
        _PREDICTORS[config.landmarks] = dlib.shape_predictor(path)
    if config.encoder not in _ENCODERS:
        weights = frm.face_recognition_model_location()
        if config.encoder == "numpy":
            from faces.resnet import FaceEncoder

            _ENCODERS["numpy"] = FaceEncoder(weights)
        else:
            _ENCODERS["dlib"] = dlib.face_recognition_model_v1(weights)
    return _PREDICTORS[config.landmarks], _ENCODERS[config.encoder]


_PREDICTORS: dict = {}
_ENCODERS: dict = {}


def _found(array: np.ndarray, rects, scores, scale: float, config: FaceConfig) -> list[FoundFace]:
    """Encode each box of ``array`` (working pixels) into a FoundFace in original pixels.

    Landmarks and the aligned chip come from a crop around the face (handing dlib the whole
    working image converts all of it once per face); the chips of a photo are then encoded
    in one batch.
    """
    import dlib

    from faces.resnet import CHIP_PADDING, CHIP_SIZE

    predictor, encoder = _models(config)
    height, width = array.shape[:2]
    kept: list[tuple[tuple[int, int, int, int], float, float]] = []
    chips: list[np.ndarray] = []
    for rect, score in zip(rects, scores, strict=True):
        left, top = max(0, rect.left()), max(0, rect.top())
        right, bottom = min(width, rect.right()), min(height, rect.bottom())
        if right <= left or bottom <= top:
            continue
        margin = max(right - left, bottom - top) // 2 + 2
        x0, y0 = max(0, left - margin), max(0, top - margin)
        x1, y1 = min(width, right + margin), min(height, bottom + margin)
        crop = np.ascontiguousarray(array[y0:y1, x0:x1])
        local = dlib.rectangle(
            rect.left() - x0, rect.top() - y0, rect.right() - x0, rect.bottom() - y0
        )
        shape = predictor(crop, local)
        chips.append(dlib.get_face_chip(crop, shape, CHIP_SIZE, CHIP_PADDING))
        gray = crop[top - y0 : bottom - y0, left - x0 : right - x0].mean(axis=2, dtype=np.float32)
        kept.append(((left, top, right, bottom), float(score), _sharpness(gray)))
    if not chips:
        return []
    if config.encoder == "numpy" and config.jitters <= 1:
        embeddings = encoder.encode(np.stack(chips))
    else:
        # dlib's own encoder: the reference, and the only one that jitters.
        embeddings = np.array(
            [encoder.compute_face_descriptor(chip, config.jitters) for chip in chips],
            dtype=np.float32,
        )
    return [
        FoundFace(
            box=(
                round(left / scale),
                round(top / scale),
                round(right / scale),
                round(bottom / scale),
            ),
            embedding=embedding,
            score=score,
            size=round((bottom - top) / scale),
            sharpness=sharpness,
        )
        for ((left, top, right, bottom), score, sharpness), embedding in zip(
            kept, embeddings, strict=True
        )
    ]


def _resized(image: Image.Image, long_edge: int) -> tuple[Image.Image, float]:
    """``image`` downscaled to at most ``long_edge``, and the ratio applied."""
    current = max(image.size)
    if current <= long_edge:
        return image, 1.0
    ratio = long_edge / current
    size = (max(1, round(image.width * ratio)), max(1, round(image.height * ratio)))
    # reducing_gap: an integer box reduction first, then the filter on a small image —
    # ~4× faster from a 3000 px working image, the same quality for detection.
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0), ratio


Box = tuple[float, float, float, float]  # left, top, right, bottom in working pixels


def _overlaps(box: Box, boxes: list[Box], threshold: float = 0.3) -> bool:
    for other in boxes:
        left, top = max(box[0], other[0]), max(box[1], other[1])
        right, bottom = min(box[2], other[2]), min(box[3], other[3])
        inter = max(0.0, right - left) * max(0.0, bottom - top)
        smaller = min(
            (box[2] - box[0]) * (box[3] - box[1]), (other[2] - other[0]) * (other[3] - other[1])
        )
        if smaller > 0 and inter / smaller > threshold:
            return True
    return False


def _skin_blobs(image: Image.Image, config: FaceConfig) -> list[tuple[Box, float]]:
    """Bounding boxes (working pixels) of textured skin-coloured blobs, and their skin share.

    Skin colour alone is a poor cue (wood, sand, warm bokeh share the Cr/Cb range of skin, the
    classic range that holds across skin tones because it ignores luma); a face also has
    edges (eyes, mouth, hairline). So: skin colour AND local luma gradient, dilated to join a
    face's fragments, labelled with dlib. ~50 ms on a 3000 px working image.
    """
    import dlib
    from PIL import ImageFilter

    small, ratio = _resized(image, config.proposal_long_edge)
    ycc = np.asarray(small.convert("YCbCr")).astype(np.int16)
    luma, cb, cr = ycc[..., 0], ycc[..., 1], ycc[..., 2]
    grad = np.zeros(luma.shape, dtype=np.int16)
    grad[:, 1:] = np.abs(luma[:, 1:] - luma[:, :-1])
    grad[1:, :] = np.maximum(grad[1:, :], np.abs(luma[1:, :] - luma[:-1, :]))
    texture = Image.fromarray(np.clip(grad * 8, 0, 255).astype(np.uint8))
    textured = np.asarray(texture.filter(ImageFilter.BoxBlur(2))) > config.min_texture
    if np.abs(cr - 128).mean() + np.abs(cb - 128).mean() < config.grey_chroma:
        # A black-and-white photo has no skin colour to go by: texture alone proposes.
        skin = np.ones(luma.shape, dtype=bool)
    else:
        skin = (cr >= 135) & (cr <= 180) & (cb >= 80) & (cb <= 130)
    # A 5×5 dilation as a box blur > 0: the same mask, ~10× cheaper than a MaxFilter.
    joined = Image.fromarray((skin & textured).astype(np.uint8) * 255).filter(
        ImageFilter.BoxBlur(2)
    )
    mask = (np.asarray(joined) > 0).astype(np.uint8)
    labels, count = dlib.label_connected_blobs(
        mask, zero_pixels_are_background=True, neighborhood_connectivity=8
    )
    labels = np.asarray(labels)
    if count <= 1:
        return []
    ys, xs = np.nonzero(labels)
    ids = labels[ys, xs]
    top = np.full(count, 1 << 30)
    left = np.full(count, 1 << 30)
    bottom = np.zeros(count, dtype=np.int64)
    right = np.zeros(count, dtype=np.int64)
    np.minimum.at(top, ids, ys)
    np.minimum.at(left, ids, xs)
    np.maximum.at(bottom, ids, ys + 1)
    np.maximum.at(right, ids, xs + 1)
    pixels = np.bincount(ids, minlength=count)
    fill = pixels / np.maximum(1, (bottom - top) * (right - left))
    return [
        (
            (left[i] / ratio, top[i] / ratio, right[i] / ratio, bottom[i] / ratio),
            float(fill[i]),
        )
        for i in range(1, count)
        if pixels[i] > 0
    ]


def _small_pass(
    image: Image.Image, found: list[Box], scale: float, config: FaceConfig
) -> tuple[list[Box], list[float]]:
    """HOG on crops around skin blobs that may hold a face smaller than the first pass sees."""
    # Blob heights worth a look, in working pixels: from ~30 px faces in the original up to
    # the smallest the first pass reliably finds (the HOG window is 80 px at detection size).
    first_pass_min = 80 / (2**config.upsample) * max(image.size) / config.detect_long_edge
    low, high = 24 * scale, config.blob_reach * first_pass_min
    blobs = [
        (box, fill)
        for box, fill in _skin_blobs(image, config)
        if low <= box[3] - box[1] <= high
        and box[2] - box[0] <= 1.5 * high
        and fill >= config.min_fill
        and not _overlaps(box, found)
    ]
    blobs.sort(key=lambda item: -item[1])  # solid blobs first: faces are
    boxes: list[Box] = []
    scores: list[float] = []
    scanned: list[tuple[Box, float]] = []  # crops already searched, with their zoom
    detector = _hog()
    for (left, top, right, bottom), _ in blobs[: config.max_proposals]:
        if _overlaps((left, top, right, bottom), boxes):
            continue
        side = max(right - left, bottom - top)
        zoom = config.small_target / side
        # A fragment of someone already searched (shirt, hand, ear) inside an earlier crop
        # scanned at least as finely costs nothing more.
        if any(
            c[0] <= left and c[1] <= top and c[2] >= right and c[3] >= bottom and z >= zoom * 0.8
            for c, z in scanned
        ):
            continue
        cx, cy = (left + right) / 2, (top + bottom) / 2
        half = config.crop_factor / 2 * side
        crop = (
            max(0, round(cx - half)),
            max(0, round(cy - half)),
            min(image.width, round(cx + half)),
            min(image.height, round(cy + half)),
        )
        scanned.append((crop, zoom))
        region = image.crop(crop)
        size = (max(1, round(region.width * zoom)), max(1, round(region.height * zoom)))
        region = region.resize(size, Image.Resampling.BILINEAR)
        rects, rect_scores, _ = detector.run(np.asarray(region), 0, 0.0)
        for rect, score in zip(rects, rect_scores, strict=True):
            box = (
                crop[0] + rect.left() / zoom,
                crop[1] + rect.top() / zoom,
                crop[0] + rect.right() / zoom,
                crop[1] + rect.bottom() / zoom,
            )
            if not _overlaps(box, found) and not _overlaps(box, boxes):
                boxes.append(box)
                scores.append(float(score))
    return boxes, scores


def detect(
    image: Image.Image, *, scale: float = 1.0, config: FaceConfig = DEFAULT_CONFIG
) -> tuple[list[Box], list[float]]:
    """Face boxes in ``image``'s (working) pixels and their detector scores."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    coarse, ratio = _resized(image, config.detect_long_edge)
    rects, rect_scores, _ = _hog().run(np.asarray(coarse), config.upsample, 0.0)
    boxes: list[Box] = [
        (r.left() / ratio, r.top() / ratio, r.right() / ratio, r.bottom() / ratio) for r in rects
    ]
    scores = [float(s) for s in rect_scores]
    if config.small_faces:
        more, more_scores = _small_pass(image, boxes, scale, config)
        boxes += more
        scores += more_scores
    return boxes, scores


def find_faces(
    image: Image.Image, *, scale: float = 1.0, config: FaceConfig = DEFAULT_CONFIG
) -> list[FoundFace]:
    """Every face in ``image`` (a working image at ``scale`` px per original px).

    Detection runs at reduced size (see ``FaceConfig``); encoding runs on the working image
    itself, the sharpest copy there is, so small faces get the best embedding available.
    """
    if image.mode != "RGB":
        image = image.convert("RGB")
    boxes, scores = detect(image, scale=scale, config=config)
    return encode_boxes(image, boxes=boxes, scores=scores, scale=scale, config=config)


def encode_boxes(
    image: Image.Image,
    *,
    boxes: list[Box],
    scores: list[float],
    scale: float = 1.0,
    config: FaceConfig = DEFAULT_CONFIG,
) -> list[FoundFace]:
    """Encode ``boxes`` as ``detect`` returned them (working pixels), in original pixels.

    Lets a caller that needs only some of the detected faces (the selfie: its largest) skip
    the encoder, the expensive part, for the others.
    """
    import dlib

    if image.mode != "RGB":
        image = image.convert("RGB")
    rects = [
        dlib.rectangle(round(left), round(top), round(right), round(bottom))
        for left, top, right, bottom in boxes
    ]
    return _found(np.asarray(image), rects, scores, scale, config)


def encode_box(
    image: Image.Image,
    *,
    scale: float,
    box: tuple[int, int, int, int],
    config: FaceConfig = DEFAULT_CONFIG,
) -> FoundFace:
    """The face inside ``box`` (original pixels) drawn by hand: no detection, just encoding."""
    import dlib

    if image.mode != "RGB":
        image = image.convert("RGB")
    left, top, right, bottom = (round(v * scale) for v in box)
    rect = dlib.rectangle(left, top, right, bottom)
    found = _found(np.asarray(image), [rect], [0.0], scale, config)
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
