"""Reads of tasks, email templates and messages, workflows and their runs, scoped to the
studio."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import DateTimeField, Prefetch, QuerySet, Value
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from accounts.models import Membership, Studio, User
from crm.models import (
    Contact,
    EmailMessage,
    EmailTemplate,
    Job,
    Stage,
    Task,
    Workflow,
    WorkflowRun,
    WorkflowStep,
    WorkflowStepRun,
)
from picpick.core.errors import ApplicationError
from picpick.core.pagination import Page, paginate
from picpick.core.selectors import studio_object_or_404

# Tasks without a due date sort after every dated one (keyset paging needs a non-null key).
_NO_DUE = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)


def _due_sort():
    # Cast: MySQL types COALESCE(datetime, 'literal') as text, which reads back as a string.
    return Coalesce("due_at", Cast(Value(_NO_DUE), DateTimeField()))


# --- Objects named in a URL (404) or in a body (400 on the field) -------------------------------
def contact_for_work(*, studio: Studio, contact_id: Any) -> Contact:
    return studio_object_or_404(
        Contact.objects.filter(merged_into__isnull=True),
        studio=studio,
        object_id=contact_id,
        message="Contact not found.",
    )


def _for_input(queryset: QuerySet, *, studio: Studio, object_id: Any, field: str, what: str):
    row = queryset.filter(studio=studio, id=object_id).first() if object_id else None
    if row is None:
        raise ApplicationError(
            f"{what} not found in this studio.",
            code=f"{what.lower().replace(' ', '_')}_not_found",
            fields={field: ["Not found."]},
        )
    return row


def job_for_input(*, studio: Studio, job_id: uuid.UUID, field: str = "job_id") -> Job:
    return _for_input(Job.objects.all(), studio=studio, object_id=job_id, field=field, what="Job")


def contact_for_input(
    *, studio: Studio, contact_id: uuid.UUID, field: str = "contact_id"
) -> Contact:
    return _for_input(
        Contact.objects.filter(merged_into__isnull=True),
        studio=studio,
        object_id=contact_id,
        field=field,
        what="Contact",
    )


def contacts_for_input(
    *, studio: Studio, contact_ids: list[uuid.UUID], field: str = "to"
) -> list[Contact]:
    """The contacts in the order given, each once."""
    found = {
        c.id: c
        for c in Contact.objects.filter(studio=studio, id__in=contact_ids, merged_into__isnull=True)
    }
    missing = [str(i) for i in contact_ids if i not in found]
    if missing:
        raise ApplicationError(
            "Contact not found in this studio.",
            code="contact_not_found",
            fields={field: [f"Not found: {missing[0]}."]},
        )
    return list({i: found[i] for i in contact_ids}.values())


def stage_for_input(*, studio: Studio, stage_id: uuid.UUID | None, field: str) -> Stage | None:
    if stage_id is None:
        return None
    return _for_input(
        Stage.objects.all(), studio=studio, object_id=stage_id, field=field, what="Stage"
    )


def template_for_input(
    *, studio: Studio, template_id: uuid.UUID | None, field: str = "template_id"
) -> EmailTemplate | None:
    if template_id is None:
        return None
    return _for_input(
        EmailTemplate.objects.all(),
        studio=studio,
        object_id=template_id,
        field=field,
        what="Template",
    )


def member_for_input(
    *, studio: Studio, user_id: uuid.UUID | None, field: str = "assignee_id"
) -> User | None:
    if user_id is None:
        return None
    membership = (
        Membership.objects.select_related("user").filter(studio=studio, user_id=user_id).first()
    )
    if membership is None:
        raise ApplicationError(
            "Not a member of this studio.",
            code="assignee_not_member",
            fields={field: ["Not a member of this studio."]},
        )
    return membership.user


# --- Tasks --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskFilters:
    job: uuid.UUID | None = None
    contact: uuid.UUID | None = None
    assignee: uuid.UUID | None = None
    state: str = "open"  # open, done, all
    due_before: dt.datetime | None = None
    due_after: dt.datetime | None = None


def _task_queryset() -> QuerySet[Task]:
    return Task.objects.select_related("assignee", "job", "contact")


def task_get(*, studio: Studio, task_id: Any) -> Task:
    return studio_object_or_404(
        _task_queryset(), studio=studio, object_id=task_id, message="Task not found."
    )


def task_list(*, studio: Studio, filters: TaskFilters, cursor: str | None, page_size: int) -> Page:
    """Tasks by due date (undated last), then creation."""
    tasks = _task_queryset().filter(studio=studio)
    if filters.job:
        tasks = tasks.filter(job_id=filters.job)
    if filters.contact:
        tasks = tasks.filter(contact_id=filters.contact)
    if filters.assignee:
        tasks = tasks.filter(assignee_id=filters.assignee)
    if filters.state == "open":
        tasks = tasks.filter(done_at__isnull=True)
    elif filters.state == "done":
        tasks = tasks.filter(done_at__isnull=False)
    if filters.due_before:
        tasks = tasks.filter(due_at__lt=filters.due_before)
    if filters.due_after:
        tasks = tasks.filter(due_at__gte=filters.due_after)
    tasks = tasks.annotate(due_sort=_due_sort())
    return paginate(tasks, ordering=["due_sort"], cursor=cursor, page_size=page_size)


def task_list_mine(*, studio: Studio, user: User, cursor: str | None, page_size: int) -> Page:
    """The caller's open tasks, soonest due first (index ``crm_task_mine``)."""
    tasks = (
        _task_queryset()
        .filter(studio=studio, assignee=user, done_at__isnull=True)
        .annotate(due_sort=_due_sort())
    )
    return paginate(tasks, ordering=["due_sort"], cursor=cursor, page_size=page_size)


def task_list_overdue(
    *, studio: Studio, cursor: str | None, page_size: int, now: dt.datetime | None = None
) -> Page:
    """Open tasks past their due time, longest overdue first (index ``crm_task_due``)."""
    tasks = _task_queryset().filter(
        studio=studio, done_at__isnull=True, due_at__lt=now or timezone.now()
    )
    return paginate(tasks, ordering=["due_at"], cursor=cursor, page_size=page_size)


# --- Email --------------------------------------------------------------------------------------
def email_template_get(*, studio: Studio, template_id: Any) -> EmailTemplate:
    return studio_object_or_404(
        EmailTemplate.objects.all(),
        studio=studio,
        object_id=template_id,
        message="Template not found.",
    )


def email_template_list(*, studio: Studio, cursor: str | None, page_size: int) -> Page:
    return paginate(
        EmailTemplate.objects.filter(studio=studio),
        ordering=["name"],
        cursor=cursor,
        page_size=page_size,
    )


def email_message_list(
    *,
    studio: Studio,
    job: Job | None = None,
    contact: Contact | None = None,
    cursor: str | None,
    page_size: int,
) -> Page:
    messages = EmailMessage.objects.filter(studio=studio)
    if job is not None:
        messages = messages.filter(job=job)
    if contact is not None:
        messages = messages.filter(contact=contact)
    return paginate(messages, ordering=["-created_at"], cursor=cursor, page_size=page_size)


def email_message_get(*, studio: Studio, message_id: Any) -> EmailMessage:
    return studio_object_or_404(
        EmailMessage.objects.all(), studio=studio, object_id=message_id, message="Email not found."
    )


# --- Workflows ----------------------------------------------------------------------------------
def _steps_prefetch() -> Prefetch:
    return Prefetch(
        "steps", queryset=WorkflowStep.objects.order_by("position", "id"), to_attr="step_list"
    )


def workflow_get(*, studio: Studio, workflow_id: Any) -> Workflow:
    return studio_object_or_404(
        Workflow.objects.prefetch_related(_steps_prefetch()),
        studio=studio,
        object_id=workflow_id,
        message="Workflow not found.",
    )


def workflow_for_input(
    *, studio: Studio, workflow_id: uuid.UUID, field: str = "workflow_id"
) -> Workflow:
    return _for_input(
        Workflow.objects.all(), studio=studio, object_id=workflow_id, field=field, what="Workflow"
    )


def workflow_list(*, studio: Studio, cursor: str | None, page_size: int) -> Page:
    return paginate(
        Workflow.objects.filter(studio=studio).prefetch_related(_steps_prefetch()),
        ordering=["name"],
        cursor=cursor,
        page_size=page_size,
    )


def workflow_step_get(*, studio: Studio, step_id: Any) -> WorkflowStep:
    return studio_object_or_404(
        WorkflowStep.objects.select_related("workflow"),
        studio=studio,
        object_id=step_id,
        message="Workflow step not found.",
    )


def workflow_run_get(*, studio: Studio, job: Job, run_id: Any) -> WorkflowRun:
    return studio_object_or_404(
        WorkflowRun.objects.filter(job=job).select_related("workflow", "job"),
        studio=studio,
        object_id=run_id,
        message="Workflow run not found.",
    )


def job_workflow_runs(*, job: Job) -> list[WorkflowRun]:
    """The job's workflow runs, each with ``step_run_list`` (its step runs by due time)."""
    return list(
        WorkflowRun.objects.filter(job=job)
        .select_related("workflow")
        .prefetch_related(
            Prefetch(
                "step_runs",
                queryset=WorkflowStepRun.objects.select_related("step").order_by("due_at", "id"),
                to_attr="step_run_list",
            )
        )
        .order_by("created_at", "id")
    )
