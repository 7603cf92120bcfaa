"""Tasks on a job or a contact: due at a fixed time or relative to the job's event or booking
date (kept in step when those dates change), assigned to a member, done or not."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Studio, User
from crm.models import Contact, Job, Task, WorkflowStepRun
from crm.services.emails import job_zone
from crm.services.timeline import timeline_record
from picpick.core.errors import ApplicationError

# A relative task is due by the end of its day in the job's time zone: "2 days before the
# event" is overdue once that day is over, not at the minute of the event.
TASK_DUE_TIME = dt.time(23, 59)
MAX_OFFSET_DAYS = 3650


def anchored_time(
    *, job: Job, anchor: str, offset_days: int, at: dt.time, studio: Studio | None = None
) -> dt.datetime | None:
    """``offset_days`` from the job's event start or booking (its local date, in the job's
    time zone), at the local time ``at``; None while the job has no such date."""
    base = job.event_start if anchor == Task.Anchor.EVENT else job.booked_at
    if anchor not in (Task.Anchor.EVENT, Task.Anchor.BOOKING) or base is None:
        return None
    zone = job_zone(job=job, studio=studio or job.studio)
    day = base.astimezone(zone).date() + dt.timedelta(days=offset_days)
    # Local wall time on that day; zoneinfo resolves a DST gap or fold by its fold=0 rule.
    return dt.datetime.combine(day, at, tzinfo=zone).astimezone(dt.UTC)


def _assignee_check(*, studio: Studio, assignee: User | None) -> None:
    if (
        assignee is not None
        and not Membership.objects.filter(studio=studio, user=assignee).exists()
    ):
        raise ApplicationError(
            "The assignee is not a member of this studio.",
            code="assignee_not_member",
            fields={"assignee_id": ["Not a member of this studio."]},
        )


def _due(
    *, job: Job | None, due_at: dt.datetime | None, due_anchor: str, due_offset_days: int
) -> dt.datetime | None:
    if due_anchor:
        if due_at is not None:
            raise ApplicationError(
                "Give either due_at or due_anchor with due_offset_days, not both.",
                code="due_ambiguous",
                fields={"due_at": ["Not with due_anchor."]},
            )
        if job is None:
            raise ApplicationError(
                "A task due relative to a date belongs to a job.",
                code="due_anchor_needs_job",
                fields={"due_anchor": ["Needs a job."]},
            )
        if abs(due_offset_days) > MAX_OFFSET_DAYS:
            raise ApplicationError(
                "The offset is too large.",
                code="validation_error",
                fields={"due_offset_days": [f"At most {MAX_OFFSET_DAYS} days either way."]},
            )
        return anchored_time(
            job=job, anchor=due_anchor, offset_days=due_offset_days, at=TASK_DUE_TIME
        )
    if due_offset_days:
        raise ApplicationError(
            "due_offset_days needs a due_anchor (event or booking).",
            code="due_offset_without_anchor",
            fields={"due_offset_days": ["Needs due_anchor."]},
        )
    if due_at is not None and timezone.is_naive(due_at):
        raise ApplicationError(
            "due_at needs a time zone.", code="naive_datetime", fields={"due_at": ["No offset."]}
        )
    return due_at


@transaction.atomic
def task_create(
    *,
    studio: Studio,
    by: User | None,
    title: str,
    notes: str = "",
    job: Job | None = None,
    contact: Contact | None = None,
    due_at: dt.datetime | None = None,
    due_anchor: str = "",
    due_offset_days: int = 0,
    assignee: User | None = None,
    workflow_step_run: WorkflowStepRun | None = None,
) -> Task:
    if job is None and contact is None:
        raise ApplicationError(
            "A task belongs to a job, a contact or both.",
            code="task_needs_owner",
            fields={"job_id": ["Give a job or a contact."]},
        )
    for row in (job, contact):
        if row is not None and row.studio_id != studio.id:
            raise ValueError("a task and its job/contact belong to one studio")
    _assignee_check(studio=studio, assignee=assignee)
    task = Task.objects.create(
        studio=studio,
        title=title,
        notes=notes,
        job=job,
        contact=contact,
        due_at=_due(job=job, due_at=due_at, due_anchor=due_anchor, due_offset_days=due_offset_days),
        due_anchor=due_anchor,
        due_offset_days=due_offset_days,
        assignee=assignee,
        created_by=by if by is not None and by.is_authenticated else None,
        workflow_step_run=workflow_step_run,
    )
    timeline_record(
        studio=studio,
        kind="task_created",
        payload={"task_id": str(task.id), "title": task.title},
        job=job,
        contact=contact,
        actor=by,
    )
    return task


_EDITABLE = {"title", "notes", "due_at", "due_anchor", "due_offset_days", "assignee"}


@transaction.atomic
def task_update(*, task: Task, by: User | None, changes: dict[str, Any]) -> Task:
    """Change the named fields; the due date is recomputed from whichever form it is now in."""
    unknown = set(changes) - _EDITABLE
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    task = Task.objects.select_for_update().select_related("job").get(id=task.id)
    if "assignee" in changes:
        _assignee_check(studio=task.studio, assignee=changes["assignee"])
    due_fields = {"due_at", "due_anchor", "due_offset_days"}
    if due_fields & set(changes):
        # Setting due_at alone switches the task to a fixed date; an anchor keeps its form.
        anchor = changes.get("due_anchor", "" if "due_at" in changes else task.due_anchor)
        offset = changes.get("due_offset_days", task.due_offset_days if anchor else 0)
        due_at = changes.get("due_at")
        changes = {
            **changes,
            "due_at": _due(job=task.job, due_at=due_at, due_anchor=anchor, due_offset_days=offset),
            "due_anchor": anchor,
            "due_offset_days": offset,
        }
    for name, value in changes.items():
        setattr(task, name, value)
    task.save(update_fields=[*changes, "updated_at"])
    return task


@transaction.atomic
def task_set_done(*, task: Task, by: User | None, done: bool) -> Task:
    """Done (recorded on the timeline once) or open again. Under the row's lock, so two
    clicks record one ``task_done``."""
    task = Task.objects.select_for_update().get(id=task.id)
    if done == (task.done_at is not None):
        return task
    user = by if by is not None and by.is_authenticated else None
    task.done_at = timezone.now() if done else None
    task.done_by = user if done else None
    task.save(update_fields=["done_at", "done_by", "updated_at"])
    if done:
        timeline_record(
            studio=task.studio,
            kind="task_done",
            payload={"task_id": str(task.id), "title": task.title},
            job=task.job,
            contact=task.contact,
            actor=by,
        )
    return task


@transaction.atomic
def task_delete(*, task: Task, by: User | None) -> None:
    Task.objects.filter(id=task.id).delete()


def tasks_due_recompute(*, job: Job) -> int:
    """After a job's event or booking date changed: the open tasks due relative to it move
    with it (a task already done keeps its date). Runs in the caller's transaction."""
    changed = 0
    tasks = (
        Task.objects.select_for_update()
        .filter(job=job, done_at__isnull=True)
        .exclude(due_anchor="")
    )
    for task in tasks:
        due = anchored_time(
            job=job, anchor=task.due_anchor, offset_days=task.due_offset_days, at=TASK_DUE_TIME
        )
        if due != task.due_at:
            task.due_at = due
            task.save(update_fields=["due_at", "updated_at"])
            changed += 1
    return changed
