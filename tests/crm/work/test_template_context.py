"""What a template's placeholders read for a job and its client."""

import datetime as dt

import pytest

from crm.services.emails import template_context
from crm.templating import VARIABLES, render
from picpick.testing.factories import (
    ContactFactory,
    JobContactFactory,
    JobFactory,
    JobGalleryFactory,
    StageFactory,
)

pytestmark = pytest.mark.django_db


def _flat(context: dict) -> set[str]:
    return {f"{group}.{name}" for group, values in context.items() for name in values}


def test_context_offers_the_job_its_client_studio_and_gallery(studio_a):
    studio_a.timezone = "Europe/Paris"
    studio_a.save(update_fields=["timezone"])
    job = JobFactory(
        stage=StageFactory(pipeline__studio=studio_a),
        name="Lee wedding",
        job_type="wedding",
        location="Barn",
        event_start=dt.datetime(2027, 6, 5, 22, 30, tzinfo=dt.UTC),
    )
    planner = ContactFactory(studio=studio_a, first_name="Pat")
    JobContactFactory(job=job, contact=planner, role="planner")
    ana = ContactFactory(studio=studio_a, first_name="Ana", last_name="Lee", email="ana@x.io")
    JobContactFactory(job=job, contact=ana, role="client")
    link = JobGalleryFactory(job=job)

    context = template_context(job=job, studio=studio_a)

    assert _flat(context) <= VARIABLES
    assert context["client"]["full_name"] == "Ana Lee"
    # 22:30 UTC is the next day in Paris: the job's dates are read in its time zone.
    assert context["job"]["event_date"] == dt.date(2027, 6, 6)
    assert context["job"]["event_time"] == "00:30"
    assert context["gallery"]["url"].endswith(f"/g/{link.gallery.slug}/")
    assert context["studio"]["name"] == "Anna Smith Photography"
    text = "{{ client.first_name }}: {{ job.event_date }} {{ job.event_time }} {{ gallery.name }}"
    assert render(text, context) == f"Ana: 6 June 2027 00:30 {link.gallery.name}"


def test_the_events_own_time_zone_wins(studio_a):
    job = JobFactory(
        stage=StageFactory(pipeline__studio=studio_a),
        event_start=dt.datetime(2027, 6, 5, 22, 30, tzinfo=dt.UTC),
        event_timezone="America/New_York",
    )
    context = template_context(job=job, studio=studio_a)
    assert context["job"]["event_time"] == "18:30"
    assert "client" not in context and "gallery" not in context


def test_billing_contact_is_the_client_and_a_given_contact_wins(studio_a):
    job = JobFactory(stage=StageFactory(pipeline__studio=studio_a))
    JobContactFactory(job=job, contact__first_name="Cal", role="client")
    payer = JobContactFactory(job=job, contact__first_name="Pia", role="parent", is_billing=True)
    assert template_context(job=job, studio=studio_a)["client"]["first_name"] == "Pia"
    other = ContactFactory(studio=studio_a, first_name="Zed")
    assert (
        template_context(job=job, contact=other, studio=studio_a)["client"]["first_name"] == "Zed"
    )
    assert payer.contact.first_name == "Pia"
