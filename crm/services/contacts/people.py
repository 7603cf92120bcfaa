"""Contacts: create, update, delete; a contact's emails, phones and tags change only under its
row lock."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Studio, User
from crm.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    ContactTag,
    JobContact,
    Tag,
)
from crm.phones import phone_digits
from crm.services.contacts.checks import (
    country_clean,
    custom_values_check,
    email_taken_check,
    emails_clean,
    phones_clean,
    tags_get_or_create,
)
from crm.services.contacts.constants import SCALAR_FIELDS
from crm.services.contacts.hooks import contact_delete_guards_run
from picpick.core.errors import Conflict


# --- Contacts -----------------------------------------------------------------------------------
def _set_emails(contact: Contact, emails: list[str]) -> None:
    ContactEmail.objects.filter(contact=contact).exclude(email__in=emails).delete()
    have = set(ContactEmail.objects.filter(contact=contact).values_list("email", flat=True))
    try:
        with transaction.atomic():
            ContactEmail.objects.bulk_create(
                [
                    ContactEmail(studio_id=contact.studio_id, contact=contact, email=e)
                    for e in emails
                    if e not in have
                ]
            )
    except IntegrityError:
        # Taken between the check and the insert by another request: the same 409.
        email_taken_check(contact.studio, emails, exclude=contact)
        raise
    primary = emails[0] if emails else ""
    ContactEmail.objects.filter(contact=contact).exclude(email=primary).update(is_primary=False)
    if primary:
        ContactEmail.objects.filter(contact=contact, email=primary).update(is_primary=True)
    contact.email = primary


def phone_row(contact: Contact, item: dict, primary: bool) -> ContactPhone:
    return ContactPhone(
        studio_id=contact.studio_id,
        contact=contact,
        number=item["number"],
        digits_reversed=phone_digits(item["number"])[::-1],
        label=item.get("label", ""),
        is_primary=primary,
    )


def _set_phones(contact: Contact, phones: list[dict]) -> None:
    ContactPhone.objects.filter(contact=contact).delete()
    ContactPhone.objects.bulk_create(
        [phone_row(contact, item, index == 0) for index, item in enumerate(phones)]
    )
    contact.phone = phones[0]["number"] if phones else ""


def _set_tags(contact: Contact, tags: list[Tag]) -> None:
    ContactTag.objects.filter(contact=contact).exclude(tag__in=tags).delete()
    have = set(ContactTag.objects.filter(contact=contact).values_list("tag_id", flat=True))
    ContactTag.objects.bulk_create(
        [ContactTag(contact=contact, tag=t) for t in tags if t.id not in have]
    )


def _apply_consent(contact: Contact, consent: bool | None, source: str | None) -> list[str]:
    if consent is None or (consent == contact.marketing_consent and contact.marketing_consent_at):
        return []
    contact.marketing_consent = consent
    contact.marketing_consent_at = timezone.now()
    contact.marketing_consent_source = (source or "manual")[:100]
    return ["marketing_consent", "marketing_consent_at", "marketing_consent_source"]


@transaction.atomic
def contact_create(
    *,
    studio: Studio,
    by: User | None,
    emails: list[str] | None = None,
    phones: list[dict] | None = None,
    tags: list[str] | None = None,
    custom_fields: dict | None = None,
    marketing_consent: bool | None = None,
    marketing_consent_source: str = "",
    **scalars: Any,
) -> Contact:
    """A contact; an email already on another contact is a 409 ``contact_exists`` naming it."""
    unknown = set(scalars) - set(SCALAR_FIELDS)
    if unknown:
        raise TypeError(f"unknown contact fields {sorted(unknown)}")
    email_list = emails_clean(emails or [])
    phone_list = phones_clean(studio, phones or [])
    if "country" in scalars:
        scalars["country"] = country_clean(scalars["country"])
    values = custom_values_check(
        studio=studio, applies_to="contact", stored={}, changes=custom_fields
    )
    email_taken_check(studio, email_list, exclude=None)
    tag_rows = tags_get_or_create(studio, tags or [])
    contact = Contact(studio=studio, custom_fields=values, **scalars)
    if marketing_consent:
        _apply_consent(contact, True, marketing_consent_source)
    contact.save()
    _set_emails(contact, email_list)
    _set_phones(contact, phone_list)
    _set_tags(contact, tag_rows)
    contact.save(update_fields=["email", "phone"])
    return contact


def contact_lock(contact: Contact) -> Contact:
    locked = Contact.objects.select_for_update().get(id=contact.id, studio_id=contact.studio_id)
    locked.studio = contact.studio
    return locked


def require_live(contact: Contact) -> None:
    if contact.merged_into_id:
        raise Conflict(
            "This contact was merged into another.",
            code="contact_merged",
            extra={"merged_into": str(contact.merged_into_id)},
        )


@transaction.atomic
def contact_update(*, contact: Contact, by: User | None, changes: dict) -> Contact:
    """Only the fields in ``changes``; a list (emails, phones, tags) given replaces the whole
    list; ``custom_fields`` changes the keys it names (``null`` clears one)."""
    contact = contact_lock(contact)
    require_live(contact)
    studio = contact.studio
    fields: list[str] = []
    if "emails" in changes:
        email_list = emails_clean(changes["emails"])
        email_taken_check(studio, email_list, exclude=contact)
    if "phones" in changes:
        phone_list = phones_clean(studio, changes["phones"])
    if "country" in changes:
        changes = {**changes, "country": country_clean(changes["country"])}
    if "custom_fields" in changes:
        contact.custom_fields = custom_values_check(
            studio=studio,
            applies_to="contact",
            stored=contact.custom_fields,
            changes=changes["custom_fields"],
        )
        fields.append("custom_fields")
    for name in SCALAR_FIELDS:
        if name in changes:
            setattr(contact, name, changes[name])
            fields.append(name)
    if "marketing_consent" in changes:
        fields += _apply_consent(
            contact, changes["marketing_consent"], changes.get("marketing_consent_source")
        )
    if "emails" in changes:
        _set_emails(contact, email_list)
        fields.append("email")
    if "phones" in changes:
        _set_phones(contact, phone_list)
        fields.append("phone")
    if "tags" in changes:
        _set_tags(contact, tags_get_or_create(studio, changes["tags"]))
    contact.save(update_fields=[*dict.fromkeys(fields), "updated_at"])
    return contact


@transaction.atomic
def contact_delete(*, contact: Contact, by: User | None) -> None:
    """Only a contact nothing points at: one on a job (jobs carry the money) is a 409, and so
    is one the apps above refuse (``CONTACT_DELETE_GUARDS``: billing's money history); erase
    it instead (GDPR) to remove the person and keep the history."""
    contact = contact_lock(contact)
    if JobContact.objects.filter(contact=contact).exists():
        raise Conflict(
            "This contact is on a job; erase the contact instead of deleting it.",
            code="contact_has_jobs",
        )
    contact_delete_guards_run(contact)
    contact.delete()
