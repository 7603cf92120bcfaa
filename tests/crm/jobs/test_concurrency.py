"""Stage changes, billing contacts and the default pipeline racing, on MariaDB's row locks.

Every writer locks in one order (stage, then job; pipeline, then stages, then jobs), so moves
of one job queue on its row, moves into one stage queue on the stage (positions stay
distinct), and a stage removal cannot deadlock with a move.
"""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.models import Studio
from crm.models import Job, JobContact, Pipeline, Stage, StageChange
from crm.selectors.jobs import board
from crm.services.jobs import job_contact_add, job_create, job_stage_change, stage_remove
from crm.services.pipelines import pipeline_default_ensure
from picpick.testing.factories import ContactFactory, StudioFactory
from tests.races import race

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="SQLite serialises all writers; the race needs MariaDB's row locks",
    ),
]


def _stages(pipeline):
    return {s.name: s for s in Stage.objects.filter(pipeline=pipeline)}


def test_the_default_pipeline_is_made_once_by_racing_callers():
    studio = StudioFactory()
    results = race(6, lambda i: pipeline_default_ensure(studio=Studio.objects.get(id=studio.id)).id)
    assert not any(isinstance(r, Exception) for r in results), results
    assert len(set(results)) == 1
    assert Pipeline.objects.filter(studio=studio).count() == 1
    assert Stage.objects.filter(pipeline_id=results[0]).count() == 9


def test_racing_moves_of_one_job_leave_an_exact_history():
    studio = StudioFactory()
    pipeline = pipeline_default_ensure(studio=studio)
    stages = _stages(pipeline)
    job = job_create(studio=studio, by=None, name="Contested")
    targets = ["Proposal sent", "Booked", "Shot", "Editing", "Delivered", "Completed"]

    def work(index: int):
        for round_ in range(3):
            target = stages[targets[(index + round_) % len(targets)]]
            job_stage_change(job=Job.objects.get(id=job.id), stage=target, by=None)

    results = race(6, work)
    assert not any(isinstance(r, Exception) for r in results), results
    changes = list(
        StageChange.objects.filter(job=job, from_stage__isnull=False).order_by("created_at", "id")
    )
    # Each change leaves the stage the previous one entered; the job sits where the last went.
    previous = stages["Inquiry"].id
    for change in changes:
        assert change.from_stage_id == previous
        assert change.from_stage_id != change.to_stage_id
        previous = change.to_stage_id
    job.refresh_from_db()
    assert job.stage_id == previous and job.booked_at is not None


def test_racing_moves_of_many_jobs_into_one_stage_get_distinct_positions():
    studio = StudioFactory()
    pipeline = pipeline_default_ensure(studio=studio)
    booked = _stages(pipeline)["Booked"]
    jobs = [job_create(studio=studio, by=None, name=f"J{i}") for i in range(8)]

    results = race(
        8, lambda i: job_stage_change(job=Job.objects.get(id=jobs[i].id), stage=booked, by=None)
    )
    assert not any(isinstance(r, Exception) for r in results), results
    positions = list(Job.objects.filter(stage=booked).values_list("position", flat=True))
    assert sorted(positions) == list(range(8))
    assert StageChange.objects.filter(to_stage=booked).count() == 8
    columns = {c.stage.id: c for c in board(studio=studio, pipeline=pipeline, per_stage=20)}
    assert columns[booked.id].count == 8 and len(columns[booked.id].page.items) == 8
    assert sum(c.count for c in columns.values()) == 8


def test_racing_billing_contacts_leave_exactly_one():
    studio = StudioFactory()
    pipeline_default_ensure(studio=studio)
    job = job_create(studio=studio, by=None, name="Billing")
    contacts = [ContactFactory(studio=studio) for _ in range(6)]

    def work(index: int):
        return job_contact_add(
            job=Job.objects.select_related("studio").get(id=job.id),
            contact=contacts[index],
            role="client",
            is_billing=index % 2 == 0,
        )

    results = race(6, work)
    assert not any(isinstance(r, Exception) for r in results), results
    assert JobContact.objects.filter(job=job).count() == 6
    assert JobContact.objects.filter(job=job, is_billing=True).count() == 1


def test_a_stage_removal_racing_moves_into_it_loses_no_job():
    studio = StudioFactory()
    pipeline = pipeline_default_ensure(studio=studio)
    stages = _stages(pipeline)
    jobs = [job_create(studio=studio, by=None, name=f"J{i}") for i in range(6)]

    def work(index: int):
        if index == 0:
            stage = Stage.objects.select_related("pipeline__studio").get(id=stages["Shot"].id)
            return stage_remove(stage=stage, by=None, move_jobs_to=stages["Editing"])
        return job_stage_change(
            job=Job.objects.get(id=jobs[index].id), stage=stages["Shot"], by=None
        )

    results = race(6, work)
    # A move that came after the removal finds the stage gone (409); none is lost or half-made.
    for result in results[1:]:
        assert (
            not isinstance(result, Exception) or getattr(result, "code", "") == "stage_removed"
        ), result
    assert not Stage.objects.filter(id=stages["Shot"].id).exists()
    assert Job.objects.filter(studio=studio).count() == 6
    assert not Job.objects.filter(studio=studio, stage_id=stages["Shot"].id).exists()
