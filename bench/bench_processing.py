"""Processing throughput of 24 MP event JPEGs, and the peak memory of a worker process.

Photos: ``picpick.testing.scenes.event_scene(seed)`` -- the shared face photos pasted on a grainy
6000×4000 canvas, saved at quality 90 (~10 MB, decoding like a camera JPEG). Eight are built
first, outside the timing. Without the shared faces beside the repository the same background
is used without people (the decode cost is the grain's, so the figures barely move).

Measured:

- derivatives alone, one process, sequentially: ``imaging.decode`` (one reduced-scale decode)
  plus ``render_derivatives`` (preview 2048 px q82 and thumbnail 400 px q80, JPEG-encoded),
  as seconds per photo per core and photos per second per core (best of three passes over
  the eight photos, the usual way to keep a shared machine's noise out);
- peak RSS of a fresh worker-like process that sends 20 photos through the real service path
  (``photo_process_ensure``: claim, read the original from local storage, decode, render,
  store, write the row), measured in that process as its ``VmHWM`` (``ru_maxrss`` would report
  the parent's peak: Linux carries it across fork + exec).
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import Result

SCENES = 8
PASSES = 3
WORKER_PHOTOS = 20
TARGET_S_PER_PHOTO = 0.25
TARGET_RSS_MB = 400
ROOT = Path(__file__).resolve().parent.parent


def _scene_jpeg(seed: int) -> bytes:
    from picpick.testing.scenes import event_scene, faces_dir

    if (faces_dir() / "manifest.json").is_file():
        return event_scene(seed).jpeg()
    from galleries.demo_images import background

    out = io.BytesIO()
    background((6000, 4000), random.Random(seed)).save(out, "JPEG", quality=90)
    return out.getvalue()


def _derivatives_seconds(paths: list[Path]) -> float:
    from galleries.imaging import decode, render_derivatives
    from galleries.services.processing import PREVIEW, THUMB

    def one_pass() -> float:
        started = time.perf_counter()
        for path in paths:
            decoded = decode(path, filename=path.name, min_long_edge=2048, max_pixels=210_000_000)
            render_derivatives(decoded, [PREVIEW, THUMB])
        return (time.perf_counter() - started) / len(paths)

    one_pass()  # warm-up: imports, allocator, page cache
    return min(one_pass() for _ in range(PASSES))


# The worker: a fresh interpreter, so its peak RSS is the processing's and not the builder's.
WORKER = r"""
import json, resource, sys
from pathlib import Path

from bench.django_env import fresh_database

paths, objects = [Path(p) for p in json.loads(sys.argv[1])], sys.argv[2]
with fresh_database():
    from django.conf import settings
    settings.PICPICK_STORAGE = "local"
    settings.PICPICK_LOCAL_STORAGE_ROOT = Path(objects)
    from accounts.models import Studio, User
    from galleries import keys, services
    from galleries.models import Photo
    from galleries.services.processing import photo_process_ensure
    from picpick.core.storage import get_storage

    get_storage.cache_clear()
    storage = get_storage()
    studio = Studio.objects.create(name="Bench", slug="bench")
    owner = User.objects.create_user("bench@bench.example", "bench-password-not-secret")
    gallery = services.gallery_create(studio=studio, by=owner, name="Wedding")
    outcomes = []
    for number in range(int(sys.argv[3])):
        data = paths[number % len(paths)].read_bytes()
        name = f"DSC_{number:04d}.jpg"
        photo = services.photo_create(
            gallery=gallery, by=owner, filename=name, size=len(data), content_type="image/jpeg"
        )
        photo.original_key = keys.original_key(studio.id, gallery.id, photo.id, name)
        storage.put_object(key=photo.original_key, body=data, content_type="image/jpeg")
        photo.state = Photo.State.UPLOADED
        photo.save(update_fields=["original_key", "state", "updated_at"])
        del data
        outcomes.append(str(photo_process_ensure(photo_id=photo.id)))
    ready = Photo.objects.filter(state=Photo.State.READY).count()
# VmHWM is this process image's own peak. ru_maxrss is not: Linux carries the parent's peak
# across fork + exec, and the parent just built 24 MP scenes.
try:
    status = Path("/proc/self/status").read_text()
    peak_kb = int(next(x for x in status.splitlines() if x.startswith("VmHWM:")).split()[1])
except (OSError, StopIteration):
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_kb": peak_kb, "ready": ready, "outcomes": sorted(set(outcomes))}))
"""


def _worker_peak_rss_mb(paths: list[Path], objects: Path) -> float:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings"}
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [
            sys.executable,
            "-c",
            WORKER,
            json.dumps([str(p) for p in paths]),
            str(objects),
            str(WORKER_PHOTOS),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the worker process failed:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    if report["ready"] != WORKER_PHOTOS:
        raise AssertionError(f"only {report['ready']} of {WORKER_PHOTOS} photos got ready")
    return report["peak_kb"] / 1024


def run() -> list[Result]:
    from bench.django_env import setup

    setup()
    with tempfile.TemporaryDirectory(prefix="picpick-bench-processing-") as folder:
        paths = []
        for seed in range(SCENES):
            path = Path(folder) / f"scene_{seed}.jpg"
            path.write_bytes(_scene_jpeg(seed))
            paths.append(path)
        seconds = _derivatives_seconds(paths)
        rss_mb = _worker_peak_rss_mb(paths, Path(folder) / "objects")
    per_second = 1 / seconds
    return [
        Result.at_most("processing.derivatives_24mp", seconds, "s/photo/core", TARGET_S_PER_PHOTO),
        Result(
            name="processing.throughput_24mp",
            value=round(per_second, 2),
            unit="photos/s/core",
            target=round(1 / TARGET_S_PER_PHOTO, 2),
            ok=per_second >= 1 / TARGET_S_PER_PHOTO,
        ),
        Result.at_most(
            f"processing.worker_peak_rss ({WORKER_PHOTOS} photos)", rss_mb, "MB", TARGET_RSS_MB
        ),
    ]
