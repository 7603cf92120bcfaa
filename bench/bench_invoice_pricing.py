"""Invoice totals: ``billing.pricing.compute`` on an invoice of 1,000 lines.

Pure arithmetic, no database and no Django settings. The invoice is a realistic large one:
quantities with up to 3 decimals (hours, metres, 0.5 of a package), prices from 0.50 to
2,500.00, a line discount on a third of the lines (percent or amount), two stacked exclusive
taxes (GST 5% + PST 7%, British Columbia) on every line, and an invoice-level discount of
7.5% shared among the lines. 20 warm-up computations, then 200 timed. Target: p95 <= 5 ms.
"""

from __future__ import annotations

import gc
import random
import time
from decimal import Decimal

from bench import Result, percentile

LINES = 1_000
WARMUP = 20
RUNS = 200
TARGET_P95_MS = 5


def _lines() -> list:
    from billing.pricing import Line, Tax

    rng = random.Random(20_260_301)
    taxes = (Tax(name="GST", rate=Decimal("5")), Tax(name="PST", rate=Decimal("7")))
    lines = []
    for n in range(LINES):
        quantity = Decimal(rng.randrange(1, 50_000)) / 1000  # 0.001 .. 49.999, exact
        price = rng.randrange(50, 250_000)
        percent = amount = None
        if n % 3 == 0:
            percent = Decimal(rng.choice(["5", "10", "12.5", "15", "33.3333"]))
        elif n % 3 == 1 and n % 2:
            # Never more than the line (its gross is at least the floor of quantity × price).
            amount = min(rng.randrange(0, 200), int(quantity * price))
        lines.append(
            Line(
                quantity=quantity,
                unit_price=price,
                discount_percent=percent,
                discount_amount=amount,
                taxes=taxes,
            )
        )
    return lines


def run() -> list[Result]:
    from billing.pricing import Discount, compute

    lines = _lines()
    discount = Discount(percent=Decimal("7.5"))
    for _ in range(WARMUP):
        totals = compute(lines, discount=discount)
    if totals.total != totals.subtotal - totals.discount + totals.tax - totals.inclusive_tax:
        raise AssertionError("the invoice does not add up")
    gc.collect()
    gc.freeze()
    timings_ms = []
    for _ in range(RUNS):
        started = time.perf_counter()
        compute(lines, discount=discount)
        timings_ms.append((time.perf_counter() - started) * 1000)
    gc.unfreeze()
    return [
        Result.at_most(
            "invoice total, 1,000 lines", percentile(timings_ms, 0.95), "ms", TARGET_P95_MS
        )
    ]
