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


# --- results.json is merged, opt-in benchmarks -----------------------------------------------
OTHER = """
from bench import Result

def run():
    return [Result.at_most("other.latency", 9.0, "ms", 10)]
"""


def test_running_some_benchmarks_keeps_the_rows_of_the_others(bench_dir):
    _write(bench_dir, fast=FAST, slow=SLOW)
    result, output = _run(bench_dir)
    assert result.returncode == 0, result.stderr
    _write(bench_dir, slow=SLOW.replace("75.25", "50.5"), other=OTHER)

    result, output = _run(bench_dir, "slow", "other")

    assert result.returncode == 0, result.stderr
    records = json.loads(output.read_text())
    assert [(r["name"], r["value"]) for r in records] == [
        ("fast.latency", 3.5),
        ("fast.queries", 2.0),
        ("slow.latency", 50.5),  # replaced where it was
        ("other.latency", 9.0),  # new: appended
    ]


def test_a_results_file_that_is_not_rows_is_replaced(bench_dir):
    _write(bench_dir, fast=FAST)
    (bench_dir / "results.json").write_text('{"not": "rows"}')
    result, output = _run(bench_dir)
    assert result.returncode == 0, result.stderr
    assert [r["name"] for r in json.loads(output.read_text())] == ["fast.latency", "fast.queries"]
    assert "not a list of rows" in result.stderr


def test_merge_replaces_rows_by_name_in_place():
    from bench.runner import merge

    previous = [{"name": "a", "value": 1}, {"name": "b", "value": 2}]
    fresh = [{"name": "c", "value": 3}, {"name": "a", "value": 4}]
    assert merge(previous, fresh) == [
        {"name": "a", "value": 4},
        {"name": "b", "value": 2},
        {"name": "c", "value": 3},
    ]


def test_the_ingest_benchmark_runs_only_when_named():
    names = [p.stem for p in discover(BENCH_DIR, [])]
    assert "bench_ingest" not in names
    assert "bench_photo_list" in names
    # A pattern that is only part of its name (as "in" of "invoice") does not start it either.
    assert "bench_ingest" not in [p.stem for p in discover(BENCH_DIR, ["in"])]
    assert [p.stem for p in discover(BENCH_DIR, ["ingest"])] == ["bench_ingest"]


def test_a_plain_run_says_which_benchmark_it_leaves_out(bench_dir):
    _write(bench_dir, fast=FAST, ingest=SLOW)
    result, output = _run(bench_dir)
    assert result.returncode == 0, result.stderr
    assert "not running ingest" in result.stdout
    assert [r["name"] for r in json.loads(output.read_text())] == ["fast.latency", "fast.queries"]


# --- the ingest benchmark's pieces -----------------------------------------------------------
def test_sizes_are_read_in_decimal_and_binary_units():
    from bench.ingest.measure import parse_size

    assert parse_size("5GB") == 5_000_000_000
    assert parse_size("500MB") == 500_000_000
    assert parse_size("50 gb") == 50_000_000_000
    assert parse_size("1.5GB") == 1_500_000_000
    assert parse_size("2GiB") == 2 * 1024**3
    for bad in ("", "GB", "5 parsecs", "-1GB", "0GB"):
        with pytest.raises(ValueError, match="size"):
            parse_size(bad)


def test_the_disk_check_refuses_clearly_when_there_is_not_enough_room(tmp_path):
    from collections import namedtuple

    from bench.ingest.measure import NotEnoughDisk, disk_check, disk_needed

    usage = namedtuple("usage", "total used free")
    folder = tmp_path / "not" / "made" / "yet"
    assert disk_check(folder, needed=10**9, usage=lambda path: usage(0, 0, 2 * 10**9)) == 2e9
    with pytest.raises(NotEnoughDisk) as refused:
        disk_check(folder, needed=12 * 10**9, usage=lambda path: usage(0, 0, 3 * 10**9))
    message = str(refused.value)
    assert "12.0 GB" in message and "3.0 GB free" in message and "BENCH_INGEST_SIZE" in message
    # Files already made are not counted again; storage's copy and some room always are.
    assert disk_needed(total=5 * 10**9, cached=False) == 11_500_000_000
    assert disk_needed(total=5 * 10**9, cached=True) == 6_500_000_000


def test_the_load_figures_count_timeouts_and_errors_apart_from_latency():
    from bench.ingest.measure import Sample, summarise

    samples = [Sample("studio.galleries", 200, float(ms)) for ms in range(1, 101)]
    samples += [
        Sample("guest.photos", 503, 40.0),
        Sample("studio.photos", 0, 10_000.0, timeout=True),
        Sample("studio.contacts", 0, 3.0),  # connection refused
        Sample("studio.invoices", 404, 5.0),
    ]
    summary = summarise(samples)
    assert summary.requests == 104
    # Nearest rank over the 102 answered requests (the 503 and the 404 answered too).
    assert (summary.p50_ms, summary.p99_ms, summary.max_ms) == (49.0, 99.0, 100.0)
    assert (summary.timeouts, summary.errors) == (1, 1)
    assert (summary.server_errors, summary.other_errors) == (1, 1)
    assert summary.slowest[0].timeout


def test_exactly_once_wants_one_committed_run_and_one_face_step_per_photo(tmp_path):
    from bench.ingest import trace
    from bench.ingest.measure import processed_once

    path = tmp_path / "trace.log"
    lines = ["processed a 1", "faces a 1", "processed b 1", "faces b 1", "faces b 2"]
    lines += ["processed c 1", "processed c 2", "faces c 2", "processed d 1", "failed e 1"]
    lines += ["not a line", ""]
    path.write_text("\n".join(lines) + "\n")
    counts = trace.read(path)
    assert counts["processed"] == {"a": 1, "b": 1, "c": 2, "d": 1}
    verdict = processed_once(
        states={**dict.fromkeys("abcdf", "ready"), "e": "failed"},
        trace=counts,
        face_boxes={"a": [(1, 2, 3, 4), (5, 6, 7, 8)], "d": [(1, 2, 3, 4), (1, 2, 3, 4)]},
    )
    assert verdict.once == 1  # only a
    assert (verdict.ready, verdict.failed) == (5, 1)
    assert verdict.runs_twice == ["c"]
    assert verdict.runs_none == ["f"]
    assert verdict.faces_not_once == ["b", "d", "f"]
    assert verdict.duplicate_faces == ["d"]
    assert trace.read(tmp_path / "missing.log")["processed"] == {}


def test_the_trace_appends_whole_lines(tmp_path, monkeypatch):
    from bench.ingest import trace

    path = tmp_path / "trace.log"
    monkeypatch.setenv(trace.TRACE_ENV, str(path))
    trace._append("processed", "photo-1")
    trace._append("faces", "photo-1")
    assert trace.read(path)["processed"] == {"photo-1": 1}
    assert trace.read(path)["faces"] == {"photo-1": 1}


def test_the_load_generator_keeps_its_rate_and_records_every_answer():
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from bench.ingest.loadgen import LoadGenerator, Target

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers.get("Host"), self.headers.get("Authorization")))
            status = 503 if self.path == "/broken" else 200
            if self.path == "/studio" and self.headers.get("Authorization") == "Bearer old":
                status = 401
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    current = ["old"]
    renewals = []

    def token(renew: bool) -> str:
        if renew:  # threads that met the old token at the same moment all renew
            renewals.append(1)
            current[0] = "new"
        return current[0]

    load = LoadGenerator(
        base_url=f"http://127.0.0.1:{server.server_address[1]}",
        targets=[
            Target("studio", "/studio", studio=True),
            Target("guest", "/guest", host="studio.localhost"),
            Target("broken", "/broken"),
        ],
        rate=40,
        token=token,
        threads=4,
        timeout=5,
    )
    load.start()
    time.sleep(1.0)
    samples = load.stop()
    server.shutdown()
    assert 10 <= len(samples) <= 60  # ~40 at 40/s; scheduling on a busy machine varies
    kinds = {s.kind: s.status for s in samples}
    assert kinds == {"studio": 200, "guest": 200, "broken": 503}
    # Each 401 was asked again with a new token, and not counted.
    assert load.renewed == len(renewals) >= 1
    assert ("/guest", "studio.localhost", None) in seen


def test_the_storage_server_counts_the_bytes_clients_put_and_nothing_else():
    import io
    import json as _json

    from bench.ingest.s3_server import ByteCounter

    def storage(environ, start_response):
        environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [b""]

    counter = ByteCounter(storage)

    def call(method: str, path: str, query: str = "", body: bytes = b"") -> bytes:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
        return b"".join(counter(environ, lambda status, headers, exc_info=None: None))

    call("PUT", "/bucket/a.dng", "X-Amz-Signature=abc", b"x" * 1000)  # the uploader
    call("PUT", "/bucket/d/thumb.jpg", "", b"y" * 50)  # a worker's SDK write: not counted
    call("GET", "/bucket/a.dng", "X-Amz-Signature=abc")
    stats = _json.loads(call("GET", "/__bench__/stats"))
    assert (stats["bytes"], stats["puts"]) == (1000, 1)
    assert stats["first_started"] <= stats["last_ended"]
    call("GET", "/__bench__/reset")
    assert _json.loads(call("GET", "/__bench__/stats"))["bytes"] == 0
