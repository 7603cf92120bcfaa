"""Writes of jobs: create, update, delete, stage changes, linked contacts and galleries.

Lock order (see ``crm.services.pipelines``): studio → pipeline → jobs by id.
A job entering a stage (create, move) locks the stage's pipeline, then the job: moves within a
pipeline queue up, so a board position (max + 1 in the stage) is exact and a stage cannot be
removed under a move. Locking the stage rows instead deadlocked: the StageChange row's foreign
keys take shared locks on both stages, which a concurrent move into the other stage holds.
Moves are short; a studio's pipeline sees a few per minute.

Other sub-domains hear about jobs through the two hook lists below (workflows register into
them in ``crm.registry``); hooks run inside the writer's transaction, so a failing hook rolls
the change back rather than leaving a move that no workflow saw.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Callable, Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.currencies import ISO_4217
from accounts.models import Membership, Studio, User
from crm.custom_fields import CustomFieldError, custom_fields_check
from crm.models import (
    Contact,
    CustomFieldDefinition,
    Job,
    JobContact,
    JobGallery,
    Pipeline,
    Stage,
    StageChange,
)
from crm.services.pipelines import pipeline_default_ensure, pipeline_lock, stage_positions_write
from crm.services.timeline import timeline_record
from galleries.models import Gallery
from picpick.core.errors import ApplicationError, Conflict

Kind = Stage.Kind
Role = JobContact.Role

# Called with (job, the stage entered, who moved it) after every move, and after a job is
# created in its first stage; inside the transaction.
STAGE_ENTERED_HOOKS: list[Callable[[Job, Stage, User | None], None]] = []
# Called with the job when its event_start or booked_at changed (dates workflows count from).
JOB_DATES_CHANGED_HOOKS: list[Callable[[Job], None]] = []

# A value beyond this is a typing mistake, not a job (10^13 minor units = 100 billion dollars).
AMOUNT_MAX = 10**13
REASON_MAX = 300
_UNSET: Any = object()


# --- Checks -------------------------------------------------------------------------------------
def amount_check(value: Any, *, field: str = "estimated_value") -> int:
    """An integer of minor units, zero or more. "12.50", 12.5 and true are refused: an amount
    that is not already in minor units is a client's bug we should not guess around."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= AMOUNT_MAX:
        raise ApplicationError(
            "An amount is an integer of minor units (cents), zero or more.",
            code="invalid_amount",
            fields={field: ["An integer of minor units, zero or more."]},
        )
    return value


def currency_check(value: Any) -> str:
    if not isinstance(value, str) or value.upper() not in ISO_4217:
        raise ApplicationError(
            "Unknown currency.", code="invalid_currency", fields={"currency": ["An ISO 4217 code."]}
        )
    return value.upper()


def timezone_check(value: str) -> str:
    if value and (not isinstance(value, str) or value not in zoneinfo.available_timezones()):
        raise ApplicationError(
            "Unknown time zone.",
            code="invalid_timezone",
            fields={"event_timezone": ["An IANA time zone name (Europe/Paris)."]},
        )
    return value or ""


def _aware_check(value: dt.datetime | None, field: str) -> dt.datetime | None:
    if value is not None and timezone.is_naive(value):
        raise ApplicationError(
            "A date and time needs its offset.",
            code="invalid_datetime",
            fields={field: ["Give an offset or Z (2026-06-01T14:00:00+02:00)."]},
        )
    return value


def _range_check(start: dt.datetime | None, end: dt.datetime | None) -> None:
    if start is not None and end is not None and end < start:
        raise ApplicationError(
            "The event ends before it starts.",
            code="invalid_event_range",
            fields={"event_end": ["Not before event_start."]},
        )


def _owner_check(*, studio: Studio, owner: User | None) -> User | None:
    if owner is not None and not Membership.objects.filter(studio=studio, user=owner).exists():
        raise ApplicationError(
            "The owner must be a member of the studio.",
            code="owner_not_member",
            fields={"owner": ["Not a member of this studio."]},
        )
    return owner


def _custom_fields_check(*, studio: Studio, values: dict) -> dict:
    definitions = CustomFieldDefinition.objects.filter(
        studio=studio, applies_to=CustomFieldDefinition.AppliesTo.JOB
    )
    try:
        return custom_fields_check(list(definitions), values)
    except CustomFieldError as exc:
        raise ApplicationError(str(exc), code=exc.code, fields=exc.fields) from exc


def _reason_check(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX:
        raise ApplicationError(
            f"A reason has at most {REASON_MAX} characters.",
            code="invalid_reason",
            fields={"reason": [f"At most {REASON_MAX} characters."]},
        )
    return reason


def _contact_check(*, studio: Studio, contact: Contact, role: str) -> None:
    if contact.studio_id != studio.id:
        raise ApplicationError(
            "Contact not found.", code="contact_not_found", fields={"contacts": ["Not found."]}
        )
    if contact.merged_into_id is not None or contact.erased_at is not None:
        raise ApplicationError(
            "That contact was merged or erased.",
            code="contact_unavailable",
            fields={"contacts": ["Merged or erased."]},
        )
    if role not in Role.values:
        raise ApplicationError(
            f"Unknown role {role!r}.",
            code="invalid_role",
            fields={"role": [f"One of {', '.join(Role.values)}."]},
        )


# --- Locks --------------------------------------------------------------------------------------
def job_lock(*, job: Job) -> Job:
    """The job's row, locked and re-read (another transaction may have moved it meanwhile)."""
    locked = Job.objects.select_for_update().get(pk=job.pk)
    locked.studio = job.studio  # known already; saves a query on every later job.studio
    return locked


def _stage_lock(stage: Stage) -> Stage:
    """Lock the stage's pipeline (see the module's lock order) and check the stage is still
    there: a removal that held the lock first has moved its jobs away and deleted it."""
    list(Pipeline.objects.select_for_update().filter(pk=stage.pipeline_id).values_list("id"))
    if not Stage.objects.filter(pk=stage.pk).exists():
        raise Conflict("That stage was just removed.", code="stage_removed")
    return stage


def _next_position(stage: Stage) -> int:
    last = Job.objects.filter(stage=stage).aggregate(m=Max("position"))["m"]
    return 0 if last is None else last + 1


# --- Milestones ---------------------------------------------------------------------------------
def _milestones(*, job: Job, stage: Stage) -> tuple[bool, bool]:
    """(does entering ``stage`` book the job, does it complete it), for a job not yet booked /
    completed. A job that skips the booked stage (inquiry → shot) was still booked: entering any
    open stage after the pipeline's first booked-kind stage counts. Lost and archived never
    count (a lead archived unbooked was not a booking)."""
    if stage.kind in (Kind.LOST, Kind.ARCHIVED):
        return False, False
    if stage.kind == Kind.COMPLETED:
        return True, True
    need_booked = job.booked_at is None
    need_completed = job.completed_at is None
    if not (need_booked or need_completed):
        return False, False
    if stage.kind == Kind.BOOKED and not need_completed:
        return True, False
    firsts = _first_positions(stage.pipeline_id)
    booked = stage.kind == Kind.BOOKED or (
        Kind.BOOKED in firsts and stage.position > firsts[Kind.BOOKED]
    )
    completed = Kind.COMPLETED in firsts and stage.position > firsts[Kind.COMPLETED]
    return booked or completed, completed


def _first_positions(pipeline_id: uuid.UUID) -> dict[str, int]:
    first: dict[str, int] = {}
    for kind, position in Stage.objects.filter(
        pipeline_id=pipeline_id, kind__in=[Kind.BOOKED, Kind.COMPLETED]
    ).values_list("kind", "position"):
        first[kind] = min(position, first.get(kind, position))
    return first


def _enter(*, job: Job, stage: Stage, now: dt.datetime) -> list[str]:
    """Set the job's stage-dependent fields for entering ``stage``; the changed field names."""
    fields = ["stage", "stage_entered_at", "position"]
    job.stage = stage
    job.stage_entered_at = now
    job.position = _next_position(stage)
    if job.booked_at is None or job.completed_at is None:
        booked, completed = _milestones(job=job, stage=stage)
        if booked and job.booked_at is None:
            job.booked_at = now
            fields.append("booked_at")
        if completed and job.completed_at is None:
            job.completed_at = now
            fields.append("completed_at")
    return fields


def _dates_changed(job: Job) -> None:
    for hook in JOB_DATES_CHANGED_HOOKS:
        hook(job)


def _stage_entered(job: Job, stage: Stage, by: User | None) -> None:
    for hook in STAGE_ENTERED_HOOKS:
        hook(job, stage, by)


# --- Create -------------------------------------------------------------------------------------
@transaction.atomic
def job_create(
    *,
    studio: Studio,
    by: User | None,
    name: str,
    stage: Stage | None = None,
    pipeline: Pipeline | None = None,
    job_type: str = "",
    event_start: dt.datetime | None = None,
    event_end: dt.datetime | None = None,
    event_timezone: str = "",
    location: str = "",
    estimated_value: int = 0,
    currency: str | None = None,
    lead_source: str = "",
    owner: User | None = None,
    contacts: Iterable[tuple[Contact, str, bool]] = (),
    custom_fields: dict | None = None,
    notes: str = "",
) -> Job:
    """A new job in ``stage`` (or the first stage of ``pipeline``, or of the studio's default
    pipeline). ``contacts`` are (contact, role, is_billing); when none is the billing contact
    the first one is (a job with contacts has exactly one)."""
    name = (name or "").strip()
    if not name:
        raise ApplicationError(
            "A job needs a name.", code="invalid_name", fields={"name": ["Required."]}
        )
    for row, label in ((stage, "stage"), (pipeline, "pipeline")):
        if row is not None and row.studio_id != studio.id:
            raise ApplicationError(
                f"{label.title()} not found.",
                code=f"{label}_not_found",
                fields={label: ["Not found."]},
            )
    if stage is not None and pipeline is not None and stage.pipeline_id != pipeline.id:
        raise ApplicationError(
            "The stage belongs to another pipeline.",
            code="stage_of_another_pipeline",
            fields={"stage": ["A stage of the given pipeline."]},
        )
    amount_check(estimated_value)
    currency = currency_check(currency if currency is not None else studio.default_currency)
    event_timezone = timezone_check(event_timezone)
    _aware_check(event_start, "event_start")
    _aware_check(event_end, "event_end")
    _range_check(event_start, event_end)
    _owner_check(studio=studio, owner=owner)
    cleaned_fields = (
        _custom_fields_check(studio=studio, values=custom_fields)
        if custom_fields is not None
        else {}
    )
    links = _links_check(studio=studio, contacts=contacts)

    if stage is None:
        pipeline = pipeline or pipeline_default_ensure(studio=studio)
        stage = (
            Stage.objects.filter(pipeline=pipeline)
            .exclude(kind__in=[Kind.LOST, Kind.ARCHIVED])
            .order_by("position", "id")
            .first()
        ) or Stage.objects.filter(pipeline=pipeline).order_by("position", "id").first()
        if stage is None:
            raise Conflict("The pipeline has no stages.", code="pipeline_empty")
    if stage.kind == Kind.LOST:
        raise ApplicationError(
            "A job cannot start lost.",
            code="reason_required",
            fields={"stage": ["Not a lost stage."]},
        )
    _stage_lock(stage)
    now = timezone.now()
    job = Job(
        studio=studio,
        name=name[:200],
        job_type=job_type or "",
        pipeline_id=stage.pipeline_id,
        event_start=event_start,
        event_end=event_end,
        event_timezone=event_timezone,
        location=location or "",
        estimated_value=estimated_value,
        currency=currency,
        lead_source=lead_source or "",
        owner=owner,
        custom_fields=cleaned_fields,
        notes=notes or "",
    )
    _enter(job=job, stage=stage, now=now)
    job.save(force_insert=True)
    JobContact.objects.bulk_create(
        JobContact(studio=studio, job=job, contact=c, role=r, is_billing=b) for c, r, b in links
    )
    StageChange.objects.create(studio=studio, job=job, from_stage=None, to_stage=stage, by=by)
    timeline_record(
        studio=studio,
        kind="job_created",
        payload={"name": job.name, "stage": stage.name},
        job=job,
        actor=by,
        occurred_at=now,
    )
    _stage_entered(job, stage, by)
    if job.event_start is not None or job.booked_at is not None:
        _dates_changed(job)
    return job


def _links_check(
    *, studio: Studio, contacts: Iterable[tuple[Contact, str, bool]]
) -> list[tuple[Contact, str, bool]]:
    links = [(c, r or Role.CLIENT, bool(b)) for c, r, b in contacts]
    seen: set[uuid.UUID] = set()
    for contact, role, _billing in links:
        _contact_check(studio=studio, contact=contact, role=role)
        if contact.id in seen:
            raise ApplicationError(
                "A contact is linked once.",
                code="duplicate_contact",
                fields={"contacts": ["Twice."]},
            )
        seen.add(contact.id)
    billing = sum(1 for _c, _r, b in links if b)
    if billing > 1:
        raise ApplicationError(
            "A job has exactly one billing contact.",
            code="billing_contact_count",
            fields={"contacts": ["One billing contact."]},
        )
    if links and not billing:
        first, role, _b = links[0]
        links[0] = (first, role, True)
    return links


# --- Update and delete --------------------------------------------------------------------------
@transaction.atomic
def job_update(
    *,
    job: Job,
    by: User | None,
    name: str = _UNSET,
    job_type: str = _UNSET,
    event_start: dt.datetime | None = _UNSET,
    event_end: dt.datetime | None = _UNSET,
    event_timezone: str = _UNSET,
    location: str = _UNSET,
    estimated_value: int = _UNSET,
    currency: str = _UNSET,
    lead_source: str = _UNSET,
    owner: User | None = _UNSET,
    notes: str = _UNSET,
    custom_fields: dict = _UNSET,
) -> Job:
    """Change the named fields (the others stay). Stage changes go through job_stage_change."""
    studio = job.studio
    job = job_lock(job=job)
    changed: dict[str, Any] = {}
    if name is not _UNSET:
        name = (name or "").strip()
        if not name:
            raise ApplicationError(
                "A job needs a name.", code="invalid_name", fields={"name": ["Required."]}
            )
        changed["name"] = name[:200]
    if estimated_value is not _UNSET:
        changed["estimated_value"] = amount_check(estimated_value)
    if currency is not _UNSET:
        changed["currency"] = currency_check(currency)
    if event_timezone is not _UNSET:
        changed["event_timezone"] = timezone_check(event_timezone)
    if event_start is not _UNSET:
        changed["event_start"] = _aware_check(event_start, "event_start")
    if event_end is not _UNSET:
        changed["event_end"] = _aware_check(event_end, "event_end")
    _range_check(
        changed.get("event_start", job.event_start), changed.get("event_end", job.event_end)
    )
    if owner is not _UNSET:
        changed["owner"] = _owner_check(studio=studio, owner=owner)
    if custom_fields is not _UNSET:
        # PATCH semantics for the fields too: given keys replace, a null or "" clears one.
        merged = {**(job.custom_fields or {}), **(custom_fields or {})}
        changed["custom_fields"] = _custom_fields_check(studio=studio, values=merged)
    for field, value in (
        ("job_type", job_type),
        ("location", location),
        ("lead_source", lead_source),
        ("notes", notes),
    ):
        if value is not _UNSET:
            changed[field] = value or ""
    dates_moved = "event_start" in changed and changed["event_start"] != job.event_start
    for field, value in changed.items():
        setattr(job, field, value)
    if changed:
        job.save(update_fields=[*changed, "updated_at"])
    if dates_moved:
        _dates_changed(job)
    return job


@transaction.atomic
def job_delete(*, job: Job, by: User | None) -> None:
    """Delete a job with its links, stage history and timeline (its contacts and galleries stay)."""
    job = job_lock(job=job)
    job.delete()


# --- Stage changes ------------------------------------------------------------------------------
@transaction.atomic
def job_stage_change(*, job: Job, stage: Stage, by: User | None, reason: str = "") -> Job:
    """Move a job to another stage of its pipeline: a StageChange row (with the seconds spent in
    the stage it leaves), booked_at / completed_at the first time, the timeline, the hooks.
    Moving to a lost stage needs a reason. Moving to the stage it is in changes nothing."""
    studio = job.studio
    reason = _reason_check(reason)
    if stage.studio_id != job.studio_id:
        raise ApplicationError(
            "Stage not found.", code="stage_not_found", fields={"stage": ["Not found."]}
        )
    if stage.kind == Kind.LOST and not reason:
        raise ApplicationError(
            "Say why the job was lost.", code="reason_required", fields={"reason": ["Required."]}
        )
    _stage_lock(stage)
    job = job_lock(job=job)
    if stage.pipeline_id != job.pipeline_id:
        raise ApplicationError(
            "The stage belongs to another pipeline.",
            code="stage_of_another_pipeline",
            fields={"stage": ["A stage of the job's pipeline."]},
        )
    if job.stage_id == stage.id:
        return job
    from_stage = Stage.objects.filter(pk=job.stage_id).first()
    now = timezone.now()
    seconds = max(0, int((now - job.stage_entered_at).total_seconds()))
    booked_before = job.booked_at
    fields = _enter(job=job, stage=stage, now=now)
    if stage.kind == Kind.LOST:
        job.lost_reason = reason
        fields.append("lost_reason")
    elif job.lost_reason:
        job.lost_reason = ""
        fields.append("lost_reason")
    job.save(update_fields=[*fields, "updated_at"])
    StageChange.objects.create(
        studio=studio,
        job=job,
        from_stage=from_stage,
        to_stage=stage,
        by=by,
        seconds_in_from=seconds,
        reason=reason,
    )
    payload = {"from_stage": from_stage.name if from_stage else None, "to_stage": stage.name}
    if reason:
        payload["reason"] = reason
    timeline_record(
        studio=studio, kind="stage_changed", payload=payload, job=job, actor=by, occurred_at=now
    )
    _stage_entered(job, stage, by)
    if job.booked_at != booked_before:
        _dates_changed(job)
    return job


@transaction.atomic
def stage_remove(
    *, stage: Stage, by: User | None, move_jobs_to: Stage | None = None, reason: str = ""
) -> int:
    """Remove a stage; its jobs move to ``move_jobs_to`` (another stage of the same pipeline),
    each move recorded like any stage change. Returns how many jobs moved. (It lives here, not
    in pipelines, because it moves jobs.)"""
    pipeline = pipeline_lock(pipeline=stage.pipeline)
    if move_jobs_to is not None:
        if move_jobs_to.pipeline_id != pipeline.id:
            raise ApplicationError(
                "Jobs can only move to a stage of the same pipeline.",
                code="stage_of_another_pipeline",
                fields={"move_jobs_to": ["A stage of the same pipeline."]},
            )
        if move_jobs_to.id == stage.id:
            raise ApplicationError(
                "Jobs cannot move to the stage being removed.",
                code="invalid_move_jobs_to",
                fields={"move_jobs_to": ["Another stage."]},
            )
        if move_jobs_to.kind == Kind.LOST and not (reason or "").strip():
            raise ApplicationError(
                "Say why the jobs were lost.",
                code="reason_required",
                fields={"reason": ["Required."]},
            )
    if Stage.objects.filter(pipeline=pipeline).count() <= 1:
        raise Conflict("A pipeline keeps at least one stage.", code="last_stage")
    jobs = list(Job.objects.select_for_update().filter(stage=stage).order_by("id"))
    if jobs and move_jobs_to is None:
        raise Conflict(
            f"The stage holds {len(jobs)} jobs: say where they move (move_jobs_to).",
            code="stage_not_empty",
            extra={"count": len(jobs)},
        )
    for job in jobs:
        job.studio = pipeline.studio
        job_stage_change(job=job, stage=move_jobs_to, by=by, reason=reason or "stage removed")
    stage.delete()
    stage_positions_write(
        list(
            Stage.objects.filter(pipeline=pipeline)
            .order_by("position", "id")
            .values_list("id", flat=True)
        )
    )
    return len(jobs)


# --- Contacts -----------------------------------------------------------------------------------
@transaction.atomic
def job_contact_add(
    *, job: Job, contact: Contact, role: str = Role.CLIENT, is_billing: bool = False
) -> JobContact:
    """Link a contact. The job's first contact is its billing contact; ``is_billing`` moves the
    billing role to this one (the job's lock keeps it exactly one)."""
    studio = job.studio
    _contact_check(studio=studio, contact=contact, role=role)
    job = job_lock(job=job)
    links = list(JobContact.objects.filter(job=job))
    if any(link.contact_id == contact.id for link in links):
        raise Conflict("That contact is linked already.", code="contact_already_linked")
    billing = is_billing or not any(link.is_billing for link in links)
    if billing:
        JobContact.objects.filter(job=job, is_billing=True).update(is_billing=False)
    return JobContact.objects.create(
        studio=studio, job=job, contact=contact, role=role, is_billing=billing
    )


@transaction.atomic
def job_contact_update(
    *, job: Job, contact: Contact, role: str | None = None, is_billing: bool | None = None
) -> JobContact:
    """Change a link's role, or make it the billing contact (another one stops being it). The
    billing contact cannot just stop being it: make another contact the billing one instead."""
    job = job_lock(job=job)
    link = JobContact.objects.filter(job=job, contact=contact).first()
    if link is None:
        raise ApplicationError("That contact is not linked.", code="contact_not_linked", status=404)
    fields = []
    if role is not None:
        _contact_check(studio=job.studio, contact=contact, role=role)
        link.role = role
        fields.append("role")
    if is_billing is True and not link.is_billing:
        JobContact.objects.filter(job=job, is_billing=True).update(is_billing=False)
        link.is_billing = True
        fields.append("is_billing")
    elif is_billing is False and link.is_billing:
        raise ApplicationError(
            "A job has exactly one billing contact: make another contact the billing one.",
            code="billing_contact_required",
            fields={"is_billing": ["Make another contact the billing one instead."]},
        )
    if fields:
        link.save(update_fields=[*fields, "updated_at"])
    return link


@transaction.atomic
def job_contact_remove(*, job: Job, contact: Contact) -> None:
    """Unlink a contact; when it was the billing contact, the earliest linked remaining one
    becomes it."""
    job = job_lock(job=job)
    link = JobContact.objects.filter(job=job, contact=contact).first()
    if link is None:
        raise ApplicationError("That contact is not linked.", code="contact_not_linked", status=404)
    link.delete()
    if link.is_billing:
        heir = JobContact.objects.filter(job=job).order_by("created_at", "id").first()
        if heir is not None:
            JobContact.objects.filter(pk=heir.pk).update(is_billing=True)


# --- Galleries ----------------------------------------------------------------------------------
@transaction.atomic
def job_gallery_link(*, job: Job, gallery: Gallery, by: User | None) -> JobGallery:
    """Link a gallery of the studio (a gallery belongs to at most one job); linking it again
    to the same job changes nothing."""
    studio = job.studio
    if gallery.studio_id != studio.id:
        raise ApplicationError(
            "Gallery not found.", code="gallery_not_found", fields={"gallery": ["Not found."]}
        )
    job = job_lock(job=job)
    existing = JobGallery.objects.filter(gallery=gallery).first()
    if existing is not None:
        if existing.job_id == job.id:
            return existing
        raise Conflict("That gallery is linked to another job.", code="gallery_linked_elsewhere")
    try:
        # A savepoint: two jobs linking one gallery at once, the second hits the unique key.
        with transaction.atomic():
            link = JobGallery.objects.create(studio=studio, job=job, gallery=gallery)
    except IntegrityError as exc:
        raise Conflict(
            "That gallery is linked to another job.", code="gallery_linked_elsewhere"
        ) from exc
    timeline_record(
        studio=studio,
        kind="gallery_linked",
        payload={"gallery_id": str(gallery.id), "gallery_name": gallery.name},
        job=job,
        actor=by,
    )
    return link


@transaction.atomic
def job_gallery_unlink(*, job: Job, gallery: Gallery) -> None:
    job = job_lock(job=job)
    deleted, _ = JobGallery.objects.filter(job=job, gallery=gallery).delete()
    if not deleted:
        raise ApplicationError("That gallery is not linked.", code="gallery_not_linked", status=404)
