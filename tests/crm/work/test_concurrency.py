"""Sweeps racing on MariaDB's row locks (real threads, one connection each): every due
workflow step runs once, every email is sent once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.db import connection

from crm.models import EmailMessage, Stage, Task, TimelineEvent, WorkflowStepRun
from crm.services import emails, workflows
from crm.services.jobs import job_create, job_stage_change
from picpick.testing.factories import (
    ContactFactory,
    EmailMessageFactory,
    EmailTemplateFactory,
    PipelineFactory,
    StageFactory,
    StudioFactory,
    WorkflowFactory,
    WorkflowStepFactory,
)
from tests.races import race

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="SQLite serialises all writers; the race needs MariaDB's row locks",
    ),
]
EVENT = dt.datetime(2030, 6, 15, 14, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2030, 6, 14, 9, 0, tzinfo=dt.UTC)


def test_two_sweeps_racing_over_50_due_steps_run_each_once(monkeypatch):
    monkeypatch.setattr(workflows, "STALE_AFTER", dt.timedelta(days=30))  # all due, none stale
    studio = StudioFactory()
    stage = StageFactory(pipeline=PipelineFactory(studio=studio), kind=Stage.Kind.OPEN)
    workflow = WorkflowFactory(studio=studio, job_type="wedding")
    template = EmailTemplateFactory(studio=studio)
    WorkflowStepFactory(workflow=workflow, offset_days=-5, action="send_email", template=template)
    for days in (-4, -3, -2, -1):
        WorkflowStepFactory(workflow=workflow, offset_days=days, task_title=f"{days} days")
    for n in range(10):
        client = ContactFactory(studio=studio, email=f"client{n}@example.com")
        job_create(
            studio=studio,
            by=None,
            name=f"Job {n}",
            stage=stage,
            job_type="wedding",
            event_start=EVENT,
            contacts=[(client, "client", True)],
        )
    assert WorkflowStepRun.objects.filter(state="scheduled").count() == 50

    results = race(2, lambda i: workflows.workflow_steps_sweep(now=NOW))
    assert not any(isinstance(r, Exception) for r in results), results
    assert sum(results) == 50
    runs = WorkflowStepRun.objects.all()
    assert {(r.state, r.attempts) for r in runs} == {("done", 1)}
    assert Task.objects.count() == 40
    assert EmailMessage.objects.count() == 10
    assert TimelineEvent.objects.filter(kind="workflow_step").count() == 50
    assert len(mail.outbox) == 10


def test_two_sweeps_racing_over_queued_emails_send_each_once(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    contact = ContactFactory()
    messages = [EmailMessageFactory(contact=contact, studio=contact.studio) for _ in range(20)]
    EmailMessage.objects.update(created_at=NOW - dt.timedelta(hours=1))
    results = race(2, lambda i: emails.emails_sweep(now=NOW))
    assert not any(isinstance(r, Exception) for r in results), results
    assert sum(results) == 20
    assert len(mail.outbox) == 20
    assert sorted(m.extra_headers["Message-ID"] for m in mail.outbox) == sorted(
        f"<{m.id}@picpick.localhost>" for m in messages
    )
    assert set(EmailMessage.objects.values_list("state", "attempts")) == {("sent", 1)}


def test_a_workflow_move_racing_manual_moves_of_the_same_jobs_never_deadlocks(monkeypatch):
    """The step locks the target stage before the job, as job_stage_change does."""
    monkeypatch.setattr(workflows, "STALE_AFTER", dt.timedelta(days=30))
    studio = StudioFactory()
    pipeline = PipelineFactory(studio=studio)
    inquiry = StageFactory(pipeline=pipeline, kind=Stage.Kind.OPEN, position=0)
    booked = StageFactory(pipeline=pipeline, kind=Stage.Kind.BOOKED, position=1)
    editing = StageFactory(pipeline=pipeline, kind=Stage.Kind.OPEN, position=2)
    workflow = WorkflowFactory(studio=studio, job_type="wedding")
    WorkflowStepFactory(
        workflow=workflow, offset_days=-1, action="move_stage", target_stage=editing
    )
    jobs = [
        job_create(
            studio=studio,
            by=None,
            name=f"Job {n}",
            stage=inquiry,
            job_type="wedding",
            event_start=EVENT,
        )
        for n in range(20)
    ]

    def work(index: int) -> int:
        if index == 0:
            return workflows.workflow_steps_sweep(now=NOW)
        for job in jobs:
            job_stage_change(job=type(job).objects.get(id=job.id), stage=booked, by=None)
        return 0

    results = race(2, work)
    assert not any(isinstance(r, Exception) for r in results), results
    runs = WorkflowStepRun.objects.all()
    assert {r.state for r in runs} == {"done"}, {(r.state, r.outcome) for r in runs}
    assert {job.stage_id for job in type(jobs[0]).objects.filter(studio=studio)} <= {
        booked.id,
        editing.id,
    }
