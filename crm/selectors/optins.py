"""A gallery's visitors who opted in to marketing, with the contact each became."""

from __future__ import annotations

from django.db.models import QuerySet

from crm.models import ContactEmail
from galleries.models import Gallery
from guests.models import Visitor
from picpick.core.pagination import DEFAULT_PAGE_SIZE, Page, paginate


def _opted_in(gallery: Gallery) -> QuerySet[Visitor]:
    return Visitor.objects.filter(gallery=gallery, marketing_opt_in=True)


def opt_in_count(*, gallery: Gallery) -> int:
    return _opted_in(gallery).count()


def opt_in_page(
    *, gallery: Gallery, cursor: str | None = None, page_size: int = DEFAULT_PAGE_SIZE
) -> Page:
    """Newest opt-in first; each visitor's ``contact_id`` set (None until the CRM made it)."""
    page = paginate(
        _opted_in(gallery),
        ordering=["-marketing_opt_in_at", "-id"],
        cursor=cursor,
        page_size=page_size,
    )
    contacts = dict(
        ContactEmail.objects.filter(
            studio_id=gallery.studio_id, email__in=[v.email.lower() for v in page.items]
        ).values_list("email", "contact_id")
    )
    for visitor in page.items:
        visitor.contact_id = contacts.get(visitor.email.lower())
    return page
