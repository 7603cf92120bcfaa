"""Processing time of a 24 MP RAW on each RAW path, next to the JPEG of the same scene.

Photos: the processing benchmark's event scenes (``picpick.testing.scenes.event_scene(seed)``,
or its background alone without the shared faces), 6000×4000. Each scene is written three
ways, outside the timing: the JPEG (quality 90, as in ``bench_processing``), a DNG embedding
that very JPEG as its full-size preview, and a DNG without a preview (``picpick.testing.dng``:
an RGGB mosaic of 14-bit samples, 48 MB, with sensor noise). So the three rows differ by the
decode path alone.

Measured, as in ``bench_processing``: what the worker does per photo besides storage and the
database -- ``imaging.decode`` (JPEG: libjpeg's DCT scaling to 1/2; RAW preview: LibRaw opens
the file and hands over the embedded JPEG, decoded the same way; RAW demosaic: LibRaw develops
the mosaic at half size) plus ``render_derivatives`` (preview 2048 px, thumbnail 400 px) --
in seconds per photo per core, best of three passes; and the peak RSS of a fresh process
decoding and rendering the RAWs of both paths. The face step is left out, as in
``bench_processing``: it runs on the decoded working image, whichever path made it, and
``bench_faces_e2e`` times it. Also the DNG writer's speed (the ingest benchmark writes its
event with it).

Targets: the preview path within 1.5× the JPEG (it is the same JPEG decode plus LibRaw's
open, and the TIFF tags read for the metadata); the demosaic path within 1.5 s per photo per
core, i.e. a two-core worker still develops an 8,000-RAW event of previewless files in under
two hours; the writer at 50 MB/s or more, so the ingest benchmark's 5 GB are written in under
two minutes.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import Result

SCENES = 3
PASSES = 3
MAX_PIXELS = 210_000_000
TARGET_JPEG_S = 0.25  # bench_processing's target for the same work
TARGET_PREVIEW_RATIO = 1.5
TARGET_DEMOSAIC_S = 1.5
TARGET_WRITER_MB_S = 50
TARGET_RSS_MB = 400  # bench_processing's ceiling for a worker
WRITER_FILES = 6
ROOT = Path(__file__).resolve().parent.parent

# A fresh interpreter decodes and renders the RAWs: its peak RSS is LibRaw's and Pillow's, not
# the builder's (VmHWM: ru_maxrss would carry the parent's peak across fork + exec).
DECODER = r"""
import json, sys
from pathlib import Path

from bench.django_env import setup

setup()
from galleries.imaging import decode, render_derivatives
from galleries.services.processing import PREVIEW, THUMB

for name in json.loads(sys.argv[1]):
    path = Path(name)
    decoded = decode(path, filename=path.name, min_long_edge=2048, max_pixels=210_000_000)
    render_derivatives(decoded, [PREVIEW, THUMB])
    del decoded
status = Path("/proc/self/status").read_text()
print(int(next(x for x in status.splitlines() if x.startswith("VmHWM:")).split()[1]))
"""


def _scene(seed: int):
    from picpick.testing.scenes import event_scene, faces_dir

    if (faces_dir() / "manifest.json").is_file():
        return event_scene(seed).image
    from galleries.demo_images import background

    return background((6000, 4000), random.Random(seed))


def _seconds_per_photo(paths: dict[str, list[Path]]) -> dict[str, float]:
    """Per kind, the best pass's mean. The kinds take turns photo by photo within each pass,
    so a neighbour's load on this shared machine falls on all three alike."""
    from galleries.imaging import decode, render_derivatives
    from galleries.services.processing import PREVIEW, THUMB

    def one_pass() -> dict[str, float]:
        spent = dict.fromkeys(paths, 0.0)
        for index in range(SCENES):
            for kind, files in paths.items():
                path = files[index]
                started = time.perf_counter()
                decoded = decode(
                    path, filename=path.name, min_long_edge=2048, max_pixels=MAX_PIXELS
                )
                render_derivatives(decoded, [PREVIEW, THUMB])
                spent[kind] += time.perf_counter() - started
        return {kind: total / SCENES for kind, total in spent.items()}

    one_pass()  # warm-up: imports, allocator, page cache
    passes = [one_pass() for _ in range(PASSES)]
    return {kind: min(p[kind] for p in passes) for kind in paths}


def _writer_mb_per_second(folder: Path, image) -> float:
    """``write_event``'s work per file once its scenes are built (it builds 8 per event, ~2 s
    each): the mosaic with its noise, half the files with the preview, the write."""
    import numpy as np

    from picpick.testing.dng import preview_jpeg, write_dng

    rgb, jpeg = np.asarray(image), preview_jpeg(image)
    folder.mkdir()
    started = time.perf_counter()
    written = 0
    for number in range(WRITER_FILES):
        path = write_dng(
            folder / f"DSC_{number:04d}.DNG",
            rgb,
            preview=jpeg if number % 2 else False,
            noise=0.004,
            seed=number,
        )
        written += path.stat().st_size
    return written / 1e6 / (time.perf_counter() - started)


def _decode_peak_rss_mb(paths: list[Path]) -> float:
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", DECODER, json.dumps([str(p) for p in paths])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the decoding process failed:\n{done.stderr[-3000:]}")
    return int(done.stdout.strip().splitlines()[-1]) / 1024


def run() -> list[Result]:
    from bench.django_env import setup
    from galleries.imaging import decode
    from picpick.testing.dng import write_dng

    setup()
    paths: dict[str, list[Path]] = {"jpeg": [], "raw-preview": [], "raw-demosaic": []}
    with tempfile.TemporaryDirectory(prefix="picpick-bench-raw-") as name:
        folder = Path(name)
        for seed in range(SCENES):
            image = _scene(seed)
            out = io.BytesIO()
            image.save(out, "JPEG", quality=90)
            jpeg = folder / f"scene_{seed}.jpg"
            jpeg.write_bytes(out.getvalue())
            paths["jpeg"].append(jpeg)
            for kind, preview in (("raw-preview", out.getvalue()), ("raw-demosaic", False)):
                path = write_dng(
                    folder / f"scene_{seed}_{kind}.dng",
                    image,
                    preview=preview,
                    noise=0.004,
                    seed=seed,
                )
                paths[kind].append(path)
            del out
        for kind, files in paths.items():  # each file goes the path it is named for
            decoded = decode(
                files[0], filename=files[0].name, min_long_edge=2048, max_pixels=MAX_PIXELS
            )
            if decoded.source != ("jpeg" if kind == "jpeg" else kind):
                raise AssertionError(f"{files[0].name} was decoded as {decoded.source}")
        seconds = _seconds_per_photo(paths)
        rss_mb = _decode_peak_rss_mb(paths["raw-preview"] + paths["raw-demosaic"])
        writer = _writer_mb_per_second(folder / "event", image)
    ratio = seconds["raw-preview"] / seconds["jpeg"]
    return [
        Result.at_most("raw.jpeg_same_scene_24mp", seconds["jpeg"], "s/photo/core", TARGET_JPEG_S),
        Result.at_most(
            "raw.preview_path_24mp",
            seconds["raw-preview"],
            "s/photo/core",
            round(TARGET_PREVIEW_RATIO * TARGET_JPEG_S, 3),
        ),
        Result.at_most("raw.preview_vs_jpeg", ratio, "×", TARGET_PREVIEW_RATIO),
        Result.at_most(
            "raw.demosaic_path_24mp", seconds["raw-demosaic"], "s/photo/core", TARGET_DEMOSAIC_S
        ),
        Result.at_most("raw.decode_peak_rss (both paths)", rss_mb, "MB", TARGET_RSS_MB),
        Result(
            name="raw.dng_writer",
            value=round(writer, 1),
            unit="MB/s",
            target=TARGET_WRITER_MB_S,
            ok=writer >= TARGET_WRITER_MB_S,
        ),
    ]
