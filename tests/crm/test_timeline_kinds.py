"""Timeline payloads are checked per kind before they are written; the table is append-only."""

from __future__ import annotations

import pytest

from crm.models import AppendOnlyError
from crm.services.timeline import timeline_record
from crm.timeline import KINDS, PayloadError, payload_check
from picpick.testing.factories import ContactFactory, JobFactory, TimelineEventFactory


def test_every_kind_accepts_a_payload_of_its_fields():
    samples = {str: "x", int: 3, type(None): None}
    for kind, fields in KINDS.items():
        payload = {}
        for name, field in fields.items():
            types = field.type if isinstance(field.type, tuple) else (field.type,)
            payload[name] = samples[types[0]]
        assert payload_check(kind, payload) == payload


@pytest.mark.parametrize(
    ("kind", "payload", "problem"),
    [
        ("nope", {}, "unknown timeline kind"),
        ("note", {}, "text is required"),
        ("note", {"text": "x", "extra": 1}, "unknown fields"),
        ("note", {"text": 3}, "wrong type"),
        ("favourites_made", {"gallery_id": "g", "gallery_name": "G", "count": True}, "wrong type"),
        ("note", ["text"], "a payload is an object"),
    ],
)
def test_a_payload_that_does_not_match_its_kind_is_refused(kind, payload, problem):
    with pytest.raises(PayloadError, match=problem):
        payload_check(kind, payload)


@pytest.mark.django_db
def test_an_event_is_recorded_once_and_never_changed():
    job = JobFactory()
    event = timeline_record(studio=job.studio, kind="note", payload={"text": "Hi"}, job=job)
    event.payload = {"text": "changed"}
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        TimelineEventFactory().delete()


@pytest.mark.django_db
def test_an_event_of_another_studio_s_job_is_refused():
    job, contact = JobFactory(), ContactFactory()
    with pytest.raises(ValueError, match="one studio"):
        timeline_record(
            studio=job.studio, kind="note", payload={"text": "x"}, job=job, contact=contact
        )
