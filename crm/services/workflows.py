"""Workflows: a studio's steps for its jobs of a type (send a template, create a task, move to
a stage), each triggered by entering a stage or at an offset from the event or booking date.

Applying a workflow to a job makes one ``WorkflowStepRun`` per step, due when its trigger
says (a stage step when the job enters the stage; an offset step from the job's date). The
beat sweep runs each due step exactly once:

1. claim: one conditional UPDATE (scheduled -> running, ``claimed_at``, ``attempts + 1``);
   of two sweeps one wins;
2. run: in ONE transaction, under the step run's and the job's locks, check the claim is still
   ours, decide to skip (the job moved on, the run was paused) or do the action, and mark the
   step done/skipped with its outcome and a timeline event. Every action is a database write
   (an email is queued, sent by the email worker after commit), so the work and its "done"
   commit together or not at all;
3. a worker killed mid-step leaves it ``running`` with nothing of its work committed: after
   ``STEP_TIMEOUT`` the sweep claims it again (once: ``MAX_STEP_ATTEMPTS``). The actions are
   idempotent anyway (an email per step run and recipient has a unique key, the task step
   looks for the task it made, a move to the stage the job is in is a no-op).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Studio, User
from crm.models import (
    EmailTemplate,
    Job,
    Stage,
    Task,
    Workflow,
    WorkflowRun,
    WorkflowStep,
    WorkflowStepRun,
)
from crm.services.emails import email_queue, job_default_recipients, job_zone
from crm.services.jobs import job_lock, job_stage_change
from crm.services.pipelines import pipeline_lock
from crm.services.tasks import TASK_DUE_TIME, anchored_time, task_create, tasks_due_recompute
from crm.services.timeline import timeline_record
from crm.tasks.work import workflow_steps_sweep_soon
from picpick.core.errors import ApplicationError, Conflict

logger = logging.getLogger(__name__)

Trigger = WorkflowStep.Trigger
Action = WorkflowStep.Action
State = WorkflowStepRun.State
Kind = Stage.Kind

# Offset steps run at this local time on their day (an email at 9:00, not at midnight).
STEP_TIME = dt.time(9, 0)
# A claim older than this belongs to a dead worker (a step is a few queries). A pass stamps
# its claims with the time it started (``now``), so this must stay above the sweep task's
# hard time limit (300 s): a live pass's claims never look dead.
STEP_TIMEOUT = dt.timedelta(minutes=10)
# The first run and one re-run after a worker died; a third claim is never made.
MAX_STEP_ATTEMPTS = 2
# An offset step overdue by more than this (the beat was down, or the workflow was applied
# after the date) is skipped: a "7 days before" email sent the day after the event is wrong.
STALE_AFTER = dt.timedelta(days=2)
MAX_OFFSET_DAYS = 3650
MAX_STEPS = 50
DEADLOCK_RETRIES = 3
CLOSED_KINDS = (Kind.LOST, Kind.ARCHIVED, Kind.COMPLETED)


# --- Definitions ----------------------------------------------------------------------------------
@transaction.atomic
def workflow_create(
    *, studio: Studio, by: User | None, name: str, job_type: str = "", active: bool = True
) -> Workflow:
    return Workflow.objects.create(studio=studio, name=name, job_type=job_type, active=active)


@transaction.atomic
def workflow_update(*, workflow: Workflow, by: User | None, changes: dict[str, Any]) -> Workflow:
    unknown = set(changes) - {"name", "job_type", "active"}
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    for name, value in changes.items():
        setattr(workflow, name, value)
    workflow.save(update_fields=[*changes, "updated_at"])
    return workflow


@transaction.atomic
def workflow_delete(*, workflow: Workflow, by: User | None) -> None:
    """Delete a workflow with its runs and step runs (what its steps did stays: emails, tasks
    and the timeline)."""
    Workflow.objects.filter(id=workflow.id).delete()


def _bad(message: str, code: str, field: str) -> ApplicationError:
    return ApplicationError(message, code=code, fields={field: [message]})


def _step_check(*, studio: Studio, values: dict[str, Any]) -> dict[str, Any]:
    """The step's fields made consistent with its trigger and action, or a 400 naming the
    field. Fields that don't apply to the trigger/action are cleared."""
    trigger, action = values.get("trigger"), values.get("action")
    if trigger not in Trigger.values:
        raise _bad(f"Unknown trigger {trigger!r}.", "invalid_trigger", "trigger")
    if action not in Action.values:
        raise _bad(f"Unknown action {action!r}.", "invalid_action", "action")
    for name in ("trigger_stage", "target_stage", "template"):
        row = values.get(name)
        if row is not None and row.studio_id != studio.id:
            raise _bad("Not found in this studio.", f"{name}_not_found", f"{name}_id")
    offset = values.get("offset_days") or 0
    if trigger == Trigger.STAGE_ENTERED:
        if values.get("trigger_stage") is None:
            raise _bad(
                "A stage trigger needs its stage.", "trigger_stage_required", "trigger_stage_id"
            )
        if offset:
            raise _bad(
                "A stage trigger runs when the stage is entered; it takes no offset.",
                "offset_on_stage_trigger",
                "offset_days",
            )
    else:
        if values.get("trigger_stage") is not None:
            raise _bad(
                "Only a stage trigger names a stage.", "stage_on_offset_trigger", "trigger_stage_id"
            )
        if abs(offset) > MAX_OFFSET_DAYS:
            raise _bad(
                f"At most {MAX_OFFSET_DAYS} days either way.", "invalid_offset", "offset_days"
            )
    if action == Action.SEND_EMAIL and values.get("template") is None:
        raise _bad("A send_email step needs a template.", "template_required", "template_id")
    if action == Action.CREATE_TASK and not (values.get("task_title") or "").strip():
        raise _bad("A create_task step needs a title.", "task_title_required", "task_title")
    if action == Action.MOVE_STAGE and values.get("target_stage") is None:
        raise _bad("A move_stage step needs a stage.", "target_stage_required", "target_stage_id")
    if abs(values.get("task_due_days") or 0) > MAX_OFFSET_DAYS:
        raise _bad(f"At most {MAX_OFFSET_DAYS} days.", "invalid_offset", "task_due_days")
    return {
        "trigger": trigger,
        "action": action,
        "trigger_stage": values.get("trigger_stage") if trigger == Trigger.STAGE_ENTERED else None,
        "offset_days": offset if trigger != Trigger.STAGE_ENTERED else 0,
        "template": values.get("template") if action == Action.SEND_EMAIL else None,
        "task_title": (values.get("task_title") or "").strip()
        if action == Action.CREATE_TASK
        else "",
        "task_due_days": (values.get("task_due_days") or 0) if action == Action.CREATE_TASK else 0,
        "target_stage": values.get("target_stage") if action == Action.MOVE_STAGE else None,
    }


@transaction.atomic
def workflow_step_create(
    *,
    workflow: Workflow,
    by: User | None,
    trigger: str,
    action: str,
    trigger_stage: Stage | None = None,
    offset_days: int = 0,
    template: EmailTemplate | None = None,
    task_title: str = "",
    task_due_days: int = 0,
    target_stage: Stage | None = None,
    position: int | None = None,
) -> WorkflowStep:
    """A step at the end (or at ``position``). Jobs the workflow already runs on get it too,
    for a moment still to come (``_reach_running``); jobs it is applied to later get it as any
    step."""
    workflow = Workflow.objects.select_for_update().get(id=workflow.id)
    count = WorkflowStep.objects.filter(workflow=workflow).count()
    if count >= MAX_STEPS:
        raise Conflict(f"A workflow has at most {MAX_STEPS} steps.", code="too_many_steps")
    values = _step_check(
        studio=workflow.studio,
        values={
            "trigger": trigger,
            "action": action,
            "trigger_stage": trigger_stage,
            "offset_days": offset_days,
            "template": template,
            "task_title": task_title,
            "task_due_days": task_due_days,
            "target_stage": target_stage,
        },
    )
    step = WorkflowStep.objects.create(
        studio=workflow.studio,
        workflow=workflow,
        position=count if position is None else position,
        **values,
    )
    _reach_running(step=step, now=timezone.now())
    return step


_STEP_FIELDS = (
    "trigger",
    "action",
    "trigger_stage",
    "offset_days",
    "template",
    "task_title",
    "task_due_days",
    "target_stage",
)


@transaction.atomic
def workflow_step_update(
    *, step: WorkflowStep, by: User | None, changes: dict[str, Any]
) -> WorkflowStep:
    unknown = set(changes) - {*_STEP_FIELDS, "position"}
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    current = {name: getattr(step, name) for name in _STEP_FIELDS}
    values = _step_check(studio=step.studio, values={**current, **changes})
    if "position" in changes:
        values["position"] = changes["position"]
    timing = {"trigger", "trigger_stage", "offset_days"}
    retimed = any(values[name] != current[name] for name in timing)
    for name, value in values.items():
        setattr(step, name, value)
    step.save(update_fields=[*values, "updated_at"])
    if retimed:
        _reach_running(step=step, now=timezone.now())
    return step


def _reach_running(*, step: WorkflowStep, now: dt.datetime) -> int:
    """Bring a new or re-timed step to the jobs its workflow already runs on (unpaused runs,
    open jobs), under each job's lock taken in id order (the workflow row, when locked, comes
    first: no path locks a job and then a workflow). Not yet run step runs of the step move to
    its new moment, or go when it has none (a stage step waits for the job's next entry into
    its stage, as on any run). New step runs are made only for a moment still to come: a step
    added today for "7 days before the event" never runs late for an event next week, but
    does for one next month. The number of step runs made or moved."""
    runs = list(
        WorkflowRun.objects.filter(workflow_id=step.workflow_id, paused_at__isnull=True).only(
            "id", "job_id", "studio_id"
        )
    )
    if not runs:
        return 0
    jobs = {
        job.id: job
        for job in Job.objects.select_for_update()
        .filter(id__in=sorted({run.job_id for run in runs}))
        .exclude(stage__kind__in=CLOSED_KINDS)
        .order_by("id")
    }
    scheduled = {
        row.job_id: row
        for row in WorkflowStepRun.objects.filter(step=step, job_id__in=jobs, state=State.SCHEDULED)
    }
    have = set(WorkflowStepRun.objects.filter(step=step).values_list("job_id", flat=True))
    changed, new = 0, []
    for run in runs:
        job = jobs.get(run.job_id)
        if job is None:
            continue
        offset = step.trigger != Trigger.STAGE_ENTERED
        due = _step_due(step=step, job=job, now=now) if offset else None
        pending = scheduled.get(job.id)
        if pending is not None:
            still = WorkflowStepRun.objects.filter(id=pending.id, state=State.SCHEDULED)
            changed += still.delete()[0] if due is None else still.update(due_at=due)
        elif job.id not in have and due is not None and due > now:
            row = WorkflowStepRun(studio_id=run.studio_id, run_id=run.id, step=step, job=job)
            row.due_at = due
            new.append(row)
    WorkflowStepRun.objects.bulk_create(new)
    return changed + len(new)


@transaction.atomic
def workflow_step_delete(*, step: WorkflowStep, by: User | None) -> None:
    WorkflowStep.objects.filter(id=step.id).delete()


# --- Scheduling -------------------------------------------------------------------------------
def _step_due(*, step: WorkflowStep, job: Job, now: dt.datetime) -> dt.datetime | None:
    if step.trigger == Trigger.STAGE_ENTERED:
        return now if job.stage_id == step.trigger_stage_id else None
    anchor = Task.Anchor.EVENT if step.trigger == Trigger.EVENT_OFFSET else Task.Anchor.BOOKING
    return anchored_time(job=job, anchor=anchor, offset_days=step.offset_days, at=STEP_TIME)


def _schedule(*, run: WorkflowRun, job: Job, now: dt.datetime) -> int:
    """Step runs for the run's steps that have none yet and whose time is known (under the
    job's lock, held by every caller, so two callers never make the same one)."""
    have = set(WorkflowStepRun.objects.filter(run=run).values_list("step_id", flat=True))
    new = []
    for step in WorkflowStep.objects.filter(workflow_id=run.workflow_id).order_by("position", "id"):
        if step.id in have:
            continue
        due = _step_due(step=step, job=job, now=now)
        if due is not None:
            new.append(
                WorkflowStepRun(studio_id=run.studio_id, run=run, step=step, job=job, due_at=due)
            )
    WorkflowStepRun.objects.bulk_create(new)
    return sum(1 for row in new if row.due_at <= now)


def _sweep_on_commit(due_now: int) -> None:
    if due_now:
        # A stage step is due at once: don't make it wait for the next beat.
        transaction.on_commit(workflow_steps_sweep_soon, robust=True)


@transaction.atomic
def workflow_apply(*, workflow: Workflow, job: Job, by: User | None) -> WorkflowRun:
    """Run ``workflow`` on ``job`` (whatever the job's type: applying by hand is deliberate).
    Applying it twice is a 409."""
    if workflow.studio_id != job.studio_id:
        raise ValueError("a workflow and its job belong to one studio")
    job = job_lock(job=job)
    if WorkflowRun.objects.filter(workflow=workflow, job=job).exists():
        raise Conflict("This workflow already runs on this job.", code="workflow_already_applied")
    run = WorkflowRun.objects.create(studio_id=job.studio_id, workflow=workflow, job=job)
    _sweep_on_commit(_schedule(run=run, job=job, now=timezone.now()))
    return run


def _paused_event(*, step_run: WorkflowStepRun, workflow: Workflow, job: Job, outcome: str) -> None:
    timeline_record(
        studio=job.studio,
        kind="workflow_step",
        payload={
            "workflow": workflow.name,
            "step_run_id": str(step_run.id),
            "action": step_run.step.action,
            "outcome": outcome,
        },
        job=job,
    )


@transaction.atomic
def workflow_run_pause(*, run: WorkflowRun, by: User | None) -> WorkflowRun:
    """Stop the run's future steps: each scheduled one is skipped (outcome ``paused``). A step
    already claimed by a sweep finishes (it checks the pause under the same lock)."""
    job = job_lock(job=run.job)
    run = WorkflowRun.objects.select_for_update().select_related("workflow").get(id=run.id)
    if run.paused_at is not None:
        return run
    now = timezone.now()
    run.paused_at = now
    run.save(update_fields=["paused_at", "updated_at"])
    pending = list(
        WorkflowStepRun.objects.select_for_update()
        .filter(run=run, state=State.SCHEDULED)
        .select_related("step")
    )
    WorkflowStepRun.objects.filter(id__in=[s.id for s in pending], state=State.SCHEDULED).update(
        state=State.SKIPPED, outcome="paused", finished_at=now
    )
    for step_run in pending:
        _paused_event(step_run=step_run, workflow=run.workflow, job=job, outcome="paused")
    return run


@transaction.atomic
def workflow_run_resume(*, run: WorkflowRun, by: User | None) -> WorkflowRun:
    """Start a paused run again: its steps skipped by the pause are scheduled again (the sweep
    still skips those whose moment has passed or whose stage the job left)."""
    job = job_lock(job=run.job)
    run = WorkflowRun.objects.select_for_update().get(id=run.id)
    if run.paused_at is None:
        return run
    run.paused_at = None
    run.save(update_fields=["paused_at", "updated_at"])
    WorkflowStepRun.objects.filter(run=run, state=State.SKIPPED, outcome="paused").update(
        state=State.SCHEDULED, outcome="", finished_at=None
    )
    _sweep_on_commit(_schedule(run=run, job=job, now=timezone.now()) or 1)
    return run


# --- Hooks (registered by crm.registry.work) ----------------------------------------------------
def _job_just_created(job: Job) -> bool:
    # job_create writes the job's first StageChange before calling the hooks; every later move
    # adds one (the table is append-only), so a job with one has just been made.
    return job.stage_changes.count() == 1


def on_stage_entered(job: Job, stage: Stage, by: User | None) -> None:
    """A job entered ``stage`` (or was created in it): a new job gets the studio's active
    workflows for its type; then every unpaused run's steps for this stage are due now. Runs
    inside the move's transaction, the job locked."""
    now = timezone.now()
    due_now = 0
    if _job_just_created(job):
        workflows = Workflow.objects.filter(studio_id=job.studio_id, active=True).filter(
            Q(job_type="") | Q(job_type=job.job_type)
        )
        for workflow in workflows:
            run, created = WorkflowRun.objects.get_or_create(
                workflow=workflow, job=job, defaults={"studio_id": job.studio_id}
            )
            if created:
                due_now += _schedule(run=run, job=job, now=now)
    runs = WorkflowRun.objects.filter(job=job, paused_at__isnull=True, workflow__active=True)
    stage_steps = WorkflowStep.objects.filter(
        workflow_id__in=runs.values("workflow_id"),
        trigger=Trigger.STAGE_ENTERED,
        trigger_stage_id=stage.id,
    )
    if stage_steps.exists():
        for run in runs:
            due_now += _schedule(run=run, job=job, now=now)
    _sweep_on_commit(due_now)


def on_job_dates_changed(job: Job) -> None:
    """The job's event or booking date changed: open tasks due relative to it move, and the
    offset steps not yet run are rescheduled (dropped while the date is unknown, made when it
    becomes known)."""
    tasks_due_recompute(job=job)
    now = timezone.now()
    pending = WorkflowStepRun.objects.filter(
        job=job,
        state=State.SCHEDULED,
        step__trigger__in=[Trigger.EVENT_OFFSET, Trigger.BOOKING_OFFSET],
    ).select_related("step")
    for step_run in pending:
        due = _step_due(step=step_run.step, job=job, now=now)
        # Conditional on still being scheduled: a sweep may have claimed it meanwhile.
        still = WorkflowStepRun.objects.filter(id=step_run.id, state=State.SCHEDULED)
        if due is None:
            still.delete()
        elif due != step_run.due_at:
            still.update(due_at=due)
    due_now = 0
    for run in WorkflowRun.objects.filter(job=job, paused_at__isnull=True):
        due_now += _schedule(run=run, job=job, now=now)
    _sweep_on_commit(due_now)


# --- The sweep ----------------------------------------------------------------------------------
def workflow_steps_due_ids(*, now: dt.datetime | None = None, limit: int = 500) -> list:
    now = now or timezone.now()
    due = Q(state=State.SCHEDULED, due_at__lte=now) | Q(
        state=State.RUNNING, claimed_at__lt=now - STEP_TIMEOUT, attempts__lt=MAX_STEP_ATTEMPTS
    )
    return list(
        WorkflowStepRun.objects.filter(due)
        .order_by("due_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def _claim(*, step_run_id, now: dt.datetime) -> dt.datetime | None:
    """The claim's time if this caller won the step (one conditional UPDATE), else None."""
    claimable = Q(state=State.SCHEDULED, due_at__lte=now) | Q(
        state=State.RUNNING, claimed_at__lt=now - STEP_TIMEOUT, attempts__lt=MAX_STEP_ATTEMPTS
    )
    won = WorkflowStepRun.objects.filter(claimable, id=step_run_id).update(
        state=State.RUNNING, claimed_at=now, attempts=F("attempts") + 1
    )
    return now if won == 1 else None


def _skip_reason(*, step_run: WorkflowStepRun, run: WorkflowRun, job: Job, now: dt.datetime) -> str:
    step = step_run.step
    if run.paused_at is not None:
        return "paused"
    if not run.workflow.active:
        return "workflow_inactive"
    if step.trigger == Trigger.STAGE_ENTERED:
        # A stage step belongs to the stay in that stage: once the job left it, it is moot.
        if job.stage_id != step.trigger_stage_id:
            return "left_stage"
        return ""
    if job.stage.kind in CLOSED_KINDS:
        return f"job_{job.stage.kind}"
    if step_run.due_at < now - STALE_AFTER:
        return "too_late"
    return ""


def _act(
    *, step_run: WorkflowStepRun, run: WorkflowRun, job: Job, now: dt.datetime
) -> tuple[str, str]:
    """Do the step's action (idempotently); (state, outcome)."""
    step = step_run.step
    if step.action == Action.SEND_EMAIL:
        recipients = [c for c in job_default_recipients(job=job) if c.email and c.erased_at is None]
        if not recipients:
            return State.SKIPPED, "no_recipients"
        messages = email_queue(
            studio=job.studio,
            by=None,
            recipients=recipients,
            job=job,
            template=step.template,
            key_prefix=f"step:{step_run.id}",
        )
        return State.DONE, f"email_queued: {len(messages)}"
    if step.action == Action.CREATE_TASK:
        if Task.objects.filter(workflow_step_run=step_run).exists():
            return State.DONE, "task_exists"
        zone = job_zone(job=job, studio=job.studio)
        day = now.astimezone(zone).date() + dt.timedelta(days=step.task_due_days)
        task_create(
            studio=job.studio,
            by=None,
            title=step.task_title,
            job=job,
            due_at=dt.datetime.combine(day, TASK_DUE_TIME, tzinfo=zone),
            assignee=job.owner,
            workflow_step_run=step_run,
        )
        return State.DONE, "task_created"
    if step.action == Action.MOVE_STAGE:
        if job.stage_id == step.target_stage_id:
            return State.DONE, "already_in_stage"
        job_stage_change(
            job=job,
            stage=step.target_stage,
            by=None,
            reason=f"Workflow: {run.workflow.name}"[:300]
            if step.target_stage.kind == Kind.LOST
            else "",
        )
        return State.DONE, f"moved: {step.target_stage.name}"[:300]
    return State.FAILED, f"unknown_action: {step.action}"


def _finish(
    *, step_run: WorkflowStepRun, claimed_at: dt.datetime, state: str, outcome: str, job: Job
) -> bool:
    now = timezone.now()
    done = WorkflowStepRun.objects.filter(
        id=step_run.id, state=State.RUNNING, claimed_at=claimed_at
    ).update(state=state, outcome=outcome[:300], finished_at=now)
    if done != 1:
        return False
    timeline_record(
        studio=job.studio,
        kind="workflow_step",
        payload={
            "workflow": step_run.run.workflow.name,
            "step_run_id": str(step_run.id),
            "action": step_run.step.action,
            "outcome": f"{state}: {outcome}"[:300],
        },
        job=job,
        occurred_at=now,
    )
    return True


def _run_claimed(*, step_run_id, claimed_at: dt.datetime, now: dt.datetime) -> str | None:
    with transaction.atomic():
        # Locks in the jobs' order (crm.services.jobs): the target stage's pipeline (a move
        # step), then the job, then the step run and its run -- as a manual move (pipeline,
        # job) whose hooks then touch step runs. Locking the step run first deadlocked with it.
        step_run = WorkflowStepRun.objects.select_related(
            "step__target_stage", "step__template", "job"
        ).get(id=step_run_id)
        step = step_run.step
        if step.action == Action.MOVE_STAGE and step.target_stage is not None:
            pipeline_lock(pipeline=step.target_stage.pipeline)
        job = job_lock(job=step_run.job)
        locked = WorkflowStepRun.objects.select_for_update().filter(id=step_run_id)
        if not locked.filter(state=State.RUNNING, claimed_at=claimed_at).exists():
            return None  # taken over after our claim timed out: the taker finishes it
        run = (
            WorkflowRun.objects.select_for_update()
            .select_related("workflow")
            .get(id=step_run.run_id)
        )
        step_run.run = run
        reason = _skip_reason(step_run=step_run, run=run, job=job, now=now)
        if reason:
            state, outcome = State.SKIPPED, reason
        else:
            state, outcome = _act(step_run=step_run, run=run, job=job, now=now)
        _finish(step_run=step_run, claimed_at=claimed_at, state=state, outcome=outcome, job=job)
        return state


@transaction.atomic
def _fail(*, step_run_id, claimed_at: dt.datetime, outcome: str) -> str | None:
    step_run = WorkflowStepRun.objects.select_related("run__workflow", "step", "job__studio").get(
        id=step_run_id
    )
    job = step_run.job
    if _finish(
        step_run=step_run, claimed_at=claimed_at, state=State.FAILED, outcome=outcome, job=job
    ):
        return State.FAILED
    return None


def workflow_step_run_execute(*, step_run_id, now: dt.datetime | None = None) -> str | None:
    """Claim one due step and run it; the state it ended in, or None if another sweep has it."""
    now = now or timezone.now()
    claimed_at = _claim(step_run_id=step_run_id, now=now)
    if claimed_at is None:
        return None
    for hook in CLAIMED_HOOKS:  # tests: a worker killed right after its claim
        hook(step_run_id)
    for attempt in range(1, DEADLOCK_RETRIES + 1):
        try:
            return _run_claimed(step_run_id=step_run_id, claimed_at=claimed_at, now=now)
        except ApplicationError as exc:  # the action refused (a stage of another pipeline, ...)
            return _fail(step_run_id=step_run_id, claimed_at=claimed_at, outcome=exc.code)
        except OperationalError:
            # A deadlock victim or a lock wait timeout: the database rolled the whole step
            # back, so it is safe to run it again while the claim is ours.
            if attempt < DEADLOCK_RETRIES:
                continue
            logger.exception(
                "workflow step kept losing locks", extra={"step_run_id": str(step_run_id)}
            )
            return _fail(step_run_id=step_run_id, claimed_at=claimed_at, outcome="database_busy")
        except Exception as exc:
            logger.exception("workflow step failed", extra={"step_run_id": str(step_run_id)})
            return _fail(step_run_id=step_run_id, claimed_at=claimed_at, outcome=type(exc).__name__)
    return None


# Called with the step run's id right after a claim commits (tests kill the worker there).
CLAIMED_HOOKS: list = []


@transaction.atomic
def _give_up_dead(*, now: dt.datetime) -> int:
    """Steps whose re-run's worker died too: failed (``worker_lost``), never claimed a third
    time."""
    dead = WorkflowStepRun.objects.filter(
        state=State.RUNNING, claimed_at__lt=now - STEP_TIMEOUT, attempts__gte=MAX_STEP_ATTEMPTS
    ).select_related("run__workflow", "step", "job__studio")
    count = 0
    for step_run in dead:
        count += _finish(
            step_run=step_run,
            claimed_at=step_run.claimed_at,
            state=State.FAILED,
            outcome="worker_lost",
            job=step_run.job,
        )
    return count


def workflow_steps_sweep(*, now: dt.datetime | None = None) -> int:
    """The beat's pass: every due step claimed and run here, one by one (two sweeps share the
    work; each step runs once). The number of steps this pass ran."""
    now = now or timezone.now()
    _give_up_dead(now=now)
    ran = 0
    for step_run_id in workflow_steps_due_ids(now=now):
        if workflow_step_run_execute(step_run_id=step_run_id, now=now) is not None:
            ran += 1
    return ran
