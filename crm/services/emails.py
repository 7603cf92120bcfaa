"""Email from the CRM: templates, the values their placeholders offer, and sending."""

from __future__ import annotations

import zoneinfo

from accounts.models import Studio
from crm.models import Contact, Job, JobContact, JobGallery
from domains.selectors import studio_site_url


def job_zone(*, job: Job, studio: Studio) -> zoneinfo.ZoneInfo:
    """The time zone a job's dates are read in: the event's own, else the studio's."""
    for name in (job.event_timezone, studio.timezone, "UTC"):
        if name:
            try:
                return zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
    return zoneinfo.ZoneInfo("UTC")


def job_client(*, job: Job) -> Contact | None:
    """Whom "the client" of a job is for a template: the billing contact, else the first
    client, else the first linked contact (merged tombstones never)."""
    links = JobContact.objects.filter(job=job, contact__merged_into__isnull=True).select_related(
        "contact"
    )
    link = (
        links.filter(is_billing=True).first()
        or links.filter(role=JobContact.Role.CLIENT).order_by("created_at", "id").first()
        or links.order_by("created_at", "id").first()
    )
    return link.contact if link is not None else None


def template_context(
    *, job: Job | None = None, contact: Contact | None = None, studio: Studio
) -> dict:
    """The plain dicts a template's placeholders may read (``crm.templating.VARIABLES``):
    values only (strings and dates), never a model, so the template language has nothing to
    introspect. ``contact`` is the recipient; without one, the job's client."""
    if contact is None and job is not None:
        contact = job_client(job=job)
    site = studio_site_url(studio=studio)
    context: dict = {"studio": {"name": studio.name, "url": site}}
    if contact is not None:
        full_name = " ".join(part for part in (contact.first_name, contact.last_name) if part)
        context["client"] = {
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "full_name": full_name,
            "email": contact.email,
        }
    if job is not None:
        zone = job_zone(job=job, studio=studio)
        start = job.event_start.astimezone(zone) if job.event_start else None
        end = job.event_end.astimezone(zone) if job.event_end else None
        context["job"] = {
            "name": job.name,
            "type": job.job_type,
            "event_date": start.date() if start else None,
            "event_time": start.strftime("%H:%M") if start else "",
            "event_end_date": end.date() if end else None,
            "time_zone": zone.key,
            "location": job.location,
        }
        link = (
            JobGallery.objects.filter(job=job)
            .select_related("gallery")
            .order_by("created_at", "id")
            .first()
        )
        if link is not None:
            context["gallery"] = {
                "name": link.gallery.name,
                "url": f"{site}/g/{link.gallery.slug}/",
            }
    return context
