"""Recording timeline events: the one writer of ``TimelineEvent``."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from accounts.models import Studio, User
from crm.models import Contact, Job, TimelineEvent
from crm.timeline import payload_check


def timeline_record(
    *,
    studio: Studio,
    kind: str,
    payload: dict,
    job: Job | None = None,
    contact: Contact | None = None,
    actor: User | None = None,
    occurred_at: dt.datetime | None = None,
) -> TimelineEvent:
    """Append one event to a job's and/or a contact's timeline (in the caller's transaction).
    The payload is checked against its kind (``crm.timeline.KINDS``): a wrong one is a bug of
    the caller, so it raises rather than answering a 4xx."""
    if job is None and contact is None:
        raise ValueError("a timeline event belongs to a job, a contact or both")
    for row in (job, contact):
        if row is not None and row.studio_id != studio.id:
            raise ValueError("a timeline event and its job/contact belong to one studio")
    return TimelineEvent.objects.create(
        studio=studio,
        kind=kind,
        payload=payload_check(kind, payload),
        job=job,
        contact=contact,
        actor=actor if actor is not None and actor.is_authenticated else None,
        occurred_at=occurred_at or timezone.now(),
    )
