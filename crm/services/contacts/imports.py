"""The CSV import: claim, stream and apply in batches; a bad row never stops the others."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import uuid
from collections.abc import Iterator
from typing import IO

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Studio, User
from crm.countries import country_valid
from crm.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    ContactTag,
    ImportJob,
    Tag,
)
from crm.phones import PhoneError, phone_parse
from crm.selectors.contacts import phone_region
from crm.services.contacts.checks import email_clean, tags_get_or_create
from crm.services.contacts.constants import SCALAR_FIELDS
from crm.services.contacts.people import phone_row
from picpick.core.errors import ApplicationError
from picpick.core.storage import get_storage

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
        values["email"] = email_clean(values.get("email", ""), field="email")
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
            phone_rows.append(phone_row(contact, {"number": values["phone"]}, True))
        for name in re.split(r"[,;]", values.get("tags", "")):
            name = " ".join(name.split())[:50]
            if name:
                if name.lower() not in tags:
                    tags[name.lower()] = tags_get_or_create(studio, [name])[0]
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
