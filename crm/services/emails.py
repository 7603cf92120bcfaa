"""Email from the CRM: templates, the values their placeholders offer, and sending."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import zoneinfo
from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage as DjangoEmail
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Studio, User
from crm.models import (
    Contact,
    EmailMessage,
    EmailTemplate,
    Job,
    JobContact,
    JobGallery,
    WorkflowStep,
)
from crm.services.timeline import timeline_record
from crm.tasks.work import email_message_send_soon
from crm.templating import TemplateError, render, template_check
from domains.selectors import studio_site_url
from picpick.core.errors import ApplicationError, Conflict

logger = logging.getLogger(__name__)


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


# --- Templates ----------------------------------------------------------------------------------
def _template_fields_check(fields: dict[str, str]) -> None:
    """A 400 ``invalid_template`` naming the field and the placeholder when a part is not a
    valid template (syntax, or a placeholder that nothing offers)."""
    for name, text in fields.items():
        try:
            template_check(text)
        except TemplateError as exc:
            raise ApplicationError(
                f"{name}: {exc}",
                code="invalid_template",
                fields={name: [str(exc)]},
                extra={"reason": exc.code, "placeholder": exc.name},
            ) from exc


@transaction.atomic
def email_template_create(
    *, studio: Studio, by: User | None, name: str, subject: str, body: str, html_body: str = ""
) -> EmailTemplate:
    _template_fields_check({"subject": subject, "body": body, "html_body": html_body})
    return EmailTemplate.objects.create(
        studio=studio, name=name, subject=subject, body=body, html_body=html_body
    )


_TEMPLATE_EDITABLE = {"name", "subject", "body", "html_body"}


@transaction.atomic
def email_template_update(
    *, template: EmailTemplate, by: User | None, changes: dict[str, Any]
) -> EmailTemplate:
    unknown = set(changes) - _TEMPLATE_EDITABLE
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    _template_fields_check({k: v for k, v in changes.items() if k != "name"})
    for name, value in changes.items():
        setattr(template, name, value)
    template.save(update_fields=[*changes, "updated_at"])
    return template


@transaction.atomic
def email_template_delete(*, template: EmailTemplate, by: User | None) -> None:
    """A template a workflow step sends is kept (the step would have nothing to send)."""
    if WorkflowStep.objects.filter(template=template).exists():
        raise Conflict(
            "A workflow step sends this template; change the step first.", code="template_in_use"
        )
    EmailTemplate.objects.filter(id=template.id).delete()


# --- Queueing -----------------------------------------------------------------------------------
def job_default_recipients(*, job: Job) -> list[Contact]:
    """Whom an email from a job goes to when the sender names nobody: the billing contact and
    the clients (a couple is two), each once."""
    links = (
        JobContact.objects.filter(job=job, contact__merged_into__isnull=True)
        .filter(Q(is_billing=True) | Q(role=JobContact.Role.CLIENT))
        .select_related("contact")
        .order_by("-is_billing", "created_at", "id")
    )
    seen: dict = {}
    for link in links:
        seen.setdefault(link.contact_id, link.contact)
    return list(seen.values())


def _one_line(text: str) -> str:
    # A subject is a header: a value with a line break (a client's name, say) must not be able
    # to add headers, and Django refuses such a subject outright at send time.
    return " ".join(text.split())[:300]


@transaction.atomic
def email_queue(
    *,
    studio: Studio,
    by: User | None,
    recipients: list[Contact],
    job: Job | None = None,
    template: EmailTemplate | None = None,
    subject: str = "",
    body: str = "",
    html_body: str = "",
    key_prefix: str | None = None,
) -> list[EmailMessage]:
    """One queued message per recipient, rendered for them (a template, or a subject and body
    that may hold placeholders too), sent by a worker once this transaction commits.

    ``key_prefix`` (a workflow step run) makes it idempotent: a message already made for that
    key and recipient is returned instead of a second one."""
    if template is not None:
        if template.studio_id != studio.id:
            raise ValueError("a message and its template belong to one studio")
        subject, body, html_body = template.subject, template.body, template.html_body
    else:
        if not subject.strip() or not body.strip():
            raise ApplicationError(
                "Give a template, or a subject and a body.",
                code="email_content_required",
                fields={"template_id": ["Or subject and body."]},
            )
        _template_fields_check({"subject": subject, "body": body, "html_body": html_body})
    if not recipients:
        raise ApplicationError(
            "Nobody to send it to: name the contacts, or link a client to the job.",
            code="no_recipients",
            fields={"to": ["No recipient."]},
        )
    for contact in recipients:
        if contact.studio_id != studio.id:
            raise ValueError("a message and its contacts belong to one studio")
        if not contact.email or contact.erased_at is not None or contact.merged_into_id:
            raise ApplicationError(
                f"{contact} has no email address to send to.",
                code="contact_without_email",
                fields={"to": [f"{contact.id} has no email."]},
            )
    messages: list[EmailMessage] = []
    for contact in recipients:
        key = f"{key_prefix}:{contact.id}" if key_prefix else None
        if key is not None:
            existing = EmailMessage.objects.filter(idempotency_key=key).first()
            if existing is not None:
                messages.append(existing)
                continue
        context = template_context(job=job, contact=contact, studio=studio)
        message = EmailMessage.objects.create(
            studio=studio,
            job=job,
            contact=contact,
            template=template,
            sent_by=by if by is not None and by.is_authenticated else None,
            to=contact.email,
            subject=_one_line(render(subject, context)),
            body=render(body, context),
            html_body=render(html_body, context, escape_html=True) if html_body else "",
            idempotency_key=key,
        )
        transaction.on_commit(lambda mid=str(message.id): email_message_send_soon(mid), robust=True)
        messages.append(message)
    return messages


# --- Delivery: claim, send, apply ---------------------------------------------------------------
# A claim older than this belongs to a worker that died; the sweep takes the message over. A
# sweep stamps its claims with the time its pass started, so this stays above the send and
# sweep tasks' hard time limits (180 s, 300 s): a live worker's claim never looks dead.
SEND_TIMEOUT = dt.timedelta(minutes=10)
# Attempts in all (a transient failure waits RETRY_AFTER[attempt - 1] before the next one).
MAX_ATTEMPTS = 5
RETRY_AFTER = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=15),
    dt.timedelta(hours=1),
)
# A queued message never claimed for this long lost its task (a broker restart): swept.
ENQUEUE_GRACE = dt.timedelta(minutes=2)


def _claim(*, message_id, now: dt.datetime) -> EmailMessage | None:
    """Take the message for sending: queued, or sending under a claim so old its worker died.
    One conditional UPDATE, so of two workers one wins; None for the loser (and for a message
    already sent, which is never claimed again)."""
    claimable = Q(state=EmailMessage.State.QUEUED) | Q(
        state=EmailMessage.State.SENDING, claimed_at__lt=now - SEND_TIMEOUT
    )
    won = (
        EmailMessage.objects.filter(claimable, id=message_id)
        .filter(attempts__lt=MAX_ATTEMPTS)
        .update(state=EmailMessage.State.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )
    if won != 1:
        return None
    return EmailMessage.objects.select_related("studio", "sent_by").get(id=message_id)


def _build(message: EmailMessage) -> DjangoEmail:
    studio = message.studio
    _name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    reply_to = [message.sent_by.email] if message.sent_by is not None else []
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body,
        from_email=formataddr((studio.name, address)),
        to=[message.to],
        reply_to=reply_to,
        # One Message-ID per row: should a worker die between the server's OK and our commit,
        # the re-send carries the same id, which receiving servers and clients de-duplicate.
        headers={"Message-ID": f"<{message.id}@{address.rpartition('@')[2] or 'picpick'}>"},
    )
    if message.html_body:
        email.attach_alternative(message.html_body, "text/html")
    return email


def _failure(exc: Exception) -> tuple[str, bool]:
    """(code, whether trying again may help) for a send that raised."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "recipient_refused", False
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return "sender_refused", False
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"smtp_{exc.smtp_code}", not 500 <= exc.smtp_code < 600
    if isinstance(exc, OSError | smtplib.SMTPException):
        return "connection_failed", True
    return "send_error", False


def email_message_deliver(*, message_id, now: dt.datetime | None = None) -> str | None:
    """Send one message: claim it (committed), send with no transaction open, apply the result
    atomically and put it on the timeline. Returns the state it ended in, or None when
    another worker has it (or it is done)."""
    now = now or timezone.now()
    message = _claim(message_id=message_id, now=now)
    if message is None:
        return None
    try:
        _build(message).send(fail_silently=False)
    except Exception as exc:  # every failure is recorded on the row, none is lost
        code, transient = _failure(exc)
        logger.warning("crm email not sent", extra={"message_id": str(message.id), "code": code})
        return _apply_failure(message=message, code=code, detail=str(exc), transient=transient)
    return _apply_sent(message=message)


@transaction.atomic
def _apply_sent(*, message: EmailMessage) -> str | None:
    now = timezone.now()
    applied = EmailMessage.objects.filter(
        id=message.id, state=EmailMessage.State.SENDING, claimed_at=message.claimed_at
    ).update(state=EmailMessage.State.SENT, sent_at=now, failure_code="", failure_message="")
    if applied != 1:
        return None  # our claim was taken over meanwhile: the taker records the outcome
    timeline_record(
        studio=message.studio,
        kind="email_sent",
        payload={"email_id": str(message.id), "subject": message.subject, "to": message.to},
        job=message.job,
        contact=message.contact,
        actor=message.sent_by,
        occurred_at=now,
    )
    return EmailMessage.State.SENT


@transaction.atomic
def _apply_failure(*, message: EmailMessage, code: str, detail: str, transient: bool) -> str | None:
    final = not transient or message.attempts >= MAX_ATTEMPTS
    state = EmailMessage.State.FAILED if final else EmailMessage.State.QUEUED
    applied = EmailMessage.objects.filter(
        id=message.id, state=EmailMessage.State.SENDING, claimed_at=message.claimed_at
    ).update(state=state, failure_code=code, failure_message=detail[:300])
    if applied != 1:
        return None
    if final:
        timeline_record(
            studio=message.studio,
            kind="email_failed",
            payload={
                "email_id": str(message.id),
                "subject": message.subject,
                "to": message.to,
                "code": code,
            },
            job=message.job,
            contact=message.contact,
            actor=message.sent_by,
        )
    return state


def emails_due_ids(*, now: dt.datetime | None = None, limit: int = 500) -> list:
    """Messages the sweep should (re)try: queued and never claimed for a while (their task was
    lost), queued after a transient failure whose wait is over, or sending under a dead claim."""
    now = now or timezone.now()
    due = Q(
        state=EmailMessage.State.QUEUED, claimed_at__isnull=True, created_at__lt=now - ENQUEUE_GRACE
    )
    for attempts, wait in enumerate(RETRY_AFTER, start=1):
        due |= Q(state=EmailMessage.State.QUEUED, attempts=attempts, claimed_at__lt=now - wait)
    due |= Q(state=EmailMessage.State.SENDING, claimed_at__lt=now - SEND_TIMEOUT)
    return list(
        EmailMessage.objects.filter(due, attempts__lt=MAX_ATTEMPTS)
        .order_by("claimed_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def emails_sweep(*, now: dt.datetime | None = None) -> int:
    """The beat's pass: deliver every due message here, one by one (each claimed on its own,
    so two sweeps share the work without sending anything twice). The number sent or failed."""
    now = now or timezone.now()
    handled = 0
    for message_id in emails_due_ids(now=now):
        if email_message_deliver(message_id=message_id, now=now) is not None:
            handled += 1
    return handled


def emails_give_up(*, now: dt.datetime | None = None) -> int:
    """A message still sending under a dead claim after its last attempt failed for good."""
    now = now or timezone.now()
    stuck = EmailMessage.objects.filter(
        state=EmailMessage.State.SENDING,
        claimed_at__lt=now - SEND_TIMEOUT,
        attempts__gte=MAX_ATTEMPTS,
    ).select_related("studio", "sent_by")
    count = 0
    for message in stuck:
        if _apply_failure(message=message, code="worker_lost", detail="", transient=False):
            count += 1
    return count
