"""Checks shared by the contact services: emails, phones, countries, custom values, tags."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from accounts.models import Studio
from crm.countries import country_valid
from crm.custom_fields import CustomFieldError, custom_fields_check, custom_fields_visible
from crm.models import (
    Contact,
    ContactEmail,
    CustomFieldDefinition,
    Tag,
)
from crm.phones import PhoneError, phone_parse
from crm.selectors.contacts import phone_region
from crm.services.contacts.constants import MAX_TAGS
from picpick.core.errors import ApplicationError, Conflict


# --- Shared checks ------------------------------------------------------------------------------
def email_clean(raw: str, *, field: str) -> str:
    email = (raw or "").strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError as exc:
        raise ApplicationError(
            "Enter a valid email address.", code="invalid_email", fields={field: ["Invalid email."]}
        ) from exc
    return email


def emails_clean(emails: Iterable[str]) -> list[str]:
    out: list[str] = []
    for index, raw in enumerate(emails):
        email = email_clean(raw, field=f"emails.{index}")
        if email not in out:
            out.append(email)
    return out


def phones_clean(studio: Studio, phones: Iterable[dict]) -> list[dict]:
    region = phone_region(studio)
    out: list[dict] = []
    for index, item in enumerate(phones):
        try:
            number = phone_parse(item.get("number", ""), region=region)
        except PhoneError as exc:
            raise ApplicationError(
                f"phones.{index}.number: {exc}",
                code="invalid_phone",
                fields={f"phones.{index}.number": [str(exc)]},
            ) from exc
        if all(p["number"] != number for p in out):
            out.append({"number": number, "label": (item.get("label") or "").strip()[:30]})
    return out


def country_clean(raw: str) -> str:
    code = (raw or "").strip().upper()
    if code and not country_valid(code):
        raise ApplicationError(
            "country is not an ISO 3166-1 alpha-2 code.",
            code="invalid_country",
            fields={"country": ["Not an ISO 3166-1 alpha-2 country code."]},
        )
    return code


def definitions_of(studio: Studio, applies_to: str) -> list[CustomFieldDefinition]:
    return list(CustomFieldDefinition.objects.filter(studio=studio, applies_to=applies_to))


def custom_values_check(
    *, studio: Studio, applies_to: str, stored: dict | None, changes: dict | None
) -> dict:
    """``stored`` (without values of removed definitions) updated by ``changes`` (``None`` or
    ``""`` clears a value), checked against the studio's definitions; a 400
    ``invalid_custom_fields`` naming each bad field otherwise."""
    definitions = definitions_of(studio, applies_to)
    merged = custom_fields_visible(definitions, stored)
    merged.update(changes or {})
    try:
        return custom_fields_check(definitions, merged)
    except CustomFieldError as exc:
        raise ApplicationError(str(exc), code=exc.code, fields=exc.fields) from exc


def email_taken_check(studio: Studio, emails: list[str], *, exclude: Contact | None) -> None:
    taken = ContactEmail.objects.filter(studio=studio, email__in=emails)
    if exclude is not None:
        taken = taken.exclude(contact=exclude)
    row = taken.values("email", "contact_id").first()
    if row is not None:
        raise Conflict(
            f"A contact with {row['email']} exists.",
            code="contact_exists",
            fields={"emails": [f"{row['email']} belongs to another contact."]},
            extra={"contact_id": str(row["contact_id"])},
        )


def tags_get_or_create(studio: Studio, names: Iterable[str]) -> list[Tag]:
    tags: list[Tag] = []
    seen: set[str] = set()
    for raw in names:
        name = " ".join((raw or "").split())[:50]
        if not name or name.lower() in seen:
            continue
        seen.add(name.lower())
        tag = Tag.objects.filter(studio=studio, name__iexact=name).first()
        if tag is None:
            try:
                with transaction.atomic():
                    tag = Tag.objects.create(studio=studio, name=name)
            except IntegrityError:  # made at the same moment by another request
                tag = Tag.objects.get(studio=studio, name__iexact=name)
        tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ApplicationError(
            f"At most {MAX_TAGS} tags.", code="too_many_tags", fields={"tags": ["Too many."]}
        )
    return tags
