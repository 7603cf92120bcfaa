"""Pure face work: an image in, faces out (boxes in original pixels, 128-d embeddings, quality).

No Django, no ORM. The media step hands over the working image it already decoded
(``galleries.imaging.Decoded``: upright RGB, ``scale`` working pixels per original pixel), so a
photo is decoded once. Boxes are returned in *original-image* coordinates.

Chosen by measurement (``bench/bench_faces.py``; 24 MP scenes against the naive full-resolution
HOG with one upsample, ~10 s a photo here: 9 typical scenes with 66 faces of 40–600 px, and 6
hard ones -- busy skin-coloured rooms, tungsten cast, underexposed, black and white, a crowd):

- one HOG pass over the whole working image is either cheap and blind to small faces (800 px,
  no upsample: ~0.04 s, faces ≥ ~600 px only) or as slow as the baseline (3000 px, one
  upsample: ~2.2 s and still only 56/66); 40 px faces need the pyramid of the baseline
  itself;
- so a second pass looks only where a face can be: textured skin-coloured blobs of a ~1000 px
  box-reduced copy, each re-scanned by HOG on a small crop zoomed so the candidate is ~200 px.
  Both passes find all 66 of the typical scenes' faces in ~0.17 s a photo (an upsampled
  first pass finds nothing more and costs 0.1 s more; crops zoomed to 160–180 px or cut tighter
  lose 1–8 small faces; blobs under 48 px can't hold a 40 px face and are skipped);
- the first pass reads 1024 px rather than 800: the selfie search is this first pass alone
  (``faces.services.search``), and at 800 px faces of 78-100 px per 1024 px of photo were
  left to the blob pass, which misses some looking down or tilted (3 of the 90 faces the
  selfie path found in 30 such scenes; none at 1024). Measured (CPU time, best of 3): 0.15 ->
  0.18 s detection per typical scene, 0.82 -> 0.87 s per hard one, recall unchanged (66/66,
  46/48, no false positives);
- skin-coloured texture that joins into regions too large to be one face (a wooden hall,
  warm light, bare arms) would hide every face inside it from the blob pass (22/48 of the
  hard scenes' faces). There a Haar cascade (OpenCV's, colour-blind, a 20 px window)
  proposes and HOG confirms on a ~190 px crop: 46/48 in ~1 s a photo, none added where a
  large region is just a found face's own skin. The cascade costs ~0.3 s a megapixel in
  clutter, so a photo busy all over is read at most at 4 MP (``busy_max_pixels``): faces
  under ~50 px there can be missed (1.5 MP: 33/48 in ~0.5 s; 3 MP: 42/48 in ~0.8 s; 6 MP:
  45/48 in ~1.3 s);
- encoding: dlib's ResNet through numpy's BLAS (``faces/resnet.py``, the same weights and
  output), ~9 ms a face for the network and ~14 ms with landmarks and alignment, batched,
  instead of ~90+ ms in the prebuilt dlib (built without BLAS); 5-point landmarks (the
  68-point model costs the same and aligns the same chip).

What it still misses: faces without a skin cue outside busy regions in their size range (deep
shadow; black and white, where texture alone proposes: 60/66 on grey copies of the typical
scenes, the losses all 40–80 px) and small faces in photos busy all over (above).
``FaceConfig(small_faces=False)`` with a larger ``detect_long_edge`` trades speed for not
depending on these cues.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

EMBEDDING_DIM = 128
# face_recognition's documented operating point: same person below ~0.6 Euclidean distance.
MATCH_DISTANCE = 0.6


@dataclass(frozen=True)
class FaceConfig:
    # First pass (every face the HOG window sees at this size): the working image downscaled
    # to ``detect_long_edge``, upsampled ``upsample`` times. 1024, the selfie search's size:
    # the selfie path is this first pass alone, and at 800 the gallery left faces it found
    # (78-100 px of a 1024 px photo, looking down or tilted) to the skin-blob pass, which
    # missed some (see the module docstring).
    upsample: int = 0
    detect_long_edge: int = 1024
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
    # Smallest skin blob looked at, in original pixels (a face's skin reaches past its box).
    min_blob: int = 48
    # Skin-coloured regions too large to be a face are searched by a Haar cascade (OpenCV)
    # down to ``min_face`` original pixels, each proposal confirmed by HOG; the cascade reads
    # at most ``busy_max_pixels`` (coarser beyond: its cost is per pixel). When such regions
    # cover more than ``busy_share`` of the photo, it reads the whole photo and the blobs
    # (clutter, mostly) are skipped.
    cascade: bool = True
    min_face: int = 40
    busy_max_pixels: int = 4_000_000
    busy_share: float = 0.25
    # Crops HOG confirms at most, per kind of proposal (skin blobs, cascade): a bound on
    # what a pathological photo costs.
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


def _found(image: Image.Image, rects, scores, scale: float, config: FaceConfig) -> list[FoundFace]:
    """Encode each box of ``image`` (working pixels) into a FoundFace in original pixels.

    Landmarks and the aligned chip come from a crop around the face (handing dlib the whole
    working image converts all of it once per face, and even a numpy view of it costs a copy
    of 18 MB); the chips of a photo are then encoded in one batch.
    """
    import dlib

    from faces.resnet import CHIP_PADDING, CHIP_SIZE

    predictor, encoder = _models(config)
    width, height = image.size
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
        crop = np.asarray(image.crop((x0, y0, x1, y1)))
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


def _reduced(image: Image.Image, long_edge: int) -> tuple[Image.Image, float]:
    """``image`` shrunk by the whole factor that brings it nearest ``long_edge``, and the ratio.

    A box reduction (each output pixel the mean of k×k input pixels): ~5× cheaper than a
    filtered resize of the working image, and the low-pass a detector wants.
    """
    factor = max(1, round(max(image.size) / long_edge))
    if factor == 1:
        return image, 1.0
    small = image.reduce(factor)
    return small, small.width / image.width


def _skin_blobs(small: Image.Image, ratio: float, config: FaceConfig) -> list[tuple[Box, float]]:
    """Bounding boxes (working pixels) of textured skin-coloured blobs, and their skin share.

    Skin colour alone is a poor cue (wood, sand, warm bokeh share the Cr/Cb range of skin, the
    classic range that holds across skin tones because it ignores luma); a face also has
    edges (eyes, mouth, hairline). So: skin colour AND local luma gradient, dilated to join a
    face's fragments, labelled with dlib. ~50 ms on a 3000 px working image.
    """
    import dlib
    from PIL import ImageFilter

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
    image: Image.Image,
    reduced: tuple[Image.Image, float],
    found: list[Box],
    first_pass_min: float,
    scale: float,
    config: FaceConfig,
) -> tuple[list[Box], list[float]]:
    """HOG on crops around skin blobs that may hold a face smaller than the first pass sees."""
    # Blob heights worth a look, in working pixels: from the smallest face looked for up to
    # the smallest the first pass reliably finds.
    low, high = config.min_blob * scale, config.blob_reach * first_pass_min
    blobs = []
    dense: list[Box] = []
    for box, fill in _skin_blobs(*reduced, config):
        if box[3] - box[1] < low:
            continue
        if box[3] - box[1] <= high and box[2] - box[0] <= 1.5 * high:
            if fill >= config.min_fill and not _overlaps(box, found):
                blobs.append((box, fill))
        elif not _explained(box, found):
            # Skin-coloured texture too large to be one face (a wooden hall, warm light,
            # bare arms joined to a face): the cascade looks inside instead.
            dense.append(box)
    blobs.sort(key=lambda item: -item[1])  # solid blobs first: faces are
    dense = _merged(dense)
    dense_area = sum((r[2] - r[0]) * (r[3] - r[1]) for r in dense)
    if config.cascade and dense_area > config.busy_share * image.width * image.height:
        # A busy skin-coloured scene: blobs there are mostly clutter, and the cascade pass
        # looks at the whole photo anyway.
        blobs, dense = [], [(0.0, 0.0, float(image.width), float(image.height))]
    boxes: list[Box] = []
    scores: list[float] = []
    scanned: list[tuple[Box, float]] = []  # crops already searched, with their zoom
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
        for box, score in _hog_in_crop(image, crop, zoom):
            if not _overlaps(box, found) and not _overlaps(box, boxes):
                boxes.append(box)
                scores.append(score)
    if dense and config.cascade:
        more, more_scores = _dense_pass(
            image,
            dense,
            found + boxes,
            min_face=config.min_face * scale,
            max_face=high,
            max_pixels=config.busy_max_pixels,
            max_proposals=config.max_proposals,
        )
        boxes += more
        scores += more_scores
    return boxes, scores


def _dense_pass(
    image: Image.Image,
    regions: list[Box],
    found: list[Box],
    *,
    min_face: float,
    max_face: float,
    max_pixels: int,
    max_proposals: int,
) -> tuple[list[Box], list[float]]:
    """Faces inside skin-coloured ``regions`` (disjoint) too large for the blob proposals.

    A Haar cascade (OpenCV's ``frontalface_alt2``, a 20 px window) proposes -- cheap per
    pixel, and blind to colour -- and HOG confirms each proposal on a crop zoomed so the face
    is ~100 px, so precision stays HOG's. The cascade reads the regions at the resolution that
    makes ``min_face`` 20 px, or lower when that would exceed ``max_pixels`` (its cost is
    ~0.3 s per megapixel in clutter): there, the smallest face found grows accordingly.
    """
    area = sum((r[2] - r[0]) * (r[3] - r[1]) for r in regions)
    zoom = min(1.0, 20 / max(1.0, min_face))
    if area * zoom * zoom > max_pixels:
        zoom = (max_pixels / area) ** 0.5
    gray_image = image.convert("L")
    if zoom < 1.0:
        size = (max(1, round(image.width * zoom)), max(1, round(image.height * zoom)))
        gray_image = gray_image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
        zoom = gray_image.width / image.width
    gray = np.asarray(gray_image)
    cascade = _cascade()
    boxes: list[Box] = []
    scores: list[float] = []
    largest = max(21, round(max_face * zoom))
    proposals: list[tuple[float, Box]] = []
    for left, top, right, bottom in regions:
        x0, y0 = max(0, int(left * zoom)), max(0, int(top * zoom))
        region = gray[y0 : int(bottom * zoom) + 1, x0 : int(right * zoom) + 1]
        if min(region.shape) < 20:
            continue
        rects, _levels, weights = cascade.detectMultiScale3(
            region,
            scaleFactor=1.2,
            minNeighbors=2,
            minSize=(20, 20),
            maxSize=(largest, largest),
            outputRejectLevels=True,
        )
        for (x, y, w, h), weight in zip(rects, weights, strict=True):
            box = ((x0 + x) / zoom, (y0 + y) / zoom, (x0 + x + w) / zoom, (y0 + y + h) / zoom)
            proposals.append((float(weight), box))
    # The most face-like first, and a bound on the confirmations a pathological photo costs.
    proposals.sort(key=lambda item: -item[0])
    for _, box in proposals[:max_proposals]:
        side = box[2] - box[0]
        if _overlaps(box, found) or _overlaps(box, boxes):
            continue
        # The HOG box of a face is ~0.8 of the cascade's: at 120 / side it is ~96 px.
        crop_zoom = 120 / side
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        crop = (
            max(0, round(cx - 0.8 * side)),
            max(0, round(cy - 0.8 * side)),
            min(image.width, round(cx + 0.8 * side)),
            min(image.height, round(cy + 0.8 * side)),
        )
        for face, score in _hog_in_crop(image, crop, crop_zoom):
            if not _overlaps(face, found) and not _overlaps(face, boxes):
                boxes.append(face)
                scores.append(score)
    return boxes, scores


def _explained(region: Box, faces: list[Box], reach: float = 3.0) -> bool:
    """Whether ``region`` is a found face's own skin: the face inside it, and the region no
    more than ``reach`` faces high and wide (face, neck, ears, a warm wall behind the head)."""
    for left, top, right, bottom in faces:
        inside = (
            region[0] <= left and region[1] <= top and region[2] >= right and region[3] >= bottom
        )
        if (
            inside
            and region[3] - region[1] <= reach * (bottom - top)
            and region[2] - region[0] <= reach * (right - left)
        ):
            return True
    return False


def _merged(regions: list[Box]) -> list[Box]:
    """Overlapping regions joined into their bounding boxes (so no pixel is scanned twice)."""
    merged = list(regions)
    changed = True
    while changed:
        changed = False
        for i, a in enumerate(merged):
            for j in range(i + 1, len(merged)):
                b = merged[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    merged[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    del merged[j]
                    changed = True
                    break
            if changed:
                break
    return merged


def _hog_in_crop(image: Image.Image, crop: tuple[int, int, int, int], zoom: float):
    """HOG on ``crop`` of ``image`` resized by ``zoom``: (box in image pixels, score) pairs."""
    region = image.crop(crop)
    size = (max(1, round(region.width * zoom)), max(1, round(region.height * zoom)))
    region = region.resize(size, Image.Resampling.BILINEAR)
    rects, scores, _ = _hog().run(np.asarray(region), 0, 0.0)
    return [
        (
            (
                crop[0] + rect.left() / zoom,
                crop[1] + rect.top() / zoom,
                crop[0] + rect.right() / zoom,
                crop[1] + rect.bottom() / zoom,
            ),
            float(score),
        )
        for rect, score in zip(rects, scores, strict=True)
    ]


def detect(
    image: Image.Image, *, scale: float = 1.0, config: FaceConfig = DEFAULT_CONFIG
) -> tuple[list[Box], list[float]]:
    """Face boxes in ``image``'s (working) pixels and their detector scores."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    # One box-reduced copy (~1000 px) feeds both passes: the skin proposals read it, and the
    # first pass's copy, when smaller, is resized from it rather than from the working image.
    reduced = _reduced(image, config.proposal_long_edge) if config.small_faces else None
    if reduced is not None and max(reduced[0].size) >= config.detect_long_edge:
        coarse, coarse_ratio = _resized(reduced[0], config.detect_long_edge)
        ratio = reduced[1] * coarse_ratio
    else:
        coarse, ratio = _resized(image, config.detect_long_edge)
    rects, rect_scores, _ = _hog().run(np.asarray(coarse), config.upsample, 0.0)
    boxes: list[Box] = [
        (r.left() / ratio, r.top() / ratio, r.right() / ratio, r.bottom() / ratio) for r in rects
    ]
    scores = [float(s) for s in rect_scores]
    if reduced is not None:
        # The HOG window is 80 px: the smallest face the first pass finds, in working pixels.
        first_pass_min = 80 / (2**config.upsample) / ratio
        more, more_scores = _small_pass(image, reduced, boxes, first_pass_min, scale, config)
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
    return _found(image, rects, scores, scale, config)


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
    found = _found(image, [rect], [0.0], scale, config)
    if not found:
        raise ValueError("the box is outside the image")
    return found[0]


def largest_face(faces: list[FoundFace]) -> FoundFace | None:
    return max(faces, key=lambda face: face.size, default=None)


_DETECTOR = None
_CASCADE = None


def _cascade():
    global _CASCADE
    if _CASCADE is None:
        import cv2

        cv2.setNumThreads(1)  # processes are the unit of parallelism
        _CASCADE = cv2.CascadeClassifier(
            str(Path(cv2.data.haarcascades) / "haarcascade_frontalface_alt2.xml")
        )
    return _CASCADE


def _hog():
    global _DETECTOR
    if _DETECTOR is None:
        import dlib

        _DETECTOR = dlib.get_frontal_face_detector()
    return _DETECTOR
