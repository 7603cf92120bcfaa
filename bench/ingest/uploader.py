"""The uploader, as a photographer runs it: ``picpick-upload login`` then ``push``, each a
process of its own with its config and state in the benchmark's folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.processes import ROOT

CLI = Path(sys.executable).with_name("picpick-upload")


def _env(home: Path) -> dict:
    return {
        **os.environ,
        "PICPICK_UPLOAD_CONFIG_DIR": str(home / "config"),
        "PICPICK_UPLOAD_DATA_DIR": str(home / "data"),
    }


def login(*, home: Path, api: str, email: str, password: str) -> None:
    if not CLI.is_file():
        raise RuntimeError(f"{CLI.name} is not installed in this environment: run make install")
    answer = subprocess.run(  # noqa: S603 - the project's own console script
        [str(CLI), "login", "--api", api, "--email", email, "--password-stdin"],
        input=password + "\n",
        capture_output=True,
        text=True,
        env=_env(home),
        check=False,
        cwd=ROOT,
        timeout=60,
    )
    if answer.returncode != 0:
        raise RuntimeError(f"picpick-upload login exited {answer.returncode}: {answer.stderr}")


def push(*, home: Path, gallery_id: str, folder: Path, log: Path) -> subprocess.Popen:
    """Starts the push (JSON lines, no wait for processing: the benchmark follows that itself);
    its output goes to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603
            [str(CLI), "push", str(folder), "--gallery", gallery_id, "--json", "--no-wait"],
            env=_env(home),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
