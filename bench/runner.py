"""Discovers benchmark modules, runs them one by one, reports and records the results.

``bench/results.json`` holds the latest row of every benchmark ever run here: a run replaces the
rows it produced (by name) and keeps the others, so ``python -m bench ingest`` adds its rows
beside those of the last full run instead of wiping them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from bench import Result

BENCH_DIR = Path(__file__).resolve().parent
EXIT_OK = 0
EXIT_CRASHED = 1
EXIT_NOTHING_TO_RUN = 2
# Benchmarks run only when a pattern names them (``python -m bench ingest``), never by a plain
# ``python -m bench``: minutes of wall time and gigabytes of disk.
OPT_IN = {"ingest": "an event pushed end to end: minutes, and about twice its size in disk"}


@dataclass
class Outcome:
    module: str
    results: list[Result] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


def discover(directory: Path, patterns: list[str]) -> list[Path]:
    """``bench_*.py`` files in ``directory``; with patterns, those whose name contains one.
    An ``OPT_IN`` benchmark only when a pattern is its whole name."""

    def wanted(path: Path) -> bool:
        name = path.stem.removeprefix("bench_")
        if name in OPT_IN:
            return name in patterns
        return not patterns or any(pattern in name for pattern in patterns)

    return [path for path in sorted(directory.glob("bench_*.py")) if wanted(path)]


def merge(previous: list[dict], fresh: list[dict]) -> list[dict]:
    """The rows of ``previous`` with those ``fresh`` names replaced in place, and ``fresh``
    rows not seen before appended in their order."""
    by_name = {row["name"]: row for row in fresh}
    merged = [by_name.pop(row["name"], row) for row in previous]
    return merged + [row for row in fresh if row["name"] in by_name]


def _previous(output: Path) -> list[dict]:
    if not output.is_file():
        return []
    try:
        rows = json.loads(output.read_text())
    except ValueError:
        print(f"{output} is not JSON: its rows are replaced", file=sys.stderr)
        return []
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "name" in r for r in rows):
        print(f"{output} is not a list of rows: its rows are replaced", file=sys.stderr)
        return []
    return rows


def _load(path: Path) -> ModuleType:
    # Our own benchmarks are imported by their real names, so worker processes can unpickle
    # functions defined in them; a directory elsewhere (tests' fakes) is loaded by file path.
    if path.resolve().parent == BENCH_DIR:
        return importlib.import_module(f"bench.{path.stem}")
    spec = importlib.util.spec_from_file_location(f"bench_modules.{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_one(path: Path) -> Outcome:
    """Run one benchmark in a fresh interpreter: no benchmark inherits another's Django
    settings overrides, Celery connection pools (a worker benchmark once published to the
    broker an earlier benchmark had opened), caches or heap."""
    with tempfile.TemporaryDirectory(prefix="picpick-bench-") as folder:
        out = Path(folder) / "outcome.json"
        started = time.perf_counter()
        child = subprocess.run(  # noqa: S603  (our own interpreter and module)
            [sys.executable, "-m", "bench.runner", "--one", str(path), "--outcome", str(out)],
            cwd=BENCH_DIR.parent,
            check=False,
        )
        if not out.is_file():
            return Outcome(
                module=path.stem.removeprefix("bench_"),
                error=f"{path.name}: the benchmark process exited {child.returncode} without "
                "a result",
                seconds=time.perf_counter() - started,
            )
        data = json.loads(out.read_text())
    return Outcome(
        module=data["module"],
        results=[Result(**r) for r in data["results"]],
        error=data["error"],
        seconds=data["seconds"],
    )


def run_in_process(path: Path) -> Outcome:
    outcome = Outcome(module=path.stem.removeprefix("bench_"))
    started = time.perf_counter()
    try:
        results = _load(path).run()
        if not isinstance(results, list) or not all(isinstance(r, Result) for r in results):
            raise TypeError(f"{path.name}: run() must return a list of bench.Result")
        outcome.results = results
    except Exception:
        # One benchmark crashing must not hide the others' numbers; it is reported and
        # turns the exit code non-zero.
        outcome.error = traceback.format_exc()
    outcome.seconds = time.perf_counter() - started
    return outcome


def _format_number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def table(outcomes: list[Outcome]) -> str:
    rows = [("benchmark", "value", "target", "status")]
    for outcome in outcomes:
        if outcome.error:
            rows.append((outcome.module, "-", "-", "CRASHED"))
        for r in outcome.results:
            rows.append(
                (
                    r.name,
                    f"{_format_number(r.value)} {r.unit}",
                    f"{_format_number(r.target)} {r.unit}",
                    "ok" if r.ok else "MISS",
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        lines.append(
            "  ".join(
                cell.rjust(widths[i]) if i in (1, 2) else cell.ljust(widths[i])
                for i, cell in enumerate(row)
            ).rstrip()
        )
        if index == 0:
            lines.append("  ".join("-" * w for w in widths).rstrip())
    return "\n".join(lines)


def summary(outcomes: list[Outcome]) -> str:
    results = [r for o in outcomes for r in o.results]
    missed = sum(not r.ok for r in results)
    crashed = sum(o.error is not None for o in outcomes)
    return (
        f"{len(results)} results: {len(results) - missed} met their target, {missed} missed; "
        f"{crashed} benchmark(s) crashed"
    )


def _child(path: Path, out: Path) -> int:
    outcome = run_in_process(path)
    out.write_text(
        json.dumps(
            {
                "module": outcome.module,
                "results": [r.as_dict() for r in outcome.results],
                "error": outcome.error,
                "seconds": outcome.seconds,
            }
        )
    )
    return EXIT_OK


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"]:  # a child of run_one
        return _child(Path(argv[1]), Path(argv[3]))
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("patterns", nargs="*", help="run only benchmarks whose name contains one")
    parser.add_argument("--dir", type=Path, default=BENCH_DIR, help="where bench_*.py live")
    parser.add_argument(
        "--output", type=Path, default=BENCH_DIR / "results.json", help="the JSON results file"
    )
    parser.add_argument(
        "--size",
        help="the event size of the ingest benchmark, e.g. 500MB, 5GB, 50GB "
        "(the same as BENCH_INGEST_SIZE)",
    )
    args = parser.parse_args(argv)
    if args.size:
        os.environ["BENCH_INGEST_SIZE"] = args.size  # read by the benchmark's own process

    paths = discover(args.dir, args.patterns)
    if not paths:
        print(
            f"No benchmark matches {args.patterns or 'bench_*.py'} in {args.dir}.", file=sys.stderr
        )
        return EXIT_NOTHING_TO_RUN
    if not args.patterns:
        for name, why in OPT_IN.items():
            if (args.dir / f"bench_{name}.py").is_file():
                print(f"not running {name} ({why}): `python -m bench {name}` runs it")

    outcomes = []
    for path in paths:
        print(f"running {path.stem.removeprefix('bench_')} ...", flush=True)
        outcome = run_one(path)
        if outcome.error:
            print(outcome.error, file=sys.stderr)
        print(f"  done in {outcome.seconds:.1f} s", flush=True)
        outcomes.append(outcome)

    records = merge(_previous(args.output), [r.as_dict() for o in outcomes for r in o.results])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(records, indent=2) + "\n")

    print()
    print(table(outcomes))
    print()
    print(summary(outcomes))
    print(f"written to {args.output}")
    return EXIT_CRASHED if any(o.error for o in outcomes) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
