"""Custom field values checked against the studio's definitions. Pure: no ORM.

A definition is anything with ``key``, ``kind``, ``choices`` and ``required`` (a
``CustomFieldDefinition`` row or a dict). Values are JSON: text is a string, number an int or
a finite float (never a bool), date an ISO ``YYYY-MM-DD`` string, choice one of the
definition's strings. ``None`` or ``""`` means "no value" (dropped from the result), so a
required field is one whose value is present and not blank.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import Any

TEXT_MAX = 2000
KINDS = ("text", "number", "date", "choice")


class CustomFieldError(ValueError):
    """Values that do not match the definitions; ``fields`` maps ``custom_fields.<key>`` to
    messages (the shape of the API's error ``fields``)."""

    code = "invalid_custom_fields"

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self.fields = fields
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in sorted(fields.items())))


def _get(definition: Any, name: str) -> Any:
    if isinstance(definition, Mapping):
        return definition.get(name)
    return getattr(definition, name, None)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _check_one(kind: str, choices: list, value: Any) -> tuple[Any, str | None]:
    """(the cleaned value, None) or (None, a message)."""
    if kind == "text":
        if not isinstance(value, str):
            return None, "Must be text."
        value = value.strip()
        if len(value) > TEXT_MAX:
            return None, f"At most {TEXT_MAX} characters."
        return value, None
    if kind == "number":
        # bool is an int to Python; a number field never holds true/false.
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, "Must be a number."
        if isinstance(value, float) and not math.isfinite(value):
            return None, "Must be a finite number."
        return value, None
    if kind == "date":
        if not isinstance(value, str):
            return None, "Must be a date (YYYY-MM-DD)."
        try:
            return dt.date.fromisoformat(value.strip()).isoformat(), None
        except ValueError:
            return None, "Must be a date (YYYY-MM-DD)."
    if kind == "choice":
        if not isinstance(value, str) or value not in (choices or []):
            allowed = ", ".join(str(c) for c in (choices or []))
            return None, f"Must be one of: {allowed}."
        return value, None
    return None, f"Unknown field kind {kind!r}."


def custom_fields_check(definitions: Iterable[Any], values: Mapping[str, Any]) -> dict:
    """The values cleaned (blank ones dropped), or CustomFieldError naming every bad field:
    an unknown key, a value of the wrong kind, or a required field left blank."""
    if not isinstance(values, Mapping):
        raise CustomFieldError({"custom_fields": ["Must be an object."]})
    by_key = {str(_get(d, "key")): d for d in definitions}
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        definition = by_key.get(key)
        if definition is None:
            errors[f"custom_fields.{key}"] = ["Unknown custom field."]
            continue
        if _blank(value):
            continue
        good, message = _check_one(
            str(_get(definition, "kind")), list(_get(definition, "choices") or []), value
        )
        if message:
            errors[f"custom_fields.{key}"] = [message]
        else:
            cleaned[key] = good
    for key, definition in by_key.items():
        if _get(definition, "required") and key not in cleaned and key not in errors:
            errors[f"custom_fields.{key}"] = ["This field is required."]
    if errors:
        raise CustomFieldError(errors)
    return cleaned


def custom_fields_visible(definitions: Iterable[Any], stored: Mapping[str, Any] | None) -> dict:
    """The stored values whose definition still exists (a removed definition's values stay in
    the row but leave every output)."""
    keys = {str(_get(d, "key")) for d in definitions}
    return {k: v for k, v in (stored or {}).items() if k in keys}
