"""Inquiry forms (the studio's writes) and inquiries (a submission from the studio's site, its
embed on another site, or an app).

A submission is refused or accepted in this order, so that the cheap checks come first and
nothing is written for a refused one:

1. the honeypot (a field people never see): filled, the answer is a success and nothing is
   stored, so a bot learns nothing to adapt to;
2. the form token (``inquiry_form_token``): signed, bound to the form, at least
   ``PICPICK_CRM_INQUIRY_MIN_SECONDS`` old (people read and type; scripts post at once) and
   at most ``PICPICK_CRM_INQUIRY_TOKEN_MAX_AGE`` (short-lived: a harvested token is soon
   useless), and good for one inquiry (a double click makes one);
3. the per-address limit (``picpick.core.ratelimit``, counted atomically in the cache), a
   slot taken before the answers are read and given back when they are invalid, so people
   correcting a typo are not locked out;
4. the answers against the form (``crm.inquiry_fields``);
5. one transaction: the contact matched by email or made, the job in the first stage, the
   inquiry, the timeline event, and the two emails queued for after the commit.

Why no CSRF cookie: the form is embedded on other sites, where a third-party iframe often has
no cookies at all (Safari, Firefox's total cookie protection), so a cookie-bound CSRF token
would refuse real people. CSRF protects a signed-in user from being made to act by another
site; a submission acts for nobody -- it is anonymous, carries no cookie or session, and can
only create an inquiry, which anyone may do. What a forged cross-site post could abuse is the
volume, and the token bounds that with the per-address limit: it is signed, form-bound,
short-lived, good for one inquiry, and no other site can read one out of a visitor's browser
(the page is not readable cross-origin), so a site that makes its visitors' browsers post must
fetch every token itself beforehand, and each post still counts against the visitor's address.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import time
import zoneinfo
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Studio, User
from crm.inquiry_fields import (
    AnswerErrors,
    DefinitionError,
    Submission,
    answers_read,
    currency_exponent,
    definition_check,
)
from crm.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    EmailTemplate,
    Inquiry,
    InquiryForm,
    Job,
    JobContact,
    Pipeline,
)
from crm.phones import phone_digits
from crm.selectors.contacts import phone_region
from crm.selectors.inquiries import studio_owner_emails
from crm.services.emails import template_context
from crm.services.jobs import job_create
from crm.services.pipelines import pipeline_default_ensure
from crm.services.timeline import timeline_record
from crm.templating import render
from picpick.core import ratelimit
from picpick.core.email import email_send_on_commit
from picpick.core.errors import ApplicationError, Conflict, RateLimited, Unprocessable

logger = logging.getLogger(__name__)

TOKEN_SALT = "crm.inquiry-form"  # noqa: S105 - a signing salt, not a secret
NAME_MAX = 100
SLUG_MAX = 60
TITLE_MAX = 200
INTRO_MAX = 5000
SUCCESS_MAX = 500
JOB_TYPE_MAX = 50
MAX_NOTIFY = 10
MAX_ORIGINS = 20
ORIGIN_MAX = 300
FORM_FIELDS = (
    "name",
    "slug",
    "active",
    "title",
    "intro",
    "fields",
    "job_type",
    "pipeline_id",
    "auto_reply_template_id",
    "notify_emails",
    "embed_origins",
    "success_message",
)

_SLUG_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
_HOST_RE = re.compile(r"(?=.{1,253}\Z)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9-]{1,63})*\Z")
# Plain http is fine for a developer's own machine (browsers treat it as a secure context).
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


def min_seconds() -> int:
    return settings.PICPICK_CRM_INQUIRY_MIN_SECONDS


def token_max_age() -> int:
    return settings.PICPICK_CRM_INQUIRY_TOKEN_MAX_AGE


def _rate() -> tuple[int, int]:
    return settings.PICPICK_CRM_INQUIRY_PER_ADDRESS, settings.PICPICK_CRM_INQUIRY_WINDOW_SECONDS


# --- The studio's forms -----------------------------------------------------------------------
def _bad(field: str, message: str, code: str = "validation_error") -> ApplicationError:
    return ApplicationError(message, code=code, fields={field: [message]})


def _text_check(value: Any, *, field: str, limit: int, required: bool = False) -> str:
    if not isinstance(value, str):
        raise _bad(field, "A text.")
    value = value.strip()
    if required and not value:
        raise _bad(field, "Required.")
    if len(value) > limit:
        raise _bad(field, f"At most {limit} characters.")
    return value


def _slug_check(value: Any) -> str:
    if not isinstance(value, str) or not _SLUG_RE.match(value) or len(value) > SLUG_MAX:
        raise _bad(
            "slug",
            f"Lower-case letters and digits joined by single hyphens (at most {SLUG_MAX}).",
            code="invalid_slug",
        )
    if value == "embed":  # /inquire/embed.js and /inquire/<slug>/embed/ share the namespace
        raise _bad("slug", "This slug is reserved.", code="invalid_slug")
    return value


def _emails_check(values: Any) -> list[str]:
    if not isinstance(values, list | tuple) or len(values) > MAX_NOTIFY:
        raise _bad("notify_emails", f"A list of at most {MAX_NOTIFY} emails.")
    out: list[str] = []
    for index, value in enumerate(values):
        try:
            if not isinstance(value, str):
                raise ValidationError("not a text")
            validate_email(value.strip())
        except ValidationError:
            raise _bad(f"notify_emails.{index}", "Enter a valid email address.") from None
        if value.strip().lower() not in out:
            out.append(value.strip().lower())
    return out


def origin_check(value: Any) -> str:
    """``https://annasmith.com`` (scheme and host, a port if any, nothing else), lower-case;
    ValueError otherwise. Strict on purpose: the value goes into a Content-Security-Policy
    header, where a ``;`` or a space would add directives."""
    if not isinstance(value, str) or len(value) > ORIGIN_MAX:
        raise ValueError("An origin like https://annasmith.com.")
    parts = urlsplit(value.strip())
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        raise ValueError("The port is not a number.") from None
    if parts.scheme == "http" and (host in _LOCAL_HOSTS or f"[{host}]" in _LOCAL_HOSTS):
        pass
    elif parts.scheme != "https":
        raise ValueError("An https:// origin (plain http only for localhost).")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("Only the scheme, the host and a port: no user, query or fragment.")
    if parts.path not in ("", "/"):
        raise ValueError("An origin has no path: https://annasmith.com, not a page.")
    try:
        host = host.encode("idna").decode("ascii") if host and ":" not in host else host
    except UnicodeError:
        raise ValueError("Not a valid host name.") from None
    if ":" in host:  # IPv6 literal (only ::1 reaches here)
        host = f"[{host}]"
    elif not _HOST_RE.match(host):
        raise ValueError("Not a valid host name.")
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def _origins_check(values: Any) -> list[str]:
    if not isinstance(values, list | tuple) or len(values) > MAX_ORIGINS:
        raise _bad("embed_origins", f"A list of at most {MAX_ORIGINS} origins.")
    out: list[str] = []
    for index, value in enumerate(values):
        try:
            origin = origin_check(value)
        except ValueError as exc:
            raise _bad(f"embed_origins.{index}", str(exc), code="invalid_origin") from None
        if origin not in out:
            out.append(origin)
    return out


def _fields_check(value: Any) -> list[dict]:
    try:
        return definition_check(value)
    except DefinitionError as exc:
        raise ApplicationError(
            "The form's questions are not valid.", code="invalid_form_fields", fields=exc.fields
        ) from None


def _pipeline_for(studio: Studio, pipeline_id: Any) -> Pipeline | None:
    if pipeline_id is None:
        return None
    found = Pipeline.objects.filter(studio=studio, id=pipeline_id).first()
    if found is None:
        raise Unprocessable(
            "No such pipeline in this studio.",
            code="pipeline_not_found",
            fields={"pipeline_id": ["Not found."]},
        )
    return found


def _template_for(studio: Studio, template_id: Any) -> EmailTemplate | None:
    if template_id is None:
        return None
    found = EmailTemplate.objects.filter(studio=studio, id=template_id).first()
    if found is None:
        raise Unprocessable(
            "No such email template in this studio.",
            code="template_not_found",
            fields={"auto_reply_template_id": ["Not found."]},
        )
    return found


def _apply(form: InquiryForm, values: Mapping[str, Any]) -> list[str]:
    """Check and set the given fields on ``form``; the names of the model fields changed."""
    unknown = set(values) - set(FORM_FIELDS)
    if unknown:
        raise TypeError(f"unknown inquiry form fields {sorted(unknown)}")
    studio = form.studio
    checks = {
        "name": lambda v: _text_check(v, field="name", limit=NAME_MAX, required=True),
        "slug": _slug_check,
        "title": lambda v: _text_check(v, field="title", limit=TITLE_MAX),
        "intro": lambda v: _text_check(v, field="intro", limit=INTRO_MAX),
        "job_type": lambda v: _text_check(v, field="job_type", limit=JOB_TYPE_MAX),
        "success_message": lambda v: _text_check(v, field="success_message", limit=SUCCESS_MAX),
        "fields": _fields_check,
        "notify_emails": _emails_check,
        "embed_origins": _origins_check,
    }
    changed = []
    for name, value in values.items():
        if name == "active":
            if not isinstance(value, bool):
                raise _bad("active", "true or false.")
            form.active = value
            changed.append("active")
        elif name == "pipeline_id":
            form.pipeline = _pipeline_for(studio, value)
            changed.append("pipeline")
        elif name == "auto_reply_template_id":
            form.auto_reply_template = _template_for(studio, value)
            changed.append("auto_reply_template")
        else:
            setattr(form, name, checks[name](value))
            changed.append(name)
    return changed


def _slug_taken() -> Conflict:
    return Conflict(
        "Another form of this studio has this slug.",
        code="slug_taken",
        fields={"slug": ["Taken by another form."]},
    )


def _save(form: InquiryForm, *, update_fields: list[str] | None = None) -> None:
    if "slug" in (update_fields or ["slug"]) and (
        InquiryForm.objects.filter(studio_id=form.studio_id, slug=form.slug)
        .exclude(id=form.id)
        .exists()
    ):
        raise _slug_taken()
    try:
        with transaction.atomic():  # a savepoint: the unique index decides between two at once
            if update_fields is None:
                form.save(force_insert=True)
            else:
                form.save(update_fields=[*update_fields, "updated_at"])
    except IntegrityError:
        raise _slug_taken() from None


@transaction.atomic
def inquiry_form_create(
    *, studio: Studio, by: User | None, name: str, slug: str, **values: Any
) -> InquiryForm:
    """A new form; ``values`` are any of ``FORM_FIELDS`` (ids for the pipeline and the
    auto-reply template)."""
    form = InquiryForm(studio=studio, name="", slug="")
    _apply(form, {"name": name, "slug": slug, **values})
    _save(form)
    return form


@transaction.atomic
def inquiry_form_update(*, form: InquiryForm, by: User | None, changes: dict) -> InquiryForm:
    changed = _apply(form, changes)
    if changed:
        _save(form, update_fields=changed)
    return form


@transaction.atomic
def inquiry_form_delete(*, form: InquiryForm, by: User | None) -> None:
    """The form goes; its inquiries stay (they keep their answers, their form is unset)."""
    form.delete()


# --- The spam token ---------------------------------------------------------------------------
def inquiry_form_token(*, form: InquiryForm, now: float | None = None) -> str:
    """The token a page renders with the form (or an app fetches): signed, bound to the form,
    with the time it was issued."""
    issued_ms = int((now if now is not None else time.time()) * 1000)
    # The nonce: two people shown the form in the same millisecond get different tokens (a
    # token makes one inquiry).
    payload = {"f": str(form.id), "t": issued_ms, "n": secrets.token_urlsafe(9)}
    return signing.dumps(payload, salt=TOKEN_SALT)


def _token_check(*, form: InquiryForm, token: str, now: float) -> None:
    try:
        data = signing.loads(token or "", salt=TOKEN_SALT)
        issued = int(data["t"]) / 1000
        if data["f"] != str(form.id):
            raise ValueError("a token of another form")
    except (signing.BadSignature, ValueError, KeyError, TypeError):
        raise ApplicationError(
            "The form is out of date; reload the page and send it again.",
            code="invalid_form_token",
            fields={"token": ["Missing or not valid."]},
        ) from None
    age = now - issued
    if age < min_seconds():
        raise ApplicationError(
            "That was too fast; check your answers and send the form again.",
            code="too_fast",
            fields={"token": [f"Send at least {min_seconds()} seconds after opening the form."]},
        )
    if age > token_max_age():
        raise ApplicationError(
            "The form has expired; send it again.",
            code="form_token_expired",
            fields={"token": ["Expired."]},
        )


# --- Submissions --------------------------------------------------------------------------------
def _take_slot(address: str) -> str:
    limit, window = _rate()
    key = f"inquiry:{ratelimit.client_hash(address, purpose='inquiry')}"
    wait = ratelimit.take([(key, limit)], window=window)
    if wait is not None:
        logger.warning("inquiry limit reached for %s", address)
        raise RateLimited(
            "Too many inquiries from this address. Try again later.",
            retry_after=wait,
            code="too_many_inquiries",
        )
    return key


def inquiry_submit(
    *,
    form: InquiryForm,
    data: Mapping[str, Any],
    token: str,
    honeypot: str = "",
    address: str,
    origin: str = "",
    strict: bool = True,
    now: float | None = None,
) -> Inquiry | None:
    """A submission of ``form``: the inquiry made, or None when the honeypot was filled or the
    token was used already (the caller answers a success all the same). ``data`` holds the
    answers by key (first_name, last_name, email and the form's questions); ``strict`` refuses
    keys the form does not ask (an app's JSON; a page reads only the keys it rendered)."""
    if honeypot:
        logger.info("inquiry honeypot filled on form %s from %s", form.id, address)
        return None
    now = now if now is not None else time.time()
    _token_check(form=form, token=token, now=now)
    slot = _take_slot(address)
    studio = form.studio
    try:
        submission = answers_read(
            form.fields,
            data,
            today=timezone.now().astimezone(_zone(studio.timezone)).date(),
            currency=studio.default_currency,
            phone_region=phone_region(studio),
            strict=strict,
        )
    except AnswerErrors as exc:
        # Nothing was made: the slot goes back (only what gets through counts).
        ratelimit.give_back(slot, window=_rate()[1])
        raise ApplicationError(
            "Some answers need a look.",
            code="invalid_answers",
            fields=exc.fields,
            extra={"field_codes": exc.codes},
        ) from None
    # A token makes one inquiry: a double click, a retried request or a replayed token finds
    # it taken and is answered as the first one was, making nothing (taken atomically in the
    # cache, so two at once cannot both pass; given back if this one fails).
    used = f"inquiry-token:{ratelimit.keyed_hash(token, purpose='inquiry-token')}"
    if not cache.add(used, 1, timeout=token_max_age() + 60):
        ratelimit.give_back(slot, window=_rate()[1])
        logger.info("inquiry token sent again on form %s from %s", form.id, address)
        return None
    try:
        return _inquiry_create(
            form=form,
            submission=submission,
            origin=_origin_clean(origin),
            client_hash=ratelimit.client_hash(address, purpose="inquiry-record"),
        )
    except BaseException:
        cache.delete(used)
        raise


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _origin_clean(origin: str) -> str:
    """The page the inquiry came from, when it is a web address (informational only)."""
    origin = (origin or "").strip()
    if not origin.startswith(("https://", "http://")) or any(c.isspace() for c in origin):
        return ""
    return origin[:300]


@transaction.atomic
def _inquiry_create(
    *, form: InquiryForm, submission: Submission, origin: str, client_hash: str
) -> Inquiry:
    studio = form.studio
    answers = submission.answers
    # The default pipeline first: made the first time under the studio's row lock, which must
    # come before this transaction inserts anything referencing the studio (each such insert
    # share-locks the studio row for its foreign key; two first inquiries would deadlock).
    pipeline = form.pipeline or pipeline_default_ensure(studio=studio)
    contact = _contact_for(form=form, submission=submission)
    full_name = " ".join(p for p in (submission.first_name, submission.last_name) if p)
    event_type = answers.get("event_type", "")
    budget = answers.get("budget")
    event_start = None
    if "event_date" in answers:
        # A date without a time: the start of that day where the studio works, so workflows
        # counting days from the event and the board's upcoming list have it.
        day = dt.date.fromisoformat(answers["event_date"])
        event_start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=_zone(studio.timezone))
    job = job_create(
        studio=studio,
        by=None,
        name=f"{event_type or 'Inquiry'} – {full_name}",
        pipeline=pipeline,
        job_type=(event_type or form.job_type)[:JOB_TYPE_MAX],
        event_start=event_start,
        estimated_value=budget["amount"] if budget else 0,
        currency=budget["currency"] if budget else None,
        lead_source="inquiry form",
        contacts=[(contact, JobContact.Role.CLIENT, True)],
    )
    inquiry = Inquiry.objects.create(
        studio=studio,
        form=form,
        contact=contact,
        job=job,
        answers={
            "first_name": submission.first_name,
            "last_name": submission.last_name,
            "email": submission.email,
            **answers,
        },
        origin=origin,
        client_hash=client_hash,
    )
    # One event on both timelines: it carries the job and the contact. Not the message: the
    # timeline is append-only and an erased person's words must go with the inquiry's answers
    # (which the contact's erase clears); a reader finds them through inquiry_id.
    timeline_record(
        studio=studio,
        kind="inquiry_received",
        payload={"inquiry_id": str(inquiry.id), "form": form.name},
        job=job,
        contact=contact,
    )
    _notify_studio(form=form, inquiry=inquiry, contact=contact, job=job)
    _auto_reply(form=form, contact=contact, job=job, to=submission.email)
    return inquiry


# --- The contact: matched by email, or made ----------------------------------------------------
# The contacts sub-domain owns contacts and their API; an inquiry needs only this small write:
# find the contact by the email (lower-case, unique per studio), else make one with that email
# (and the phone), and fill what was blank -- never overwrite what the studio has written.
def _survivor(contact: Contact) -> Contact:
    """A merged contact's survivor (merges leave tombstones pointing on)."""
    for _ in range(10):
        if contact.merged_into_id is None:
            return contact
        contact = Contact.objects.get(pk=contact.merged_into_id)
    return contact


def _contact_for(*, form: InquiryForm, submission: Submission) -> Contact:
    studio = form.studio
    consent = submission.answers.get("marketing_consent") is True
    phone = submission.answers.get("phone", "")
    row = ContactEmail.objects.filter(studio=studio, email=submission.email).first()
    if row is None:
        contact = Contact(
            studio=studio,
            first_name=submission.first_name,
            last_name=submission.last_name,
            email=submission.email,
            phone=phone,
            source=Contact.Source.INQUIRY,
        )
        if consent:
            _consent(contact, form)
        try:
            # A savepoint: a second first inquiry with this email at the same moment loses
            # the unique index and joins the contact the first one made.
            with transaction.atomic():
                contact.save(force_insert=True)
                ContactEmail.objects.create(
                    studio=studio, contact=contact, email=submission.email, is_primary=True
                )
        except IntegrityError:
            row = ContactEmail.objects.get(studio=studio, email=submission.email)
        else:
            if phone:
                _phone_add(contact, phone, primary=True)
            return contact
    contact = Contact.objects.select_for_update().get(pk=_survivor(row.contact).pk)
    changed = []
    for name in ("first_name", "last_name"):
        if not getattr(contact, name) and getattr(submission, name):
            setattr(contact, name, getattr(submission, name))
            changed.append(name)
    if phone and not ContactPhone.objects.filter(contact=contact, number=phone).exists():
        _phone_add(contact, phone, primary=not contact.phone)
        if not contact.phone:
            contact.phone = phone
            changed.append("phone")
    if consent and not contact.marketing_consent:
        _consent(contact, form)
        changed += ["marketing_consent", "marketing_consent_at", "marketing_consent_source"]
    if changed:
        contact.save(update_fields=[*changed, "updated_at"])
    return contact


def _phone_add(contact: Contact, number: str, *, primary: bool) -> None:
    ContactPhone.objects.create(
        studio_id=contact.studio_id,
        contact=contact,
        number=number,
        digits_reversed=phone_digits(number)[::-1],
        is_primary=primary,
    )


def _consent(contact: Contact, form: InquiryForm) -> None:
    contact.marketing_consent = True
    contact.marketing_consent_at = timezone.now()
    contact.marketing_consent_source = f"inquiry form: {form.name}"[:100]


# --- Emails -------------------------------------------------------------------------------------
def _one_line(text: str, limit: int = 300) -> str:
    """A subject: one line (a newline in a header is refused by the mail library)."""
    return " ".join(text.split())[:limit]


def _shown(question: dict, value: Any, currency: str) -> str:
    kind = question["kind"]
    if kind == "budget":
        exponent = currency_exponent(value["currency"])
        major = value["amount"] / 10**exponent if exponent else value["amount"]
        return f"{major:,.{exponent}f} {value['currency']}"
    if kind == "consent":
        return "yes" if value else "no"
    return str(value)


def _notify_studio(*, form: InquiryForm, inquiry: Inquiry, contact: Contact, job: Job) -> None:
    studio = form.studio
    to = list(form.notify_emails) or studio_owner_emails(studio=studio)
    if not to:
        return
    answers = inquiry.answers
    name = " ".join(p for p in (answers["first_name"], answers["last_name"]) if p)
    lines = [
        f"A new inquiry came in through your form “{form.name}”.",
        "",
        f"Name: {name}",
        f"Email: {answers['email']}",
    ]
    for question in form.fields:
        if question["key"] in answers:
            shown = _shown(question, answers[question["key"]], studio.default_currency)
            if "\n" in shown:
                lines += ["", f"{question['label']}:", shown, ""]
            else:
                lines.append(f"{question['label']}: {shown}")
    lines += ["", f"The job “{job.name}” is in your pipeline, in the stage {job.stage.name}."]
    email_send_on_commit(
        subject=_one_line(f"New inquiry: {name} ({form.name})"),
        body="\n".join(lines) + "\n",
        to=to,
    )


def _auto_reply(*, form: InquiryForm, contact: Contact, job: Job, to: str) -> None:
    """The studio's auto-reply to the inquirer, when the form has one. The email address is
    whatever the submitter typed, so a few replies per address a day at most: the form must not
    become a way to send the studio's emails to someone who never asked."""
    template = form.auto_reply_template
    if template is None:
        return
    key = f"inquiry-reply:{ratelimit.keyed_hash(to, purpose='inquiry-reply')}"
    if ratelimit.take([(key, settings.PICPICK_CRM_INQUIRY_REPLIES_PER_EMAIL)], window=86400):
        logger.warning("inquiry auto-reply skipped: too many today for one address")
        return
    context = template_context(job=job, contact=contact, studio=form.studio)
    email_send_on_commit(
        subject=_one_line(render(template.subject, context)),
        body=render(template.body, context),
        to=[to],
    )
