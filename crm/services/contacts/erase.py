"""Erasing a person (GDPR art. 17): anonymised, rows that history points at kept."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from crm.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    ContactTag,
    EmailMessage,
    Inquiry,
    JobContact,
    TimelineEvent,
)
from crm.services.contacts.constants import ERASED_NAME, SCALAR_FIELDS
from crm.services.contacts.people import contact_lock, require_live
from crm.services.timeline import timeline_record
from guests.services import visitors_anonymise


# --- Erase (GDPR art. 17) -----------------------------------------------------------------------
@transaction.atomic
def contact_erase(*, contact: Contact, by: User | None) -> Contact:
    """Anonymise the person and keep the row (jobs and their money history point at it).

    Also anonymised: the guests' visitor rows of the person's emails in the studio's galleries
    (through the guests app's service), and the addresses in the person's timeline payloads
    and in the gallery events of their jobs (the one change an append-only timeline takes: it
    says what happened, no longer to whom).
    """
    contact = contact_lock(contact)
    require_live(contact)
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
