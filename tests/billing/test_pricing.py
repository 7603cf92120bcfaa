"""Invoice arithmetic (``billing.pricing``): worked examples computed by hand, refused input.

Every expected figure is worked out in the comment beside it, in minor units, following the
steps of the module docstring (gross, line discount, invoice discount share, taxes, total).
"half" marks an exact half, where the rounding rule decides.
"""

from __future__ import annotations

import dataclasses
from decimal import ROUND_DOWN, Decimal, localcontext

import pytest

from billing.money import MAX_MINOR
from billing.pricing import (
    CODES,
    MAX_LINES,
    Discount,
    Line,
    LineTotals,
    Part,
    PricingError,
    Tax,
    TaxAmount,
    Totals,
    compute,
    late_fee,
    schedule_rebalance,
    schedule_split,
)

D = Decimal
VAT20 = Tax("VAT", D("20"))
VAT20_INCL = Tax("VAT", D("20"), inclusive=True)
GST5 = Tax("GST", D("5"))
PST7 = Tax("PST", D("7"))
QST = Tax("QST", D("9.975"))
QST_2012 = Tax("QST", D("9.5"), compound=True)  # Quebec until 2012: levied on price + GST
JP10 = Tax("消費税", D("10"))


def _line_figures(totals: Totals) -> list[tuple[int, int, int, int, int, int]]:
    return [
        (t.gross, t.line_discount, t.invoice_discount, t.net, t.tax, t.total) for t in totals.lines
    ]


def _tax_figures(taxes: tuple[TaxAmount, ...]) -> list[tuple[str, int, int]]:
    return [(t.name, t.base, t.amount) for t in taxes]


# (lines, expected per line (gross, line discount, invoice discount, net, tax, total),
#  expected taxes of the invoice (name, base, amount), expected invoice total)
EXAMPLES = [
    pytest.param(
        # 3 × 12.50 = 3750; VAT 3750 × 20% = 750; 3750 + 750 = 4500.
        # 1 × 19.99 = 1999; VAT 1999 × 20% = 399.8 -> 400; 1999 + 400 = 2399.
        [Line(D("3"), 1250, taxes=(VAT20,)), Line(D("1"), 1999, taxes=(VAT20,))],
        None,
        [(3750, 0, 0, 3750, 750, 4500), (1999, 0, 0, 1999, 400, 2399)],
        [("VAT", 3750 + 1999, 750 + 400)],
        4500 + 2399,
        id="exclusive-vat-20",
    ),
    pytest.param(
        # 3 × 9.99 = 2997, VAT included: 2997 × 20 / 120 = 499.5 (half) -> 500 (even);
        # net 2997 − 500 = 2497. (Rounding the net first, 2497.5 -> 2498, would give 2498/499:
        # the rule rounds the tax, so the cent goes to the tax.)
        # 1 × 10.00 incl.: 1000 × 20 / 120 = 166.67 -> 167; net 833. Totals stay the prices.
        [Line(D("3"), 999, taxes=(VAT20_INCL,)), Line(D("1"), 1000, taxes=(VAT20_INCL,))],
        None,
        [(2997, 0, 0, 2497, 500, 2997), (1000, 0, 0, 833, 167, 1000)],
        [("VAT", 2497 + 833, 500 + 167)],
        2997 + 1000,
        id="inclusive-vat-20",
    ),
    pytest.param(
        # British Columbia, 2 × 49.99 = 9998: GST 5% = 499.9 -> 500, PST 7% = 699.86 -> 700,
        # both on the net; 9998 + 500 + 700 = 11198.
        [Line(D("2"), 4999, taxes=(GST5, PST7))],
        None,
        [(9998, 0, 0, 9998, 1200, 11198)],
        [("GST", 9998, 500), ("PST", 9998, 700)],
        11198,
        id="bc-gst-5-pst-7",
    ),
    pytest.param(
        # Quebec since 2013, 1 × 249.99 = 24999: GST 5% = 1249.95 -> 1250,
        # QST 9.975% = 2493.65025 -> 2494, both on the net; 24999 + 1250 + 2494 = 28743.
        [Line(D("1"), 24999, taxes=(GST5, QST))],
        None,
        [(24999, 0, 0, 24999, 3744, 28743)],
        [("GST", 24999, 1250), ("QST", 24999, 2494)],
        28743,
        id="quebec-gst-5-qst-9.975",
    ),
    pytest.param(
        # Compound (Quebec 2012), 1 × 123.45 = 12345: GST 5% = 617.25 -> 617; QST 9.5% on
        # 12345 + 617 = 12962: 1231.39 -> 1231; 12345 + 617 + 1231 = 14193. Listed with the
        # compound tax first: it is still levied after the GST.
        [Line(D("1"), 12345, taxes=(QST_2012, GST5))],
        None,
        [(12345, 0, 0, 12345, 1848, 14193)],
        [("QST", 12962, 1231), ("GST", 12345, 617)],
        14193,
        id="compound-qst-2012",
    ),
    pytest.param(
        # KWD has 3 decimals: 1.234 KWD = 1234. 2.5 × 1234 = 3085 (3.085 KWD); 5% off:
        # 154.25 -> 154; 3085 − 154 = 2931 (2.931 KWD). No tax.
        [Line(D("2.5"), 1234, discount_percent=D("5"))],
        None,
        [(3085, 154, 0, 2931, 0, 2931)],
        [],
        2931,
        id="kwd-3-decimals",
    ),
    pytest.param(
        # JPY has no decimals: ¥1,980 × 3 = 5940; 消費税 10% = 594; ¥6,534.
        [Line(D("3"), 1980, taxes=(JP10,))],
        None,
        [(5940, 0, 0, 5940, 594, 6534)],
        [("消費税", 5940, 594)],
        6534,
        id="jpy-0-decimals",
    ),
    pytest.param(
        # Half-even on exact halves: 0.5 × 1 = 0.5 -> 0; 1.5 × 1 = 1.5 -> 2; 2.5 × 1 = 2.5 -> 2.
        [Line(D("0.5"), 1), Line(D("1.5"), 1), Line(D("2.5"), 1)],
        None,
        [(0, 0, 0, 0, 0, 0), (2, 0, 0, 2, 0, 2), (2, 0, 0, 2, 0, 2)],
        [],
        4,
        id="exact-halves-half-even",
    ),
    pytest.param(
        # Line A: 1 × 100.00 = 10000, 10% off = 1000, base 9000.
        # Line B: 2 × 33.33 = 6666, base 6666. Line C: 0.5 × 12.35 = 617.5 (half) -> 618, base 618.
        # Σ base = 16284; invoice discount 10.00 = 1000, shared pro rata:
        #   A: 1000 × 9000 / 16284 = 552 r 11232;  B: 1000 × 6666 / 16284 = 409 r 5844;
        #   C: 1000 × 618 / 16284 = 37 r 15492.    552 + 409 + 37 = 998: 2 cents left, to the
        #   largest remainders, C then A: shares 553, 409, 38 (= 1000).
        # Net: A 9000 − 553 = 8447, B 6666 − 409 = 6257, C 618 − 38 = 580.
        # VAT 20%: 1689.4 -> 1689, 1251.4 -> 1251, 116.
        [
            Line(D("1"), 10000, discount_percent=D("10"), taxes=(VAT20,)),
            Line(D("2"), 3333, taxes=(VAT20,)),
            Line(D("0.5"), 1235, taxes=(VAT20,)),
        ],
        Discount(amount=1000),  # 10.00 off the invoice
        [
            (10000, 1000, 553, 8447, 1689, 10136),
            (6666, 0, 409, 6257, 1251, 7508),
            (618, 0, 38, 580, 116, 696),
        ],
        [("VAT", 8447 + 6257 + 580, 1689 + 1251 + 116)],
        10136 + 7508 + 696,
        id="line-percent-and-invoice-amount-over-3-lines",
    ),
]


@pytest.mark.parametrize(("lines", "discount", "per_line", "taxes", "total"), EXAMPLES)
def test_worked_examples(lines, discount, per_line, taxes, total):
    totals = compute(lines, discount=discount)
    assert _line_figures(totals) == per_line
    assert _tax_figures(totals.taxes) == taxes
    assert totals.total == total
    assert totals.subtotal == sum(figures[0] for figures in per_line)
    assert totals.discount == sum(figures[1] + figures[2] for figures in per_line)
    assert totals.net == sum(figures[3] for figures in per_line)
    assert totals.tax == sum(figures[4] for figures in per_line)
    assert totals.total == totals.subtotal - totals.discount + totals.tax - totals.inclusive_tax


def test_an_invoice_discount_over_three_lines_adds_up():
    # The figures of the last example, as an invoice: 10000 + 6666 + 618 = 17284 gross;
    # 1000 (line) + 1000 (invoice) = 2000 off; net 15284; VAT 3056; 15284 + 3056 = 18340.
    lines, discount = EXAMPLES[-1].values[:2]
    totals = compute(lines, discount=discount)
    assert (totals.subtotal, totals.discount, totals.net, totals.tax, totals.total) == (
        17284,
        2000,
        15284,
        3056,
        18340,
    )


def test_inclusive_tax_is_inside_the_total():
    # 3 × 9.99 incl. 20%: the client pays 29.97; 5.00 of it is VAT.
    totals = compute([Line(D("3"), 999, taxes=(VAT20_INCL,))])
    assert (totals.net, totals.tax, totals.inclusive_tax, totals.total) == (2497, 500, 500, 2997)


def test_a_thousand_lines_of_a_third_round_per_line():
    # 0.333 × 1.00 = 33.3 cents -> 33 on each line; 1,000 lines: 33,000 (330.00), not the
    # 333 × 100 = 33,300 (333.00) of multiplying the summed quantity: the invoice is the sum
    # of what each line shows, and each line shows 0.33.
    totals = compute([Line(D("0.333"), 100)] * 1000)
    assert {line.gross for line in totals.lines} == {33}
    assert totals.subtotal == totals.total == 33_000


@pytest.mark.parametrize(
    ("quantity", "half_even", "half_up"),
    [
        pytest.param("0.5", 0, 1, id="0.5-cent"),  # 0.5: even 0, up 1
        pytest.param("1.5", 2, 2, id="1.5-cents"),  # 1.5: even 2, up 2
        pytest.param("2.5", 2, 3, id="2.5-cents"),  # 2.5: even 2, up 3
        pytest.param("2.501", 3, 3, id="not-a-half"),  # 2.501: 3 either way
        pytest.param("2.499", 2, 2, id="below-a-half"),  # 2.499: 2 either way
    ],
)
def test_half_even_and_half_up_differ_only_on_exact_halves(quantity, half_even, half_up):
    line = [Line(D(quantity), 1)]
    assert compute(line, rounding="half_even").total == half_even
    assert compute(line, rounding="half_up").total == half_up
    assert compute(line, rounding="half_up").rounding == "half_up"


def test_half_rules_apply_to_taxes_too():
    # 1 × 0.05 at VAT 10%: 0.5 (half) -> 0 (even) or 1 (up).
    line = [Line(D("1"), 5, taxes=(Tax("VAT", D("10")),))]
    assert compute(line).tax == 0
    assert compute(line, rounding="half_up").tax == 1


def test_taxes_group_by_name_rate_and_kind_in_the_order_first_seen():
    # Line 1: 1000 at PST 7% = 70; line 2: 2000 at GST 5% + PST 7% = 100 + 140;
    # line 3: 1000 at VAT 20% "20.00" (the same rate as 20) = 200; line 4: 1000 incl. 20% =
    # 1000 × 20 / 120 = 166.67 -> 167 on a net of 833: another group (inclusive).
    totals = compute(
        [
            Line(D("1"), 1000, taxes=(PST7,)),
            Line(D("1"), 2000, taxes=(GST5, PST7)),
            Line(D("1"), 1000, taxes=(Tax("VAT", D("20.00")),)),
            Line(D("1"), 1000, taxes=(VAT20,)),
            Line(D("1"), 1000, taxes=(VAT20_INCL,)),
        ]
    )
    assert [(t.name, t.rate, t.inclusive, t.base, t.amount) for t in totals.taxes] == [
        ("PST", D("7"), False, 3000, 210),
        ("GST", D("5"), False, 2000, 100),
        ("VAT", D("20.00"), False, 2000, 400),
        ("VAT", D("20"), True, 833, 167),
    ]


def test_no_lines_is_an_invoice_of_zero():
    totals = compute([], discount=Discount(percent=D("10")))
    assert totals == Totals(
        lines=(),
        subtotal=0,
        discount=0,
        net=0,
        tax=0,
        inclusive_tax=0,
        taxes=(),
        total=0,
        rounding="half_even",
    )


def test_a_percent_invoice_discount_is_rounded_once_then_shared():
    # Σ base = 999 + 999 + 999 = 2997; 10% = 299.7 -> 300; thirds: 100 each.
    totals = compute([Line(D("1"), 999)] * 3, discount=Discount(percent=D("10")))
    assert [line.invoice_discount for line in totals.lines] == [100, 100, 100]
    # Σ base = 3 × 1000; 0.05% = 1.5 (half) -> 2: shares 0.667 each -> 0 r 2/3 each; the two
    # cents go to the first two lines (ties to the earlier line).
    totals = compute([Line(D("1"), 1000)] * 3, discount=Discount(percent=D("0.05")))
    assert [line.invoice_discount for line in totals.lines] == [1, 1, 0]


def test_inputs_may_be_ints_or_decimal_strings():
    # The same line three ways: 1.5 × 1000 = 1500, 10% off = 150, VAT 20% on 1350 = 270.
    as_decimals = compute(
        [Line(D("1.5"), 1000, discount_percent=D("10"), taxes=(Tax("VAT", D("20")),))]
    )
    as_strings = compute([Line("1.5", 1000, discount_percent="10", taxes=(Tax("VAT", "20"),))])
    assert as_decimals == as_strings
    assert as_strings.total == 1620
    assert as_strings.taxes[0].rate == D("20")
    assert compute([Line(2, 1000)]).total == 2000


def test_the_decimal_context_does_not_matter():
    lines = [Line(D("2.345"), 1999, discount_percent=D("12.5"), taxes=(GST5, QST))]
    expected = compute(lines)
    with localcontext() as context:
        context.prec = 3
        context.rounding = ROUND_DOWN
        assert compute(lines) == expected


def test_results_are_ordinary_frozen_dataclasses():
    # compute builds LineTotals and TaxAmount without their __init__ (speed): they must be
    # indistinguishable from instances built the ordinary way.
    totals = compute([Line(D("1"), 12345, taxes=(GST5, QST_2012)), Line(D("2"), 500)])
    for line in totals.lines:
        fields = {f.name: getattr(line, f.name) for f in dataclasses.fields(LineTotals)}
        assert vars(line) == fields
        assert line == LineTotals(**fields)
        assert hash(line) == hash(LineTotals(**fields))
        assert repr(line) == repr(LineTotals(**fields))
        for tax in line.taxes:
            tax_fields = {f.name: getattr(tax, f.name) for f in dataclasses.fields(TaxAmount)}
            assert vars(tax) == tax_fields
            assert tax == TaxAmount(**tax_fields)
        with pytest.raises(dataclasses.FrozenInstanceError):
            line.net = 0
    assert dataclasses.replace(totals.lines[1], net=1).net == 1


# -- schedules and late fees -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "parts", "rounding", "expected"),
    [
        pytest.param(
            # 10001 × 30% = 3000.3 -> 3000, twice; the balance 10001 − 6000 = 4001.
            10001,
            [Part(percent=D("30")), Part(percent=D("30")), Part(balance=True)],
            "half_even",
            [3000, 3000, 4001],
            id="30-30-balance-of-10001",
        ),
        pytest.param(
            # 10001 × 33.3333% = 3333.63 -> 3334, twice; the last 10001 − 6668 = 3333 (it
            # says 33.3333% too, but the last part always takes the rest).
            10001,
            [Part(percent=D("33.3333"))] * 3,
            "half_even",
            [3334, 3334, 3333],
            id="thirds-of-10001",
        ),
        pytest.param(
            # 501 × 50% = 250.5 (half): even 250, up 251; the last takes the rest.
            501,
            [Part(percent=D("50")), Part(percent=D("50"))],
            "half_even",
            [250, 251],
            id="half-even-halves",
        ),
        pytest.param(
            501,
            [Part(percent=D("50")), Part(percent=D("50"))],
            "half_up",
            [251, 250],
            id="half-up-halves",
        ),
        pytest.param(
            # A deposit of 250.00, then 50% of 1000.00 = 500.00, then the rest 250.00.
            100000,
            [Part(amount=25000), Part(percent="50"), Part(balance=True)],
            "half_even",
            [25000, 50000, 25000],
            id="deposit-percent-balance",
        ),
        pytest.param(7, [Part(balance=True)], "half_even", [7], id="one-part"),
    ],
)
def test_schedule_split(total, parts, rounding, expected):
    amounts = schedule_split(total, parts, rounding=rounding)
    assert amounts == expected
    assert sum(amounts) == total


@pytest.mark.parametrize(
    ("rounding", "expected"),
    [
        # 10001 − 2500 paid = 7501 left; 50% of it = 3750.5 (half): even 3750, up 3751; the
        # balance takes the rest.
        pytest.param("half_even", [3750, 3751], id="half-even"),
        pytest.param("half_up", [3751, 3750], id="half-up"),
    ],
)
def test_rebalance_keeps_the_paid_deposit(rounding, expected):
    amounts = schedule_rebalance(
        10001, [2500], [Part(percent=D("50")), Part(balance=True)], rounding=rounding
    )
    assert amounts == expected
    assert 2500 + sum(amounts) == 10001
    # A kept instalment of 0 (one reduced to nothing) changes nothing.
    assert (
        schedule_rebalance(
            10001, [2500, 0], [Part(percent=D("50")), Part(balance=True)], rounding=rounding
        )
        == expected
    )


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        # 500.00 overdue × 1.5% = 7.50; 15.00 charged so far under a cap of 20.00: 5.00.
        pytest.param(
            {"balance": 50000, "fixed": None, "percent": D("1.5"), "cap": 2000, "already": 1500},
            500,
            id="percent-capped",
        ),
        pytest.param(
            {"balance": 50000, "fixed": None, "percent": D("1.5"), "cap": None, "already": 1500},
            750,
            id="percent-no-cap",
        ),
        pytest.param(
            {"balance": 50000, "fixed": 2500, "percent": None, "cap": 2000, "already": 0},
            2000,
            id="fixed-above-the-cap",
        ),
        pytest.param(
            {"balance": 50000, "fixed": 2500, "percent": None, "cap": 2000, "already": 2000},
            0,
            id="cap-reached",
        ),
        pytest.param(
            {"balance": 50000, "fixed": 100, "percent": None, "cap": 2000, "already": 2500},
            0,
            id="already-above-the-cap",
        ),
        # 0.33 × 1.5% = 0.495 -> 0; 1.00 × 0.5% = 0.5 (half) -> 0 (even).
        pytest.param(
            {"balance": 33, "fixed": None, "percent": "1.5", "cap": None, "already": 0},
            0,
            id="rounds-to-zero",
        ),
        pytest.param(
            {"balance": 100, "fixed": None, "percent": "0.5", "cap": None, "already": 0},
            0,
            id="half-even",
        ),
        pytest.param(
            {"balance": 0, "fixed": 2500, "percent": None, "cap": None, "already": 0},
            0,
            id="nothing-overdue",
        ),
    ],
)
def test_late_fee(kwargs, expected):
    assert late_fee(**kwargs) == expected


def test_late_fee_half_up():
    # 1.00 × 0.5% = 0.5 (half) -> 1 away from zero.
    fee = late_fee(
        balance=100, fixed=None, percent=D("0.5"), cap=None, already=0, rounding="half_up"
    )
    assert fee == 1


# -- refused input ---------------------------------------------------------------------------

BAD_LINES = [
    # (lines, invoice discount, code, field, index)
    pytest.param([Line(D("1"), 9.99)], None, "price_invalid", "unit_price", 0, id="float-price"),
    pytest.param([Line(True, 100)], None, "quantity_invalid", "quantity", 0, id="bool-quantity"),
    pytest.param([Line(1.5, 100)], None, "quantity_invalid", "quantity", 0, id="float-quantity"),
    pytest.param(
        [Line(D("1"), 1), Line(D("-1"), 100)],
        None,
        "quantity_invalid",
        "quantity",
        1,
        id="negative-quantity",
    ),
    pytest.param(
        [Line(D("1.0005"), 100)], None, "quantity_invalid", "quantity", 0, id="4-decimal-quantity"
    ),
    pytest.param(
        [Line("1.0005", 100)], None, "quantity_invalid", "quantity", 0, id="4-decimal-string"
    ),
    pytest.param([Line("1e3", 100)], None, "quantity_invalid", "quantity", 0, id="exponent-text"),
    pytest.param(
        [Line(D("1E-999999999"), 100)], None, "quantity_invalid", "quantity", 0, id="tiny"
    ),
    pytest.param([Line(D("NaN"), 100)], None, "quantity_invalid", "quantity", 0, id="nan"),
    pytest.param([Line(D("Infinity"), 1)], None, "quantity_invalid", "quantity", 0, id="inf"),
    pytest.param(
        [Line(D("1000000.001"), 1)], None, "quantity_invalid", "quantity", 0, id="huge-quantity"
    ),
    pytest.param([Line(D("1"), -1)], None, "price_invalid", "unit_price", 0, id="negative-price"),
    pytest.param([Line(D("1"), True)], None, "price_invalid", "unit_price", 0, id="bool-price"),
    pytest.param(
        [Line(D("1"), MAX_MINOR + 1)], None, "price_invalid", "unit_price", 0, id="huge-price"
    ),
    pytest.param(
        [Line(D("1"), 100, taxes=(Tax("VAT", D("100.5")),))],
        None,
        "tax_rate_invalid",
        "taxes",
        0,
        id="tax-rate-100.5",
    ),
    pytest.param(
        [Line(D("1"), 100, taxes=(Tax("VAT", 20.0),))],
        None,
        "tax_rate_invalid",
        "taxes",
        0,
        id="float-tax-rate",
    ),
    pytest.param(
        [Line(D("1"), 100, taxes=(Tax("VAT", D("9.99751")),))],
        None,
        "tax_rate_invalid",
        "taxes",
        0,
        id="5-decimal-tax-rate",
    ),
    pytest.param(
        [Line(D("1"), 100, taxes=(Tax("", D("5")),))],
        None,
        "tax_rate_invalid",
        "taxes",
        0,
        id="nameless-tax",
    ),
    pytest.param(
        [Line(D("1"), 100, taxes=(Tax("A", D("60"), True), Tax("B", D("50"), True)))],
        None,
        "tax_rate_invalid",
        "taxes",
        0,
        id="inclusive-over-100",
    ),
    pytest.param(
        [Line(D("1"), 100, discount_amount=101)],
        None,
        "discount_exceeds_total",
        "discount_amount",
        0,
        id="line-discount-above-the-line",
    ),
    pytest.param(
        [Line(D("1"), 100), Line(D("1"), 100, discount_amount=50)],
        Discount(amount=151),
        "discount_exceeds_total",
        "discount",
        None,
        id="invoice-discount-above-the-total",
    ),
    pytest.param(
        [Line(D("1"), 100, discount_percent=D("10"), discount_amount=5)],
        None,
        "discount_invalid",
        "discount_percent",
        0,
        id="both-line-discounts",
    ),
    pytest.param(
        [Line(D("1"), 100)],
        Discount(percent=D("10"), amount=5),
        "discount_invalid",
        "discount",
        None,
        id="both-invoice-discounts",
    ),
    pytest.param(
        [Line(D("1"), 100)], Discount(), "discount_invalid", "discount", None, id="empty-discount"
    ),
    pytest.param(
        [Line(D("1"), 100, discount_percent=D("100.01"))],
        None,
        "discount_invalid",
        "discount_percent",
        0,
        id="discount-over-100-percent",
    ),
    pytest.param(
        [Line(D("1"), 100, discount_amount=-1)],
        None,
        "discount_invalid",
        "discount_amount",
        0,
        id="negative-discount",
    ),
    pytest.param(
        [Line(D("1"), 100)],
        Discount(percent=0.1),
        "discount_invalid",
        "discount",
        None,
        id="float-invoice-discount",
    ),
    pytest.param(
        [Line(D("1"), 100, taxes=(VAT20, Tax("PST", D("7"), inclusive=True)))],
        None,
        "tax_mixed",
        "taxes",
        0,
        id="mixed-inclusive-exclusive",
    ),
    pytest.param(
        [Line(D("1"), 100, taxes=(Tax("QST", D("9.5"), inclusive=True, compound=True),))],
        None,
        "tax_mixed",
        "taxes",
        0,
        id="compound-inclusive",
    ),
]


@pytest.mark.parametrize(("lines", "discount", "code", "field", "index"), BAD_LINES)
def test_bad_input_is_refused_with_its_code(lines, discount, code, field, index):
    with pytest.raises(PricingError) as info:
        compute(lines, discount=discount)
    assert (info.value.code, info.value.field, info.value.index) == (code, field, index)
    assert info.value.code in CODES
    assert info.value.message == str(info.value)


def test_the_compound_inclusive_refusal_says_why():
    with pytest.raises(PricingError, match="Compound taxes are exclusive"):
        compute([Line(D("1"), 100, taxes=(Tax("QST", D("9.5"), True, True),))])


def test_an_unknown_rounding_rule_is_refused():
    with pytest.raises(PricingError) as info:
        compute([], rounding="up")
    assert info.value.code == "rounding_invalid"


def test_too_many_lines_are_refused():
    compute([Line(D("1"), 1)] * MAX_LINES)
    with pytest.raises(PricingError) as info:
        compute([Line(D("1"), 1)] * (MAX_LINES + 1))
    assert info.value.code == "too_many_lines"


def test_other_values_than_the_dataclasses_are_a_type_error():
    with pytest.raises(TypeError):
        compute([{"quantity": 1, "unit_price": 100}])
    with pytest.raises(TypeError):
        compute([Line(D("1"), 100, taxes=({"name": "VAT", "rate": 20},))])
    with pytest.raises(TypeError):
        schedule_split(100, [{"percent": 50}])


@pytest.mark.parametrize(
    ("total", "parts", "code", "index"),
    [
        pytest.param(0, [Part(balance=True)], "schedule_invalid", None, id="zero-total"),
        pytest.param(10.0, [Part(balance=True)], "schedule_invalid", None, id="float-total"),
        pytest.param(100, [], "schedule_invalid", None, id="no-parts"),
        pytest.param(100, [Part(amount=1)] * 25, "schedule_invalid", None, id="25-parts"),
        pytest.param(100, [Part()], "schedule_invalid", 0, id="empty-part"),
        pytest.param(
            100, [Part(percent=D("10"), amount=10)], "schedule_invalid", 0, id="two-kinds"
        ),
        pytest.param(
            100, [Part(balance=True), Part(amount=10)], "schedule_invalid", 0, id="balance-first"
        ),
        pytest.param(100, [Part(percent=D("0")), Part(balance=True)], "schedule_invalid", 0),
        pytest.param(100, [Part(percent=D("101")), Part(balance=True)], "schedule_invalid", 0),
        pytest.param(100, [Part(percent=0.5), Part(balance=True)], "schedule_invalid", 0),
        pytest.param(100, [Part(amount=0), Part(balance=True)], "schedule_invalid", 0),
        pytest.param(100, [Part(amount=50), Part(amount=0)], "schedule_invalid", 1),
        pytest.param(100, [Part(amount=5.0), Part(balance=True)], "schedule_invalid", 0),
        pytest.param(
            # 10 × 4% = 0.4 -> 0: an instalment of nothing.
            10,
            [Part(percent=D("4")), Part(balance=True)],
            "schedule_invalid",
            0,
            id="rounds-to-zero",
        ),
        pytest.param(
            100,
            [Part(amount=60), Part(amount=60), Part(balance=True)],
            "schedule_exceeds_total",
            None,
            id="exceeds",
        ),
        pytest.param(
            100,
            [Part(percent=D("50")), Part(percent=D("50")), Part(balance=True)],
            "schedule_invalid",
            2,
            id="nothing-left-for-the-last",
        ),
    ],
)
def test_bad_schedules_are_refused(total, parts, code, index):
    with pytest.raises(PricingError) as info:
        schedule_split(total, parts)
    assert (info.value.code, info.value.index) == (code, index)


@pytest.mark.parametrize(
    ("total", "paid", "parts", "code", "field", "index"),
    [
        pytest.param(100, [100], [Part(balance=True)], "schedule_invalid", "paid", None),
        pytest.param(100, [60, 50], [Part(balance=True)], "schedule_exceeds_total", "paid", None),
        pytest.param(100, [-1], [Part(balance=True)], "schedule_invalid", "paid", 0),
        pytest.param(100, [10, 1.5], [Part(balance=True)], "schedule_invalid", "paid", 1),
        pytest.param(100, [1] * 24, [Part(balance=True)], "schedule_invalid", "parts", None),
        # The part's index is its place in the whole schedule: after the paid one.
        pytest.param(100, [10], [Part(), Part(balance=True)], "schedule_invalid", "parts", 1),
    ],
)
def test_bad_rebalances_are_refused(total, paid, parts, code, field, index):
    with pytest.raises(PricingError) as info:
        schedule_rebalance(total, paid, parts)
    assert (info.value.code, info.value.field, info.value.index) == (code, field, index)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"balance": 100, "fixed": 10, "percent": D("1"), "cap": None, "already": 0},
        {"balance": 100, "fixed": None, "percent": None, "cap": None, "already": 0},
        {"balance": -1, "fixed": 10, "percent": None, "cap": None, "already": 0},
        {"balance": 100.0, "fixed": 10, "percent": None, "cap": None, "already": 0},
        {"balance": 100, "fixed": -10, "percent": None, "cap": None, "already": 0},
        {"balance": 100, "fixed": None, "percent": 1.5, "cap": None, "already": 0},
        {"balance": 100, "fixed": None, "percent": D("101"), "cap": None, "already": 0},
        {"balance": 100, "fixed": 10, "percent": None, "cap": -1, "already": 0},
        {"balance": 100, "fixed": 10, "percent": None, "cap": None, "already": -1},
        {"balance": 100, "fixed": 10, "percent": None, "cap": True, "already": 0},
    ],
)
def test_bad_late_fees_are_refused(kwargs):
    with pytest.raises(PricingError) as info:
        late_fee(**kwargs)
    assert info.value.code == "late_fee_invalid"
