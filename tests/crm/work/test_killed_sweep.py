"""A sweep process SIGKILLed while running a workflow step: the next sweep after the timeout
runs the step once, and its email or task exists exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _script(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "picpick.settings.test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}",
    }
    return subprocess.run(  # noqa: S603 - our own interpreter and test module
        [sys.executable, "-m", "tests.crm.work.killed_sweep", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("action", "point"),
    [("send_email", "claimed"), ("send_email", "acted"), ("create_task", "acted")],
)
def test_a_step_whose_sweep_was_killed_runs_once_after_the_timeout(tmp_path, action, point):
    killed = _script(tmp_path, "process", action, point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    swept = _script(tmp_path, "sweep")
    assert swept.returncode == 0, swept.stderr[-3000:]
    lines = dict(line.split("=", 1) for line in swept.stdout.split() if "=" in line)
    emails = "1" if action == "send_email" else "0"
    tasks = "1" if action == "create_task" else "0"
    assert lines == {
        # Killed: claimed, nothing of its work committed (the step's transaction died with it).
        "after_kill_state": "running",
        "after_kill_attempts": "1",
        "after_kill_emails": "0",
        "after_kill_sent": "0",
        "after_kill_tasks": "0",
        "after_kill_events": "0",
        "ran_early": "0",
        "ran_late": "1",
        "after_sweep_state": "done",
        "after_sweep_attempts": "2",
        "after_sweep_emails": emails,
        "after_sweep_sent": emails,
        "after_sweep_tasks": tasks,
        "after_sweep_events": "1",
        "ran_later": "0",
        "finally_state": "done",
        "finally_attempts": "2",
        "finally_emails": emails,
        "finally_sent": emails,
        "finally_tasks": tasks,
        "finally_events": "1",
    }
