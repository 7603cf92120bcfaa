"""Reading the timeline: a job's, a contact's, newest first, in keyset pages.

A job's timeline is one index range scan: ``(job, -occurred_at, -id)`` answers any page, first
or deep, by seeking to the cursor and reading 51 entries.

A contact's timeline is the events recorded on the contact *and* those recorded on the jobs the
contact is linked to. How that stays fast at a million events:

- Copying each job event onto every linked contact at write time was rejected: a wedding job
  with a hundred opted-in guests would write a hundred rows per email, and linking a contact
  to a job later would show none of the job's past (or need a backfill under the job's lock).
- One ``WHERE contact = c OR job IN (...) ORDER BY occurred_at DESC`` was rejected: neither
  index answers an OR in order, so MariaDB and SQLite collect every matching event (thousands
  for a busy client) and sort them before returning 50 -- cost grows with the history, not
  the page.
- So it is read as a union of index range scans with one merged keyset
  (``picpick.core.pagination.paginate_union``): the contact's own events through
  ``(contact, -occurred_at, -id)``, each linked job's through ``(job, -occurred_at, -id)``,
  each part reading only the ids of its first 51 entries after the cursor (covering reads),
  and the page's rows loaded by those ids -- one statement, whatever the depth. An event on
  both the contact and one of its jobs counts once. A contact is linked to a handful of jobs;
  past ``JOB_PARTS_MAX`` (a planner with hundreds) the jobs are read as one ``job IN (...)``
  part, a bounded sort of those jobs' events, instead of hundreds of derived tables.

The events of a job or contact are read without repeating the studio: the job or contact was
fetched through the studio-scoped get, and a ``studio =`` term would let the planner pick the
studio index and sort the studio's whole timeline.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from crm.models import Contact, Job, JobContact, TimelineEvent
from picpick.core.pagination import DEFAULT_PAGE_SIZE, Page, paginate, paginate_union

ORDERING = ["-occurred_at", "-id"]
# Up to this many linked jobs, one index range scan each; beyond, one ``job IN`` part.
JOB_PARTS_MAX = 20


def _events(kinds: list[str] | None) -> QuerySet[TimelineEvent]:
    events = TimelineEvent.objects.select_related("actor")
    if kinds:
        events = events.filter(kind__in=kinds)
    return events


def timeline_job_page(
    *,
    job: Job,
    kinds: list[str] | None = None,
    cursor: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """A page of the job's events, newest first."""
    return paginate(
        _events(kinds).filter(job=job), ordering=ORDERING, cursor=cursor, page_size=page_size
    )


def timeline_contact_page(
    *,
    contact: Contact,
    kinds: list[str] | None = None,
    cursor: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """A page of the contact's events and those of the jobs it is linked to, newest first."""
    links = JobContact.objects.filter(contact=contact).order_by("job_id")
    job_ids = list(links.values_list("job_id", flat=True))
    parts = [Q(contact=contact)]
    if len(job_ids) > JOB_PARTS_MAX:
        parts.append(Q(job_id__in=job_ids))
    else:
        parts.extend(Q(job_id=job_id) for job_id in job_ids)
    return paginate_union(
        _events(kinds), parts=parts, ordering=ORDERING, cursor=cursor, page_size=page_size
    )
