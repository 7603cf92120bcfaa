"""Merging two contacts into one, leaving a tombstone (both locked in id order)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from crm.custom_fields import custom_fields_visible
from crm.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    ContactTag,
    EmailMessage,
    Inquiry,
    JobContact,
    Task,
    TimelineEvent,
)
from crm.services.contacts.checks import definitions_of
from crm.services.contacts.constants import SCALAR_FIELDS
from crm.services.contacts.hooks import contact_merge_hooks_run
from crm.services.contacts.people import require_live
from crm.services.timeline import timeline_record
from picpick.core.errors import ApplicationError


# --- Merge --------------------------------------------------------------------------------------
@transaction.atomic
def contact_merge(*, survivor: Contact, merged: Contact, by: User | None) -> Contact:
    """Move everything of ``merged`` onto ``survivor`` and leave ``merged`` a tombstone.

    The apps above move their own rows last (``CONTACT_MERGE_HOOKS``: billing's wallets,
    accounts, payments and cards), in this transaction with both contacts locked; one that
    refuses (a wallet with a checkout in progress) undoes the whole merge."""
    if survivor.id == merged.id:
        raise ApplicationError(
            "A contact cannot be merged into itself.",
            code="merge_into_self",
            fields={"from": ["Same contact."]},
        )
    studio = survivor.studio
    # Both rows locked in id order: merges of the same pair never wait on each other in a cycle.
    rows = {
        c.id: c
        for c in Contact.objects.select_for_update()
        .filter(studio=studio, id__in=[survivor.id, merged.id])
        .order_by("id")
    }
    survivor, merged = rows[survivor.id], rows[merged.id]
    survivor.studio = merged.studio = studio
    require_live(survivor)
    require_live(merged)

    ContactEmail.objects.filter(contact=merged).update(contact=survivor, is_primary=False)
    if not survivor.email:
        first = ContactEmail.objects.filter(contact=survivor).order_by("created_at").first()
        if first is not None:
            ContactEmail.objects.filter(id=first.id).update(is_primary=True)
            survivor.email = first.email

    have_numbers = set(
        ContactPhone.objects.filter(contact=survivor).values_list("number", flat=True)
    )
    ContactPhone.objects.filter(contact=merged, number__in=have_numbers).delete()
    ContactPhone.objects.filter(contact=merged).update(contact=survivor, is_primary=False)
    if not survivor.phone:
        first_phone = ContactPhone.objects.filter(contact=survivor).order_by("created_at").first()
        if first_phone is not None:
            ContactPhone.objects.filter(id=first_phone.id).update(is_primary=True)
            survivor.phone = first_phone.number

    have_tags = ContactTag.objects.filter(contact=survivor).values("tag_id")
    ContactTag.objects.filter(contact=merged, tag_id__in=have_tags).delete()
    ContactTag.objects.filter(contact=merged).update(contact=survivor)

    # One link per (job, contact): a job both were on keeps the survivor's link.
    have_jobs = JobContact.objects.filter(contact=survivor).values("job_id")
    JobContact.objects.filter(contact=merged, job_id__in=have_jobs).delete()
    JobContact.objects.filter(contact=merged).update(contact=survivor)
    # Re-pointing history (allowed: see AppendOnlyModel): whose it is changes, not what it says.
    TimelineEvent.objects.filter(contact=merged).update(contact=survivor)
    Inquiry.objects.filter(contact=merged).update(contact=survivor)
    EmailMessage.objects.filter(contact=merged).update(contact=survivor)
    Task.objects.filter(contact=merged).update(contact=survivor)

    # The most recent explicit consent (given or withdrawn) is the person's current wish.
    if merged.marketing_consent_at and (
        not survivor.marketing_consent_at
        or merged.marketing_consent_at > survivor.marketing_consent_at
    ):
        survivor.marketing_consent = merged.marketing_consent
        survivor.marketing_consent_at = merged.marketing_consent_at
        survivor.marketing_consent_source = merged.marketing_consent_source

    definitions = definitions_of(studio, "contact")
    values = custom_fields_visible(definitions, merged.custom_fields)
    values.update(
        {
            k: v
            for k, v in custom_fields_visible(definitions, survivor.custom_fields).items()
            if v not in (None, "")
        }
    )
    survivor.custom_fields = values
    for name in SCALAR_FIELDS:
        if name != "source" and not getattr(survivor, name) and getattr(merged, name):
            setattr(survivor, name, getattr(merged, name))
    survivor.save()

    merged_name = str(merged)
    merged.merged_into = survivor
    merged.merged_at = timezone.now()
    merged.email = merged.phone = ""
    merged.save(update_fields=["merged_into", "merged_at", "email", "phone", "updated_at"])
    timeline_record(
        studio=studio,
        kind="contact_merged",
        payload={"merged_contact_id": str(merged.id), "merged_name": merged_name},
        contact=survivor,
        actor=by,
    )
    contact_merge_hooks_run(survivor, merged, by)
    return survivor
