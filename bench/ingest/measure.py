"""The ingest benchmark's arithmetic: sizes, the disk it needs, latency figures, and what
"processed exactly once" means. Pure: no Django, no processes (tested in tests/ops)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from bench import percentile

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNITS |= {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_size(text: str) -> int:
    """``"5GB"`` -> 5_000_000_000 (decimal units, as disks are sold; ``GiB`` binary)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    if match is None or match[2].upper() not in _UNITS:
        raise ValueError(f"{text!r} is not a size such as 500MB, 5GB or 50GB")
    value = int(float(match[1]) * _UNITS[match[2].upper()])
    if value <= 0:
        raise ValueError(f"{text!r} is not a positive size")
    return value


def human(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


class NotEnoughDisk(Exception):
    pass


def disk_check(folder: Path, *, needed: int, usage=shutil.disk_usage) -> int:
    """Free bytes where ``folder`` lives (its nearest existing parent); ``NotEnoughDisk`` with
    a clear message when fewer than ``needed``."""
    probe = Path(folder).resolve()
    while not probe.exists():
        probe = probe.parent
    free = usage(probe).free
    if free < needed:
        raise NotEnoughDisk(
            f"{human(needed)} of free disk needed under {probe}, {human(free)} free: "
            "choose a smaller size (BENCH_INGEST_SIZE / --size) or other folders "
            "(BENCH_INGEST_DATA_DIR for the event's files, BENCH_INGEST_SCRATCH_DIR for "
            "storage's copy of them)"
        )
    return free


def disk_needed(*, total: int, cached: bool) -> int:
    """The event's files (unless already made), storage's copy of them, and 10% + 1 GB of room
    for derivatives, the database and the broker."""
    return (0 if cached else total) + total + total // 10 + 10**9


@dataclass
class Sample:
    kind: str  # what was asked: "studio.gallery_list", "guest.photos", ...
    status: int  # 0: no answer (timeout or connection error)
    ms: float
    timeout: bool = False
    at: float = 0.0  # time.time() when it was sent


@dataclass
class LatencySummary:
    requests: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    timeouts: int
    errors: int  # no answer for another reason (connection refused or reset)
    server_errors: int  # 5xx
    other_errors: int  # 4xx: a harness bug, shown so it is not hidden
    slowest: list[Sample] = field(default_factory=list)


def summarise(samples: list[Sample]) -> LatencySummary:
    """Latency of the answered requests; failures counted apart."""
    answered = [s.ms for s in samples if s.status]
    return LatencySummary(
        requests=len(samples),
        p50_ms=percentile(answered, 0.50) if answered else 0.0,
        p99_ms=percentile(answered, 0.99) if answered else 0.0,
        max_ms=max(answered, default=0.0),
        timeouts=sum(s.timeout for s in samples),
        errors=sum(not s.status and not s.timeout for s in samples),
        server_errors=sum(s.status >= 500 for s in samples),
        other_errors=sum(400 <= s.status < 500 for s in samples),
        slowest=sorted(samples, key=lambda s: s.ms, reverse=True)[:5],
    )


@dataclass
class OnceVerdict:
    once: int  # photos ready, one committed processing run, one face step, no duplicate face
    ready: int
    failed: int
    runs_twice: list[str]  # photos with more than one committed processing run
    runs_none: list[str]  # ready photos without a recorded run
    faces_not_once: list[str]  # face step committed zero or several times
    duplicate_faces: list[str]  # photos holding two faces with the same box


def processed_once(
    *,
    states: dict[str, str],
    trace: dict[str, dict[str, int]],
    face_boxes: dict[str, list[tuple[int, int, int, int]]],
    faces_expected: bool = True,
) -> OnceVerdict:
    """``states``: photo id -> state; ``trace``: ``bench.ingest.trace.read``'s counts;
    ``face_boxes``: photo id -> its stored face boxes."""
    processed = trace.get("processed", {})
    faces = trace.get("faces", {})
    runs_twice, runs_none, faces_not_once, duplicates = [], [], [], []
    once = 0
    for photo_id, state in states.items():
        runs = processed.get(photo_id, 0)
        if runs > 1:
            runs_twice.append(photo_id)
        if state == "ready" and runs == 0:
            runs_none.append(photo_id)
        steps = faces.get(photo_id, 0)
        if faces_expected and state == "ready" and steps != 1:
            faces_not_once.append(photo_id)
        boxes = face_boxes.get(photo_id, [])
        if len(set(boxes)) != len(boxes):
            duplicates.append(photo_id)
        if (
            state == "ready"
            and runs == 1
            and (steps == 1 or not faces_expected)
            and len(set(boxes)) == len(boxes)
        ):
            once += 1
    return OnceVerdict(
        once=once,
        ready=sum(state == "ready" for state in states.values()),
        failed=sum(state == "failed" for state in states.values()),
        runs_twice=runs_twice,
        runs_none=runs_none,
        faces_not_once=faces_not_once,
        duplicate_faces=duplicates,
    )
