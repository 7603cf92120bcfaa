"""The studio's custom field definitions (text / number / date / choice)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.models import Studio
from crm.models import (
    CustomFieldDefinition,
)
from picpick.core.errors import ApplicationError, Conflict


# --- Custom field definitions -------------------------------------------------------------------
def _choices_check(kind: str, choices: list[str]) -> list[str]:
    if kind != CustomFieldDefinition.Kind.CHOICE:
        return []
    cleaned = [c.strip() for c in choices if c and c.strip()]
    if not cleaned or len(set(cleaned)) != len(cleaned):
        raise ApplicationError(
            "A choice field needs distinct choices.",
            code="invalid_choices",
            fields={"choices": ["Give at least one choice, each once."]},
        )
    return cleaned


@transaction.atomic
def custom_field_create(
    *,
    studio: Studio,
    applies_to: str,
    key: str,
    label: str,
    kind: str,
    choices: list[str] | None = None,
    required: bool = False,
    position: int = 0,
) -> CustomFieldDefinition:
    if CustomFieldDefinition.objects.filter(studio=studio, applies_to=applies_to, key=key).exists():
        raise Conflict(
            f"A {applies_to} field {key!r} exists.",
            code="custom_field_exists",
            fields={"key": ["Taken."]},
        )
    try:
        with transaction.atomic():
            return CustomFieldDefinition.objects.create(
                studio=studio,
                applies_to=applies_to,
                key=key,
                label=label,
                kind=kind,
                choices=_choices_check(kind, choices or []),
                required=required,
                position=position,
            )
    except IntegrityError as exc:
        raise Conflict("That key is taken.", code="custom_field_exists") from exc


@transaction.atomic
def custom_field_update(
    *, definition: CustomFieldDefinition, changes: dict
) -> CustomFieldDefinition:
    """Label, choices, required and position change; key, kind and applies_to do not (stored
    values were checked against them)."""
    for name in ("label", "required", "position"):
        if name in changes:
            setattr(definition, name, changes[name])
    if "choices" in changes:
        definition.choices = _choices_check(definition.kind, changes["choices"])
    definition.save(update_fields=["label", "required", "position", "choices", "updated_at"])
    return definition


@transaction.atomic
def custom_field_delete(*, definition: CustomFieldDefinition) -> None:
    """Stored values stay in their rows (no rewrite of every contact) but leave every output,
    since outputs show only the keys of existing definitions."""
    definition.delete()
