"""The uploader, as a photographer runs it: ``picpick-upload login`` then ``push``, each a
process of its own with its config and state in the benchmark's folders.

Until the CLI has ``push``, ``bench.ingest.standin_push`` stands in (the one place to swap).
"""

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


def cli_ready() -> bool:
    if os.environ.get("BENCH_INGEST_STANDIN") == "1" or not CLI.is_file():
        return False
    answer = subprocess.run(  # noqa: S603 - the project's own console script
        [str(CLI), "push", "--help"], capture_output=True, check=False, cwd=ROOT
    )
    return answer.returncode == 0


def login(*, home: Path, api: str, email: str, password: str) -> None:
    if not cli_ready():
        return
    answer = subprocess.run(  # noqa: S603
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


def push(
    *, home: Path, api: str, email: str, password: str, gallery_id: str, folder: Path, log: Path
) -> subprocess.Popen:
    """Starts the push; its output (JSON lines with the CLI) goes to ``log``."""
    with log.open("ab") as out:
        if cli_ready():
            return subprocess.Popen(  # noqa: S603
                [str(CLI), "push", str(folder), "--gallery", gallery_id, "--json", "--no-wait"],
                env=_env(home),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
            )
        standin = ["-m", "bench.ingest.standin_push", api, email, gallery_id, str(folder)]
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, *standin],
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
    process.stdin.write(password.encode() + b"\n")
    process.stdin.close()
    return process
