"""No binary float ever holds money: billing's source has no ``float(`` and no ``FloatField``."""

from __future__ import annotations

from pathlib import Path

import billing

BILLING = Path(billing.__file__).resolve().parent
FORBIDDEN = ("float(", "FloatField")


def test_billing_source_has_no_float_conversion_or_column():
    here = Path(__file__).resolve()
    files = [path for path in BILLING.rglob("*.py") if path.resolve() != here]
    assert files, "billing/ has no source files?"
    found = [
        f"{path.relative_to(BILLING.parent)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if any(word in line for word in FORBIDDEN)
    ]
    assert found == []
