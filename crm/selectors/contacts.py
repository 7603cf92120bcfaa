"""Contacts: the studio's reads (get, search, exports, a person's data for GDPR art. 15).

Search stays on indexes at 100,000 contacts a studio: names by prefix on the live contacts'
``(studio, merged_into, last_name, first_name)`` / ``(studio, merged_into, first_name,
last_name)``, emails by prefix on the unique
``(studio, email)`` of ContactEmail, phones by E.164 on ``(studio, number)`` or by a digits
suffix as a prefix of ``(studio, digits_reversed)``, tags through ``(tag, contact)``.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Prefetch, Q, QuerySet

from accounts.models import Studio
from crm.custom_fields import custom_fields_visible
from crm.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    ContactTag,
    CustomFieldDefinition,
    ImportJob,
    Job,
    JobContact,
    Tag,
)
from crm.phones import phone_digits, phone_try_parse
from guests.models import Favourite, Visitor
from picpick.core.errors import ApplicationError
from picpick.core.pagination import Page, paginate, paginate_union
from picpick.core.selectors import studio_object_or_404

# ?ordering= value -> the keyset ordering (non-null fields; the id is added as tie-breaker).
ORDERINGS: dict[str, list[str]] = {
    "name": ["last_name", "first_name"],
    "-name": ["-last_name", "-first_name"],
    "first_name": ["first_name", "last_name"],
    "created_at": ["created_at"],
    "-created_at": ["-created_at"],
    "email": ["email"],
    "company": ["company"],
}
DEFAULT_ORDERING = "name"
# The orderings a live contacts' name index (see Contact.Meta) answers in its own order.
NAME_ORDERINGS = {"name", "-name", "first_name"}
# A tag with more members than this is paged by walking names in order (see contact_list).
DENSE_TAG = 1000
DENSE_TAG_REMEMBER_S = 300
MIN_PHONE_SUFFIX = 6
_PHONEISH = re.compile(r"^[\d\s()+.\-/]+$")
# Ids found by email, phone or tag before the page query: a search term matching more rows than
# this is too broad to be one person, so only the first ones are kept.
MATCH_LIMIT = 5000


def phone_region(studio: Studio) -> str:
    """The region a number without a country prefix is read in: the studio's country when the
    studio has one, else the configured default."""
    return (getattr(studio, "country", "") or settings.PICPICK_CRM_PHONE_REGION).upper()


def contact_get(*, studio: Studio, contact_id: Any) -> Contact:
    return studio_object_or_404(
        Contact.objects.all(), studio=studio, object_id=contact_id, message="No such contact."
    )


def contact_get_detailed(*, studio: Studio, contact_id: Any) -> Contact:
    """The contact with its ``email_list``, ``phone_list`` and ``tag_list``."""
    contact = contact_get(studio=studio, contact_id=contact_id)
    _attach_lists([contact])
    return contact


@dataclass(frozen=True)
class EmailItem:
    email: str
    is_primary: bool


@dataclass(frozen=True)
class PhoneItem:
    number: str
    label: str
    is_primary: bool


def _lists_sql(count: int) -> str:
    """The page's emails, phones and tags as one UNION ALL statement, written once per page
    size: Django compiling the same three-query union cost 2 ms a page, reading it 0.1 ms."""
    sql = _LISTS_SQL.get(count)
    if sql is None:
        qn = connection.ops.quote_name
        marks = ", ".join(["%s"] * count)

        def table(model) -> str:
            return qn(model._meta.db_table)

        def col(model, name: str) -> str:
            return qn(model._meta.get_field(name).column)

        e, p, ct, t = ContactEmail, ContactPhone, ContactTag, Tag
        # Only quoted names of our own tables and columns and "%s" marks: no input in the text.
        sql = (
            f"SELECT {col(e, 'contact')}, 'e', {col(e, 'email')}, '', {col(e, 'is_primary')}, "  # noqa: S608
            f"{col(e, 'created_at')} FROM {table(e)} WHERE {col(e, 'contact')} IN ({marks}) "
            f"UNION ALL SELECT {col(p, 'contact')}, 'p', {col(p, 'number')}, {col(p, 'label')}, "
            f"{col(p, 'is_primary')}, {col(p, 'created_at')} FROM {table(p)} "
            f"WHERE {col(p, 'contact')} IN ({marks}) "
            f"UNION ALL SELECT ct.{col(ct, 'contact')}, 't', tg.{col(t, 'name')}, '', 0, NULL "
            f"FROM {table(ct)} ct JOIN {table(t)} tg ON tg.{col(t, 'id')} = ct.{col(ct, 'tag')} "
            f"WHERE ct.{col(ct, 'contact')} IN ({marks})"
        )
        _LISTS_SQL[count] = sql
    return sql


_LISTS_SQL: dict[int, str] = {}


def _attach_lists(contacts: list[Contact]) -> None:
    """Set each contact's ``email_list`` and ``phone_list`` (primary first, then oldest first)
    and ``tag_list`` (names, A-Z), read in one statement: the three tables' rows for these
    contacts as one UNION ALL (a page of 50 contacts asked three prefetch queries, a third of
    its time)."""
    found: dict[tuple[Any, str], list[tuple]] = {}
    if contacts:
        key = Contact._meta.pk
        ids = [key.get_db_prep_value(c.id, connection) for c in contacts]
        with connection.cursor() as cursor:
            cursor.execute(_lists_sql(len(ids)), ids * 3)
            rows = cursor.fetchall()
        for contact_id, kind, value, label, primary, created in rows:
            contact_id = key.to_python(contact_id)
            # ``created`` only orders one contact's rows (one format per database): never shown.
            found.setdefault((contact_id, kind), []).append((value, label, bool(primary), created))

    def listed(contact: Contact, kind: str) -> list[tuple]:
        rows = found.get((contact.id, kind), [])
        return sorted(rows, key=lambda row: (not row[2], row[3]))

    for contact in contacts:
        contact.email_list = [EmailItem(v, p) for v, _, p, _ in listed(contact, "e")]
        contact.phone_list = [PhoneItem(v, label, p) for v, label, p, _ in listed(contact, "p")]
        contact.tag_list = sorted(
            (v for v, *_ in found.get((contact.id, "t"), [])), key=lambda name: name.lower()
        )


def contact_definitions(*, studio: Studio) -> list[CustomFieldDefinition]:
    return list(
        CustomFieldDefinition.objects.filter(studio=studio, applies_to="contact").order_by(
            "position", "key"
        )
    )


def custom_field_list(*, studio: Studio, applies_to: str | None = None):
    qs = CustomFieldDefinition.objects.filter(studio=studio)
    if applies_to:
        qs = qs.filter(applies_to=applies_to)
    return qs.order_by("applies_to", "position", "key")


def custom_field_get(*, studio: Studio, definition_id: Any) -> CustomFieldDefinition:
    return studio_object_or_404(
        CustomFieldDefinition.objects.all(),
        studio=studio,
        object_id=definition_id,
        message="No such custom field.",
    )


def custom_values_visible(contact: Contact, definitions: list[CustomFieldDefinition]) -> dict:
    return custom_fields_visible(definitions, contact.custom_fields)


def _ids(qs: QuerySet) -> list[uuid.UUID] | None:
    """The contact ids one index range gives, or None when there are more than MATCH_LIMIT (a
    term that broad is answered by its condition instead)."""
    rows = list(qs.values_list("contact_id", flat=True)[: MATCH_LIMIT + 1])
    return None if len(rows) > MATCH_LIMIT else rows


def _matching(parts: list[QuerySet]) -> set[uuid.UUID] | None:
    """The union of the parts' contact ids, each read on its own index (one range each: an OR
    across two indexes makes MariaDB walk the whole studio), or None when one part is too
    broad to list."""
    ids: set[uuid.UUID] = set()
    for qs in parts:
        found = _ids(qs)
        if found is None:
            return None
        ids.update(found)
    return ids


@dataclass(frozen=True)
class _Search:
    """What ``?q=`` matches, in one of two shapes. ``lookups``: reads of a few contact ids
    (emails, phones) on their own indexes, with ``condition`` the same match as one filter for
    when a read is too broad to list. ``names``: name conditions, any one matching, each an
    index range in name order (paged as a union, never listed)."""

    lookups: list[QuerySet]
    condition: Q | None = None
    names: list[Q] | None = None


def _search(studio: Studio, q: str) -> _Search:
    """An email (exact or prefix, also its part before the @ when that has a dot), a phone
    (E.164 exact or a digits suffix), else a name (prefix of the first or last name; "first
    last" both). Prefix matches use LIKE without BINARY (``istartswith``): emails are stored
    lower-case and digits have no case, and only that LIKE uses the index under MariaDB's
    case-insensitive collation."""
    q = " ".join(q.split())
    # An email's first part ("ana.lima") has a dot and no space; a name rarely does.
    if "@" in q or ("." in q and " " not in q and not _PHONEISH.match(q)):
        emails = ContactEmail.objects.filter(studio=studio, email__istartswith=q.lower())
        return _Search(
            lookups=[emails],
            condition=Q(id__in=emails.values("contact_id")),
        )
    digits = phone_digits(q)
    if _PHONEISH.match(q) and len(digits) >= MIN_PHONE_SUFFIX:
        phones = ContactPhone.objects.filter(studio=studio)
        suffix = phones.filter(digits_reversed__istartswith=digits[::-1])
        lookups = [suffix]
        e164 = phone_try_parse(q, region=phone_region(studio))
        if e164:
            lookups.append(phones.filter(number=e164))
        return _Search(lookups=lookups, condition=Q(id__in=suffix.values("contact_id")))
    names = [Q(last_name__istartswith=q), Q(first_name__istartswith=q)]
    if " " in q:
        first, _, last = q.partition(" ")
        names.append(Q(last_name__istartswith=last, first_name__istartswith=first))
    return _Search(lookups=[], names=names)


def _tag_dense(tag_id: uuid.UUID, members: QuerySet) -> bool:
    """Whether the tag has more than DENSE_TAG members, remembered for a few minutes: it only
    picks how a page is read (both ways give the same rows), so a stale answer costs a little
    time, never a wrong result."""
    key = f"crm:tag-dense:{tag_id}"
    dense = cache.get(key)
    if dense is None:
        dense = members[: DENSE_TAG + 1].count() > DENSE_TAG
        cache.set(key, dense, DENSE_TAG_REMEMBER_S)
    return dense


def contact_list(
    *,
    studio: Studio,
    q: str = "",
    tag: str = "",
    source: str = "",
    created_after: dt.datetime | None = None,
    created_before: dt.datetime | None = None,
    ordering: str = DEFAULT_ORDERING,
) -> ContactQuery:
    """The studio's live contacts (not merged tombstones) matching the filters, with the keyset
    ordering to page them by (with ``contact_page``); an unknown ordering is a 400
    ``invalid_ordering``.

    Every read stays on an index at 100,000 contacts: names as index ranges of the live
    contacts in name order (``(studio, merged_into, last_name, first_name)`` and its
    first-name twin, so a page reads its 51 entries and stops), emails and phones as a few ids,
    a tag as a semi-join through ``(tag, contact)``."""
    if ordering not in ORDERINGS:
        raise ApplicationError(
            f"Unknown ordering {ordering!r}.",
            code="invalid_ordering",
            fields={"ordering": [f"One of: {', '.join(ORDERINGS)}."]},
        )
    order = ORDERINGS[ordering]
    conditions: list[Q] = []
    union: list[Q] = []
    ids: set[uuid.UUID] | None = None
    if q.strip():
        search = _search(studio, q)
        if search.names:
            union = search.names
        else:
            ids = _matching(search.lookups)
            if ids is None and search.condition is not None:
                conditions.append(search.condition)
    if tag:
        found = list(
            Tag.objects.filter(studio=studio, name__iexact=tag.strip()).values_list(
                "id", flat=True
            )[:1]
        )
        if not found:
            return ContactQuery(queryset=Contact.objects.none(), ordering=order, union=[])
        members = ContactTag.objects.filter(tag_id=found[0]).values("contact_id")
        tagged = Q(id__in=members)
        if ordering in NAME_ORDERINGS and _tag_dense(found[0], members):
            # A tag of many: walk the live contacts in name order and stop after a page, each
            # looked up in the members read once (a few thousand index entries, ~2 ms at
            # 100,000 contacts). As a plain ``IN`` MariaDB makes it a semi-join that reads
            # every member's row and sorts them all (~10 ms for 2,500, growing with the tag);
            # the always-false ``OR id IS NULL`` keeps the subquery a condition. A tag of few
            # stays a semi-join: the walk would pass the whole studio to find them.
            tagged |= Q(id__isnull=True)
        if ids is not None:
            conditions.append(tagged)
        else:  # a range of its own (or within each name range): one statement reads the page
            union = [part & tagged for part in union] if union else [tagged]
    if ids is not None:
        # The ids were read within the studio. The page query leaves the studio out on
        # purpose: with ``studio = ...`` MariaDB may walk a (studio, ...) index in page order
        # hoping to meet the few ids early; without it, it reads them by primary key and sorts
        # those few.
        qs = Contact.objects.filter(id__in=ids)
    else:
        qs = Contact.objects.filter(studio=studio)
    qs = qs.filter(*conditions, merged_into__isnull=True)
    if source:
        qs = qs.filter(source=source)
    if created_after:
        qs = qs.filter(created_at__gte=created_after)
    if created_before:
        qs = qs.filter(created_at__lt=created_before)
    return ContactQuery(queryset=qs, ordering=order, union=union)


@dataclass(frozen=True)
class ContactQuery:
    queryset: QuerySet[Contact]
    ordering: list[str]
    # A name too common to list by ids: its conditions, each an index range (any one matches).
    union: list[Q]


def contact_page(*, query: ContactQuery, cursor: str | None, page_size: int) -> Page:
    """A keyset page of ``queryset`` with each contact's emails, phones and tags. A union of
    name ranges reads whole contacts at once (its page query sorts a page from each range);
    any other list is ordered on the sort columns and the id alone first (a sort of thousands
    of narrow rows, not of whole contacts with their notes and JSON), then the page's contacts
    are read whole."""
    if query.union:
        page = paginate_union(
            query.queryset,
            parts=query.union,
            ordering=query.ordering,
            cursor=cursor,
            page_size=page_size,
        )
        _attach_lists(page.items)
        return page
    keys = {name.lstrip("-") for name in query.ordering} | {"id"}
    page = paginate(
        query.queryset.only(*keys), ordering=query.ordering, cursor=cursor, page_size=page_size
    )
    ids = [row.id for row in page.items]
    full = {c.id: c for c in Contact.objects.filter(id__in=ids)}
    items = [full[i] for i in ids if i in full]
    _attach_lists(items)
    return Page(items=items, next_cursor=page.next_cursor, previous_cursor=page.previous_cursor)


def import_job_get(*, studio: Studio, import_job_id: Any) -> ImportJob:
    return studio_object_or_404(
        ImportJob.objects.all(), studio=studio, object_id=import_job_id, message="No such import."
    )


# --- Exports ------------------------------------------------------------------------------------
CONTACT_COLUMNS = [
    "id",
    "first_name",
    "last_name",
    "company",
    "email",
    "other_emails",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "tags",
    "source",
    "marketing_consent",
    "notes",
    "created_at",
]


def contact_export_rows(*, studio: Studio) -> Iterator[list[str]]:
    """The header, then one row per live contact, read in chunks (flat memory)."""
    definitions = contact_definitions(studio=studio)
    yield CONTACT_COLUMNS + [d.key for d in definitions]
    qs = (
        Contact.objects.filter(studio=studio, merged_into__isnull=True)
        .prefetch_related("emails", "tags")
        .order_by("created_at", "id")
    )
    for c in qs.iterator(chunk_size=2000):
        custom = custom_fields_visible(definitions, c.custom_fields)
        yield [
            str(c.id),
            c.first_name,
            c.last_name,
            c.company,
            c.email,
            "; ".join(sorted(e.email for e in c.emails.all() if e.email != c.email)),
            c.phone,
            c.address_line1,
            c.address_line2,
            c.city,
            c.region,
            c.postal_code,
            c.country,
            "; ".join(sorted(t.name for t in c.tags.all())),
            c.source,
            "yes" if c.marketing_consent else "no",
            c.notes,
            c.created_at.isoformat(),
        ] + ["" if custom.get(d.key) is None else str(custom[d.key]) for d in definitions]


JOB_COLUMNS = [
    "id",
    "name",
    "job_type",
    "pipeline",
    "stage",
    "event_start",
    "location",
    "estimated_value",
    "currency",
    "lead_source",
    "clients",
    "created_at",
]


def job_export_rows(*, studio: Studio) -> Iterator[list[str]]:
    yield JOB_COLUMNS
    qs = (
        Job.objects.filter(studio=studio)
        .select_related("pipeline", "stage")
        .prefetch_related(
            Prefetch("job_contacts", queryset=JobContact.objects.select_related("contact"))
        )
        .order_by("created_at", "id")
    )
    for j in qs.iterator(chunk_size=1000):
        yield [
            str(j.id),
            j.name,
            j.job_type,
            j.pipeline.name,
            j.stage.name,
            j.event_start.isoformat() if j.event_start else "",
            j.location,
            str(j.estimated_value),  # minor units of ``currency``
            j.currency,
            j.lead_source,
            "; ".join(str(link.contact) for link in j.job_contacts.all()),
            j.created_at.isoformat(),
        ]


# --- GDPR art. 15 -------------------------------------------------------------------------------
def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime | dt.date) else value


def contact_data_export(*, contact: Contact) -> dict:
    """Everything the studio holds on the person, as JSON-ready data."""
    studio = contact.studio
    definitions = contact_definitions(studio=studio)
    emails = list(
        contact.emails.order_by("-is_primary", "created_at").values_list("email", flat=True)
    )
    visitors = list(
        Visitor.objects.filter(studio=studio, email__in=emails)
        .select_related("gallery")
        .order_by("created_at")
    )
    favourites = (
        Favourite.objects.filter(studio=studio, favourite_list__visitor__in=visitors)
        .select_related("favourite_list", "photo")
        .order_by("created_at")
    )
    fav_by_visitor: dict[uuid.UUID, list[dict]] = {}
    for f in favourites:
        fav_by_visitor.setdefault(f.favourite_list.visitor_id, []).append(
            {
                "list": f.favourite_list.name,
                "photo_id": str(f.photo_id),
                "filename": getattr(f.photo, "filename", ""),
                "comment": f.comment,
                "created_at": _iso(f.created_at),
            }
        )
    fields = [
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
        "marketing_consent",
        "marketing_consent_at",
        "marketing_consent_source",
        "created_at",
        "updated_at",
        "erased_at",
    ]
    return {
        "contact": {"id": str(contact.id), **{f: _iso(getattr(contact, f)) for f in fields}},
        "emails": emails,
        "phones": [
            {"number": p.number, "label": p.label, "primary": p.is_primary}
            for p in contact.phones.order_by("-is_primary", "created_at")
        ],
        "tags": sorted(contact.tags.values_list("name", flat=True)),
        "custom_fields": custom_fields_visible(definitions, contact.custom_fields),
        "jobs": [
            {
                "id": str(link.job_id),
                "name": link.job.name,
                "role": link.role,
                "stage": link.job.stage.name,
                "event_start": _iso(link.job.event_start),
                "estimated_value": link.job.estimated_value,
                "currency": link.job.currency,
            }
            for link in contact.job_links.select_related("job__stage").order_by("created_at")
        ],
        "inquiries": [
            {"id": str(i.id), "answers": i.answers, "origin": i.origin, "at": _iso(i.created_at)}
            for i in contact.inquiries.order_by("created_at")
        ],
        "emails_sent": [
            {
                "id": str(m.id),
                "to": m.to,
                "subject": m.subject,
                "body": m.body,
                "state": m.state,
                "sent_at": _iso(m.sent_at),
            }
            for m in contact.emails_sent.order_by("created_at")
        ],
        "tasks": [
            {"id": str(t.id), "title": t.title, "notes": t.notes, "due_at": _iso(t.due_at)}
            for t in contact.tasks.order_by("created_at")
        ],
        "timeline": [
            {"kind": e.kind, "occurred_at": _iso(e.occurred_at), "payload": e.payload}
            for e in contact.timeline.order_by("occurred_at", "id")
        ],
        "galleries_visited": [
            {
                "gallery_id": str(v.gallery_id),
                "gallery_name": v.gallery.name,
                "email": v.email,
                "name": v.name,
                "visits": v.visits,
                "first_seen_at": _iso(v.created_at),
                "last_seen_at": _iso(v.last_seen_at),
                "favourites": fav_by_visitor.get(v.id, []),
            }
            for v in visitors
        ],
    }
