"""Notes: a line a member writes on a job's or a contact's timeline."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from crm.models import Contact, Job, TimelineEvent
from crm.services.timeline import timeline_record

NOTE_MAX_LENGTH = 10_000


@transaction.atomic
def note_add(
    *, by: User, text: str, job: Job | None = None, contact: Contact | None = None
) -> TimelineEvent:
    """A note on the job or the contact (exactly one: a note on a job is already on the
    timelines of the job's contacts)."""
    if (job is None) == (contact is None):
        raise ValueError("a note is written on a job or on a contact")
    owner = job if job is not None else contact
    return timeline_record(
        studio=owner.studio,
        kind="note",
        payload={"text": text},
        job=job,
        contact=contact,
        actor=by,
    )
