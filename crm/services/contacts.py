"""Contacts: custom field definitions, create/update/delete, merge, erase (GDPR art. 17), and
the CSV import (claim / I/O / apply).

Locks: a contact's emails, phones and the primary copies on the row (``Contact.email``,
``Contact.phone``) change only under the contact's row lock; a merge locks both contacts in id
order, so two merges of the same pair in opposite directions cannot deadlock.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
import re
import uuid
from collections.abc import Iterable, Iterator
from typing import IO, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Studio, User
from crm.countries import country_valid
from crm.custom_fields import CustomFieldError, custom_fields_check, custom_fields_visible
from crm.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    ContactTag,
    CustomFieldDefinition,
    EmailMessage,
    ImportJob,
    Inquiry,
    JobContact,
    Tag,
    Task,
    TimelineEvent,
)
from crm.phones import PhoneError, phone_digits, phone_parse
from crm.selectors.contacts import phone_region
from crm.services.timeline import timeline_record
from guests.services import visitors_anonymise
from picpick.core.errors import ApplicationError, Conflict
from picpick.core.storage import get_storage

logger = logging.getLogger(__name__)

ERASED_NAME = "Erased contact"
SCALAR_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "source",
    "notes",
)
MAX_TAGS = 50


# --- Shared checks ------------------------------------------------------------------------------
def _email_clean(raw: str, *, field: str) -> str:
    email = (raw or "").strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError as exc:
        raise ApplicationError(
            "Enter a valid email address.", code="invalid_email", fields={field: ["Invalid email."]}
        ) from exc
    return email


def _emails_clean(emails: Iterable[str]) -> list[str]:
    out: list[str] = []
    for index, raw in enumerate(emails):
        email = _email_clean(raw, field=f"emails.{index}")
        if email not in out:
            out.append(email)
    return out


def _phones_clean(studio: Studio, phones: Iterable[dict]) -> list[dict]:
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


def _country_clean(raw: str) -> str:
    code = (raw or "").strip().upper()
    if code and not country_valid(code):
        raise ApplicationError(
            "country is not an ISO 3166-1 alpha-2 code.",
            code="invalid_country",
            fields={"country": ["Not an ISO 3166-1 alpha-2 country code."]},
        )
    return code


def _definitions(studio: Studio, applies_to: str) -> list[CustomFieldDefinition]:
    return list(CustomFieldDefinition.objects.filter(studio=studio, applies_to=applies_to))


def custom_values_check(
    *, studio: Studio, applies_to: str, stored: dict | None, changes: dict | None
) -> dict:
    """``stored`` (without values of removed definitions) updated by ``changes`` (``None`` or
    ``""`` clears a value), checked against the studio's definitions; a 400
    ``invalid_custom_fields`` naming each bad field otherwise."""
    definitions = _definitions(studio, applies_to)
    merged = custom_fields_visible(definitions, stored)
    merged.update(changes or {})
    try:
        return custom_fields_check(definitions, merged)
    except CustomFieldError as exc:
        raise ApplicationError(str(exc), code=exc.code, fields=exc.fields) from exc


def _email_taken(studio: Studio, emails: list[str], *, exclude: Contact | None) -> None:
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


def _tags_get_or_create(studio: Studio, names: Iterable[str]) -> list[Tag]:
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


# --- Contacts -----------------------------------------------------------------------------------
def _set_emails(contact: Contact, emails: list[str]) -> None:
    ContactEmail.objects.filter(contact=contact).exclude(email__in=emails).delete()
    have = set(ContactEmail.objects.filter(contact=contact).values_list("email", flat=True))
    try:
        with transaction.atomic():
            ContactEmail.objects.bulk_create(
                [
                    ContactEmail(studio_id=contact.studio_id, contact=contact, email=e)
                    for e in emails
                    if e not in have
                ]
            )
    except IntegrityError:
        # Taken between the check and the insert by another request: the same 409.
        _email_taken(contact.studio, emails, exclude=contact)
        raise
    primary = emails[0] if emails else ""
    ContactEmail.objects.filter(contact=contact).exclude(email=primary).update(is_primary=False)
    if primary:
        ContactEmail.objects.filter(contact=contact, email=primary).update(is_primary=True)
    contact.email = primary


def _phone_row(contact: Contact, item: dict, primary: bool) -> ContactPhone:
    return ContactPhone(
        studio_id=contact.studio_id,
        contact=contact,
        number=item["number"],
        digits_reversed=phone_digits(item["number"])[::-1],
        label=item.get("label", ""),
        is_primary=primary,
    )


def _set_phones(contact: Contact, phones: list[dict]) -> None:
    ContactPhone.objects.filter(contact=contact).delete()
    ContactPhone.objects.bulk_create(
        [_phone_row(contact, item, index == 0) for index, item in enumerate(phones)]
    )
    contact.phone = phones[0]["number"] if phones else ""


def _set_tags(contact: Contact, tags: list[Tag]) -> None:
    ContactTag.objects.filter(contact=contact).exclude(tag__in=tags).delete()
    have = set(ContactTag.objects.filter(contact=contact).values_list("tag_id", flat=True))
    ContactTag.objects.bulk_create(
        [ContactTag(contact=contact, tag=t) for t in tags if t.id not in have]
    )


def _apply_consent(contact: Contact, consent: bool | None, source: str | None) -> list[str]:
    if consent is None or (consent == contact.marketing_consent and contact.marketing_consent_at):
        return []
    contact.marketing_consent = consent
    contact.marketing_consent_at = timezone.now()
    contact.marketing_consent_source = (source or "manual")[:100]
    return ["marketing_consent", "marketing_consent_at", "marketing_consent_source"]


@transaction.atomic
def contact_create(
    *,
    studio: Studio,
    by: User | None,
    emails: list[str] | None = None,
    phones: list[dict] | None = None,
    tags: list[str] | None = None,
    custom_fields: dict | None = None,
    marketing_consent: bool | None = None,
    marketing_consent_source: str = "",
    **scalars: Any,
) -> Contact:
    """A contact; an email already on another contact is a 409 ``contact_exists`` naming it."""
    unknown = set(scalars) - set(SCALAR_FIELDS)
    if unknown:
        raise TypeError(f"unknown contact fields {sorted(unknown)}")
    email_list = _emails_clean(emails or [])
    phone_list = _phones_clean(studio, phones or [])
    if "country" in scalars:
        scalars["country"] = _country_clean(scalars["country"])
    values = custom_values_check(
        studio=studio, applies_to="contact", stored={}, changes=custom_fields
    )
    _email_taken(studio, email_list, exclude=None)
    tag_rows = _tags_get_or_create(studio, tags or [])
    contact = Contact(studio=studio, custom_fields=values, **scalars)
    if marketing_consent:
        _apply_consent(contact, True, marketing_consent_source)
    contact.save()
    _set_emails(contact, email_list)
    _set_phones(contact, phone_list)
    _set_tags(contact, tag_rows)
    contact.save(update_fields=["email", "phone"])
    return contact


def _lock(contact: Contact) -> Contact:
    locked = Contact.objects.select_for_update().get(id=contact.id, studio_id=contact.studio_id)
    locked.studio = contact.studio
    return locked


def _not_tombstone(contact: Contact) -> None:
    if contact.merged_into_id:
        raise Conflict(
            "This contact was merged into another.",
            code="contact_merged",
            extra={"merged_into": str(contact.merged_into_id)},
        )


@transaction.atomic
def contact_update(*, contact: Contact, by: User | None, changes: dict) -> Contact:
    """Only the fields in ``changes``; a list (emails, phones, tags) given replaces the whole
    list; ``custom_fields`` changes the keys it names (``null`` clears one)."""
    contact = _lock(contact)
    _not_tombstone(contact)
    studio = contact.studio
    fields: list[str] = []
    if "emails" in changes:
        email_list = _emails_clean(changes["emails"])
        _email_taken(studio, email_list, exclude=contact)
    if "phones" in changes:
        phone_list = _phones_clean(studio, changes["phones"])
    if "country" in changes:
        changes = {**changes, "country": _country_clean(changes["country"])}
    if "custom_fields" in changes:
        contact.custom_fields = custom_values_check(
            studio=studio,
            applies_to="contact",
            stored=contact.custom_fields,
            changes=changes["custom_fields"],
        )
        fields.append("custom_fields")
    for name in SCALAR_FIELDS:
        if name in changes:
            setattr(contact, name, changes[name])
            fields.append(name)
    if "marketing_consent" in changes:
        fields += _apply_consent(
            contact, changes["marketing_consent"], changes.get("marketing_consent_source")
        )
    if "emails" in changes:
        _set_emails(contact, email_list)
        fields.append("email")
    if "phones" in changes:
        _set_phones(contact, phone_list)
        fields.append("phone")
    if "tags" in changes:
        _set_tags(contact, _tags_get_or_create(studio, changes["tags"]))
    contact.save(update_fields=[*dict.fromkeys(fields), "updated_at"])
    return contact


@transaction.atomic
def contact_delete(*, contact: Contact, by: User | None) -> None:
    """Only a contact nothing points at: one on a job (jobs carry the money) is a 409; erase
    it instead (GDPR) to remove the person and keep the history."""
    contact = _lock(contact)
    if JobContact.objects.filter(contact=contact).exists():
        raise Conflict(
            "This contact is on a job; erase the contact instead of deleting it.",
            code="contact_has_jobs",
        )
    contact.delete()


# --- Merge --------------------------------------------------------------------------------------
@transaction.atomic
def contact_merge(*, survivor: Contact, merged: Contact, by: User | None) -> Contact:
    """Move everything of ``merged`` onto ``survivor`` and leave ``merged`` a tombstone."""
    if survivor.id == merged.id:
        raise ApplicationError(
            "A contact cannot be merged into itself.",
            code="merge_into_self",
            fields={"from": ["Same contact."]},
        )
    studio = survivor.studio
    # Both rows locked in id order: merges of the same pair never wait on each other in a cycle.
    rows = {
        c.id: c
        for c in Contact.objects.select_for_update()
        .filter(studio=studio, id__in=[survivor.id, merged.id])
        .order_by("id")
    }
    survivor, merged = rows[survivor.id], rows[merged.id]
    survivor.studio = merged.studio = studio
    _not_tombstone(survivor)
    _not_tombstone(merged)

    ContactEmail.objects.filter(contact=merged).update(contact=survivor, is_primary=False)
    if not survivor.email:
        first = ContactEmail.objects.filter(contact=survivor).order_by("created_at").first()
        if first is not None:
            ContactEmail.objects.filter(id=first.id).update(is_primary=True)
            survivor.email = first.email

    have_numbers = set(
        ContactPhone.objects.filter(contact=survivor).values_list("number", flat=True)
    )
    ContactPhone.objects.filter(contact=merged, number__in=have_numbers).delete()
    ContactPhone.objects.filter(contact=merged).update(contact=survivor, is_primary=False)
    if not survivor.phone:
        first_phone = ContactPhone.objects.filter(contact=survivor).order_by("created_at").first()
        if first_phone is not None:
            ContactPhone.objects.filter(id=first_phone.id).update(is_primary=True)
            survivor.phone = first_phone.number

    have_tags = ContactTag.objects.filter(contact=survivor).values("tag_id")
    ContactTag.objects.filter(contact=merged, tag_id__in=have_tags).delete()
    ContactTag.objects.filter(contact=merged).update(contact=survivor)

    # One link per (job, contact): a job both were on keeps the survivor's link.
    have_jobs = JobContact.objects.filter(contact=survivor).values("job_id")
    JobContact.objects.filter(contact=merged, job_id__in=have_jobs).delete()
    JobContact.objects.filter(contact=merged).update(contact=survivor)
    # Re-pointing history (allowed: see AppendOnlyModel): whose it is changes, not what it says.
    TimelineEvent.objects.filter(contact=merged).update(contact=survivor)
    Inquiry.objects.filter(contact=merged).update(contact=survivor)
    EmailMessage.objects.filter(contact=merged).update(contact=survivor)
    Task.objects.filter(contact=merged).update(contact=survivor)

    # The most recent explicit consent (given or withdrawn) is the person's current wish.
    if merged.marketing_consent_at and (
        not survivor.marketing_consent_at
        or merged.marketing_consent_at > survivor.marketing_consent_at
    ):
        survivor.marketing_consent = merged.marketing_consent
        survivor.marketing_consent_at = merged.marketing_consent_at
        survivor.marketing_consent_source = merged.marketing_consent_source

    definitions = _definitions(studio, "contact")
    values = custom_fields_visible(definitions, merged.custom_fields)
    values.update(
        {
            k: v
            for k, v in custom_fields_visible(definitions, survivor.custom_fields).items()
            if v not in (None, "")
        }
    )
    survivor.custom_fields = values
    for name in SCALAR_FIELDS:
        if name != "source" and not getattr(survivor, name) and getattr(merged, name):
            setattr(survivor, name, getattr(merged, name))
    survivor.save()

    merged_name = str(merged)
    merged.merged_into = survivor
    merged.merged_at = timezone.now()
    merged.email = merged.phone = ""
    merged.save(update_fields=["merged_into", "merged_at", "email", "phone", "updated_at"])
    timeline_record(
        studio=studio,
        kind="contact_merged",
        payload={"merged_contact_id": str(merged.id), "merged_name": merged_name},
        contact=survivor,
        actor=by,
    )
    return survivor


# --- Erase (GDPR art. 17) -----------------------------------------------------------------------
@transaction.atomic
def contact_erase(*, contact: Contact, by: User | None) -> Contact:
    """Anonymise the person and keep the row (jobs and their money history point at it).

    Also anonymised: the guests' visitor rows of the person's emails in the studio's galleries
    (through the guests app's service), and the addresses in the person's timeline payloads
    and in the gallery events of their jobs (the one change an append-only timeline takes: it
    says what happened, no longer to whom).
    """
    contact = _lock(contact)
    _not_tombstone(contact)
    emails = set(ContactEmail.objects.filter(contact=contact).values_list("email", flat=True))
    visitors_anonymise(studio=contact.studio, emails=emails)
    _timeline_forget(contact, emails)
    ContactEmail.objects.filter(contact=contact).delete()
    ContactPhone.objects.filter(contact=contact).delete()
    ContactTag.objects.filter(contact=contact).delete()
    Inquiry.objects.filter(contact=contact).update(answers={}, origin="", client_hash="")
    EmailMessage.objects.filter(contact=contact).update(to="", body="")
    for name in SCALAR_FIELDS:
        if name != "source":
            setattr(contact, name, "")
    contact.first_name = ERASED_NAME
    contact.email = contact.phone = ""
    contact.custom_fields = {}
    contact.marketing_consent = False
    contact.marketing_consent_at = timezone.now()
    contact.marketing_consent_source = "erased"
    contact.erased_at = timezone.now()
    contact.save()
    timeline_record(
        studio=contact.studio, kind="contact_erased", payload={}, contact=contact, actor=by
    )
    return contact


# Payload keys of timeline kinds that name an address (crm.timeline.KINDS).
_ADDRESS_KEYS = ("email", "to")


def _timeline_forget(contact: Contact, emails: set[str]) -> None:
    """Blank the addresses in the contact's own events and in their jobs' events that name one
    of ``emails`` (a guest's first visit, favourites, ...). A queryset update: the model's
    append-only guard refuses a save, on purpose."""
    jobs = JobContact.objects.filter(contact=contact).values("job_id")
    events = TimelineEvent.objects.filter(Q(contact=contact) | Q(job_id__in=jobs))
    for event_id, owner_id, payload in events.values_list("id", "contact_id", "payload"):
        own = owner_id == contact.id
        named = [
            key
            for key in _ADDRESS_KEYS
            if isinstance(payload.get(key), str)
            and payload[key]
            and (own or payload[key].strip().lower() in emails)
        ]
        if named:
            cleaned = {**payload, **dict.fromkeys(named, "")}
            TimelineEvent.objects.filter(id=event_id).update(payload=cleaned)


# --- CSV import ---------------------------------------------------------------------------------
IMPORT_BATCH = 2000
MAX_STORED_ERRORS = 1000
LAYOUTS = ("auto", "honeybook", "dubsado", "mapping")
IMPORT_FIELDS = (
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "company",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "tags",
    "notes",
)
# Header spellings of the common exports (HoneyBook, Dubsado, spreadsheets), compared after
# lower-casing and squeezing spaces, underscores and dashes.
HEADER_ALIASES: dict[str, str] = {
    "first name": "first_name",
    "firstname": "first_name",
    "first": "first_name",
    "given name": "first_name",
    "last name": "last_name",
    "lastname": "last_name",
    "last": "last_name",
    "surname": "last_name",
    "family name": "last_name",
    "name": "full_name",
    "full name": "full_name",
    "client name": "full_name",
    "contact name": "full_name",
    "email": "email",
    "email address": "email",
    "e mail": "email",
    "primary email": "email",
    "client email": "email",
    "phone": "phone",
    "phone number": "phone",
    "mobile": "phone",
    "mobile phone": "phone",
    "cell phone": "phone",
    "primary phone": "phone",
    "company": "company",
    "company name": "company",
    "business name": "company",
    "organization": "company",
    "address": "address_line1",
    "address 1": "address_line1",
    "address line 1": "address_line1",
    "street address": "address_line1",
    "street": "address_line1",
    "address 2": "address_line2",
    "address line 2": "address_line2",
    "city": "city",
    "town": "city",
    "state": "region",
    "province": "region",
    "region": "region",
    "state/province": "region",
    "zip": "postal_code",
    "zip code": "postal_code",
    "zipcode": "postal_code",
    "postal code": "postal_code",
    "postcode": "postal_code",
    "country": "country",
    "tags": "tags",
    "tag": "tags",
    "labels": "tags",
    "notes": "notes",
    "note": "notes",
}
_IMPORT_SCALARS = tuple(f for f in SCALAR_FIELDS if f not in ("source", "notes"))
_HEADER_SPACE = re.compile(r"[\s_\-]+")


class ImportFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def header_key(header: str) -> str:
    return _HEADER_SPACE.sub(" ", (header or "").strip().lstrip("\ufeff").lower()).strip()


def import_columns(headers: list[str], *, layout: str, mapping: dict[str, str]) -> dict[int, str]:
    """Column index -> contact field; ImportFailed ``missing_columns`` without an email column
    or any name column."""
    columns: dict[int, str] = {}
    if layout == "mapping":
        by_header = {header_key(h): i for i, h in enumerate(headers)}
        for header, field in mapping.items():
            index = by_header.get(header_key(header))
            if index is None:
                raise ImportFailed("missing_columns", f"The file has no column {header!r}.")
            columns[index] = field
    else:
        for index, header in enumerate(headers):
            field = HEADER_ALIASES.get(header_key(header))
            if field and field not in columns.values():
                columns[index] = field
    fields = set(columns.values())
    missing = []
    if "email" not in fields:
        missing.append("Email")
    if not fields & {"first_name", "last_name", "full_name"}:
        missing.append("First Name/Last Name or Name")
    if missing:
        raise ImportFailed("missing_columns", f"Missing columns: {', '.join(missing)}.")
    return columns


def import_file_key(studio_id: uuid.UUID, job_id: uuid.UUID) -> str:
    return f"studios/{studio_id}/crm/imports/{job_id}.csv"


def contact_import_start(
    *,
    studio: Studio,
    by: User | None,
    upload: IO[bytes],
    filename: str,
    layout: str = "auto",
    mapping: dict[str, str] | None = None,
) -> ImportJob:
    """Store the file, then make the job and queue it (I/O first, outside the row's
    transaction: a failed upload leaves no job, a failed insert an orphan the key names)."""
    if layout not in LAYOUTS:
        raise ApplicationError(
            "Unknown layout.", code="invalid_layout", fields={"layout": [layout]}
        )
    mapping = mapping or {}
    if layout == "mapping":
        bad = sorted(set(mapping.values()) - set(IMPORT_FIELDS))
        if not mapping or bad:
            raise ApplicationError(
                "mapping maps CSV headers to contact fields.",
                code="invalid_mapping",
                fields={"mapping": [f"Unknown fields: {bad}" if bad else "Empty."]},
            )
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in iter(lambda: upload.read(1 << 20), b""):
        digest.update(chunk)
    upload.seek(0)
    job_id = uuid.uuid4()
    key = import_file_key(studio.id, job_id)
    get_storage().put_object(key=key, body=upload, content_type="text/csv")
    with transaction.atomic():
        job = ImportJob.objects.create(
            id=job_id,
            studio=studio,
            created_by=by if by is not None and by.is_authenticated else None,
            filename=(filename or "contacts.csv")[:255],
            file_key=key,
            file_sha256=digest.hexdigest(),
            layout=layout,
            mapping=mapping,
        )
        # The task module imports this one; importing it at call time keeps the cycle out.
        from crm.tasks.contacts import contact_import_run as task

        transaction.on_commit(lambda: task.delay(str(job.id)))
    return job


def _text_stream(raw: IO[bytes], encoding: str) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    for chunk in iter(lambda: raw.read(1 << 16), b""):
        yield decoder.decode(chunk)
    yield decoder.decode(b"", final=True)


class _Lines(io.TextIOBase):
    """A text stream over decoded chunks for ``csv.reader`` (which reads lines)."""

    def __init__(self, chunks: Iterator[str]) -> None:
        self._chunks = chunks
        self._buffer = ""

    def readable(self) -> bool:
        return True

    def __iter__(self):
        return self

    def __next__(self) -> str:
        while "\n" not in self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                if self._buffer:
                    line, self._buffer = self._buffer, ""
                    return line
                raise StopIteration
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition("\n")
        return line + "\n"


def _detect_encoding(key: str) -> tuple[str, int]:
    """The file's encoding (UTF-8, UTF-8 with a BOM, or Windows-1252) and its data rows, read
    in one streamed pass; ImportFailed ``bad_encoding`` otherwise."""
    storage = get_storage()
    head = storage.read_range(key=key, start=0, length=4)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        raise ImportFailed("bad_encoding", "The file is UTF-16; save it as UTF-8 CSV.")
    for encoding in ("utf-8-sig", "cp1252"):
        stream = storage.open(key=key)
        try:
            rows = sum(1 for _ in csv.reader(_Lines(_text_stream(stream, encoding))))
            return encoding, max(rows - 1, 0)
        except UnicodeDecodeError:
            continue
        except csv.Error as exc:
            raise ImportFailed("bad_csv", f"The file is not a CSV: {exc}") from exc
        finally:
            stream.close()
    raise ImportFailed("bad_encoding", "The file is neither UTF-8 nor Windows-1252 text.")


def _row_clean(
    row: list[str], columns: dict[int, str], *, region: str
) -> tuple[dict | None, str, str]:
    """(the contact's values, "", "") or (None, code, message)."""
    values: dict[str, str] = {}
    for index, field in columns.items():
        if index < len(row):
            values[field] = row[index].strip()
    full = values.pop("full_name", "")
    if full and not values.get("first_name") and not values.get("last_name"):
        first, _, last = full.partition(" ")
        values["first_name"], values["last_name"] = first, last.strip()
    try:
        values["email"] = _email_clean(values.get("email", ""), field="email")
    except ApplicationError:
        code = "missing_email" if not values.get("email") else "invalid_email"
        return None, code, "A valid email is required."
    if values.get("phone"):
        try:
            values["phone"] = phone_parse(values["phone"], region=region)
        except PhoneError as exc:
            return None, "invalid_phone", str(exc)
    if values.get("country"):
        country = values["country"].upper()
        if not country_valid(country):
            return None, "invalid_country", f"{values['country']!r} is not an ISO 3166 code."
        values["country"] = country
    for field, limit in (("first_name", 120), ("last_name", 120), ("company", 200)):
        values[field] = values.get(field, "")[:limit]
    return values, "", ""


def _import_batch(job: ImportJob, studio: Studio, batch: list[tuple[int, dict]], tags: dict) -> int:
    """Insert the batch's new contacts (by email); the number made."""
    emails = [values["email"] for _, values in batch]
    existing = set(
        ContactEmail.objects.filter(studio=studio, email__in=emails).values_list("email", flat=True)
    )
    contacts, email_rows, phone_rows, tag_rows = [], [], [], []
    for _, values in batch:
        if values["email"] in existing:
            continue
        existing.add(values["email"])  # a second row of the same email in the file
        contact = Contact(
            studio=studio,
            source=Contact.Source.IMPORT,
            email=values["email"],
            phone=values.get("phone", ""),
            **{
                f: values[f][: Contact._meta.get_field(f).max_length]
                for f in _IMPORT_SCALARS
                if f in values
            },
            notes=values.get("notes", ""),
        )
        contacts.append(contact)
        email_rows.append(
            ContactEmail(studio=studio, contact=contact, email=values["email"], is_primary=True)
        )
        if values.get("phone"):
            phone_rows.append(_phone_row(contact, {"number": values["phone"]}, True))
        for name in re.split(r"[,;]", values.get("tags", "")):
            name = " ".join(name.split())[:50]
            if name:
                if name.lower() not in tags:
                    tags[name.lower()] = _tags_get_or_create(studio, [name])[0]
                tag_rows.append(ContactTag(contact=contact, tag=tags[name.lower()]))
    with transaction.atomic():
        Contact.objects.bulk_create(contacts, batch_size=IMPORT_BATCH)
        ContactEmail.objects.bulk_create(email_rows, batch_size=IMPORT_BATCH)
        ContactPhone.objects.bulk_create(phone_rows, batch_size=IMPORT_BATCH)
        ContactTag.objects.bulk_create(tag_rows, batch_size=IMPORT_BATCH, ignore_conflicts=True)
    return len(contacts)


def contact_import_run(*, import_job_id: uuid.UUID | str) -> ImportJob | None:
    """Run a queued import once: claimed with a conditional UPDATE (a duplicate message finds
    it claimed and stops), rows streamed and inserted in batches, counts saved per batch."""
    claimed = ImportJob.objects.filter(id=import_job_id, state=ImportJob.State.QUEUED).update(
        state=ImportJob.State.RUNNING, claimed_at=timezone.now()
    )
    if claimed != 1:
        return None
    job = ImportJob.objects.select_related("studio").get(id=import_job_id)
    studio = job.studio
    try:
        encoding, total = _detect_encoding(job.file_key)
        ImportJob.objects.filter(id=job.id).update(rows_total=total)
        stream = get_storage().open(key=job.file_key)
        try:
            _import_rows(job, studio, csv.reader(_Lines(_text_stream(stream, encoding))))
        finally:
            stream.close()
    except ImportFailed as exc:
        ImportJob.objects.filter(id=job.id).update(
            state=ImportJob.State.FAILED, failure_code=exc.code, finished_at=timezone.now()
        )
        _append_errors(job.id, [{"row": 0, "code": exc.code, "message": str(exc)}], 0)
    else:
        ImportJob.objects.filter(id=job.id).update(
            state=ImportJob.State.DONE, finished_at=timezone.now()
        )
    job.refresh_from_db()
    return job


def _append_errors(job_id: uuid.UUID, errors: list[dict], count: int) -> None:
    if not errors and not count:
        return
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(id=job_id)
        room = MAX_STORED_ERRORS - len(job.errors)
        if room > 0 and errors:
            job.errors = [*job.errors, *errors[:room]]
            job.save(update_fields=["errors"])
        if count:
            ImportJob.objects.filter(id=job_id).update(error_count=F("error_count") + count)


def _import_rows(job: ImportJob, studio: Studio, reader: Iterator[list[str]]) -> None:
    headers = next(reader, None)
    if not headers:
        raise ImportFailed("missing_columns", "The file is empty.")
    columns = import_columns(headers, layout=job.layout, mapping=job.mapping)
    region = phone_region(studio)
    tags: dict[str, Tag] = {}
    batch: list[tuple[int, dict]] = []
    errors: list[dict] = []

    def flush() -> None:
        nonlocal batch, errors
        made = _import_batch(job, studio, batch, tags) if batch else 0
        rows = len(batch) + len(errors)
        ImportJob.objects.filter(id=job.id).update(
            rows_done=F("rows_done") + rows,
            created_count=F("created_count") + made,
            skipped_count=F("skipped_count") + len(batch) - made,
        )
        _append_errors(job.id, errors, len(errors))
        batch, errors = [], []

    for number, row in enumerate(reader, start=2):  # row 1 is the header, as a sheet shows it
        if not any(cell.strip() for cell in row):
            continue
        values, code, message = _row_clean(row, columns, region=region)
        if values is None:
            errors.append({"row": number, "code": code, "message": message})
        else:
            batch.append((number, values))
        if len(batch) + len(errors) >= IMPORT_BATCH:
            flush()
    flush()
