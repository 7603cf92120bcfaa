"""A durable trace of the work the ingest benchmark's workers complete, one line per commit.

Loaded by the server processes through ``CELERY_IMPORTS`` (``bench.ingest.server_settings``);
production code is untouched. After each commit of

- a photo's processing run (the ``ready`` save of ``galleries.services.processing._process``:
  state and derivatives written together): ``processed <photo id>``;
- a photo failed: ``failed <photo id>``;
- a photo's face step (its ``PhotoFaceScan`` stored by the current step version, in the same
  transaction as its faces): ``faces <photo id>``,

a line is appended to the file named by ``BENCH_INGEST_TRACE`` with one ``O_APPEND`` write,
which the kernel keeps whole and keeps when the process is SIGKILLed right after. A run killed
before its commit leaves no line: "processed exactly once" means exactly one committed run.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.db import transaction
from django.db.models.signals import post_save

TRACE_ENV = "BENCH_INGEST_TRACE"


def _append(kind: str, photo_id) -> None:
    path = os.environ.get(TRACE_ENV)
    if not path:
        return
    line = f"{kind} {photo_id} {os.getpid()}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _photo_saved(sender, instance, update_fields=None, **kwargs) -> None:
    fields = set(update_fields or ())
    if "state" not in fields:
        return
    if instance.state == "ready" and "derivatives" in fields:
        kind = "processed"
    elif instance.state == "failed":
        kind = "failed"
    else:
        return
    photo_id = instance.id
    transaction.on_commit(lambda: _append(kind, photo_id))


def _scan_saved(sender, instance, **kwargs) -> None:
    from faces.pipeline import FACE_STEP_VERSION

    if instance.scanned_at is None or instance.version < FACE_STEP_VERSION:
        return
    photo_id = instance.photo_id
    transaction.on_commit(lambda: _append("faces", photo_id))


# Lazy senders ("app.Model"): this module is imported before the app registry may be ready.
post_save.connect(_photo_saved, sender="galleries.Photo", dispatch_uid="bench-ingest-photo")
post_save.connect(_scan_saved, sender="faces.PhotoFaceScan", dispatch_uid="bench-ingest-scan")


def read(path) -> dict[str, dict[str, int]]:
    """``{kind: {photo id: lines}}`` of a trace file (a missing file is an empty trace)."""
    counts: dict[str, dict[str, int]] = {"processed": {}, "failed": {}, "faces": {}}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return counts
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in counts:
            bucket = counts[parts[0]]
            bucket[parts[1]] = bucket.get(parts[1], 0) + 1
    return counts
