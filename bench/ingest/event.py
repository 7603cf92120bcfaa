"""The event folder the uploader pushes: made once per size and seed, kept between runs.

Real DNG files from the DNG writer (``picpick.testing.dng.write_event``): 24 MP Bayer mosaics
of the event scenes, about half with a full-size embedded JPEG preview, one in five a
portrait shot, each file's bytes its own. A folder is complete when its ``manifest.json``
exists (written last), so an interrupted generation is made again, never pushed half-made.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from bench.ingest.measure import human

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR_ENV = "BENCH_INGEST_DATA_DIR"
MANIFEST = "manifest.json"
PREVIEW_RATIO = 0.5


def data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or ROOT / "var" / "bench-ingest")


def folder_for(*, total_bytes: int, seed: int) -> Path:
    return data_dir() / f"event-dng-{total_bytes}-seed{seed}"


def cached(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


def write_event(*, total_bytes: int, seed: int) -> tuple[Path, list[Path]]:
    """The event folder for this size and seed, made if it is not there yet."""
    from picpick.testing.dng import write_event as dng_write_event

    folder = folder_for(total_bytes=total_bytes, seed=seed)
    manifest = folder / MANIFEST
    if manifest.is_file():
        names = json.loads(manifest.read_text())["files"]
        print(f"event: {len(names)} DNG files reused from {folder}", flush=True)
        return folder, [folder / name for name in names]
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.monotonic()
    last = [0.0]

    def progress(files: int, done: int, wanted: int, path) -> None:
        if time.monotonic() - last[0] >= 5:
            last[0] = time.monotonic()
            print(f"event: {files} files, {human(done)} of {human(wanted)} written", flush=True)

    paths = sorted(
        dng_write_event(
            folder,
            total_bytes=total_bytes,
            preview_ratio=PREVIEW_RATIO,
            seed=seed,
            progress=progress,
        )
    )
    # Written last: its presence says the folder is whole.
    manifest.write_text(json.dumps({"files": [p.name for p in paths]}))
    size = sum(p.stat().st_size for p in paths)
    print(
        f"event: {len(paths)} DNG files, {human(size)}, made in {time.monotonic() - started:.0f} s",
        flush=True,
    )
    return folder, paths
