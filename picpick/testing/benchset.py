"""The grouping benchmark set: real embeddings of the shared face photos, as an event varies them.

What really varies between two photos of the same guest at an event is the face's size in the
frame and the JPEG it went through, so every source face is cut out at several face heights
(40–300 px), re-encoded as JPEG and run through ``faces.embedding.find_faces``. Faces the
detector misses at a size are simply absent (detection recall is measured elsewhere). Pure: no
Django; the result is cached in a JSON file under ``var/cache`` so it is computed once.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from picpick.testing.scenes import REPO, _cutout, source_faces

FACE_HEIGHTS = (40, 60, 90, 140, 220, 300)
JPEG_QUALITY = 80
CACHE_DIR = REPO / "var" / "cache"


def _cache_path() -> Path:
    """Keyed by what the embeddings depend on: the detector settings, sizes and sources."""
    from faces.embedding import DEFAULT_CONFIG

    key = hashlib.sha256(
        repr((DEFAULT_CONFIG, FACE_HEIGHTS, JPEG_QUALITY, source_faces())).encode()
    ).hexdigest()[:12]
    return CACHE_DIR / f"face_bench_embeddings_{key}.json"


@dataclass(frozen=True)
class BenchSet:
    embeddings: np.ndarray  # (N, 128) float32
    labels: list[str]  # the true person of each row
    sources: list[str]  # "file@height"


def _iou(a: tuple, b: tuple) -> float:
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def compute() -> BenchSet:
    from faces.embedding import find_faces

    embeddings, labels, sources = [], [], []
    for face in source_faces():
        for height in FACE_HEIGHTS:
            region, _mask, box = _cutout(face, height)
            out = io.BytesIO()
            region.save(out, "JPEG", quality=JPEG_QUALITY)
            image = Image.open(io.BytesIO(out.getvalue())).convert("RGB")
            found = [f for f in find_faces(image) if _iou(f.box, box) > 0.3]
            if not found:
                continue
            best = max(found, key=lambda f: _iou(f.box, box))
            embeddings.append(best.embedding)
            labels.append(face.person)
            sources.append(f"{face.file}@{height}")
    matrix = np.asarray(embeddings, dtype=np.float32).reshape(-1, 128)
    return BenchSet(embeddings=matrix, labels=labels, sources=sources)


def load(*, refresh: bool = False) -> BenchSet:
    cache = _cache_path()
    if cache.exists() and not refresh:
        data = json.loads(cache.read_text())
        return BenchSet(
            embeddings=np.asarray(data["embeddings"], dtype=np.float32).reshape(-1, 128),
            labels=data["labels"],
            sources=data["sources"],
        )
    bench = compute()
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(
        json.dumps(
            {
                "embeddings": bench.embeddings.tolist(),
                "labels": bench.labels,
                "sources": bench.sources,
            }
        )
    )
    return bench
