"""The ASGI entry point the events service's uvicorn workers load (the streams themselves are
tested over uvicorn in tests/galleries/test_progress_stream.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_loaded_asgi_worker_is_warm_and_frozen_like_a_wsgi_one():
    code = (
        "import gc, inspect, picpick.asgi as a; "
        "print(inspect.iscoroutinefunction(a.application.__call__), "
        "gc.get_freeze_count() > 50_000, gc.get_count()[2])"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "picpick.settings.test"}
    out = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "True", "0"], out.stderr[-2000:]
