"""`python -m bench`: discovery, filtering, results.json's shape and the exit codes.

Runs the harness in a subprocess on fake benchmark modules; the real benchmarks are far too
slow for the test suite and are only checked to be discoverable.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench import Result
from bench.runner import BENCH_DIR, discover

ROOT = Path(__file__).resolve().parents[2]

FAST = """
from bench import Result

def run():
    return [
        Result.at_most("fast.latency", 3.5, "ms", 10),
        Result.at_most("fast.queries", 2, "queries/request", 6),
    ]
"""
SLOW = """
from bench import Result

def run():
    return [Result.at_most("slow.latency", 75.25, "ms", 60)]
"""
CRASHES = """
def run():
    raise RuntimeError("the benchmark fell over")
"""
WRONG_TYPE = """
def run():
    return [{"name": "not a Result"}]
"""


@pytest.fixture
def bench_dir(tmp_path) -> Path:
    directory = tmp_path / "benches"
    directory.mkdir()
    return directory


def _write(directory: Path, **modules: str) -> None:
    for name, source in modules.items():
        (directory / f"bench_{name}.py").write_text(textwrap.dedent(source))


def _run(directory: Path, *patterns: str) -> tuple[subprocess.CompletedProcess, Path]:
    output = directory / "results.json"
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "bench",
            *patterns,
            "--dir",
            str(directory),
            "--output",
            str(output),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result, output


def test_results_are_written_and_a_missed_target_still_exits_zero(bench_dir):
    _write(bench_dir, fast=FAST, slow=SLOW)
    result, output = _run(bench_dir)
    assert result.returncode == 0, result.stderr
    records = json.loads(output.read_text())
    assert records == [
        {"name": "fast.latency", "value": 3.5, "unit": "ms", "target": 10, "ok": True},
        {"name": "fast.queries", "value": 2.0, "unit": "queries/request", "target": 6, "ok": True},
        {"name": "slow.latency", "value": 75.25, "unit": "ms", "target": 60, "ok": False},
    ]
    table = result.stdout
    assert "slow.latency" in table
    slow_line = next(line for line in table.splitlines() if line.startswith("slow.latency"))
    assert slow_line.rstrip().endswith("MISS")
    fast_line = next(line for line in table.splitlines() if line.startswith("fast.latency"))
    assert fast_line.rstrip().endswith("ok")
    assert "3 results: 2 met their target, 1 missed; 0 benchmark(s) crashed" in table


def test_a_crashing_benchmark_exits_non_zero_and_the_others_are_still_recorded(bench_dir):
    _write(bench_dir, crashes=CRASHES, fast=FAST)
    result, output = _run(bench_dir)
    assert result.returncode == 1
    assert "RuntimeError: the benchmark fell over" in result.stderr
    crashed_line = next(line for line in result.stdout.splitlines() if line.startswith("crashes"))
    assert crashed_line.rstrip().endswith("CRASHED")
    assert [r["name"] for r in json.loads(output.read_text())] == ["fast.latency", "fast.queries"]


def test_a_benchmark_returning_something_else_than_results_is_a_crash(bench_dir):
    _write(bench_dir, wrong=WRONG_TYPE)
    result, output = _run(bench_dir)
    assert result.returncode == 1
    assert "run() must return a list of bench.Result" in result.stderr
    assert json.loads(output.read_text()) == []


def test_a_name_runs_only_the_matching_benchmarks(bench_dir):
    _write(bench_dir, fast=FAST, slow=SLOW, crashes=CRASHES)
    result, output = _run(bench_dir, "slow")
    assert result.returncode == 0, result.stderr
    assert [r["name"] for r in json.loads(output.read_text())] == ["slow.latency"]
    assert "fast" not in result.stdout


def test_no_matching_benchmark_is_a_usage_error(bench_dir):
    _write(bench_dir, fast=FAST)
    result, output = _run(bench_dir, "nothing_like_this")
    assert result.returncode == 2
    assert "No benchmark matches" in result.stderr
    assert not output.exists()


def test_result_at_most_marks_the_target_as_a_ceiling():
    assert Result.at_most("x", 25, "ms", 25).ok is True
    assert Result.at_most("x", 25.001, "ms", 25).ok is False
    assert Result.at_most("x", 1.23456, "ms", 25).as_dict() == {
        "name": "x",
        "value": 1.235,
        "unit": "ms",
        "target": 25,
        "ok": True,
    }


def test_the_real_benchmarks_are_discovered_and_expose_run():
    paths = discover(BENCH_DIR, ["photo_list"])
    assert [p.name for p in paths] == ["bench_photo_list.py"]
    from bench import bench_photo_list

    assert callable(bench_photo_list.run)
    assert (bench_photo_list.TARGET_MEDIAN_MS, bench_photo_list.TARGET_P99_MS) == (25, 60)
    assert bench_photo_list.TARGET_QUERIES == 6


def test_the_tls_ask_benchmark_is_discovered_with_its_targets():
    paths = discover(BENCH_DIR, ["tls_ask"])
    assert [p.name for p in paths] == ["bench_tls_ask.py"]
    from bench import bench_tls_ask

    assert callable(bench_tls_ask.run)
    assert bench_tls_ask.DOMAINS == 1000
    assert bench_tls_ask.TARGET_P99_MS == 5
    assert bench_tls_ask.TARGET_MISS_QUERIES == 1
