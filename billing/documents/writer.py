"""How a document writes things: amounts, dates, quantities, rates and country names in its
locale (Babel), with the words of its language (``labels``; English for a language it lacks).
A document's language is ``Invoice.language``, else its studio's locale."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

from billing.documents.labels import labels_for
from billing.models import Invoice
from billing.money import Money, money_format

# Where paper is Letter rather than A4 (CLDR's measurement data, for the territories we meet).
_LETTER = frozenset({"US", "CA", "MX", "PH", "CL", "CO", "VE", "PR", "GT", "SV", "CR", "PA"})


class Writer:
    """Amounts, dates, quantities and rates written the way of one locale, with its words."""

    def __init__(self, code: str) -> None:
        self.locale = _locale(code)
        self.code = str(self.locale)
        self.t = labels_for(self.locale.language)

    def money(self, amount: int, currency: str) -> str:
        return money_format(Money(int(amount), currency), self.code)

    def date(self, value: dt.date | None) -> str:
        return format_date(value, "long", locale=self.locale) if value else ""

    def quantity(self, value: Any) -> str:
        """``2``, ``1.5``, ``0.125``: no trailing zeros."""
        number = _decimal(value)
        if number is None:
            return str(value)
        return format_decimal(number.normalize(), locale=self.locale, decimal_quantization=False)

    def rate(self, value: Any) -> str:
        """A percent (``"20"``, ``"9.975"``) as the locale writes one: ``20 %``, ``9.975%``."""
        number = _decimal(value)
        if number is None:
            return str(value)
        return format_percent(number / 100, locale=self.locale, decimal_quantization=False)

    def country(self, code: str) -> str:
        code = (code or "").upper()
        return self.locale.territories.get(code, code) if code else ""

    @property
    def page_size(self) -> str:
        return "letter" if self.locale.territory in _LETTER else "A4"


def _locale(code: str) -> Locale:
    try:
        return Locale.parse((code or "en").strip().replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return Locale("en")


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def document_language(invoice: Invoice) -> str:
    """The invoice's language, else its studio's locale."""
    return invoice.language or getattr(invoice.studio, "locale", "") or "en"
