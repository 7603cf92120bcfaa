"""Reading inquiry forms and inquiries: the studio's (scoped gets, pages) and the public's (an
active form on its studio's site)."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from accounts.models import Membership, Role, Studio
from crm.models import Inquiry, InquiryForm
from picpick.core.errors import NotFound
from picpick.core.pagination import DEFAULT_PAGE_SIZE, Page, paginate
from picpick.core.selectors import studio_object_or_404

# Ids are UUIDv7 (time-ordered): newest first by id alone is the creation order, and an index
# on (form) or (studio) already holds the primary key after it, so a page is one range read.
ORDERING = ["-id"]


def inquiry_form_list(
    *, studio: Studio, cursor: str | None = None, page_size: int = DEFAULT_PAGE_SIZE
) -> Page:
    return paginate(
        InquiryForm.objects.filter(studio=studio).select_related("pipeline", "auto_reply_template"),
        ordering=ORDERING,
        cursor=cursor,
        page_size=page_size,
    )


def inquiry_form_get(*, studio: Studio, form_id: uuid.UUID | str) -> InquiryForm:
    return studio_object_or_404(
        InquiryForm.objects.select_related("pipeline", "auto_reply_template"),
        studio=studio,
        object_id=form_id,
        message="No such inquiry form.",
    )


def inquiry_list(
    *,
    studio: Studio,
    form: InquiryForm | None = None,
    cursor: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page:
    inquiries: QuerySet[Inquiry] = Inquiry.objects.filter(studio=studio).select_related(
        "form", "contact", "job", "job__stage"
    )
    if form is not None:
        inquiries = inquiries.filter(form=form)
    return paginate(inquiries, ordering=ORDERING, cursor=cursor, page_size=page_size)


def inquiry_get(*, studio: Studio, inquiry_id: uuid.UUID | str) -> Inquiry:
    return studio_object_or_404(
        Inquiry.objects.select_related("form", "contact", "job", "job__stage"),
        studio=studio,
        object_id=inquiry_id,
        message="No such inquiry.",
    )


def site_inquiry_form(*, studio_id: uuid.UUID | None, key: str) -> InquiryForm:
    """The active form ``key`` (its slug, or its id) of the studio whose site this is; any
    other form -- another studio's, an inactive one -- is the same 404. Without a studio (the
    API host) only an id names a form: ids are random, slugs are every studio's."""
    forms = InquiryForm.objects.select_related("studio", "auto_reply_template").filter(
        active=True, studio__deleted_at__isnull=True
    )
    if studio_id is not None:
        forms = forms.filter(studio_id=studio_id)
    try:
        form_id = uuid.UUID(key)
    except ValueError:
        found = forms.filter(slug=key).first() if studio_id is not None else None
    else:
        found = forms.filter(id=form_id).first()
    if found is None:
        raise NotFound("No such form.")
    return found


def studio_owner_emails(*, studio: Studio) -> list[str]:
    """Whom a new inquiry is told to when the form names nobody: the studio's owners."""
    return sorted(
        Membership.objects.filter(studio=studio, role=Role.OWNER, user__is_active=True).values_list(
            "user__email", flat=True
        )
    )
