"""Invoice arithmetic: line and invoice totals, taxes, payment schedules, late fees. Pure.

No Django, no ORM, no I/O: ``billing.services`` reads the rows, builds ``Line``, ``Discount``
and ``Part`` values, calls these functions and stores what they return. Every amount is an
``int`` of the currency's minor units (the exponent does not matter here: 1234 is 12.34 EUR,
1.234 KWD or ¥1,234 alike). Quantities, rates and percentages are exact decimals: a
``Decimal``, an ``int``, or a ``str`` of a plain decimal ("9.975"). A binary float or a bool
is refused wherever a number is read; nothing is ever rounded on the way in (a quantity with
a fourth decimal is refused, not rounded). The arithmetic inside is on integers (quantities in
thousandths, rates in ten-thousandths of a percent) and every rounding is one exact integer
division with the invoice's rule, so the results do not depend on any ``decimal`` context.

Limits: at most 5,000 lines; a quantity 0..1,000,000 with at most 3 decimals; a unit price
and every amount given 0..``MAX_MINOR`` (sums may pass it); rates and percentages 0..100 with
at most 4 decimals ("1.5000" counts as 1 decimal: the value matters, not how it is written);
a tax's name 1..40 characters.

Rounding (``rounding``): ``"half_even"`` (a half goes to the even neighbour, the default) or
``"half_up"`` (a half goes away from zero). Both give the nearest integer; they differ only
on exact halves.

``compute(lines, discount=..., rounding=...)``, per line, in this order, each step rounded to
an integer of minor units:

1. ``gross = round(quantity × unit_price)``.
2. The line's own discount: ``round(gross × percent / 100)``, or its amount (an amount above
   ``gross`` is ``discount_exceeds_total`` with the line's ``index``). A line has at most one
   of the two. ``base = gross − line_discount``.
3. The invoice-level discount ``D``: ``round(Σ base × percent / 100)`` or its amount (above
   ``Σ base``: ``discount_exceeds_total``). ``D`` is shared among the lines in proportion to
   their ``base`` by the largest-remainder method: each line gets ``⌊D × base / Σ base⌋``,
   and the cents left over go one each to the lines with the largest remainders (a tie to the
   earlier line). The shares sum to ``D`` exactly and no share exceeds its line's base.
   (Lines that come to nothing: a percent gives ``D = 0``, an amount above 0 is refused.)
4. ``G = base − share``: what the line charges before any exclusive tax.
5. Taxes. A line's taxes are all exclusive or all inclusive (``tax_mixed`` otherwise).

   - Exclusive: ``net = G``. A non-compound tax is ``round(net × rate / 100)`` on base
     ``net``; a compound tax (Quebec's QST before 2013) is ``round((net + the line's
     non-compound tax amounts, as rounded) × rate / 100)`` on that base. Compound taxes are
     levied on the non-compound ones only, never on one another, whatever their order.
   - Inclusive (``G`` already contains them): with ``R`` the sum of the line's rates, each
     tax is ``round(G × rate / (100 + R))``; ``net = G − Σ taxes``, the base of each, so
     ``net + tax == G``: not a cent is made or lost. The tax is what is rounded: 3 × 9.99
     including 20% is 2997 × 20 / 120 = 499.5 -> 500 of tax (either rule) and a net of
     2497. A compound tax cannot be inclusive (``tax_mixed``), and the inclusive rates of
     one line may add up to 100% at most (``tax_rate_invalid``): that bound is what keeps
     ``net >= 0`` (each rounded tax is at most twice its exact share, so
     ``Σ taxes <= 2·G·R/(100 + R) <= G``).

6. ``total = net + tax``.

The invoice's figures are sums of the lines': ``subtotal`` (gross), ``discount`` (line and
invoice discounts), ``net``, ``tax``, ``inclusive_tax`` (the part of ``tax`` inside the
prices) and ``total``, so ``total == subtotal − discount + tax − inclusive_tax``.
``Totals.taxes`` groups the lines' tax amounts by (name, rate, inclusive, compound) in the
order first seen, bases and amounts summed ("20" and "20.00" are one rate; the first seen is
shown). A ``TaxAmount``'s rate is a ``Decimal`` whatever the ``Tax`` was given. Rounding
per line means a thousand lines of 0.333 at 1.00 cost 33 each (33,000 in all), not 333 × 100:
the invoice is the sum of what each line shows.

Schedules (``schedule_split``): a total (> 0) split into 1..24 instalments, in order. Each
``Part`` is exactly one of a percent of the total (0 < p <= 100, rounded with the invoice's
rule), a fixed amount (> 0), or the balance (the last part only). The last part always takes
what the others leave (``total − Σ the others``), whatever it says — so it absorbs the
rounding, and its own figure is read and checked but not used. The others summing above the
total is ``schedule_exceeds_total``; any instalment coming to 0 or less is
``schedule_invalid``. ``schedule_rebalance`` re-splits what is left of an open invoice after
the kept (paid) instalments (each >= 0, together less than the total, at most 24 with the
new parts): the same rules on ``total − Σ paid``, percents being of that remainder, and an
error about a part gives its place in the whole schedule (after the paid ones).

``late_fee``: one application of a late fee to an overdue balance, a fixed amount or
``round(balance × percent / 100)``, trimmed so that the fees charged (``already`` plus this
one) never exceed ``cap``; 0 on a balance of 0.

Errors are ``PricingError`` (a ``ValueError``) with a machine-readable ``code``, a ``message``,
the input ``field`` and, for a line or a part, its ``index``. Values of the wrong class where
a ``Line``, ``Tax``, ``Discount`` or ``Part`` is expected are a programming error
(``TypeError``). The dataclasses hold what they are given; the functions check it, so an
error can say which line it is about.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from billing.money import MAX_MINOR

RoundingMode = Literal["half_even", "half_up"]
ROUNDING_MODES: tuple[str, ...] = ("half_even", "half_up")

MAX_LINES = 5_000
MAX_QUANTITY = 1_000_000
MAX_PARTS = 24
MAX_TAX_NAME = 40
QUANTITY_PLACES = 3  # quantities are read as int thousandths
RATE_PLACES = 4  # rates and percentages as int ten-thousandths of a percent

_QUANTITY_SCALE = 10**QUANTITY_PLACES
_RATE_SCALE = 10**RATE_PLACES
_PERCENT = 100 * _RATE_SCALE  # a rate in ten-thousandths over this is the fraction
_TWICE_QUANTITY_SCALE = 2 * _QUANTITY_SCALE
_TWICE_PERCENT = 2 * _PERCENT
_HUNDRED = 100

# A plain decimal as text: digits, optionally a point and digits, an optional minus (refused
# later with a clearer message). No exponent, no grouping, no spaces.
_PLAIN = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,20})?")

CODES = frozenset(
    {
        "quantity_invalid",
        "price_invalid",
        "discount_invalid",
        "discount_exceeds_total",
        "tax_rate_invalid",
        "tax_mixed",
        "rounding_invalid",
        "schedule_invalid",
        "schedule_exceeds_total",
        "late_fee_invalid",
        "too_many_lines",
    }
)


class PricingError(ValueError):
    """Input the computation refuses. ``code`` is machine-readable (one of ``CODES``);
    ``field`` names the input (``"quantity"``, ``"discount"``, ...); ``index`` is the line's (or
    the part's, or the paid instalment's) position, or None when the error is not about one."""

    def __init__(
        self, message: str, *, code: str, field: str | None = None, index: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.index = index

    def __repr__(self) -> str:
        return (
            f"PricingError({self.message!r}, code={self.code!r}, field={self.field!r}, "
            f"index={self.index!r})"
        )


@dataclass(frozen=True)
class Tax:
    """A tax on a line: ``rate`` is a percent (0..100, at most 4 decimals: "9.975")."""

    name: str
    rate: Decimal
    inclusive: bool = False
    compound: bool = False


@dataclass(frozen=True)
class Line:
    """An invoice line: ``quantity`` (0..1,000,000, at most 3 decimals) × ``unit_price``
    (minor units, 0..``MAX_MINOR``), at most one discount of its own, and its taxes."""

    quantity: Decimal
    unit_price: int
    discount_percent: Decimal | None = None
    discount_amount: int | None = None
    taxes: tuple[Tax, ...] = ()


@dataclass(frozen=True)
class Discount:
    """An invoice-level discount: exactly one of a percent (0..100) or an amount."""

    percent: Decimal | None = None
    amount: int | None = None


@dataclass(frozen=True)
class TaxAmount:
    name: str
    rate: Decimal
    inclusive: bool
    compound: bool
    base: int  # the taxable amount it was computed on
    amount: int


@dataclass(frozen=True)
class LineTotals:
    gross: int  # round(quantity × unit_price)
    line_discount: int  # the line's own discount
    invoice_discount: int  # its share of the invoice-level discount
    net: int  # after discounts, without any tax (revenue)
    taxes: tuple[TaxAmount, ...]
    tax: int
    total: int  # net + tax


@dataclass(frozen=True)
class Totals:
    lines: tuple[LineTotals, ...]
    subtotal: int  # Σ gross
    discount: int  # Σ (line_discount + invoice_discount)
    net: int  # Σ net
    tax: int  # Σ tax
    inclusive_tax: int  # the part of ``tax`` that was inside the prices
    taxes: tuple[TaxAmount, ...]  # grouped by (name, rate, inclusive, compound), first seen
    total: int  # Σ line totals
    rounding: str


@dataclass(frozen=True)
class Part:
    """One instalment of a schedule: exactly one of a percent of the total (0 < p <= 100), an
    amount (> 0), or the balance (the last part only; the last part takes the rest anyway)."""

    percent: Decimal | None = None
    amount: int | None = None
    balance: bool = False


# -- exact integer arithmetic ----------------------------------------------------------------


def _div(numerator: int, denominator: int, half_even: bool) -> int:
    """``numerator / denominator`` rounded to the nearest integer (``denominator > 0``); an
    exact half goes to the even neighbour, or away from zero."""
    quotient, remainder = divmod(numerator, denominator)  # floor division, 0 <= remainder
    twice = remainder + remainder
    if twice > denominator:
        return quotient + 1
    if twice < denominator:
        return quotient
    if half_even:
        return quotient + (quotient & 1)
    return quotient + 1 if numerator >= 0 else quotient


def _half_even(rounding: object) -> bool:
    if rounding == "half_even":
        return True
    if rounding == "half_up":
        return False
    raise PricingError(
        f"Rounding is 'half_even' or 'half_up', not {rounding!r}.",
        code="rounding_invalid",
        field="rounding",
    )


# -- reading input ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Source:
    """Where a value comes from, for its error: the code, the input field, the line or part."""

    code: str
    field: str | None
    what: str  # "The quantity"
    index: int | None = None

    def error(self, problem: str) -> PricingError:
        return PricingError(
            f"{self.what} {problem}", code=self.code, field=self.field, index=self.index
        )


def _scaled(value: object, places: int, high: int, source: _Source) -> int:
    """``value × 10**places`` as an exact int, for a value in 0..``high`` with at most
    ``places`` decimals: a Decimal, an int, or a plain decimal string. Nothing is rounded."""
    if type(value) is int:  # not bool (a subclass of int)
        number: Decimal | int = value
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise source.error("must be a finite number.")
        number = value
    elif isinstance(value, str):
        if _PLAIN.fullmatch(value) is None:
            raise source.error(f"must be a plain decimal like 1.5, not {value[:40]!r}.")
        number = Decimal(value)
    elif isinstance(value, float):
        raise source.error("must be a Decimal or a decimal string, never a float (not exact).")
    else:
        raise source.error(f"must be a Decimal, an int or a decimal string, not {value!r:.40}.")
    if number < 0:
        raise source.error("cannot be negative.")
    if number > high:
        raise source.error(f"cannot exceed {high}.")
    if type(number) is int:
        return number * 10**places
    # ``as_integer_ratio`` is exact whatever the decimal context and however the value is
    # written ("1.5000" has 1 decimal, "1E+2" none); a remainder means more decimals than
    # allowed. A non-zero value below 10**-places is refused first, so a tiny value written
    # with a huge exponent ("1E-999999999") never builds a huge denominator.
    if not number or number.adjusted() >= -places:
        numerator, denominator = number.as_integer_ratio()
        scaled, rest = divmod(numerator * 10**places, denominator)
        if not rest:
            return scaled
    raise source.error(f"has more than {places} decimals; it is never rounded.")


def _percent(value: object, source: _Source) -> int:
    """A percent 0..100 with at most 4 decimals, in ten-thousandths of a percent."""
    return _scaled(value, RATE_PLACES, _HUNDRED, source)


def _amount(value: object, source: _Source) -> int:
    """An int of minor units, 0..``MAX_MINOR``."""
    if type(value) is not int:
        kind = "a float" if isinstance(value, float) else repr(value)[:40]
        raise source.error(f"is an integer of minor units, not {kind}.")
    if value < 0:
        raise source.error("cannot be negative.")
    if value > MAX_MINOR:
        raise source.error(f"is larger than {MAX_MINOR} minor units.")
    return value


_NO_TAX, _EXCLUSIVE, _INCLUSIVE, _COMPOUND = range(4)


@dataclass(frozen=True, slots=True)
class _TaxPlan:
    """A line's taxes, checked and converted once per distinct tuple."""

    taxes: tuple[Tax, ...]  # rates as Decimal
    rates: tuple[int, ...]  # ten-thousandths of a percent, in the order given
    keys: tuple[tuple[str, int, bool, bool], ...]  # how ``Totals.taxes`` groups them
    kind: int  # _NO_TAX, _EXCLUSIVE (none compound), _INCLUSIVE or _COMPOUND (some are)
    denominator: int  # inclusive: (100 + R) in ten-thousandths of a percent


def _tax_plan(taxes: object, index: int, checked: dict[int, tuple[Tax, int]]) -> _TaxPlan:
    source = _Source("tax_rate_invalid", "taxes", "A line's taxes", index)
    if not isinstance(taxes, tuple | list):
        raise source.error("are a tuple of Tax.")
    rates: list[int] = []
    normalised: list[Tax] = []
    for tax in taxes:
        seen = checked.get(id(tax))
        if seen is None:
            seen = checked[id(tax)] = _tax_checked(tax, index)
        normalised.append(seen[0])
        rates.append(seen[1])
    mixed = _Source("tax_mixed", "taxes", "A line's taxes", index)
    if len({tax.inclusive for tax in normalised}) > 1:
        raise mixed.error("are all inclusive or all exclusive.")
    inclusive = bool(normalised) and normalised[0].inclusive
    if inclusive and any(tax.compound for tax in normalised):
        raise PricingError(
            "Compound taxes are exclusive: a compound tax cannot be included in the price.",
            code="tax_mixed",
            field="taxes",
            index=index,
        )
    if inclusive and sum(rates) > _PERCENT:
        # See the module docstring: beyond 100% the rounded taxes could exceed the price.
        raise source.error("add up to more than 100% when included in the price.")
    if not normalised:
        kind = _NO_TAX
    elif inclusive:
        kind = _INCLUSIVE
    elif any(tax.compound for tax in normalised):
        kind = _COMPOUND
    else:
        kind = _EXCLUSIVE
    return _TaxPlan(
        taxes=tuple(normalised),
        rates=tuple(rates),
        keys=tuple(
            (tax.name, rate, tax.inclusive, tax.compound)
            for tax, rate in zip(normalised, rates, strict=True)
        ),
        kind=kind,
        denominator=_PERCENT + sum(rates),
    )


def _tax_checked(tax: object, index: int) -> tuple[Tax, int]:
    if not isinstance(tax, Tax):
        raise TypeError(f"A line's taxes are Tax values, not {type(tax).__name__}.")
    source = _Source("tax_rate_invalid", "taxes", "A tax", index)
    if not isinstance(tax.name, str) or not 1 <= len(tax.name) <= MAX_TAX_NAME:
        raise source.error(f"has a name of 1 to {MAX_TAX_NAME} characters.")
    if type(tax.inclusive) is not bool or type(tax.compound) is not bool:
        raise source.error("has inclusive and compound flags that are booleans.")
    rate = _percent(
        tax.rate, _Source("tax_rate_invalid", "taxes", f"The rate of {tax.name}", index)
    )
    if not isinstance(tax.rate, Decimal):
        tax = dataclasses.replace(tax, rate=Decimal(tax.rate))
    return tax, rate


# -- invoices --------------------------------------------------------------------------------


def compute(
    lines: Sequence[Line],
    *,
    discount: Discount | None = None,
    rounding: RoundingMode = "half_even",
) -> Totals:
    """The totals of an invoice's lines (see the module docstring for every step)."""
    half_even = _half_even(rounding)
    lines = list(lines)
    if len(lines) > MAX_LINES:
        raise PricingError(
            f"An invoice has at most {MAX_LINES} lines.", code="too_many_lines", field="lines"
        )

    # This loop and the next are the hot path (a bench computes 1,000 lines in a few ms), so
    # the rounding ``_div`` does is written out: for n >= 0, ``divmod(2n + d, 2d)`` is
    # ``n / d`` rounded half up, and a remainder of 0 with an odd quotient is an exact half,
    # which half-even takes down. Taxes are checked and converted once per distinct tuple.
    plans: dict[int, tuple[int, int, tuple, list[int]]] = {}
    checked: dict[int, tuple[Tax, int]] = {}
    groups: dict[tuple[str, int, bool, bool], list] = {}
    line_plans: list[tuple[int, int, tuple, list[int]]] = []
    grosses: list[int] = []
    line_discounts: list[int] = []
    bases: list[int] = []
    for index, line in enumerate(lines):
        if not isinstance(line, Line):
            raise TypeError(f"compute() takes Line values, not {type(line).__name__}.")
        quantity = _fast_scaled(line.quantity, _QUANTITY_SCALE, MAX_QUANTITY, -QUANTITY_PLACES)
        if quantity is None:
            quantity = _scaled(
                line.quantity,
                QUANTITY_PLACES,
                MAX_QUANTITY,
                _Source("quantity_invalid", "quantity", "The quantity", index),
            )
        price = line.unit_price
        if type(price) is not int or not 0 <= price <= MAX_MINOR:
            _amount(price, _Source("price_invalid", "unit_price", "The price", index))
        gross, rest = divmod(2 * quantity * price + _QUANTITY_SCALE, _TWICE_QUANTITY_SCALE)
        if half_even and not rest and gross & 1:
            gross -= 1

        percent, amount = line.discount_percent, line.discount_amount
        if percent is None and amount is None:
            own = 0
        elif percent is not None and amount is not None:
            raise PricingError(
                "A line has a discount percent or a discount amount, not both.",
                code="discount_invalid",
                field="discount_percent",
                index=index,
            )
        elif percent is not None:
            rate = _fast_scaled(percent, _RATE_SCALE, _HUNDRED, -RATE_PLACES)
            if rate is None:
                rate = _percent(
                    percent,
                    _Source("discount_invalid", "discount_percent", "The discount percent", index),
                )
            own, rest = divmod(2 * gross * rate + _PERCENT, _TWICE_PERCENT)
            if half_even and not rest and own & 1:
                own -= 1
        else:
            own = _amount(
                amount, _Source("discount_invalid", "discount_amount", "The discount amount", index)
            )
            if own > gross:
                raise PricingError(
                    f"The line's discount ({own}) is more than the line ({gross}).",
                    code="discount_exceeds_total",
                    field="discount_amount",
                    index=index,
                )

        taxes = line.taxes
        planned = plans.get(id(taxes))
        if planned is None:
            plan = _tax_plan(taxes, index, checked)
            # Groups are made in the order their taxes are first seen, line after line.
            entries = tuple(
                (
                    tax.name,
                    tax.rate,
                    tax.inclusive,
                    tax.compound,
                    rate,
                    groups.setdefault(key, [tax, 0, 0]),
                )
                for tax, rate, key in zip(plan.taxes, plan.rates, plan.keys, strict=True)
            )
            planned = plans[id(taxes)] = (plan.kind, plan.denominator, entries, [0])
        line_plans.append(planned)
        grosses.append(gross)
        line_discounts.append(own)
        bases.append(gross - own)

    # Step 3.
    shares = _invoice_discount_shares(bases, discount, half_even)

    # Steps 4 to 6. Each tax's base is added to its group once per line for the taxes of the
    # same base (all but compound ones), through the plan's ``base_sum``.
    out: list[LineTotals] = []
    net_sum = tax_sum = inclusive_tax = 0
    percent, twice_percent = _PERCENT, _TWICE_PERCENT
    new, set_fields = _new, _set
    for gross, own, base, share, (kind, denominator, entries, base_sum) in zip(
        grosses, line_discounts, bases, shares, line_plans, strict=True
    ):
        charged = base - share
        net = charged
        tax = 0
        if kind == _NO_TAX:
            line_taxes = ()
        elif kind == _EXCLUSIVE:
            doubled = charged + charged
            made_taxes = []
            for name, rate, inclusive, compound, scaled, group in entries:
                amount, rest = divmod(doubled * scaled + percent, twice_percent)
                if not rest and half_even and amount & 1:
                    amount -= 1
                tax += amount
                group[2] += amount
                made = new(TaxAmount)
                set_fields(
                    made,
                    "__dict__",
                    {
                        "name": name,
                        "rate": rate,
                        "inclusive": inclusive,
                        "compound": compound,
                        "base": charged,
                        "amount": amount,
                    },
                )
                made_taxes.append(made)
            base_sum[0] += charged
            line_taxes = tuple(made_taxes)
        elif kind == _INCLUSIVE:
            amounts = []
            doubled, twice = charged + charged, denominator + denominator
            for entry in entries:
                amount, rest = divmod(doubled * entry[4] + denominator, twice)
                if not rest and half_even and amount & 1:
                    amount -= 1
                amounts.append(amount)
                tax += amount
            net = charged - tax
            inclusive_tax += tax
            base_sum[0] += net
            line_taxes = _tax_amounts(entries, (net,) * len(entries), amounts)
        else:
            amounts, tax_bases, tax = _compound(charged, entries, half_even)
            line_taxes = _tax_amounts(entries, tax_bases, amounts, compound_bases=True)
        net_sum += net
        tax_sum += tax
        made = new(LineTotals)
        set_fields(
            made,
            "__dict__",
            {
                "gross": gross,
                "line_discount": own,
                "invoice_discount": share,
                "net": net,
                "taxes": line_taxes,
                "tax": tax,
                "total": net + tax,
            },
        )
        out.append(made)
    for kind, _, entries, base_sum in plans.values():
        for entry in entries:
            if kind != _COMPOUND:
                entry[5][1] += base_sum[0]

    return Totals(
        lines=tuple(out),
        subtotal=sum(grosses),
        discount=sum(line_discounts) + sum(shares),
        net=net_sum,
        tax=tax_sum,
        inclusive_tax=inclusive_tax,
        taxes=tuple(
            TaxAmount(tax.name, tax.rate, tax.inclusive, tax.compound, base, amount)
            for tax, base, amount in groups.values()
        ),
        total=net_sum + tax_sum,
        rounding=rounding,
    )


# A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``; an invoice
# of 1,000 lines with two taxes builds 3,000 ``LineTotals`` and ``TaxAmount``, which was a third
# of ``compute``'s time. ``compute`` builds them by setting the instance's dict at once instead
# (the tests check they equal instances built the ordinary way, field for field).
_new = object.__new__
_set = object.__setattr__


def _fast_scaled(value: object, scale: int, high: int, smallest: int) -> int | None:
    """``value × scale`` for the common case, an exact ``Decimal`` in range with few enough
    decimals; None for anything else (``_scaled`` then says what is wrong with it)."""
    if type(value) is not Decimal or not value.is_finite() or not 0 <= value <= high:
        return None
    if value and value.adjusted() < smallest:  # see _scaled
        return None
    numerator, denominator = value.as_integer_ratio()
    scaled, rest = divmod(numerator * scale, denominator)
    return None if rest else scaled


def _compound(charged: int, entries: tuple, half_even: bool) -> tuple[list[int], list[int], int]:
    """Exclusive taxes of a line when some are compound: (amounts, bases, tax), in the taxes'
    order. The compound ones are levied on the net and the non-compound amounts as rounded."""
    amounts = [0] * len(entries)
    bases = [charged] * len(entries)
    simple_tax = 0
    for i, entry in enumerate(entries):
        if not entry[3]:
            amounts[i] = _div(charged * entry[4], _PERCENT, half_even)
            simple_tax += amounts[i]
    compound_base = charged + simple_tax
    tax = simple_tax
    for i, entry in enumerate(entries):
        if entry[3]:
            amounts[i] = _div(compound_base * entry[4], _PERCENT, half_even)
            bases[i] = compound_base
            tax += amounts[i]
    return amounts, bases, tax


def _tax_amounts(
    entries: tuple, bases: Sequence[int], amounts: list[int], *, compound_bases: bool = False
) -> tuple[TaxAmount, ...]:
    """A line's ``TaxAmount``s; each amount (and with ``compound_bases`` each base) is added
    to its group."""
    made = []
    for (name, rate, inclusive, compound, _, group), base, amount in zip(
        entries, bases, amounts, strict=True
    ):
        made.append(TaxAmount(name, rate, inclusive, compound, base, amount))
        group[2] += amount
        if compound_bases:
            group[1] += base
    return tuple(made)


def _invoice_discount_shares(
    bases: list[int], discount: Discount | None, half_even: bool
) -> list[int]:
    """Each line's share of the invoice-level discount (largest remainders, ties earlier)."""
    if discount is None:
        return [0] * len(bases)
    if not isinstance(discount, Discount):
        raise TypeError(f"discount is a Discount, not {type(discount).__name__}.")
    whole = sum(bases)
    if (discount.percent is None) == (discount.amount is None):
        raise PricingError(
            "An invoice discount is a percent or an amount: exactly one of the two.",
            code="discount_invalid",
            field="discount",
        )
    source = _Source("discount_invalid", "discount", "The invoice discount")
    if discount.percent is not None:
        total = _div(whole * _percent(discount.percent, source), _PERCENT, half_even)
    else:
        total = _amount(discount.amount, source)
        if total > whole:
            raise PricingError(
                f"The invoice discount ({total}) is more than the lines after their own "
                f"discounts ({whole}).",
                code="discount_exceeds_total",
                field="discount",
            )
    if total == 0:
        return [0] * len(bases)
    shares = [total * base // whole for base in bases]
    left = total - sum(shares)
    if left:
        remainders = [total * base % whole for base in bases]
        # A stable sort, even reversed, keeps equal remainders in line order: a tie goes to
        # the earlier line. Only lines with a remainder can be picked (the remainders sum to
        # ``left × whole``, each below ``whole``), so no share passes its line's base.
        by_remainder = sorted(range(len(bases)), key=remainders.__getitem__, reverse=True)
        for i in by_remainder[:left]:
            shares[i] += 1
    return shares


# -- schedules -------------------------------------------------------------------------------


def _positive_total(total: object, field: str) -> int:
    if type(total) is not int or total <= 0:
        raise PricingError(
            f"A schedule splits a positive integer of minor units, not {total!r:.40}.",
            code="schedule_invalid",
            field=field,
        )
    return total


def _split(total: int, parts: list[Part], half_even: bool, offset: int) -> list[int]:
    if not parts:
        raise PricingError("A schedule has at least one part.", code="schedule_invalid")
    last = len(parts) - 1
    amounts: list[int] = []
    for i, part in enumerate(parts):
        if not isinstance(part, Part):
            raise TypeError(f"A schedule's parts are Part values, not {type(part).__name__}.")
        source = _Source("schedule_invalid", "parts", f"Part {offset + i + 1}", offset + i)
        if type(part.balance) is not bool:
            raise source.error("has a balance flag that is a boolean.")
        if (part.percent is not None) + (part.amount is not None) + part.balance != 1:
            raise source.error("is exactly one of a percent, an amount or the balance.")
        if part.balance:
            if i != last:
                raise source.error("is the balance, but only the last part can be.")
            amount = 0
        elif part.percent is not None:
            percent = _percent(part.percent, source)
            if percent == 0:
                raise source.error("has a percent of 0.")
            amount = _div(total * percent, _PERCENT, half_even)
        else:
            amount = _amount(part.amount, source)
            if amount == 0:
                raise source.error("has an amount of 0.")
        if i != last and amount <= 0:
            raise source.error(f"comes to nothing on {total}.")
        amounts.append(amount)
    before = sum(amounts[:last])
    if before > total:
        raise PricingError(
            f"The parts before the last add up to {before}, more than {total}.",
            code="schedule_exceeds_total",
            field="parts",
        )
    if before == total:
        raise source.error("gets nothing: the parts before it take the whole total.")
    amounts[last] = total - before
    return amounts


def schedule_split(
    total: int, parts: Sequence[Part], *, rounding: RoundingMode = "half_even"
) -> list[int]:
    """The instalments of ``total`` for ``parts``, in order: every one > 0, summing to
    ``total`` exactly (the last takes the rest)."""
    half_even = _half_even(rounding)
    total = _positive_total(total, "total")
    parts = list(parts)
    if len(parts) > MAX_PARTS:
        raise PricingError(
            f"A schedule has at most {MAX_PARTS} parts.", code="schedule_invalid", field="parts"
        )
    return _split(total, parts, half_even, 0)


def schedule_rebalance(
    total: int,
    paid: Sequence[int],
    parts: Sequence[Part],
    *,
    rounding: RoundingMode = "half_even",
) -> list[int]:
    """New instalments for an open invoice's schedule after the kept (paid) ones: the
    amounts of ``parts`` only, summing to ``total − Σ paid``; percents are of that remainder.
    Errors about a part carry its position in the whole schedule (after the paid ones)."""
    half_even = _half_even(rounding)
    total = _positive_total(total, "total")
    paid, parts = list(paid), list(parts)
    for i, amount in enumerate(paid):
        _amount(amount, _Source("schedule_invalid", "paid", f"Paid instalment {i + 1}", i))
    if len(paid) + len(parts) > MAX_PARTS:
        raise PricingError(
            f"A schedule has at most {MAX_PARTS} parts, the paid ones included.",
            code="schedule_invalid",
            field="parts",
        )
    kept = sum(paid)
    if kept > total:
        raise PricingError(
            f"The paid instalments ({kept}) are more than the total ({total}).",
            code="schedule_exceeds_total",
            field="paid",
        )
    if kept == total:
        raise PricingError(
            "The paid instalments cover the total: nothing is left to schedule.",
            code="schedule_invalid",
            field="paid",
        )
    return _split(total - kept, parts, half_even, len(paid))


# -- late fees -------------------------------------------------------------------------------


_LATE_FEE_INPUTS = {
    "balance": "The overdue balance",
    "already": "The late fees already charged",
    "fixed": "The fixed late fee",
    "cap": "The late fees' cap",
}


def late_fee(
    *,
    balance: int,
    fixed: int | None,
    percent: Decimal | None,
    cap: int | None,
    already: int,
    rounding: RoundingMode = "half_even",
) -> int:
    """One late fee on an overdue ``balance``: ``fixed``, or ``round(balance × percent / 100)``
    (exactly one of the two), trimmed so ``already + fee <= cap`` when there is a cap; >= 0.
    A balance of 0 owes nothing, so it takes no fee."""
    half_even = _half_even(rounding)

    def checked(value: object, field: str) -> int:
        return _amount(value, _Source("late_fee_invalid", field, _LATE_FEE_INPUTS[field]))

    balance = checked(balance, "balance")
    already = checked(already, "already")
    if (fixed is None) == (percent is None):
        raise PricingError(
            "A late fee is a fixed amount or a percent: exactly one of the two.",
            code="late_fee_invalid",
            field="fixed",
        )
    if fixed is not None:
        fee = checked(fixed, "fixed")
    else:
        rate = _percent(percent, _Source("late_fee_invalid", "percent", "The late fee percent"))
        fee = _div(balance * rate, _PERCENT, half_even)
    if balance == 0:
        return 0
    if cap is not None:
        fee = min(fee, max(0, checked(cap, "cap") - already))
    return fee


__all__ = [
    "CODES",
    "MAX_LINES",
    "MAX_PARTS",
    "ROUNDING_MODES",
    "Discount",
    "Line",
    "LineTotals",
    "Part",
    "PricingError",
    "RoundingMode",
    "Tax",
    "TaxAmount",
    "Totals",
    "compute",
    "late_fee",
    "schedule_rebalance",
    "schedule_split",
]
