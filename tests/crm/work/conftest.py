"""Builders of the work tests: a studio pipeline with named stages, a job with a client."""

from __future__ import annotations

import datetime as dt

import pytest

from crm.models import Stage
from picpick.testing.factories import (
    ContactFactory,
    JobContactFactory,
    JobFactory,
    PipelineFactory,
    StageFactory,
)


@pytest.fixture
def stages_a(studio_a):
    pipeline = PipelineFactory(studio=studio_a, name="Default", is_default=True)
    kinds = [
        ("Inquiry", Stage.Kind.OPEN),
        ("Booked", Stage.Kind.BOOKED),
        ("Editing", Stage.Kind.OPEN),
        ("Completed", Stage.Kind.COMPLETED),
        ("Lost", Stage.Kind.LOST),
        ("Archived", Stage.Kind.ARCHIVED),
    ]
    return {
        name: StageFactory(pipeline=pipeline, name=name, kind=kind, position=i)
        for i, (name, kind) in enumerate(kinds)
    }


@pytest.fixture
def job_a(stages_a):
    job = JobFactory(
        stage=stages_a["Inquiry"],
        name="Lee wedding",
        job_type="wedding",
        event_start=dt.datetime(2030, 6, 15, 14, 0, tzinfo=dt.UTC),
    )
    client = ContactFactory(
        studio=job.studio, first_name="Ana", last_name="Lee", email="ana@example.com"
    )
    JobContactFactory(job=job, contact=client, role="client", is_billing=True)
    return job
