"""Jobs and the pipeline: the services (default pipeline, create, stage changes, milestones)."""

from __future__ import annotations

import datetime as dt

import pytest

from crm.models import Job, JobContact, Pipeline, Stage, StageChange, TimelineEvent
from crm.services import jobs as job_services
from crm.services.jobs import job_create, job_stage_change
from crm.services.pipelines import pipeline_default_ensure
from picpick.core.errors import ApplicationError
from picpick.testing.factories import ContactFactory

Kind = Stage.Kind


@pytest.fixture
def pipeline(studio_a):
    return pipeline_default_ensure(studio=studio_a)


def stage_named(pipeline, name):
    return Stage.objects.get(pipeline=pipeline, name=name)


def test_default_pipeline_is_made_once_with_its_stages(studio_a):
    first = pipeline_default_ensure(studio=studio_a)
    again = pipeline_default_ensure(studio=studio_a)
    assert first.id == again.id and first.is_default
    stages = list(Stage.objects.filter(pipeline=first).order_by("position"))
    assert [(s.name, s.kind) for s in stages] == [
        ("Inquiry", Kind.OPEN),
        ("Proposal sent", Kind.OPEN),
        ("Booked", Kind.BOOKED),
        ("Shot", Kind.OPEN),
        ("Editing", Kind.OPEN),
        ("Delivered", Kind.OPEN),
        ("Completed", Kind.COMPLETED),
        ("Lost", Kind.LOST),
        ("Archived", Kind.ARCHIVED),
    ]
    assert Pipeline.objects.filter(studio=studio_a).count() == 1


def test_job_create_lands_in_the_first_stage_with_a_timeline_event(studio_a, alice, pipeline):
    job = job_create(studio=studio_a, by=alice, name="Smith wedding")
    assert job.stage.name == "Inquiry" and job.currency == studio_a.default_currency
    assert job.booked_at is None
    event = TimelineEvent.objects.get(job=job)
    assert event.kind == "job_created" and event.payload == {
        "name": "Smith wedding",
        "stage": "Inquiry",
    }
    assert StageChange.objects.filter(job=job, from_stage=None).count() == 1


def test_stage_change_records_history_and_books(studio_a, alice, pipeline, monkeypatch):
    entered, dated = [], []
    monkeypatch.setattr(
        job_services, "STAGE_ENTERED_HOOKS", [lambda j, s, b: entered.append(s.name)]
    )
    monkeypatch.setattr(job_services, "JOB_DATES_CHANGED_HOOKS", [lambda j: dated.append(j.id)])
    job = job_create(studio=studio_a, by=alice, name="Lee family")
    Job.objects.filter(pk=job.pk).update(
        stage_entered_at=job.stage_entered_at - dt.timedelta(hours=2)
    )
    job.refresh_from_db()
    job = job_stage_change(job=job, stage=stage_named(pipeline, "Booked"), by=alice)
    assert job.booked_at is not None and job.completed_at is None
    change = StageChange.objects.filter(job=job, from_stage__isnull=False).get()
    assert change.from_stage.name == "Inquiry" and change.to_stage.name == "Booked"
    assert 7190 <= change.seconds_in_from <= 7300
    assert entered == ["Inquiry", "Booked"] and dated == [job.id]
    assert TimelineEvent.objects.filter(job=job, kind="stage_changed").count() == 1


def test_skipping_the_booked_stage_still_books(studio_a, alice, pipeline):
    job = job_create(studio=studio_a, by=alice, name="Skipper")
    job = job_stage_change(job=job, stage=stage_named(pipeline, "Editing"), by=alice)
    assert job.booked_at is not None and job.completed_at is None
    job = job_stage_change(job=job, stage=stage_named(pipeline, "Archived"), by=alice)
    assert job.completed_at is None


def test_archiving_an_inquiry_is_not_a_booking(studio_a, alice, pipeline):
    job = job_create(studio=studio_a, by=alice, name="Ghost")
    job = job_stage_change(job=job, stage=stage_named(pipeline, "Archived"), by=alice)
    assert job.booked_at is None


def test_lost_needs_a_reason(studio_a, alice, pipeline):
    job = job_create(studio=studio_a, by=alice, name="Maybe")
    with pytest.raises(ApplicationError) as err:
        job_stage_change(job=job, stage=stage_named(pipeline, "Lost"), by=alice)
    assert err.value.code == "reason_required"
    job = job_stage_change(job=job, stage=stage_named(pipeline, "Lost"), by=alice, reason="Budget")
    assert job.lost_reason == "Budget" and job.booked_at is None


def test_first_contact_is_the_billing_one(studio_a, alice, pipeline):
    a, b = ContactFactory(studio=studio_a), ContactFactory(studio=studio_a)
    job = job_create(
        studio=studio_a,
        by=alice,
        name="Two",
        contacts=[(a, "client", False), (b, "partner", False)],
    )
    assert list(
        JobContact.objects.filter(job=job, is_billing=True).values_list("contact", flat=True)
    ) == [a.id]


def test_two_billing_contacts_are_refused(studio_a, alice, pipeline):
    a, b = ContactFactory(studio=studio_a), ContactFactory(studio=studio_a)
    with pytest.raises(ApplicationError) as err:
        job_create(
            studio=studio_a,
            by=alice,
            name="Two",
            contacts=[(a, "client", True), (b, "partner", True)],
        )
    assert err.value.code == "billing_contact_count"
    assert not Job.objects.exists()
