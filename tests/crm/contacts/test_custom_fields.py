"""Custom field values are checked against the studio's definitions (pure)."""

from __future__ import annotations

import pytest

from crm.custom_fields import CustomFieldError, custom_fields_check, custom_fields_visible

DEFS = [
    {"key": "venue", "kind": "text", "choices": [], "required": False},
    {"key": "guests", "kind": "number", "choices": [], "required": False},
    {"key": "wedding_date", "kind": "date", "choices": [], "required": True},
    {"key": "package", "kind": "choice", "choices": ["gold", "silver"], "required": False},
]


def test_good_values_are_cleaned_and_blanks_dropped():
    assert custom_fields_check(
        DEFS,
        {"venue": " Barn ", "guests": 120, "wedding_date": "2027-06-05", "package": "gold"},
    ) == {"venue": "Barn", "guests": 120, "wedding_date": "2027-06-05", "package": "gold"}
    assert custom_fields_check(DEFS, {"venue": "", "wedding_date": "2027-06-05"}) == {
        "wedding_date": "2027-06-05"
    }


def test_unknown_field_is_an_error():
    with pytest.raises(CustomFieldError) as exc:
        custom_fields_check(DEFS, {"wedding_date": "2027-06-05", "shoe_size": 9})
    assert exc.value.fields == {"custom_fields.shoe_size": ["Unknown custom field."]}
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize(
    "key,value",
    [
        ("venue", 3),
        ("guests", "many"),
        ("guests", True),
        ("guests", float("nan")),
        ("wedding_date", "05/06/2027"),
        ("wedding_date", 20270605),
        ("package", "bronze"),
        ("package", ["gold"]),
    ],
)
def test_wrong_kind_is_an_error_naming_the_field(key, value):
    values = {"wedding_date": "2027-06-05", key: value}
    with pytest.raises(CustomFieldError) as exc:
        custom_fields_check(DEFS, values)
    assert list(exc.value.fields) == [f"custom_fields.{key}"]


def test_required_field_missing_or_blank_is_an_error():
    for values in ({}, {"wedding_date": None}, {"wedding_date": "  "}):
        with pytest.raises(CustomFieldError) as exc:
            custom_fields_check(DEFS, values)
        assert exc.value.fields == {"custom_fields.wedding_date": ["This field is required."]}


def test_not_an_object_is_an_error():
    with pytest.raises(CustomFieldError):
        custom_fields_check(DEFS, ["venue"])


def test_removed_definitions_leave_outputs():
    assert custom_fields_visible(DEFS[:1], {"venue": "Barn", "old": 1}) == {"venue": "Barn"}
