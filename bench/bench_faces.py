"""Face step: seconds per photo per core on 24 MP event JPEGs, and recall vs the naive baseline.

The labelled set (``SCENES``) is built from ``tests.scenes``: six ``event_scene`` photos (six
faces each, 40–600 px high in the 6000×4000 original), two group-like scenes of many small
faces (40–140 px) and one scene with the partial-face sources. Ground truth is the pasted
boxes. Six hard scenes are reported apart (their own time and recall rows): event photos in a
busy room full of skin-coloured, textured things, under tungsten light, underexposed, in
black and white, and a crowd of 18 small faces in the busy room.

The naive baseline -- ``face_recognition.face_locations`` on the full-resolution decode, HOG,
one upsample -- costs ~10 s per photo here, so it is computed once
(``python -m bench.bench_faces --baseline``) and cached in ``bench/faces_baseline.json``;
this benchmark and the tests only read it.

Timed here (one process, so per core): the face step alone (``find_faces`` on the working
image the media step decoded, 3000×2000 for these files), and derivatives + faces together
(decode, thumbnail and preview, faces) -- the photo is decoded once for both.
"""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path
from typing import NamedTuple

from bench import Result

ROOT = Path(__file__).resolve().parent.parent
BASELINE_JSON = Path(__file__).resolve().parent / "faces_baseline.json"
TARGET_S_PER_PHOTO = 0.5
TARGET_RECALL_VS_BASELINE = 0.98
# The hard scenes (``SceneSpec.hard``) are ours, beyond the event photos: a bounded
# slowdown and most faces, rather than the typical scenes' speed and all of them.
TARGET_HARD_S_PER_PHOTO = 1.5
# Per band: in a busy scene the cascade reads the photo at ~4 MP (its cost is per pixel), so
# faces under ~50 px there are found only where their skin blob stands apart.
TARGET_HARD_RECALL_BY_BAND = (0.85, 0.98, 0.98, 0.98)
# Face height bands in original pixels (the crowd-to-portrait range).
BANDS: tuple[tuple[str, int, int], ...] = (
    ("40-80", 0, 80),
    ("80-150", 80, 150),
    ("150-300", 150, 300),
    (">300", 300, 10**9),
)


class SceneSpec(NamedTuple):
    name: str
    kind: str  # event | group | partial
    seed: int
    heights: tuple[int, ...] = ()
    clutter: bool = False  # a busy background with skin-coloured shapes
    look: str = ""  # warm | dim | grey (tests.scenes.graded)

    @property
    def hard(self) -> bool:
        return self.clutter or bool(self.look)

    @property
    def typical_event(self) -> bool:
        return self.kind == "event" and not self.hard


SCENES: tuple[SceneSpec, ...] = (
    *(SceneSpec(f"event{seed}", "event", seed) for seed in range(1, 7)),
    SceneSpec("group1", "group", 101, (40, 44, 48, 52, 56, 60, 64, 72, 80, 90, 100, 120)),
    SceneSpec("group2", "group", 102, (42, 46, 50, 58, 66, 76, 86, 96, 110, 130, 140, 160)),
    SceneSpec("partial1", "partial", 201, (60, 90, 140, 220, 320, 480)),
    # The hard ones: what the skin-colour cue of the small-face pass could trip over.
    SceneSpec("clutter1", "event", 7, clutter=True),
    SceneSpec("clutter2", "event", 11, clutter=True),
    SceneSpec("warm1", "event", 8, look="warm"),
    SceneSpec("dim1", "event", 9, clutter=True, look="dim"),
    SceneSpec("grey1", "event", 10, look="grey"),
    SceneSpec(
        "crowd1",
        "group",
        301,
        (40, 44, 48, 52, 56, 60, 64, 68, 72, 76, 80, 90, 100, 40, 46, 54, 62, 70),
        clutter=True,
    ),
)


def build(spec: SceneSpec):
    from picpick.testing.scenes import build_scene, event_scene

    if spec.kind == "event":
        return event_scene(spec.seed, clutter=spec.clutter, look=spec.look)
    return build_scene(
        seed=spec.seed,
        face_heights=list(spec.heights),
        include_partial=spec.kind == "partial",
        clutter=spec.clutter,
        look=spec.look,
    )


def decode_working(jpeg: bytes):
    """The media step's decode of the file (working long edge ≥ 2048 px)."""
    import tempfile

    from galleries.imaging import decode

    with tempfile.NamedTemporaryFile(suffix=".jpg") as tmp:
        tmp.write(jpeg)
        tmp.flush()
        return decode(tmp.name, filename="scene.jpg", min_long_edge=2048, max_pixels=10**9)


def iou(a, b) -> float:
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


MATCH_IOU = 0.3  # HOG boxes are square and tight; a detection this close is the same face


def match(truth: list, found: list) -> tuple[list[bool], int]:
    """Which truth boxes were found (greedy by IoU), and how many detections matched nothing."""
    pairs = sorted(
        ((iou(t, f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)),
        reverse=True,
    )
    hit = [False] * len(truth)
    used = [False] * len(found)
    for score, i, j in pairs:
        if score < MATCH_IOU:
            break
        if not hit[i] and not used[j]:
            hit[i] = used[j] = True
    return hit, used.count(False)


def band_of(height: int) -> str:
    return next(name for name, low, high in BANDS if low <= height < high)


def load_baseline() -> dict:
    return json.loads(BASELINE_JSON.read_text())


def compute_baseline() -> dict:
    """The naive full-resolution detector on every scene (slow: run once, cached).

    Scenes already in the cache are kept; only new ones are computed.
    """
    import face_recognition
    import numpy as np
    from PIL import Image

    out = {"method": "face_recognition.face_locations, full resolution, hog, 1 upsample"}
    cached = {s["name"]: s for s in load_baseline()["scenes"]} if BASELINE_JSON.is_file() else {}
    scenes = []
    for spec in SCENES:
        if spec.name in cached:
            scenes.append(cached[spec.name])
            continue
        scene = build(spec)
        jpeg = scene.jpeg()
        full = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
        started = time.perf_counter()
        locations = face_recognition.face_locations(full, number_of_times_to_upsample=1)
        seconds = time.perf_counter() - started
        found = [[left, top, right, bottom] for top, right, bottom, left in locations]
        scenes.append(
            {
                "name": spec.name,
                "truth": [{"person": f.person, "box": list(f.box)} for f in scene.faces],
                "found": found,
                "seconds": round(seconds, 3),
            }
        )
        print(spec.name, len(scene.faces), len(found), round(seconds, 2), flush=True)
    out["scenes"] = scenes
    return out


def _at_least(name: str, value: float, unit: str, target: float) -> Result:
    return Result(
        name=name, value=round(float(value), 3), unit=unit, target=target, ok=value >= target
    )


def _recall(scenes: list[dict], found_by_name: dict[str, list]) -> dict:
    """Recall against the faces the baseline found, overall and per band, and extra boxes."""
    per_band = {name: [0, 0] for name, _, _ in BANDS}
    false_positives = 0
    for scene in scenes:
        truth = [face["box"] for face in scene["truth"]]
        baseline_hit, _ = match(truth, scene["found"])
        hit, extra = match(truth, found_by_name[scene["name"]])
        false_positives += extra
        for box, in_baseline, ours in zip(truth, baseline_hit, hit, strict=True):
            if in_baseline:
                band = per_band[band_of(box[3] - box[1])]
                band[0] += ours
                band[1] += 1
    found = sum(v[0] for v in per_band.values())
    total = sum(v[1] for v in per_band.values())
    return {
        "recall": found / total if total else 0.0,
        "found": found,
        "total": total,
        "bands": {name: (v[0] / v[1] if v[1] else 1.0) for name, v in per_band.items()},
        "false_positives": false_positives,
    }


def run() -> list[Result]:
    """Face step timing and recall on the labelled set (~1 minute)."""
    import tempfile

    from bench import django_env

    django_env.setup()  # the derivatives' specs live in the processing service

    from faces.embedding import DEFAULT_CONFIG, detect, encode_boxes, find_faces
    from galleries.imaging import decode, render_derivatives
    from galleries.services.processing import PREVIEW, THUMB
    from picpick.testing.scenes import faces_dir

    if not (faces_dir() / "manifest.json").is_file() or not BASELINE_JSON.is_file():
        return []  # the labelled set needs the shared face photos and the cached baseline
    baseline = load_baseline()
    by_name = {spec.name: spec for spec in SCENES}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for scene in baseline["scenes"]:
            path = Path(tmp) / f"{scene['name']}.jpg"
            path.write_bytes(build(by_name[scene["name"]]).jpeg())
            paths[scene["name"]] = path

        def working(name: str):
            return decode(paths[name], filename="scene.jpg", min_long_edge=2048, max_pixels=10**9)

        find_faces(working("event1").image, scale=0.5)  # models loaded outside the timing
        found: dict[str, list] = {}
        face_seconds = detect_seconds = encode_seconds = 0.0
        face_count = typical_photos = 0
        event_seconds: list[float] = []
        hard_seconds: list[float] = []
        for name in paths:
            decoded = working(name)
            # The face step is detection then encoding; timed apart in the same pass.
            started = time.perf_counter()
            boxes, scores = detect(decoded.image, scale=decoded.scale, config=DEFAULT_CONFIG)
            detected = time.perf_counter()
            faces = encode_boxes(
                decoded.image,
                boxes=boxes,
                scores=scores,
                scale=decoded.scale,
                config=DEFAULT_CONFIG,
            )
            finished = time.perf_counter()
            face_seconds += finished - started
            if by_name[name].hard:
                hard_seconds.append(finished - started)
            else:
                # The split and the per-face cost on the kind of photo.
                detect_seconds += detected - started
                encode_seconds += finished - detected
                face_count += len(faces)
                typical_photos += 1
            if by_name[name].typical_event:
                event_seconds.append(finished - started)
            found[name] = [list(face.box) for face in faces]
        together: list[float] = []
        for name in [n for n in paths if by_name[n].typical_event]:
            started = time.perf_counter()
            decoded = decode(
                paths[name], filename="scene.jpg", min_long_edge=2048, max_pixels=10**9
            )
            render_derivatives(decoded, [THUMB, PREVIEW])
            find_faces(decoded.image, scale=decoded.scale)
            together.append(time.perf_counter() - started)
    photos = len(paths)
    typical_scenes = [sc for sc in baseline["scenes"] if not by_name[sc["name"]].hard]
    hard_scenes = [sc for sc in baseline["scenes"] if by_name[sc["name"]].hard]
    ours = _recall(typical_scenes, found)
    hard = _recall(hard_scenes, found)
    naive = _recall(baseline["scenes"], {s["name"]: s["found"] for s in baseline["scenes"]})
    naive_seconds = sum(s["seconds"] for s in baseline["scenes"]) / len(baseline["scenes"])
    encode_ms = encode_seconds / max(1, face_count) * 1000
    results = [
        Result.at_most(
            "faces_step_event_s_per_photo_per_core",
            sum(event_seconds) / len(event_seconds),
            "s",
            TARGET_S_PER_PHOTO,
        ),
        # Busy skin-coloured rooms, tungsten casts, underexposure, black and white: the
        # cascade pass looks where skin blobs can't separate faces, at a bounded cost.
        Result.at_most(
            "faces_step_hard_event_s_per_photo_per_core",
            sum(hard_seconds) / len(hard_seconds),
            "s",
            TARGET_HARD_S_PER_PHOTO,
        ),
        Result.at_most("faces_step_s_per_photo_per_core", face_seconds / photos, "s", 0.75),
        Result.at_most(
            "faces_detect_s_per_photo_per_core", detect_seconds / typical_photos, "s", 0.5
        ),
        # Landmarks, alignment and the 128-d network, per face (batched per photo).
        Result.at_most("faces_encode_ms_per_face", encode_ms, "ms", 25),
        Result.at_most(
            "faces_derivatives_plus_faces_s_per_photo", sum(together) / len(together), "s", 0.75
        ),
        _at_least("faces_recall_vs_baseline", ours["recall"], "ratio", TARGET_RECALL_VS_BASELINE),
        *(
            _at_least(f"faces_recall_{band}px", value, "ratio", TARGET_RECALL_VS_BASELINE)
            for band, value in ours["bands"].items()
        ),
        *(
            _at_least(f"faces_recall_hard_scenes_{band}px", value, "ratio", target)
            for (band, value), target in zip(
                hard["bands"].items(), TARGET_HARD_RECALL_BY_BAND, strict=True
            )
        ),
        Result.at_most(
            "faces_false_positives", ours["false_positives"] + hard["false_positives"], "faces", 0
        ),
        # The baseline is the yardstick, not a target: its row restates the cached measurement
        # (taken once, partly on a busy machine; about 9 s per photo when idle).
        Result(
            name="faces_naive_baseline_s_per_photo_per_core (reference)",
            value=round(float(naive_seconds), 3),
            unit="s",
            target=round(float(naive_seconds), 3),
            ok=True,
        ),
        _at_least("faces_naive_baseline_recall", naive["recall"], "ratio", 1.0),
    ]
    return results


SWEEP_JSON = Path(__file__).resolve().parent / "faces_sweep.json"


def sweep() -> list[dict]:
    """Candidate detector configurations on the labelled set: detection seconds and recall.

    ``python -m bench.bench_faces --sweep`` (a few minutes): writes ``bench/faces_sweep.json``.
    The grey-scale row is the default on the same scenes without colour -- the known weak
    spot of a skin-colour proposal.
    """
    from faces.embedding import FaceConfig, detect

    baseline = load_baseline()
    by_name = {spec.name: spec for spec in SCENES}
    working = {}
    for scene in baseline["scenes"]:
        decoded = decode_working(build(by_name[scene["name"]]).jpeg())
        working[scene["name"]] = (decoded.image, decoded.scale)
    grey = {n: (im.convert("L").convert("RGB"), sc) for n, (im, sc) in working.items()}
    candidates: list[tuple[str, FaceConfig, dict]] = [
        (
            f"hog {edge}px up{up}",
            FaceConfig(detect_long_edge=edge, upsample=up, small_faces=False),
            working,
        )
        for edge, up in (
            (800, 1),
            (1024, 0),
            (1024, 1),
            (1536, 1),
            (2048, 0),
            (2048, 1),
            (3000, 0),
            (3000, 1),
            (1024, 2),
            (1536, 2),
        )
    ]
    candidates += [
        (
            "two-pass default (800 px + skin-blob crops + cascade in busy regions)",
            FaceConfig(),
            working,
        ),
        ("two-pass, first pass upsampled once", FaceConfig(upsample=1), working),
        ("two-pass without the cascade (skin blobs only)", FaceConfig(cascade=False), working),
        ("two-pass, busy regions read at 1.5 MP", FaceConfig(busy_max_pixels=1_500_000), working),
        ("two-pass, busy regions read at 3 MP", FaceConfig(busy_max_pixels=3_000_000), working),
        ("two-pass, busy regions read at 6 MP", FaceConfig(busy_max_pixels=6_000_000), working),
        ("two-pass, crops zoomed to 160 px", FaceConfig(small_target=160), working),
        ("two-pass default on grey-scale scenes", FaceConfig(), grey),
    ]
    rows = []
    for label, config, images in candidates:
        found = {}
        seconds = {"typical": 0.0, "hard": 0.0}
        for name, (image, scale) in images.items():
            started = time.perf_counter()
            boxes, _ = detect(image, scale=scale, config=config)
            seconds["hard" if by_name[name].hard else "typical"] += time.perf_counter() - started
            found[name] = [[v / scale for v in box] for box in boxes]
        row: dict = {"config": label}
        for part in ("typical", "hard"):
            scenes = [s for s in baseline["scenes"] if by_name[s["name"]].hard == (part == "hard")]
            recall = _recall(scenes, found)
            row[part] = {
                "detect_s_per_photo": round(seconds[part] / len(scenes), 3),
                "found": f"{recall['found']}/{recall['total']}",
                "bands": {k: round(v, 3) for k, v in recall["bands"].items()},
                "false_positives": recall["false_positives"],
            }
        print(row, flush=True)
        rows.append(row)
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if "--baseline" in sys.argv:
        data = compute_baseline()
        BASELINE_JSON.write_text(json.dumps(data, indent=1) + "\n")
    elif "--sweep" in sys.argv:
        SWEEP_JSON.write_text(json.dumps(sweep(), indent=1, ensure_ascii=False) + "\n")
    else:
        for result in run():
            print(result)
