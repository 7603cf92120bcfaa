"""Amounts of money: integer minor units with an ISO 4217 currency. Pure (no Django).

An amount is an ``int`` of the currency's minor units (1000 = €10.00, 1000 = ¥1000,
1000 = 1.000 KWD); the number of decimals (the exponent) comes from Babel's CLDR data. A
binary float never holds an amount: input that arrives as one is refused, and ``Decimal`` is
used only to read or show a decimal string, exactly (no rounding ever happens: input with more
decimals than the currency has is refused, not rounded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_currency, get_currency_precision, list_currencies

# The largest amount accepted from input, in minor units (10 billion of a 2-decimal currency).
# Sums of many amounts may exceed it; the ledger's 64-bit columns hold 9.2e18.
MAX_MINOR = 10**12

_CODE = re.compile(r"[A-Z]{3}")
# A plain decimal: optional minus, digits, optionally a point and digits. No exponent, no
# grouping, no leading "+" or ".", no surrounding spaces, ASCII digits only.
_DECIMAL = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")
_MAX_INTEGER_DIGITS = len(str(MAX_MINOR))


class MoneyError(ValueError):
    """Bad money input; ``code`` is the API's machine-readable error code."""

    code = "amount_invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AmountFloat(MoneyError):
    code = "amount_float"


class AmountInvalid(MoneyError):
    code = "amount_invalid"


class AmountPrecision(MoneyError):
    code = "amount_precision"


class AmountTooLarge(MoneyError):
    code = "amount_too_large"


class CurrencyUnknown(MoneyError):
    code = "currency_unknown"


class CurrencyMismatch(MoneyError):
    """Arithmetic or ordering between two currencies."""

    code = "currency_mismatch"


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    return frozenset(code for code in list_currencies() if _CODE.fullmatch(code))


def currency_valid(code: object) -> bool:
    """Whether ``code`` is an upper-case ISO 4217 code Babel knows ("EUR"; not "eur")."""
    return isinstance(code, str) and code in _currencies()


def currency_exponent(code: str) -> int:
    """The number of decimals of the currency's minor unit: JPY 0, EUR 2, KWD 3."""
    if not currency_valid(code):
        raise CurrencyUnknown(f"Unknown currency {code!r}.")
    return _exponent(code)


@lru_cache(maxsize=512)
def _exponent(code: str) -> int:
    return int(get_currency_precision(code))


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of minor units in one currency.

    ``==`` is value equality (``Money(1, "EUR") != Money(1, "USD")``, so amounts of several
    currencies can sit in sets and dicts); ``<``, ``+``, ``-`` between two currencies raise
    ``CurrencyMismatch``: there is no answer without an exchange rate.
    """

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount) is not int:  # bool and float are refused; int subclasses too
            if isinstance(self.amount, float):
                raise AmountFloat("An amount is an integer of minor units, never a float.")
            raise AmountInvalid(f"An amount is an integer of minor units, not {self.amount!r}.")
        if not currency_valid(self.currency):
            raise CurrencyUnknown(f"Unknown currency {self.currency!r}.")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(f"Cannot combine {self.currency} with {other.currency}.")

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.amount >= other.amount

    def is_zero(self) -> bool:
        return self.amount == 0

    def is_positive(self) -> bool:
        return self.amount > 0

    def to_decimal(self) -> Decimal:
        """The amount in major units, exactly (``Decimal("10.00")`` for 1000 EUR cents)."""
        return Decimal(self.amount).scaleb(-_exponent(self.currency))

    def decimal_str(self) -> str:
        """``"10.00"``, ``"-0.05"``, ``"1000"`` (JPY), ``"1.000"`` (KWD): the exponent's digits."""
        exponent = _exponent(self.currency)
        sign = "-" if self.amount < 0 else ""
        whole, fraction = divmod(abs(self.amount), 10**exponent)
        if exponent == 0:
            return f"{sign}{whole}"
        return f"{sign}{whole}.{fraction:0{exponent}d}"


def money_parse(value: object, currency: str) -> Money:
    """Money from input: an ``int`` of minor units, or a decimal string in major units.

    ``money_parse(1050, "EUR")`` and ``money_parse("10.50", "EUR")`` are both €10.50;
    ``"10"`` and ``"0.5"`` are read too. Refused, each with its ``MoneyError``: a float or a
    bool (``amount_float`` / ``amount_invalid``), None, NaN or infinity, an exponent ("1e3"),
    anything not a plain decimal (``amount_invalid``), more decimals than the currency has
    (``amount_precision``: "10.001" EUR, "10.5" JPY), more than ``MAX_MINOR`` minor units
    either way (``amount_too_large``), an unknown currency (``currency_unknown``).
    """
    if not currency_valid(currency):
        raise CurrencyUnknown(f"Unknown currency {currency!r}.")
    exponent = _exponent(currency)
    if isinstance(value, float):
        raise AmountFloat(
            "Send the amount as an integer of minor units or as a decimal string, not a number "
            "with a fraction."
        )
    if isinstance(value, bool) or value is None:
        raise AmountInvalid(f"An amount is required, not {value!r}.")
    if isinstance(value, int):
        minor = value
    elif isinstance(value, Decimal):
        minor = _from_decimal_text(_decimal_text(value), exponent)
    elif isinstance(value, str):
        minor = _from_decimal_text(value, exponent)
    else:
        raise AmountInvalid(f"An amount is an integer or a decimal string, not {type(value)}.")
    if abs(minor) > MAX_MINOR:
        raise AmountTooLarge(f"The amount is larger than {MAX_MINOR} minor units.")
    return Money(minor, currency)


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise AmountInvalid("An amount must be a finite number.")
    return format(value, "f")  # no exponent: Decimal("1E+3") -> "1000"


def _from_decimal_text(text: str, exponent: int) -> int:
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise AmountInvalid(
            f"{text[:40]!r} is not a plain decimal amount like 10.00 (no exponent, no grouping)."
        )
    sign, whole, fraction = match.group(1), match.group(2).lstrip("0"), match.group(3) or ""
    if len(fraction) > exponent:
        raise AmountPrecision(f"This currency has {exponent} decimal(s); {text[:40]!r} has more.")
    if len(whole) > _MAX_INTEGER_DIGITS:  # before int(): no huge conversions
        raise AmountTooLarge(f"The amount is larger than {MAX_MINOR} minor units.")
    minor = int(whole or "0") * 10**exponent + int(fraction.ljust(exponent, "0") or "0")
    return -minor if sign else minor


def money_format(money: Money, locale: str) -> str:
    """The amount as people read it: ``€10.00`` (en), ``10,00 €`` (de_DE), ``￥1,000`` (ja)."""
    return format_currency(money.to_decimal(), money.currency, locale=locale)
