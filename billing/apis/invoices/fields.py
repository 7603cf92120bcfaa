"""What the invoice API reads besides amounts: exact decimals (a quantity, a percent) as
strings or integers, never floats; discounts as a percent or an amount; a line; a schedule's
parts with their amounts in billing's money shape."""

from __future__ import annotations

from typing import Any

import babel
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.apis.fields import AmountField, money_from_input
from billing.services.invoices import LineInput
from picpick.core.errors import ApplicationError
from picpick.core.serializers import InputSerializer


def _decimal_schema(example: str, description: str) -> dict:
    return {
        "oneOf": [
            {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"},
            {"type": "integer"},
        ],
        "description": f"{description} A decimal string or an integer; a JSON number with a "
        "fraction is refused.",
        "example": example,
    }


class DecimalTextField(serializers.Field):
    """An exact decimal, sent as a string ("1.5") or an integer, read exactly by the service;
    a float (a JSON number with a fraction) is refused with ``code`` before anything is
    written."""

    def __init__(self, *, code: str, **kwargs: Any) -> None:
        self.code = code
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int | str:
        if isinstance(data, bool) or not isinstance(data, int | str):
            raise ApplicationError(
                f'{self.field_name} is a decimal string such as "1.5" or an integer, never a '
                "number with a fraction.",
                code=self.code,
                fields={self.field_name: ["A decimal string or an integer."]},
            )
        return data

    def to_representation(self, value: Any) -> str:
        return format(value.normalize(), "f") if hasattr(value, "normalize") else str(value)


@extend_schema_field(_decimal_schema("2", "Up to 3 decimals: 1.5 hours, 2 albums."))
class QuantityField(DecimalTextField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(code="quantity_invalid", **kwargs)


@extend_schema_field(_decimal_schema("10", "A percent from 0 to 100, at most 4 decimals."))
class PercentField(DecimalTextField):
    pass


class DiscountInputSerializer(InputSerializer):
    percent = PercentField(code="discount_invalid", required=False)
    amount = AmountField(required=False, help_text="In the invoice's currency.")

    def validate(self, attrs: dict) -> dict:
        if ("percent" in attrs) == ("amount" in attrs):
            raise ApplicationError(
                "A discount is a percent or an amount: give one of the two.",
                code="discount_invalid",
                fields={"discount": ["percent or amount."]},
            )
        return attrs


class TaxCopyInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=40)
    rate = PercentField(code="tax_rate_invalid")
    inclusive = serializers.BooleanField(required=False, default=False)
    compound = serializers.BooleanField(required=False, default=False)


class LineInputSerializer(InputSerializer):
    catalogue_item_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="Fills what is not given: name, description, price and taxes.",
    )
    name = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    quantity = QuantityField(required=False, default=1)
    unit_price = AmountField(
        required=False, help_text="In the invoice's currency; default: the catalogue item's."
    )
    discount = DiscountInputSerializer(required=False, allow_null=True)
    taxes = TaxCopyInputSerializer(
        many=True, required=False, help_text="Taxes of this line only (copies)."
    )
    tax_rate_ids = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=5,
        help_text="The studio's tax rates (instead of `taxes`); neither: the item's.",
    )

    def validate(self, attrs: dict) -> dict:
        if "taxes" in attrs and "tax_rate_ids" in attrs:
            raise ApplicationError(
                "A line has taxes or tax_rate_ids, not both.",
                code="tax_rate_invalid",
                fields={"taxes": ["Give one of the two."]},
            )
        return attrs


def discount_fields(discount: dict | None, *, currency: str, field: str) -> dict:
    """``{"percent"}`` / ``{"amount"}`` (or null: none) as the services' two fields."""
    if not discount:
        return {"discount_percent": None, "discount_amount": None}
    if "amount" in discount:
        amount = money_from_input(discount["amount"], currency, field=f"{field}.amount")
        return {"discount_percent": None, "discount_amount": amount.amount}
    return {"discount_percent": discount["percent"], "discount_amount": None}


def schedule_amounts(parts: Any, *, currency: str) -> Any:
    """A schedule's parts with each ``amount`` read in billing's money shape (an integer of
    minor units or a decimal string; a float refused) as minor units; the rest is checked by
    the services (``schedule_invalid``)."""
    if not isinstance(parts, list):
        return parts
    out = []
    for index, part in enumerate(parts):
        if isinstance(part, dict) and part.get("amount") not in (None, False):
            amount = money_from_input(part["amount"], currency, field=f"schedule[{index}].amount")
            part = {**part, "amount": amount.amount}
        out.append(part)
    return out


SCHEDULE_HELP = (
    'Parts in due order, e.g. `[{"label": "Deposit", "percent": "30", "due": {"on": '
    '"acceptance"}}, {"label": "Balance", "balance": true, "due": {"on": "before_event", '
    '"days": 14}}]`. Each part has one of `percent` (a decimal string), `amount` (billing\'s '
    "money shape, in the invoice's currency) or `balance` (the last part only). `due.on`: "
    "`acceptance`, `issue`, `date` (with `date`), `before_event` / `after_event` (with `days`); "
    "none: the invoice's due date. `autopay`: charge the client's saved card on the day. Empty: "
    "one payment of the whole, due on the due date."
)


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "object", "additionalProperties": True},
        "description": SCHEDULE_HELP,
    }
)
class ScheduleField(serializers.JSONField):
    """The raw parts (checked by ``billing.services.invoices.parts_check``)."""


class LanguageField(serializers.CharField):
    """A CLDR locale Babel knows, made canonical (``fr-ca`` -> ``fr_CA``); empty: the studio's
    (``language_invalid`` otherwise)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("help_text", "`fr`, `de_CH`; empty: the studio's language.")
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data).strip()
        if not value:
            return ""
        try:
            return str(babel.Locale.parse(value.replace("-", "_")))
        except (ValueError, TypeError, babel.UnknownLocaleError):
            raise ApplicationError(
                f"{value!r} is not a known language (e.g. 'fr', 'de_CH').",
                code="language_invalid",
                fields={self.field_name: ["Unknown language."]},
            ) from None


def line_inputs(lines: list[dict], *, currency: str, field: str = "lines") -> list[LineInput]:
    """The lines as the services take them, each price and discount amount read in
    ``currency`` (billing's money shape: minor units or a decimal string)."""
    out = []
    for index, line in enumerate(lines):
        where = f"{field}[{index}]"
        price = None
        if line.get("unit_price") is not None:
            price = money_from_input(
                line["unit_price"], currency, field=f"{where}.unit_price", min_amount=0
            ).amount
        discount = discount_fields(line.get("discount"), currency=currency, field=where)
        out.append(
            LineInput(
                name=line.get("name"),
                unit_price=price,
                quantity=line.get("quantity", 1),
                description=line.get("description"),
                taxes=[dict(tax) for tax in line["taxes"]] if "taxes" in line else None,
                tax_rate_ids=line.get("tax_rate_ids"),
                catalogue_item_id=line.get("catalogue_item_id"),
                **discount,
            )
        )
    return out
