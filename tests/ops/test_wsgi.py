"""The WSGI entry point a web worker loads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_loaded_worker_freezes_its_startup_objects_out_of_the_collector():
    code = (
        "import gc, picpick.wsgi as w; "
        "print(callable(w.application), gc.get_freeze_count() > 50_000, gc.get_count()[2])"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "picpick.settings.test"}
    out = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "True", "0"], out.stderr[-2000:]
