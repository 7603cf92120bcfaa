"""Workflows: defined with checked steps, applied to new jobs of their type (or by hand),
scheduled from the job's stages and dates, run once by the sweep, skipped when the job moved
on or the run is paused, every step run visible on the job and on its timeline."""

import datetime as dt

import pytest
from django.utils import timezone

from crm.models import EmailMessage, Task, TimelineEvent, WorkflowRun, WorkflowStep, WorkflowStepRun
from crm.services import workflows
from crm.services.jobs import job_create, job_stage_change, job_update
from picpick.testing.factories import (
    ContactFactory,
    EmailTemplateFactory,
    StageFactory,
    WorkflowFactory,
    WorkflowStepFactory,
)

pytestmark = pytest.mark.django_db
URL = "/api/v1/crm/workflows/"
EVENT = dt.datetime(2030, 6, 15, 14, 0, tzinfo=dt.UTC)


def _new_job(studio, stages, by=None, **kwargs):
    client = ContactFactory(
        studio=studio, first_name="Ana", email=f"ana{Task.objects.count()}@example.com"
    )
    return job_create(
        studio=studio,
        by=by,
        name=kwargs.pop("name", "Lee wedding"),
        stage=kwargs.pop("stage", stages["Inquiry"]),
        job_type=kwargs.pop("job_type", "wedding"),
        event_start=kwargs.pop("event_start", EVENT),
        contacts=[(client, "client", True)],
        **kwargs,
    )


@pytest.fixture
def template_a(studio_a):
    return EmailTemplateFactory(
        studio=studio_a, subject="{{ job.name }}", body="Hi {{ client.first_name }}"
    )


# --- Definitions --------------------------------------------------------------------------------
def test_create_a_workflow_with_steps(alice_client, stages_a, template_a):
    body = {
        "name": "Wedding",
        "job_type": "wedding",
        "steps": [
            {
                "trigger": "event_offset",
                "offset_days": -7,
                "action": "send_email",
                "template_id": str(template_a.id),
            },
            {
                "trigger": "stage_entered",
                "trigger_stage_id": str(stages_a["Booked"].id),
                "action": "create_task",
                "task_title": "Send the contract",
                "task_due_days": 2,
            },
            {
                "trigger": "event_offset",
                "offset_days": 1,
                "action": "move_stage",
                "target_stage_id": str(stages_a["Editing"].id),
            },
        ],
    }
    answer = alice_client.post(URL, body, format="json")
    assert answer.status_code == 201, answer.json()
    steps = answer.json()["steps"]
    assert [s["action"] for s in steps] == ["send_email", "create_task", "move_stage"]
    assert steps[1]["offset_days"] == 0 and steps[0]["trigger_stage_id"] is None


@pytest.mark.parametrize(
    ("step", "code", "field"),
    [
        (
            {
                "trigger": "stage_entered",
                "stage": "Booked",
                "offset_days": 3,
                "action": "create_task",
                "task_title": "x",
            },
            "offset_on_stage_trigger",
            "steps.0.offset_days",
        ),
        (
            {"trigger": "stage_entered", "action": "create_task", "task_title": "x"},
            "trigger_stage_required",
            "steps.0.trigger_stage_id",
        ),
        (
            {
                "trigger": "event_offset",
                "stage": "Booked",
                "action": "create_task",
                "task_title": "x",
            },
            "stage_on_offset_trigger",
            "steps.0.trigger_stage_id",
        ),
        (
            {
                "trigger": "stage_entered",
                "other_stage": True,
                "action": "create_task",
                "task_title": "x",
            },
            "stage_not_found",
            "steps.0.trigger_stage_id",
        ),
        (
            {"trigger": "event_offset", "action": "send_email", "other_template": True},
            "template_not_found",
            "steps.0.template_id",
        ),
        (
            {"trigger": "event_offset", "action": "send_email"},
            "template_required",
            "steps.0.template_id",
        ),
        (
            {"trigger": "event_offset", "action": "create_task"},
            "task_title_required",
            "steps.0.task_title",
        ),
        (
            {"trigger": "event_offset", "action": "move_stage"},
            "target_stage_required",
            "steps.0.target_stage_id",
        ),
        ({"trigger": "event_offset", "action": "delete_job"}, "invalid_action", "steps.0.action"),
        (
            {"trigger": "whenever", "action": "create_task", "task_title": "x"},
            "invalid_trigger",
            "steps.0.trigger",
        ),
        (
            {
                "trigger": "event_offset",
                "offset_days": 99999,
                "action": "create_task",
                "task_title": "x",
            },
            "invalid_offset",
            "steps.0.offset_days",
        ),
    ],
)
def test_bad_steps_are_400s_and_nothing_is_written(
    alice_client, stages_a, studio_b, step, code, field
):
    step = dict(step)
    if "stage" in step:
        step["trigger_stage_id"] = str(stages_a[step.pop("stage")].id)
    if step.pop("other_stage", None):
        step["trigger_stage_id"] = str(StageFactory(pipeline__studio=studio_b).id)
    if step.pop("other_template", None):
        step["template_id"] = str(EmailTemplateFactory(studio=studio_b).id)
    answer = alice_client.post(URL, {"name": "W", "steps": [step]}, format="json")
    assert answer.status_code == 400, answer.json()
    assert answer.json()["error"]["code"] == code
    assert field in answer.json()["error"]["fields"]
    assert not WorkflowStep.objects.exists()
    from crm.models import Workflow

    assert not Workflow.objects.exists()


def test_steps_are_edited_and_checked(alice_client, stages_a, studio_a):
    workflow = WorkflowFactory(studio=studio_a)
    created = alice_client.post(
        f"{URL}{workflow.id}/steps/",
        {
            "trigger": "event_offset",
            "offset_days": -3,
            "action": "create_task",
            "task_title": "Call",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    url = f"/api/v1/crm/workflow-steps/{created.json()['id']}/"
    assert alice_client.patch(url, {"offset_days": -14}, format="json").json()["offset_days"] == -14
    bad = alice_client.patch(url, {"trigger": "stage_entered"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "trigger_stage_required"
    assert alice_client.delete(url).status_code == 204


def test_another_studio_gets_404(bob_client, studio_a, stages_a):
    workflow = WorkflowFactory(studio=studio_a)
    step = WorkflowStepFactory(workflow=workflow)
    job = _new_job(studio_a, stages_a)
    run = WorkflowRun.objects.get(workflow=workflow, job=job)  # applied: it is for every type
    assert bob_client.get(f"{URL}{workflow.id}/").status_code == 404
    assert (
        bob_client.patch(f"{URL}{workflow.id}/", {"active": False}, format="json").status_code
        == 404
    )
    assert bob_client.delete(f"{URL}{workflow.id}/").status_code == 404
    assert bob_client.post(f"{URL}{workflow.id}/steps/", {}, format="json").status_code == 404
    assert (
        bob_client.patch(f"/api/v1/crm/workflow-steps/{step.id}/", {}, format="json").status_code
        == 404
    )
    assert bob_client.get(f"/api/v1/crm/jobs/{job.id}/workflows/").status_code == 404
    assert (
        bob_client.post(f"/api/v1/crm/jobs/{job.id}/workflows/{run.id}/pause/").status_code == 404
    )
    assert bob_client.get(URL).json()["results"] == []


# --- Applying and scheduling --------------------------------------------------------------------
def test_a_new_job_gets_the_active_workflows_of_its_type(studio_a, stages_a):
    wedding = WorkflowFactory(studio=studio_a, job_type="wedding")
    WorkflowStepFactory(workflow=wedding, offset_days=-7)
    every = WorkflowFactory(studio=studio_a, job_type="")
    WorkflowFactory(studio=studio_a, job_type="portrait")
    WorkflowFactory(studio=studio_a, job_type="wedding", active=False)
    job = _new_job(studio_a, stages_a)
    assert set(WorkflowRun.objects.filter(job=job).values_list("workflow_id", flat=True)) == {
        wedding.id,
        every.id,
    }
    (step_run,) = WorkflowStepRun.objects.filter(job=job)
    # 7 days before 15 June, at 09:00 in the studio's zone (UTC here).
    assert step_run.due_at == dt.datetime(2030, 6, 8, 9, 0, tzinfo=dt.UTC)


def test_apply_by_hand_then_twice_is_a_409(alice_client, studio_a, stages_a):
    workflow = WorkflowFactory(studio=studio_a, job_type="portrait")
    WorkflowStepFactory(workflow=workflow, offset_days=-2)
    job = _new_job(studio_a, stages_a)
    url = f"/api/v1/crm/jobs/{job.id}/workflows/"
    answer = alice_client.post(url, {"workflow_id": str(workflow.id)}, format="json")
    assert answer.status_code == 201, answer.json()
    assert answer.json()["step_runs"][0]["state"] == "scheduled"
    again = alice_client.post(url, {"workflow_id": str(workflow.id)}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "workflow_already_applied"


def test_offset_steps_follow_the_job_dates(alice, studio_a, stages_a):
    workflow = WorkflowFactory(studio=studio_a, job_type="wedding")
    WorkflowStepFactory(workflow=workflow, offset_days=-7)
    booking = WorkflowStepFactory(workflow=workflow, trigger="booking_offset", offset_days=3)
    job = _new_job(studio_a, stages_a, event_start=None)
    assert not WorkflowStepRun.objects.filter(job=job).exists()  # no dates yet
    job = job_update(job=job, by=alice, event_start=EVENT)
    assert WorkflowStepRun.objects.get(job=job).due_at == dt.datetime(2030, 6, 8, 9, tzinfo=dt.UTC)
    job = job_update(job=job, by=alice, event_start=EVENT + dt.timedelta(days=10))
    assert WorkflowStepRun.objects.get(job=job).due_at == dt.datetime(2030, 6, 18, 9, tzinfo=dt.UTC)
    job_stage_change(job=job, stage=stages_a["Booked"], by=alice)
    assert WorkflowStepRun.objects.filter(job=job, step=booking).exists()
    job_update(job=job, by=alice, event_start=None)
    assert list(WorkflowStepRun.objects.filter(job=job).values_list("step_id", flat=True)) == [
        booking.id
    ]


# --- Running ------------------------------------------------------------------------------------
def test_a_stage_step_runs_once_when_the_job_enters_its_stage(
    alice, studio_a, stages_a, django_capture_on_commit_callbacks
):
    workflow = WorkflowFactory(studio=studio_a, job_type="wedding")
    WorkflowStepFactory(
        workflow=workflow,
        trigger="stage_entered",
        trigger_stage=stages_a["Booked"],
        offset_days=0,
        action="create_task",
        task_title="Send the contract",
        task_due_days=2,
    )
    job = _new_job(studio_a, stages_a)
    job.owner = alice
    job.save(update_fields=["owner"])
    with django_capture_on_commit_callbacks(execute=True):
        job_stage_change(job=job, stage=stages_a["Booked"], by=alice)
    (task,) = Task.objects.filter(job=job)
    assert task.title == "Send the contract" and task.assignee == alice
    step_run = WorkflowStepRun.objects.get(job=job)
    assert (step_run.state, step_run.outcome, step_run.attempts) == ("done", "task_created", 1)
    event = TimelineEvent.objects.get(job=job, kind="workflow_step")
    assert event.payload["outcome"] == "done: task_created"
    # Leaving and entering again runs nothing twice.
    job_stage_change(job=job, stage=stages_a["Inquiry"], by=alice)
    job_stage_change(job=job, stage=stages_a["Booked"], by=alice)
    assert workflows.workflow_steps_sweep() == 0
    assert Task.objects.filter(job=job).count() == 1


def test_an_email_step_sends_once_at_its_time(
    studio_a, stages_a, template_a, django_capture_on_commit_callbacks
):
    from django.core import mail

    workflow = WorkflowFactory(studio=studio_a, job_type="wedding")
    WorkflowStepFactory(
        workflow=workflow, offset_days=-7, action="send_email", template=template_a, task_title=""
    )
    job = _new_job(studio_a, stages_a)
    due = dt.datetime(2030, 6, 8, 9, tzinfo=dt.UTC)
    assert workflows.workflow_steps_sweep(now=due - dt.timedelta(minutes=1)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert workflows.workflow_steps_sweep(now=due) == 1
    assert workflows.workflow_steps_sweep(now=due + dt.timedelta(hours=1)) == 0
    (sent,) = mail.outbox
    assert sent.subject == "Lee wedding" and sent.body == "Hi Ana"
    message = EmailMessage.objects.get(job=job)
    assert message.state == "sent" and message.idempotency_key.startswith("step:")
    assert WorkflowStepRun.objects.get(job=job).outcome == "email_queued: 1"


def test_move_stage_moves_the_job_and_runs_the_new_stages_steps(
    alice, studio_a, stages_a, django_capture_on_commit_callbacks
):
    workflow = WorkflowFactory(studio=studio_a, job_type="wedding")
    WorkflowStepFactory(
        workflow=workflow,
        offset_days=1,
        action="move_stage",
        target_stage=stages_a["Editing"],
        task_title="",
    )
    WorkflowStepFactory(
        workflow=workflow,
        trigger="stage_entered",
        trigger_stage=stages_a["Editing"],
        offset_days=0,
        action="create_task",
        task_title="Cull the photos",
    )
    job = _new_job(studio_a, stages_a)
    job_stage_change(job=job, stage=stages_a["Booked"], by=alice)
    with django_capture_on_commit_callbacks(execute=True):
        workflows.workflow_steps_sweep(now=dt.datetime(2030, 6, 16, 9, tzinfo=dt.UTC))
    job.refresh_from_db()
    assert job.stage == stages_a["Editing"]
    assert Task.objects.get(job=job).title == "Cull the photos"
    outcomes = sorted(WorkflowStepRun.objects.filter(job=job).values_list("outcome", flat=True))
    assert outcomes == ["moved: Editing", "task_created"]


@pytest.mark.parametrize(
    ("stage", "outcome"),
    [("Lost", "job_lost"), ("Archived", "job_archived"), ("Completed", "job_completed")],
)
def test_offset_steps_of_a_job_that_moved_on_are_skipped(alice, studio_a, stages_a, stage, outcome):
    workflow = WorkflowFactory(studio=studio_a, job_type="wedding")
    WorkflowStepFactory(workflow=workflow, offset_days=-7)
    job = _new_job(studio_a, stages_a)
    job_stage_change(job=job, stage=stages_a[stage], by=alice, reason="Went elsewhere")
    assert workflows.workflow_steps_sweep(now=EVENT) == 1
    step_run = WorkflowStepRun.objects.get(job=job)
    assert (step_run.state, step_run.outcome) == ("skipped", outcome)
    assert not Task.objects.filter(job=job).exists()
    assert (
        TimelineEvent.objects.get(job=job, kind="workflow_step").payload["outcome"]
        == f"skipped: {outcome}"
    )


def test_a_stage_step_for_a_stage_the_job_left_is_skipped(alice, studio_a, stages_a):
    workflow = WorkflowFactory(studio=studio_a, job_type="wedding")
    WorkflowStepFactory(
        workflow=workflow,
        trigger="stage_entered",
        trigger_stage=stages_a["Booked"],
        offset_days=0,
        task_title="x",
    )
    job = _new_job(studio_a, stages_a)
    job_stage_change(job=job, stage=stages_a["Booked"], by=alice)  # due now, not run yet
    job_stage_change(job=job, stage=stages_a["Editing"], by=alice)
    workflows.workflow_steps_sweep()
    assert WorkflowStepRun.objects.get(job=job).outcome == "left_stage"


def test_a_step_overdue_for_days_is_skipped_as_too_late(studio_a, stages_a):
    workflow = WorkflowFactory(studio=studio_a, job_type="wedding")
    WorkflowStepFactory(workflow=workflow, offset_days=-7)
    job = _new_job(studio_a, stages_a)
    workflows.workflow_steps_sweep(now=EVENT + dt.timedelta(days=5))
    assert WorkflowStepRun.objects.get(job=job).outcome == "too_late"


def test_pausing_skips_future_steps_and_resuming_schedules_them_again(
    alice_client, studio_a, stages_a
):
    workflow = WorkflowFactory(studio=studio_a, job_type="wedding")
    WorkflowStepFactory(workflow=workflow, offset_days=-7)
    WorkflowStepFactory(workflow=workflow, offset_days=-1)
    job = _new_job(studio_a, stages_a)
    run = WorkflowRun.objects.get(job=job)
    workflows.workflow_steps_sweep(now=dt.datetime(2030, 6, 8, 9, tzinfo=dt.UTC))  # the first ran
    url = f"/api/v1/crm/jobs/{job.id}/workflows/{run.id}/pause/"
    paused = alice_client.post(url)
    assert paused.status_code == 200 and paused.json()["paused"] is True
    assert [s["outcome"] for s in paused.json()["step_runs"]] == ["task_created", "paused"]
    assert workflows.workflow_steps_sweep(now=EVENT) == 0
    assert Task.objects.filter(job=job).count() == 1

    resumed = alice_client.delete(url)
    assert [s["state"] for s in resumed.json()["step_runs"]] == ["done", "scheduled"]
    workflows.workflow_steps_sweep(now=dt.datetime(2030, 6, 14, 9, tzinfo=dt.UTC))
    assert Task.objects.filter(job=job).count() == 2
    listed = alice_client.get(f"/api/v1/crm/jobs/{job.id}/workflows/").json()["results"]
    assert [s["outcome"] for s in listed[0]["step_runs"]] == ["task_created", "task_created"]


def test_an_inactive_workflows_due_steps_are_skipped(studio_a, stages_a):
    workflow = WorkflowFactory(studio=studio_a, job_type="wedding")
    WorkflowStepFactory(workflow=workflow, offset_days=-7)
    job = _new_job(studio_a, stages_a)
    workflow.active = False
    workflow.save(update_fields=["active"])
    workflows.workflow_steps_sweep(now=EVENT)
    assert WorkflowStepRun.objects.get(job=job).outcome == "workflow_inactive"


def test_a_rerun_after_a_dead_worker_makes_nothing_twice(studio_a, stages_a, template_a):
    """Belt and braces: even if a first run's work had committed, the re-run finds it."""
    workflow = WorkflowFactory(studio=studio_a, job_type="wedding")
    email_step = WorkflowStepFactory(
        workflow=workflow, offset_days=-7, action="send_email", template=template_a
    )
    task_step = WorkflowStepFactory(workflow=workflow, offset_days=-6)
    job = _new_job(studio_a, stages_a)
    now = dt.datetime(2030, 6, 9, 9, tzinfo=dt.UTC)
    for step in (email_step, task_step):
        step_run = WorkflowStepRun.objects.get(job=job, step=step)
        claimed = workflows._claim(step_run_id=step_run.id, now=now)
        workflows._run_claimed(step_run_id=step_run.id, claimed_at=claimed, now=now)
        # As if the worker died before its "done" landed: running under an old claim.
        WorkflowStepRun.objects.filter(id=step_run.id).update(
            state="running", claimed_at=now - dt.timedelta(hours=1)
        )
    assert workflows.workflow_steps_sweep(now=now) == 2
    assert EmailMessage.objects.filter(job=job).count() == 1
    assert Task.objects.filter(job=job).count() == 1
    assert set(WorkflowStepRun.objects.filter(job=job).values_list("outcome", flat=True)) == {
        "email_queued: 1",
        "task_exists",
    }


def test_a_step_whose_worker_died_twice_fails_as_worker_lost(studio_a, stages_a):
    workflow = WorkflowFactory(studio=studio_a, job_type="wedding")
    WorkflowStepFactory(workflow=workflow, offset_days=-7)
    job = _new_job(studio_a, stages_a)
    WorkflowStepRun.objects.filter(job=job).update(
        state="running",
        attempts=workflows.MAX_STEP_ATTEMPTS,
        claimed_at=timezone.now() - dt.timedelta(hours=1),
    )
    assert workflows.workflow_steps_sweep() == 0
    step_run = WorkflowStepRun.objects.get(job=job)
    assert (step_run.state, step_run.outcome) == ("failed", "worker_lost")
    assert not Task.objects.filter(job=job).exists()


def test_a_move_the_job_cannot_make_fails_with_its_code(studio_a, stages_a):
    workflow = WorkflowFactory(studio=studio_a, job_type="wedding")
    elsewhere = StageFactory(pipeline__studio=studio_a)
    WorkflowStepFactory(
        workflow=workflow,
        offset_days=-7,
        action="move_stage",
        target_stage=elsewhere,
        task_title="",
    )
    job = _new_job(studio_a, stages_a)
    workflows.workflow_steps_sweep(now=dt.datetime(2030, 6, 8, 9, tzinfo=dt.UTC))
    step_run = WorkflowStepRun.objects.get(job=job)
    assert (step_run.state, step_run.outcome) == ("failed", "stage_of_another_pipeline")
    job.refresh_from_db()
    assert job.stage == stages_a["Inquiry"]


def test_workflow_list_edit_and_delete(alice_client, studio_a, stages_a):
    first = WorkflowFactory(studio=studio_a, name="A wedding")
    WorkflowStepFactory(workflow=first)
    WorkflowFactory(studio=studio_a, name="B portrait")
    page = alice_client.get(URL, {"page_size": 1}).json()
    assert [w["name"] for w in page["results"]] == ["A wedding"]
    assert len(page["results"][0]["steps"]) == 1
    rest = alice_client.get(URL, {"page_size": 1, "cursor": page["next"]}).json()
    assert [w["name"] for w in rest["results"]] == ["B portrait"]
    edited = alice_client.patch(
        f"{URL}{first.id}/", {"active": False, "job_type": "elopement"}, format="json"
    )
    assert edited.status_code == 200 and edited.json()["active"] is False
    assert (
        alice_client.patch(f"{URL}{first.id}/", {"colour": "red"}, format="json").status_code == 400
    )
    assert alice_client.delete(f"{URL}{first.id}/").status_code == 204
    assert alice_client.get(f"{URL}{first.id}/").status_code == 404


def test_a_step_that_lost_a_deadlock_runs_again_and_one_that_keeps_losing_fails(
    monkeypatch, studio_a, stages_a
):
    from django.db import OperationalError

    workflow = WorkflowFactory(studio=studio_a, job_type="wedding")
    WorkflowStepFactory(workflow=workflow, offset_days=-7)
    WorkflowStepFactory(workflow=workflow, offset_days=-6)
    job = _new_job(studio_a, stages_a)
    real_act = workflows._act
    losses = iter([True, False, True, True, True])

    def act(**kwargs):
        if next(losses):
            raise OperationalError(1213, "Deadlock found when trying to get lock")
        return real_act(**kwargs)

    monkeypatch.setattr(workflows, "_act", act)
    workflows.workflow_steps_sweep(now=dt.datetime(2030, 6, 9, 9, tzinfo=dt.UTC))
    first, second = WorkflowStepRun.objects.filter(job=job).order_by("due_at")
    assert (first.state, first.outcome, first.attempts) == ("done", "task_created", 1)
    assert (second.state, second.outcome) == ("failed", "database_busy")
    assert Task.objects.filter(job=job).count() == 1


def test_a_jobs_workflow_runs_are_read_in_a_fixed_number_of_queries(
    alice_client, studio_a, stages_a
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    job = _new_job(studio_a, stages_a)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert alice_client.get(f"/api/v1/crm/jobs/{job.id}/workflows/").status_code == 200
        return len(queries)

    workflow = WorkflowFactory(studio=studio_a)
    WorkflowStepFactory(workflow=workflow, offset_days=-3)
    workflows.workflow_apply(workflow=workflow, job=job, by=None)
    one = count()
    for _ in range(3):
        workflow = WorkflowFactory(studio=studio_a)
        for days in (-5, -4, -3):
            WorkflowStepFactory(workflow=workflow, offset_days=days)
        workflows.workflow_apply(workflow=workflow, job=job, by=None)
    assert count() == one


def test_a_step_added_later_reaches_running_jobs_for_moments_still_to_come(
    alice, alice_client, studio_a, stages_a
):
    workflow = WorkflowFactory(studio=studio_a, job_type="wedding")
    WorkflowStepFactory(workflow=workflow, offset_days=-30)
    upcoming = _new_job(studio_a, stages_a)  # June 2030
    _new_job(studio_a, stages_a, event_start=timezone.now() + dt.timedelta(days=3))  # soon
    paused = _new_job(studio_a, stages_a)
    workflows.workflow_run_pause(run=WorkflowRun.objects.get(job=paused), by=alice)
    lost = _new_job(studio_a, stages_a)
    job_stage_change(job=lost, stage=stages_a["Lost"], by=alice, reason="went elsewhere")

    r = alice_client.post(
        f"{URL}{workflow.id}/steps/",
        {"trigger": "event_offset", "offset_days": -7, "action": "create_task", "task_title": "Q"},
        format="json",
    )
    assert r.status_code == 201, r.json()
    added = WorkflowStep.objects.get(id=r.json()["id"])
    made = {row.job_id: row.due_at for row in WorkflowStepRun.objects.filter(step=added)}
    # The running, open, unpaused job with the moment ahead gets it; a week before an event
    # three days away has passed (never run late); the paused and the lost job don't.
    assert made == {upcoming.id: dt.datetime(2030, 6, 8, 9, tzinfo=dt.UTC)}
    workflows.workflow_steps_sweep(now=dt.datetime(2030, 6, 8, 9, tzinfo=dt.UTC))
    assert Task.objects.filter(job=upcoming, title="Q").count() == 1

    # A stage step added later waits for the job's next entry into its stage.
    stage_step = WorkflowStepFactory(
        workflow=workflow, trigger="stage_entered", trigger_stage=stages_a["Booked"]
    )
    assert not WorkflowStepRun.objects.filter(step=stage_step).exists()


def test_a_retimed_step_moves_its_runs_not_yet_done(alice, alice_client, studio_a, stages_a):
    workflow = WorkflowFactory(studio=studio_a, job_type="wedding")
    step = WorkflowStepFactory(workflow=workflow, offset_days=-7)
    first, second = _new_job(studio_a, stages_a), _new_job(studio_a, stages_a)
    done = WorkflowStepRun.objects.get(job=first)
    workflows.workflow_steps_sweep(now=done.due_at)  # both ran at that moment
    # The second job's run is still to come (as if its event were later).
    WorkflowStepRun.objects.filter(job=second).update(state="scheduled", finished_at=None)
    r = alice_client.patch(
        f"/api/v1/crm/workflow-steps/{step.id}/", {"offset_days": -10}, format="json"
    )
    assert r.status_code == 200, r.json()
    rows = {row.job_id: row for row in WorkflowStepRun.objects.filter(step=step)}
    assert rows[first.id].state == "done" and rows[first.id].due_at == done.due_at
    assert rows[second.id].due_at == dt.datetime(2030, 6, 5, 9, tzinfo=dt.UTC)
    # Re-timed to a stage: the waiting run goes; the job's next entry into it makes one.
    r = alice_client.patch(
        f"/api/v1/crm/workflow-steps/{step.id}/",
        {
            "trigger": "stage_entered",
            "trigger_stage_id": str(stages_a["Booked"].id),
            "offset_days": 0,
        },
        format="json",
    )
    assert r.status_code == 200, r.json()
    assert not WorkflowStepRun.objects.filter(step=step, job=second).exists()
    job_stage_change(job=second, stage=stages_a["Booked"], by=alice)
    assert WorkflowStepRun.objects.filter(step=step, job=second).exists()
