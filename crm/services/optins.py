"""Gallery visitors who ticked the marketing opt-in: contacts with source "gallery", linked to
the gallery's job as guests, and turned into leads when the studio asks.

Guests tells ``VISITOR_OPTED_IN_HOOKS`` after its commit (``visitor_opted_in``); only a guest
who gave an email on a gallery's registration *and* ticked the box gets here -- a selfie search
or an anonymous visit never makes a contact.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import Studio, User
from crm.models import Contact, ContactEmail, Job, JobContact, JobGallery
from crm.services.contacts import contact_create
from crm.services.jobs import job_contact_add, job_create
from crm.services.timeline import timeline_record
from galleries.models import Gallery
from guests.models import Visitor
from picpick.core.errors import ApplicationError, Conflict

Role = JobContact.Role
CONVERT_MAX = 500


def consent_source(gallery: Gallery) -> str:
    return f"gallery opt-in: {gallery.name}"[:100]


def lead_source(gallery: Gallery) -> str:
    """The job's ``lead_source`` marking a lead made from this gallery's opt-ins (converting the
    same guest twice finds it)."""
    return f"gallery opt-in {gallery.id}"


def _names(name: str) -> tuple[str, str]:
    first, _, last = " ".join(name.split()).partition(" ")
    return first[:120], last[:120]


def _contact_by_email(*, studio_id: uuid.UUID, email: str) -> Contact | None:
    row = (
        ContactEmail.objects.filter(studio_id=studio_id, email=email)
        .select_related("contact")
        .first()
    )
    contact = row.contact if row is not None else None
    # A merged contact's emails normally move to the survivor; follow the tombstone if not.
    while contact is not None and contact.merged_into_id is not None:
        contact = Contact.objects.get(id=contact.merged_into_id)
    return contact


def _contact_for_visitor(*, studio: Studio, visitor: Visitor, gallery: Gallery) -> Contact:
    """The studio's contact with the visitor's email, made (source "gallery") if none; its
    marketing consent set from the visitor's opt-in unless already given."""
    email = visitor.email.strip().lower()
    at = visitor.marketing_opt_in_at or timezone.now()
    contact = _contact_by_email(studio_id=studio.id, email=email)
    if contact is None:
        first, last = _names(visitor.name)
        try:
            contact = contact_create(
                studio=studio,
                by=None,
                emails=[email],
                first_name=first,
                last_name=last,
                source=Contact.Source.GALLERY,
                marketing_consent=True,
                marketing_consent_source=consent_source(gallery),
            )
            # Consent dates from the guest's tick, not from when this hook ran.
            contact.marketing_consent_at = at
            contact.save(update_fields=["marketing_consent_at", "updated_at"])
            return contact
        except Conflict:  # the same email opting in twice at once: the other one made it
            contact = _contact_by_email(studio_id=studio.id, email=email)
            if contact is None:
                raise
    if not contact.marketing_consent and contact.erased_at is None:
        contact.marketing_consent = True
        contact.marketing_consent_at = at
        contact.marketing_consent_source = consent_source(gallery)
        contact.save(
            update_fields=[
                "marketing_consent",
                "marketing_consent_at",
                "marketing_consent_source",
                "updated_at",
            ]
        )
    return contact


@transaction.atomic
def visitor_opted_in(visitor: Visitor) -> Contact | None:
    """The ``VISITOR_OPTED_IN_HOOKS`` entry: the visitor as a contact (made or matched by email,
    consent recorded "gallery opt-in: <gallery>"), linked to the gallery's job as a guest when
    there is one, and ``marketing_opt_in`` on its timeline (and the job's)."""
    if not visitor.marketing_opt_in:
        return None
    gallery = Gallery.objects.select_related("studio").get(id=visitor.gallery_id)
    studio = gallery.studio
    contact = _contact_for_visitor(studio=studio, visitor=visitor, gallery=gallery)
    if contact.erased_at is not None:
        return None  # erased on request: the opt-in does not bring the person back
    link = JobGallery.objects.filter(gallery=gallery).select_related("job").first()
    job = link.job if link is not None else None
    if job is not None and not JobContact.objects.filter(job=job, contact=contact).exists():
        job.studio = studio
        job_contact_add(job=job, contact=contact, role=Role.GUEST)
    timeline_record(
        studio=studio,
        kind="marketing_opt_in",
        payload={
            "gallery_id": str(gallery.id),
            "gallery_name": gallery.name,
            "email": contact.email,
        },
        contact=contact,
        job=job,
        occurred_at=visitor.marketing_opt_in_at,
    )
    return contact


@dataclass(frozen=True)
class Conversion:
    visitor: Visitor
    contact: Contact
    job: Job
    created: bool


@transaction.atomic
def opt_ins_convert(
    *,
    gallery: Gallery,
    by: User,
    visitor_ids: list[uuid.UUID] | None = None,
) -> list[Conversion]:
    """Turn the gallery's opted-in visitors (those named, or all) into leads: per visitor, its
    contact and a new job in the first stage of the studio's default pipeline. A visitor already
    converted from this gallery keeps its lead (``created`` False): converting twice adds
    nothing."""
    visitors = Visitor.objects.filter(gallery=gallery, marketing_opt_in=True).order_by(
        "marketing_opt_in_at", "id"
    )
    if visitor_ids is not None:
        wanted = set(visitor_ids)
        visitors = list(visitors.filter(id__in=wanted))
        missing = wanted - {v.id for v in visitors}
        if missing:
            raise ApplicationError(
                "Some visitors are not opted-in visitors of this gallery.",
                code="visitor_not_opted_in",
                fields={"visitor_ids": [str(v) for v in sorted(missing)]},
            )
    else:
        visitors = list(visitors[: CONVERT_MAX + 1])
    if len(visitors) > CONVERT_MAX:
        raise ApplicationError(
            f"At most {CONVERT_MAX} visitors at once; name them with visitor_ids.",
            code="too_many_visitors",
        )
    studio = gallery.studio
    source = lead_source(gallery)
    results = []
    for visitor in visitors:
        contact = _contact_for_visitor(studio=studio, visitor=visitor, gallery=gallery)
        if contact.erased_at is not None:
            continue
        existing = (
            Job.objects.filter(studio=studio, lead_source=source, job_contacts__contact=contact)
            .order_by("created_at")
            .first()
        )
        if existing is not None:
            results.append(Conversion(visitor, contact, existing, created=False))
            continue
        name = str(contact) or visitor.email
        job = job_create(
            studio=studio,
            by=by,
            name=f"{name} (from {gallery.name})",
            lead_source=source,
            contacts=[(contact, Role.CLIENT, True)],
        )
        results.append(Conversion(visitor, contact, job, created=True))
    return results
