"""Metrics of real process trees: gunicorn's workers and a Celery worker's prefork children
each count their own, and one scrape adds them all up (prometheus_client's multiprocess
mode, as docker-compose.yml runs them)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.ops.test_metrics import sample

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "REDIS_URL", "CELERY_", "PROMETHEUS_", "OTEL_"))
    }
    folder = tmp_path / "prometheus"
    return {
        **env,
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "PICPICK_VAR_DIR": str(tmp_path / "var"),
        **extra,
    }


def _get(url: str, host: str = "web", timeout: float = 5) -> str:
    request = urllib.request.Request(url, headers={"Host": host})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return response.read().decode()


def _wait_for(url: str, seconds: float = 120) -> str:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return _get(url, timeout=30)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.25)


@pytest.fixture
def stop():
    processes: list[subprocess.Popen] = []
    yield processes.append
    for process in processes:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_gunicorn_workers_add_up_and_a_previous_runs_files_are_wiped(tmp_path, stop):
    env = _env(tmp_path, DJANGO_SETTINGS_MODULE="picpick.settings.test")
    folder = Path(env["PROMETHEUS_MULTIPROC_DIR"])
    folder.mkdir()
    (folder / "counter_999999.db").write_bytes(b"left by a previous run")
    port = _free_port()
    stop(
        subprocess.Popen(  # noqa: S603 - our own gunicorn and config
            [
                str(BIN / "gunicorn"),
                "picpick.wsgi:application",
                "--config=docker/gunicorn.conf.py",
                f"--bind=127.0.0.1:{port}",
                "--workers=2",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    base = f"http://127.0.0.1:{port}"
    healthz = {"method": "GET", "route": "healthz", "status": "200"}
    before = sample(_wait_for(f"{base}/metrics"), "picpick_http_requests_total", **healthz)
    assert not (folder / "counter_999999.db").exists()
    for _ in range(10):
        _get(f"{base}/healthz", timeout=30)
    # The worker that counted so far ends (its file stays, the master's child_exit hook marks
    # it dead); another process answers from now on, and the scrape adds up both.
    served = sorted(int(p.stem.split("_")[1]) for p in folder.glob("counter_*.db"))
    os.kill(served[0], signal.SIGTERM)
    time.sleep(1)
    for _ in range(10):
        _wait_for(f"{base}/healthz")
    after = sample(_get(f"{base}/metrics"), "picpick_http_requests_total", **healthz)
    assert after - before == 20
    assert len({p.name for p in folder.glob("counter_*.db")}) >= 2


def test_a_celery_worker_serves_the_metrics_of_all_its_children(tmp_path, stop):
    port = _free_port()
    env = _env(
        tmp_path,
        DJANGO_SETTINGS_MODULE="picpick.settings.local",
        PICPICK_WORKER_METRICS_PORT=str(port),
    )
    stop(
        subprocess.Popen(  # noqa: S603 - our own celery
            [
                str(BIN / "celery"),
                "-A",
                "picpick",
                "worker",
                "-Q",
                "default",
                "--pool=prefork",
                "--concurrency=2",
                "--loglevel=WARNING",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    _wait_for(metrics_url)
    publish = (
        "from picpick.celery import app\n"
        "for i in range(6):\n"
        "    app.send_task('celery.accumulate', args=(i,), queue='default')\n"
    )
    subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", publish], cwd=ROOT, env=env, check=True, timeout=120
    )
    done = {"task": "celery.accumulate", "state": "SUCCESS"}
    deadline = time.monotonic() + 90
    while True:
        text = _get(metrics_url)
        count = sample(text, "picpick_celery_task_duration_seconds_count", **done)
        if count == 6 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert count == 6
    folder = Path(env["PROMETHEUS_MULTIPROC_DIR"])
    assert len(list(folder.glob("histogram_*.db"))) >= 1
