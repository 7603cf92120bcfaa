"""Grouping quality and speed of ``faces.clustering`` (Chinese whispers at the chosen threshold).

Quality is measured on the benchmark set of ``picpick.testing.benchset``: every face of
the shared photos (4 people, 15 source faces) cut out at face heights 40–300 px and re-encoded
as JPEG, then detected and encoded by ``faces.embedding`` — what varies between two photos of a
guest at an event. Reported: BCubed and pairwise precision/recall, groups vs people, and the
same for single-link at 0.6 (why it was not chosen). Speed: one full clustering of 10,000
synthetic faces (500 people × 20 faces, face_recognition-like spreads) on one core.
"""

from __future__ import annotations

import time

import numpy as np

from bench import Result

SYNTHETIC_PEOPLE = 500
FACES_PER_PERSON = 20
TIME_TARGET_S = 30.0


def _synthetic(seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(SYNTHETIC_PEOPLE, 128))
    centres = 0.7 * centres / np.linalg.norm(centres, axis=1, keepdims=True)
    faces = centres.repeat(FACES_PER_PERSON, axis=0) + rng.normal(
        0, 0.02, (SYNTHETIC_PEOPLE * FACES_PER_PERSON, 128)
    )
    return faces.astype(np.float32)


def _at_least(name: str, value: float, unit: str, target: float) -> Result:
    return Result(
        name=name, value=round(float(value), 3), unit=unit, target=target, ok=value >= target
    )


def run() -> list[Result]:
    from faces.clustering import DEFAULT_THRESHOLD, bcubed, cluster, connected_components, pairwise
    from picpick.testing.benchset import load

    bench = load()
    labels = cluster(bench.embeddings, threshold=DEFAULT_THRESHOLD)
    b_precision, b_recall = bcubed(bench.labels, labels)
    p_precision, p_recall = pairwise(bench.labels, labels)
    groups = {key for key in labels if key is not None}
    people = set(bench.labels)
    mixed = sum(
        1
        for g in groups
        if len({t for k, t in zip(labels, bench.labels, strict=True) if k == g}) > 1
    )
    single = connected_components(bench.embeddings, threshold=0.6)
    s_precision, _ = bcubed(bench.labels, single)

    x = _synthetic()
    cluster(x[:500])  # warm-up
    started = time.perf_counter()
    synthetic = cluster(x, threshold=DEFAULT_THRESHOLD)
    seconds = time.perf_counter() - started
    truth = np.arange(len(x)) // FACES_PER_PERSON
    synthetic_groups = len({k for k in synthetic if k is not None})

    return [
        _at_least("grouping: BCubed precision (shared faces)", b_precision, "ratio", 1.0),
        _at_least("grouping: BCubed recall (shared faces)", b_recall, "ratio", 1.0),
        _at_least("grouping: pairwise precision (shared faces)", p_precision, "ratio", 1.0),
        _at_least("grouping: pairwise recall (shared faces)", p_recall, "ratio", 1.0),
        Result.at_most(
            "grouping: groups minus people (shared faces)", len(groups) - len(people), "groups", 0
        ),
        Result.at_most("grouping: groups mixing two people", mixed, "groups", 0),
        _at_least("grouping: faces in the benchmark set", len(bench.labels), "faces", 60),
        Result(
            name="grouping: single-link BCubed precision at 0.6 (baseline, not used)",
            value=round(s_precision, 3), unit="ratio", target=1.0, ok=True,
        ),
        Result.at_most(
            "grouping: full clustering of 10k synthetic faces", seconds, "s", TIME_TARGET_S
        ),
        Result.at_most(
            "grouping: 10k synthetic, groups minus people",
            abs(synthetic_groups - SYNTHETIC_PEOPLE), "groups", 0,
        ),
        _at_least(
            "grouping: 10k synthetic BCubed precision",
            _fast_precision(truth, synthetic),
            "ratio", 0.99,
        ),
    ]  # fmt: skip


def _fast_precision(truth: np.ndarray, labels: list) -> float:
    """BCubed precision in O(N) via group counts (the pure helper is quadratic)."""
    from collections import Counter

    keys = [k if k is not None else ("single", i) for i, k in enumerate(labels)]
    size = Counter(keys)
    both = Counter(zip(keys, truth.tolist(), strict=True))
    return sum(both[(k, t)] / size[k] for k, t in zip(keys, truth.tolist(), strict=True)) / len(
        keys
    )
