"""Properties of ``billing.pricing`` on random invoices, schedules and late fees (hypothesis).

Invoices of 0 to 25 lines (lines of quantity 0 or price 0 included), with line discounts of
either kind, no taxes, exclusive taxes (stacked, compound) or inclusive ones, an invoice
discount of either kind, under both rounding rules. ``compute`` must agree, figure for figure,
with a slow reference written from the module docstring with exact fractions (and none of the
module's integer tricks), and keep every invariant:

- total == subtotal − discount + (tax − inclusive_tax); total, net, tax are the sums of the
  lines'; tax is also the sum of the grouped taxes; discount is the sum of both discounts;
- no amount is negative; the invoice discount's shares sum to it and none passes its line's
  base (gross − line discount); an inclusive line's net + tax is what it charges;
- half-up and half-even give the same invoice when no step meets an exact half;
- a schedule sums to its total, every instalment > 0, in order; a rebalance sums to what is
  left after the paid instalments; a late fee never takes the fees charged above the cap.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from billing.money import MAX_MINOR
from billing.pricing import (
    Discount,
    Line,
    Part,
    PricingError,
    Tax,
    compute,
    late_fee,
    schedule_rebalance,
    schedule_split,
)

MANY = settings(max_examples=600, deadline=None, database=None)
SOME = settings(max_examples=300, deadline=None, database=None)

D = Decimal
HALF = Fraction(1, 2)


def thousandths(k: int) -> Decimal:
    return Decimal(k).scaleb(-3)


def ten_thousandths(k: int) -> Decimal:
    return Decimal(k).scaleb(-4)


quantities = st.one_of(
    st.sampled_from([D("0"), D("1"), D("0.5"), D("2.5"), D("0.333"), D("1000000")]),
    st.integers(0, 20_000).map(thousandths),
    st.integers(0, 1_000_000_000).map(thousandths),
)
prices = st.one_of(
    st.sampled_from([0, 1, 5, 999, 1999]),
    st.integers(0, 200),  # small amounts meet exact halves often (5 × 10% = 0.5)
    st.integers(0, 100_000),
    st.integers(0, MAX_MINOR),
)
percents = st.one_of(
    st.sampled_from([D("0"), D("5"), D("10"), D("12.5"), D("33.3333"), D("50"), D("100")]),
    st.integers(0, 1_000_000).map(ten_thousandths),
)
rates = st.one_of(
    st.sampled_from([D("0"), D("5"), D("7"), D("9.975"), D("10"), D("20"), D("100")]),
    st.integers(0, 1_000_000).map(ten_thousandths),
)
names = st.sampled_from(["VAT", "GST", "PST", "QST", "消費税"])
exclusive_taxes = st.lists(
    st.builds(Tax, name=names, rate=rates, inclusive=st.just(False), compound=st.booleans()),
    max_size=3,
).map(tuple)
# Inclusive rates of a line add up to 100% at most (more is refused).
inclusive_taxes = (
    st.lists(st.integers(0, 1_000_000), min_size=1, max_size=3)
    .filter(lambda parts: sum(parts) <= 1_000_000)
    .flatmap(
        lambda parts: st.tuples(
            *[
                st.builds(
                    Tax, name=names, rate=st.just(ten_thousandths(p)), inclusive=st.just(True)
                )
                for p in parts
            ]
        )
    )
)
# A few shared tuples, so lines repeat taxes as real invoices do (and groups merge).
common_taxes = st.sampled_from(
    [
        (),
        (Tax("VAT", D("20")),),
        (Tax("VAT", D("20"), inclusive=True),),
        (Tax("GST", D("5")), Tax("PST", D("7"))),
        (Tax("GST", D("5")), Tax("QST", D("9.975"))),
        (Tax("QST", D("9.5"), compound=True), Tax("GST", D("5"))),
    ]
)
taxes = st.one_of(common_taxes, exclusive_taxes, inclusive_taxes)


@st.composite
def lines(draw) -> Line:
    quantity = draw(quantities)
    price = draw(prices)
    kind = draw(st.sampled_from(["none", "percent", "amount"]))
    percent = amount = None
    if kind == "percent":
        percent = draw(percents)
    elif kind == "amount":
        # Never above the gross (the floor of quantity × price is at most its rounding), nor
        # above the largest amount input may carry.
        amount = draw(st.integers(0, min(MAX_MINOR, math.floor(Fraction(quantity) * price))))
    return Line(
        quantity=quantity,
        unit_price=price,
        discount_percent=percent,
        discount_amount=amount,
        taxes=draw(taxes),
    )


invoices = st.lists(lines(), max_size=25)
roundings = st.sampled_from(["half_even", "half_up"])
# An invoice discount: none, a percent, or an amount as a share (ppm) of what the lines leave.
invoice_discounts = st.one_of(
    st.none(),
    st.tuples(st.just("percent"), percents),
    st.tuples(st.just("amount"), st.integers(0, 1_000_000)),
)


# -- the reference: the module docstring, step by step, in exact fractions ------------------


class Reference:
    """A slow, plain computation of an invoice that records every exact half it meets."""

    def __init__(self, rounding: str) -> None:
        self.rounding = rounding
        self.halves = 0

    def round(self, x: Fraction) -> int:
        assert x >= 0
        floor = math.floor(x)
        if x - floor == HALF:
            self.halves += 1
            if self.rounding == "half_up":
                return floor + 1
            return floor if floor % 2 == 0 else floor + 1
        return math.floor(x + HALF)

    def compute(self, lines: list[Line], discount: Discount | None) -> dict:
        grosses, own_discounts = [], []
        for line in lines:
            gross = self.round(Fraction(line.quantity) * line.unit_price)
            if line.discount_percent is not None:
                own = self.round(gross * Fraction(line.discount_percent) / 100)
            else:
                own = line.discount_amount or 0
            grosses.append(gross)
            own_discounts.append(own)
        bases = [g - o for g, o in zip(grosses, own_discounts, strict=True)]
        whole = sum(bases)
        if discount is None:
            total_discount = 0
        elif discount.percent is not None:
            total_discount = self.round(whole * Fraction(discount.percent) / 100)
        else:
            total_discount = discount.amount
        # Largest remainders: exact quotas, floors, then one each by the largest fraction
        # (earlier line first among equal fractions).
        quotas = [Fraction(total_discount * b, whole) if whole else Fraction(0) for b in bases]
        shares = [math.floor(q) for q in quotas]
        order = sorted(range(len(bases)), key=lambda i: (-(quotas[i] - shares[i]), i))
        for i in order[: total_discount - sum(shares)]:
            shares[i] += 1

        out = []
        for line, gross, own, base, share in zip(
            lines, grosses, own_discounts, bases, shares, strict=True
        ):
            charged = base - share
            rows = []
            if line.taxes and line.taxes[0].inclusive:
                all_rates = sum(Fraction(t.rate) for t in line.taxes)
                amounts = [
                    self.round(charged * Fraction(t.rate) / (100 + all_rates)) for t in line.taxes
                ]
                net = charged - sum(amounts)
                rows = [(t, net, a) for t, a in zip(line.taxes, amounts, strict=True)]
            else:
                net = charged
                simple = {
                    i: self.round(net * Fraction(t.rate) / 100)
                    for i, t in enumerate(line.taxes)
                    if not t.compound
                }
                compound_base = net + sum(simple.values())
                for i, t in enumerate(line.taxes):
                    if t.compound:
                        rows.append(
                            (t, compound_base, self.round(compound_base * Fraction(t.rate) / 100))
                        )
                    else:
                        rows.append((t, net, simple[i]))
            tax = sum(a for _, _, a in rows)
            out.append(
                {
                    "gross": gross,
                    "line_discount": own,
                    "invoice_discount": share,
                    "net": net,
                    "taxes": [
                        (t.name, Fraction(t.rate), t.inclusive, t.compound, b, a)
                        for t, b, a in rows
                    ],
                    "tax": tax,
                    "total": net + tax,
                }
            )
        return {"lines": out}


def _invoice_discount(lines: list[Line], drawn) -> Discount | None:
    if drawn is None:
        return None
    kind, value = drawn
    if kind == "percent":
        return Discount(percent=value)
    # What the lines leave after their own discounts depends on the rounding (a 50% discount
    # of 1 cent is 0 half-even, 1 half-up): the amount must fit under either.
    whole = min(
        sum(line.gross - line.line_discount for line in compute(lines, rounding=rounding).lines)
        for rounding in ("half_even", "half_up")
    )
    return Discount(amount=min(MAX_MINOR, whole * value // 1_000_000))


def _as_reference(totals) -> dict:
    return {
        "lines": [
            {
                "gross": line.gross,
                "line_discount": line.line_discount,
                "invoice_discount": line.invoice_discount,
                "net": line.net,
                "taxes": [
                    (t.name, Fraction(t.rate), t.inclusive, t.compound, t.base, t.amount)
                    for t in line.taxes
                ],
                "tax": line.tax,
                "total": line.total,
            }
            for line in totals.lines
        ]
    }


@MANY
@given(lines=invoices, drawn=invoice_discounts, rounding=roundings)
# Found once: half-up takes the whole cent the 50% discount leaves half-even alone.
@example(
    lines=[Line(D("0"), 0), Line(D("1"), 1, discount_percent=D("50"))],
    drawn=("amount", 1_000_000),
    rounding="half_up",
)
def test_compute_agrees_with_the_reference_and_keeps_every_invariant(lines, drawn, rounding):
    discount = _invoice_discount(lines, drawn)
    totals = compute(lines, discount=discount, rounding=rounding)
    reference = Reference(rounding)
    assert _as_reference(totals) == reference.compute(lines, discount)
    event(f"lines: {min(len(lines), 10)}{'+' if len(lines) >= 10 else ''}")
    event(f"exact halves met: {'yes' if reference.halves else 'no'}")

    rows = totals.lines
    assert totals.total == totals.subtotal - totals.discount + (totals.tax - totals.inclusive_tax)
    assert totals.total == sum(r.total for r in rows)
    assert totals.net == sum(r.net for r in rows)
    assert totals.tax == sum(r.tax for r in rows) == sum(t.amount for t in totals.taxes)
    assert totals.subtotal == sum(r.gross for r in rows)
    assert totals.discount == sum(r.line_discount + r.invoice_discount for r in rows)
    assert totals.inclusive_tax == sum(
        r.tax for r, line in zip(rows, lines, strict=True) if line.taxes and line.taxes[0].inclusive
    )
    assert totals.rounding == rounding
    for row, line in zip(rows, lines, strict=True):
        figures = (row.gross, row.line_discount, row.invoice_discount, row.net, row.tax, row.total)
        assert min(figures) >= 0
        assert all(t.amount >= 0 and t.base >= 0 for t in row.taxes)
        assert row.tax == sum(t.amount for t in row.taxes)
        assert row.total == row.net + row.tax
        assert row.invoice_discount <= row.gross - row.line_discount
        if line.taxes and line.taxes[0].inclusive:
            assert row.net + row.tax == row.gross - row.line_discount - row.invoice_discount
        else:
            assert row.net == row.gross - row.line_discount - row.invoice_discount
    if discount is not None:
        shares = sum(r.invoice_discount for r in rows)
        if discount.amount is not None:
            assert shares == discount.amount
        else:
            whole = sum(r.gross - r.line_discount for r in rows)
            assert shares == Reference(rounding).round(whole * Fraction(discount.percent) / 100)
    # The grouped taxes: one per (name, rate, inclusive, compound), summing the lines'.
    keys = [(t.name, t.rate, t.inclusive, t.compound) for t in totals.taxes]
    assert len(keys) == len(set(keys))
    for group in totals.taxes:
        key = (group.name, group.rate, group.inclusive, group.compound)
        members = [
            t for r in rows for t in r.taxes if (t.name, t.rate, t.inclusive, t.compound) == key
        ]
        assert group.amount == sum(t.amount for t in members)
        assert group.base == sum(t.base for t in members)


@MANY
@given(lines=invoices, drawn=invoice_discounts)
def test_half_up_and_half_even_differ_only_when_a_step_meets_an_exact_half(lines, drawn):
    discount = _invoice_discount(lines, drawn)
    even = compute(lines, discount=discount, rounding="half_even")
    up = compute(lines, discount=discount, rounding="half_up")
    reference = Reference("half_even")
    reference.compute(lines, discount)
    if reference.halves == 0:
        # Every step saw the same numbers and none was a half: the same invoice.
        assert (even.lines, even.taxes, even.total) == (up.lines, up.taxes, up.total)
    else:
        event("met an exact half")
        # Gross is the first step, on the same numbers: half-up never gives less.
        assert all(u.gross >= e.gross for u, e in zip(up.lines, even.lines, strict=True))


@SOME
@given(lines=st.lists(lines(), max_size=8), rounding=roundings)
def test_lines_of_nothing_change_nothing(lines, rounding):
    zeros = [Line(D("0"), 12345), Line(D("3"), 0, taxes=(Tax("VAT", D("20")),))]
    with_zeros = compute(zeros + lines + zeros, rounding=rounding)
    without = compute(lines, rounding=rounding)
    assert (with_zeros.subtotal, with_zeros.net, with_zeros.tax, with_zeros.total) == (
        without.subtotal,
        without.net,
        without.tax,
        without.total,
    )
    assert with_zeros.lines[2 : 2 + len(lines)] == without.lines


# -- schedules and late fees -----------------------------------------------------------------

part_values = st.one_of(
    st.integers(1, 1_000_000).map(lambda k: Part(percent=ten_thousandths(k))),
    st.integers(1, 10**9).map(lambda k: Part(amount=k)),
)
schedules = st.tuples(
    st.lists(part_values, max_size=23), st.one_of(st.just(Part(balance=True)), part_values)
).map(lambda drawn: [*drawn[0], drawn[1]])
totals_to_split = st.one_of(st.integers(1, 1000), st.integers(1, 10**12))


@MANY
@given(total=totals_to_split, parts=schedules, rounding=roundings)
def test_a_schedule_sums_to_its_total_with_every_instalment_above_zero(total, parts, rounding):
    try:
        amounts = schedule_split(total, parts, rounding=rounding)
    except PricingError as error:
        assert error.code in {"schedule_invalid", "schedule_exceeds_total"}
        event(f"refused: {error.code}")
        return
    event("split")
    assert sum(amounts) == total
    assert len(amounts) == len(parts)
    assert all(amount > 0 for amount in amounts)
    # In order: each part but the last is its own figure, rounded.
    for part, amount in zip(parts[:-1], amounts[:-1], strict=True):
        if part.amount is not None:
            assert amount == part.amount
        else:
            assert abs(amount - Fraction(part.percent) * total / 100) <= HALF


@st.composite
def roomy_percent_schedules(draw) -> tuple[int, list[Part]]:
    """Whole percents adding up to less than 100, on a total large enough that no part, the
    balance included, can round to 0 (each rounding moves a part by half a unit at most)."""
    percents = draw(st.lists(st.integers(1, 19), min_size=1, max_size=5))
    smallest = min(*percents, 100 - sum(percents))
    total = draw(st.integers(-(-100 * (len(percents) + 2) // smallest), 10**9))
    return total, [Part(percent=D(p)) for p in percents] + [Part(balance=True)]


@MANY
@given(drawn=roomy_percent_schedules(), rounding=roundings)
def test_percent_schedules_that_leave_room_always_split(drawn, rounding):
    total, parts = drawn
    amounts = schedule_split(total, parts, rounding=rounding)
    assert sum(amounts) == total and all(amount > 0 for amount in amounts)


@MANY
@given(
    total=st.integers(1, 10**12),
    paid_shares=st.lists(st.integers(1, 1000), max_size=5),
    parts=schedules,
    rounding=roundings,
)
def test_a_rebalance_splits_what_the_paid_instalments_leave(total, paid_shares, parts, rounding):
    # Paid instalments of at most a fifth of the total each, when that is at least 1.
    paid = [max(1, total * share // 5000) for share in paid_shares]
    try:
        amounts = schedule_rebalance(total, paid, parts, rounding=rounding)
    except PricingError as error:
        assert error.code in {"schedule_invalid", "schedule_exceeds_total"}
        event(f"refused: {error.code}")
        return
    event("split")
    assert sum(amounts) == total - sum(paid)
    assert len(amounts) == len(parts)
    assert all(amount > 0 for amount in amounts)
    # The same as splitting the remainder: percents are of what is left.
    assert amounts == schedule_split(total - sum(paid), parts, rounding=rounding)


@MANY
@given(
    balance=st.integers(0, 10**9),
    fixed=st.one_of(st.none(), st.integers(0, 10**7)),
    percent=percents,
    cap=st.one_of(st.none(), st.integers(0, 10**7)),
    already=st.integers(0, 10**7),
    rounding=roundings,
)
def test_a_late_fee_never_takes_the_fees_above_the_cap(
    balance, fixed, percent, cap, already, rounding
):
    fee = late_fee(
        balance=balance,
        fixed=fixed,
        percent=None if fixed is not None else percent,
        cap=cap,
        already=already,
        rounding=rounding,
    )
    assert fee >= 0
    if cap is not None:
        assert already + fee <= max(cap, already)
    uncapped = (
        fixed if fixed is not None else Reference(rounding).round(balance * Fraction(percent) / 100)
    )
    if balance == 0:
        assert fee == 0
    elif cap is None:
        assert fee == uncapped
    else:
        assert fee == min(uncapped, max(0, cap - already))
