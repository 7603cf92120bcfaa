"""Gallery events on the job's timeline: what galleries and guests tell
``GALLERY_ACTIVITY_HOOKS`` (a gallery published, a guest's first visit, favourites, a ZIP asked
for), recorded on the job the gallery is linked to (``JobGallery``); nothing for a gallery
without a job.

Galleries calls this after its own commit, for every guest's visit and favourite, so the
common case -- a gallery no job links -- costs one query on ``JobGallery``'s unique gallery
key and writes nothing.
"""

from __future__ import annotations

from crm.models import JobGallery, TimelineEvent
from crm.services.timeline import timeline_record
from galleries.models import Gallery

# Galleries' activity -> the timeline's kind.
ACTIVITY_KINDS = {
    "published": "gallery_delivered",
    "first_visit": "gallery_first_visit",
    "favourites": "favourites_made",
    "zip_requested": "zip_downloaded",
}


def _payload(gallery: Gallery, activity: str, data: dict) -> dict:
    payload: dict = {"gallery_id": str(gallery.id), "gallery_name": gallery.name}
    email = data.get("email") or ""
    if activity == "first_visit" and email:
        payload["email"] = email
    elif activity == "favourites":
        payload["count"] = int(data["count"])
        if email:
            payload["email"] = email
        if data.get("list"):
            payload["list"] = str(data["list"])
    elif activity == "zip_requested":
        payload["size"] = str(data["size"])
        if email:
            payload["email"] = email
    return payload


def gallery_activity_record(gallery: Gallery, activity: str, data: dict) -> TimelineEvent | None:
    """The ``GALLERY_ACTIVITY_HOOKS`` entry (see crm.registry.gallery_events). One read and at
    most one insert, so no transaction of its own (and no savepoint for the no-job case)."""
    kind = ACTIVITY_KINDS.get(activity)
    if kind is None:  # an activity the timeline does not show
        return None
    link = JobGallery.objects.filter(gallery_id=gallery.id).select_related("job__studio").first()
    if link is None:
        return None
    job = link.job
    return timeline_record(
        studio=job.studio, kind=kind, payload=_payload(gallery, activity, data), job=job
    )
