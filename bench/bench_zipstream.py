"""The ZIP writer alone (``galleries.zipstream``, the standard library's ``zipfile`` streaming).

It writes stored entries with data descriptors to a sink that cannot seek (it counts bytes and
drops them, so storage and the network are left out: ``bench_delivery`` times the whole build).

- ``zipstream.throughput``: 200 entries of 5 MB (the size of a camera JPEG) read in 1 MiB
  chunks, as ``download_build`` does; MB/s of entry data, best of three runs;
- ``zipstream.peak_memory``: peak Python allocations (tracemalloc) for that ZIP;
- ``zipstream.peak_memory_50k_entries``: the same for 50,000 small entries, which measures
  what the writer keeps per entry for its central directory;
- ``zipstream.bytes_over_data``: the ZIP's size minus the entry data for the 200 entries
  (headers, descriptors, central directory).

This benchmark first compared our own 200-line writer with ``zipfile`` driven directly: equal
output size, throughput within run-to-run noise, a few MB more bookkeeping for ``zipfile`` at
50,000 entries; the figures are in ``galleries/zipstream.py``, which now adapts ``zipfile``.
"""

from __future__ import annotations

import time
import tracemalloc
from datetime import datetime

from bench import Result
from galleries.zipstream import ZipStreamWriter

ENTRIES = 200
ENTRY_BYTES = 5 * 1000 * 1000
CHUNK = 1024 * 1024
MANY_ENTRIES = 50_000
RUNS = 3
THROUGHPUT_TARGET_MBPS = 500.0  # CRC-32 and one copy: far above any storage the build reads
MEMORY_TARGET_MB = 1.0  # a chunk is handed through, never held
MANY_MEMORY_TARGET_MB = 32.0  # per-entry bookkeeping for a 50,000-photo gallery
MODIFIED = datetime(2025, 6, 14, 15, 30, 10)


class _Sink:
    """Counts and drops; no ``seek``, so the writer must stream."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)


def _write(entries: list[tuple[str, list[bytes], int]]) -> int:
    sink = _Sink()
    writer = ZipStreamWriter(sink.write)
    for name, chunks, size in entries:
        writer.add(name, chunks, size_hint=size, modified=MODIFIED)
    writer.close()
    return sink.size


def _photos() -> list[tuple[str, list[bytes], int]]:
    data = bytes(range(256)) * (ENTRY_BYTES // 256) + bytes(ENTRY_BYTES % 256)
    chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    return [(f"Ceremony/IMG_{n:05d}.jpg", chunks, len(data)) for n in range(ENTRIES)]


def _peak_mb(entries) -> float:
    tracemalloc.start()
    try:
        _write(entries)
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def run() -> list[Result]:
    photos = _photos()
    data_bytes = ENTRIES * ENTRY_BYTES
    many = [(f"Album {n % 40}/IMG_{n:05d}.jpg", [b"x" * 100], 100) for n in range(MANY_ENTRIES)]
    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter()
        size = _write(photos)
        best = min(best, time.perf_counter() - started)
    mbps = data_bytes / 1e6 / best
    return [
        Result(
            name="zipstream.throughput (200 x 5 MB, stored)",
            value=round(mbps, 1),
            unit="MB/s",
            target=THROUGHPUT_TARGET_MBPS,
            ok=mbps >= THROUGHPUT_TARGET_MBPS,
        ),
        Result.at_most(
            "zipstream.peak_memory (200 x 5 MB)", _peak_mb(photos), "MB", MEMORY_TARGET_MB
        ),
        Result.at_most(
            "zipstream.peak_memory_50k_entries", _peak_mb(many), "MB", MANY_MEMORY_TARGET_MB
        ),
        Result.at_most(
            "zipstream.bytes_over_data (200 entries)", size - data_bytes, "B", 200 * ENTRIES
        ),
    ]
