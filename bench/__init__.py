"""Benchmarks: `python -m bench [NAME ...]` runs every `bench/bench_*.py` (or those whose name
contains one of the NAMEs), prints a table and writes `bench/results.json`.

A benchmark module exposes ``run() -> list[Result]``. A missed target is a result, not a
failure (exit 0, the table says MISS); a benchmark that raises is a failure (exit 1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Result:
    name: str
    value: float
    unit: str
    target: float
    ok: bool

    @classmethod
    def at_most(cls, name: str, value: float, unit: str, target: float) -> Result:
        """A result whose target is a ceiling (latencies, query counts)."""
        return cls(
            name=name, value=round(float(value), 3), unit=unit, target=target, ok=value <= target
        )

    def as_dict(self) -> dict:
        return asdict(self)


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile: a value that was really observed."""
    ordered = sorted(samples)
    rank = max(1, round(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]
