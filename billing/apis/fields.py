"""Money in the API: amounts in, amounts out.

In, an amount is a JSON integer of minor units (``1050`` = €10.50) or a decimal string in
major units (``"10.50"``), always with the currency in a sibling ``currency`` field of the same
object: ``{"amount": "10.50", "currency": "EUR"}``. A JSON number with a fraction (``10.5``) is
refused (``amount_float``): a binary float cannot hold 0.10 exactly, and a client that sends
one has already rounded. ``AmountField`` takes the raw value; the serializer's ``validate()``
(``MoneyInputMixin``) reads it with its currency through ``billing.money.money_parse``, so
``validated_data["amount"]`` is a ``Money``. Every refusal is a 400 in the project's error
shape with its own code: ``amount_float``, ``amount_invalid``, ``amount_precision``,
``amount_too_large``, ``currency_unknown``.

Out, an amount is an object: ``{"amount": 1050, "currency": "EUR", "decimal": "10.50",
"formatted": "€10.50"}`` (``MoneyOutputSerializer``), formatted in the studio's locale.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.money import (
    AmountFloat,
    Money,
    MoneyError,
    currency_valid,
    money_format,
    money_parse,
)
from picpick.core.errors import ApplicationError

# The locale amounts are formatted in. Studios have no locale setting yet; when they get one,
# ``studio_locale`` reads it and every amount follows.
DEFAULT_LOCALE = "en"

_AMOUNT_SCHEMA = {
    "oneOf": [
        {"type": "integer", "format": "int64", "description": "Minor units: 1050 is 10.50."},
        {
            "type": "string",
            "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
            "description": "Major units, at most the currency's decimals: '10.50'.",
        },
    ],
    "description": "An integer of minor units or a decimal string, in the currency of the "
    "`currency` field beside it. A JSON number with a fraction is refused (`amount_float`).",
    "example": "10.50",
}


def studio_locale(studio: Any) -> str:
    return getattr(studio, "locale", "") or DEFAULT_LOCALE


def _error(error: MoneyError, field: str) -> ApplicationError:
    return ApplicationError(error.message, code=error.code, fields={field: [error.message]})


@extend_schema_field(_AMOUNT_SCHEMA)
class AmountField(serializers.Field):
    """The raw amount (an int or a decimal string), read with its currency by
    ``MoneyInputMixin.validate``; a float or anything else is refused here."""

    def to_internal_value(self, data: Any) -> int | str:
        if isinstance(data, float):
            raise _error(
                AmountFloat(
                    "Send the amount as an integer of minor units or a decimal string such as "
                    '"10.50", not a number with a fraction.'
                ),
                self.field_name,
            )
        if isinstance(data, bool) or not isinstance(data, int | str):
            raise ApplicationError(
                "An amount is an integer of minor units or a decimal string.",
                code="amount_invalid",
                fields={self.field_name: ["An integer or a decimal string."]},
            )
        return data

    def to_representation(self, value: Any) -> Any:
        return value.amount if isinstance(value, Money) else value


class CurrencyField(serializers.CharField):
    """An upper-case ISO 4217 code (``EUR``); an unknown one is ``currency_unknown``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 3)
        kwargs.setdefault("help_text", "ISO 4217 code, upper case: `EUR`, `USD`, `JPY`.")
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not currency_valid(value):
            raise ApplicationError(
                f"Unknown currency {value[:10]!r}; use an upper-case ISO 4217 code.",
                code="currency_unknown",
                fields={self.field_name: ["Unknown currency."]},
            )
        return value


class MoneyInputMixin:
    """For an input serializer with an ``AmountField`` and its ``currency``: reads them
    together, so ``validated_data[amount_field]`` is a ``Money``. ``min_amount`` (minor units,
    default 1: more than zero) or None for any sign."""

    amount_field = "amount"
    currency_field = "currency"
    min_amount: int | None = 1

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)  # type: ignore[misc]
        if self.amount_field in attrs:
            attrs[self.amount_field] = money_from_input(
                attrs[self.amount_field],
                attrs.get(self.currency_field, ""),
                field=self.amount_field,
                currency_field=self.currency_field,
                min_amount=self.min_amount,
            )
        return attrs


def money_from_input(
    amount: Any,
    currency: str,
    *,
    field: str = "amount",
    currency_field: str = "currency",
    min_amount: int | None = 1,
) -> Money:
    """``money_parse`` with its errors as 400s naming the input field."""
    try:
        money = money_parse(amount, currency)
    except MoneyError as error:
        raise _error(error, currency_field if error.code == "currency_unknown" else field) from None
    if min_amount is not None and money.amount < min_amount:
        raise ApplicationError(
            f"The amount must be at least {Money(min_amount, currency).decimal_str()}.",
            code="amount_invalid",
            fields={field: ["Too small."]},
        )
    return money


class MoneyOutputSerializer(serializers.Serializer):
    """An amount as clients show it. Give it a ``Money``; the locale comes from the
    serializer context's ``locale`` (``DEFAULT_LOCALE`` without one)."""

    amount = serializers.IntegerField(help_text="Minor units of the currency (1050 = 10.50).")
    currency = serializers.CharField(help_text="ISO 4217 code.")
    decimal = serializers.SerializerMethodField(
        help_text="Major units with the currency's decimals: `10.50`, `1000` (JPY)."
    )
    formatted = serializers.SerializerMethodField(
        help_text="For people, in the studio's locale: `€10.50`."
    )

    def get_decimal(self, money: Money) -> str:
        return money.decimal_str()

    def get_formatted(self, money: Money) -> str:
        return money_format(money, self.context.get("locale", DEFAULT_LOCALE))


def money_output(money: Money, *, locale: str = DEFAULT_LOCALE) -> dict:
    """The output object of one amount (for answers that are not a serializer's)."""
    return dict(MoneyOutputSerializer(money, context={"locale": locale}).data)


def money_context(studio: Any) -> dict:
    """The serializer context that writes a studio's amounts in its locale."""
    return {"locale": studio_locale(studio)}


def example_money(amount: int, currency: str = "EUR") -> dict:
    """An amount's output object, for the OpenAPI examples."""
    return money_output(Money(amount, currency))
