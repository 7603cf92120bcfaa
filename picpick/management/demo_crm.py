"""The demo studio's CRM (``manage.py load_demo``): a few clients, jobs across the pipeline, an
email template, a workflow, an inquiry form, a task and a note, made through the CRM's own
services. Idempotent: nothing is made when the demo's wedding job exists already."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from accounts.models import Studio, User
from crm.models import Contact, Job, WorkflowStep
from crm.services.contacts import contact_create
from crm.services.emails import email_template_create
from crm.services.inquiries import inquiry_form_create
from crm.services.jobs import job_create, job_gallery_link, job_stage_change
from crm.services.notes import note_add
from crm.services.pipelines import pipeline_default_ensure
from crm.services.tasks import task_create
from crm.services.workflows import workflow_create, workflow_step_create
from galleries.models import Gallery

WEDDING_JOB = "Smith & Jones Wedding"
INQUIRY_FORM_SLUG = "wedding"


@dataclass(frozen=True)
class DemoClient:
    first_name: str
    last_name: str
    email: str
    phone: str = ""
    source: str = Contact.Source.MANUAL


CLIENTS = [
    DemoClient("Emma", "Smith", "emma.smith@example.com", "+44 20 7946 0018", "referral"),
    DemoClient("Liam", "Jones", "liam.jones@example.com"),
    DemoClient("Olivia", "Lee", "olivia.lee@example.com", "+44 20 7946 0321", "inquiry"),
    DemoClient("Noah", "Brown", "noah.brown@example.com", "", "inquiry"),
    DemoClient("Ava", "Patel", "ava.patel@example.com", "+44 20 7946 0452"),
    DemoClient("Sophia", "Garcia", "sophia.garcia@example.com", "", "inquiry"),
]

# (job, job type, stage, client emails (the first pays), event date, estimated value in pence)
JOBS = [
    (WEDDING_JOB, "wedding", "Delivered", ["emma.smith@example.com", "liam.jones@example.com"],
     dt.date(2025, 6, 14), 350_000),
    ("Lee family session", "family", "Proposal sent", ["olivia.lee@example.com"],
     dt.date(2027, 4, 10), 45_000),
    ("Brown engagement shoot", "portrait", "Inquiry", ["noah.brown@example.com"],
     dt.date(2027, 5, 2), 60_000),
    ("Patel headshots", "commercial", "Booked", ["ava.patel@example.com"],
     dt.date(2027, 2, 20), 120_000),
    ("Garcia wedding", "wedding", "Lost", ["sophia.garcia@example.com"],
     dt.date(2027, 9, 18), 280_000),
]  # fmt: skip


@transaction.atomic
def ensure_crm(*, studio: Studio, owner: User, gallery: Gallery) -> str:
    """Make the demo CRM once; a summary line either way."""
    if Job.objects.filter(studio=studio, name=WEDDING_JOB).exists():
        return "CRM demo present."
    pipeline = pipeline_default_ensure(studio=studio)
    stages = {stage.name: stage for stage in pipeline.stages.all()}
    contacts = {}
    for client in CLIENTS:
        contacts[client.email] = contact_create(
            studio=studio,
            by=owner,
            emails=[client.email],
            phones=[{"number": client.phone, "label": "mobile"}] if client.phone else [],
            first_name=client.first_name,
            last_name=client.last_name,
            source=client.source,
        )
    jobs = {}
    for name, job_type, stage_name, emails, date, value in JOBS:
        start = dt.datetime.combine(date, dt.time(14), tzinfo=dt.UTC)
        job = job_create(
            studio=studio,
            by=owner,
            name=name,
            pipeline=pipeline,
            job_type=job_type,
            event_start=start,
            event_end=start + dt.timedelta(hours=8),
            location="London",
            estimated_value=value,
            currency="GBP",
            lead_source="Referral" if job_type == "wedding" else "Website",
            owner=owner,
            contacts=[
                (contacts[email], "client" if index == 0 else "partner", index == 0)
                for index, email in enumerate(emails)
            ],
        )
        # Walk the pipeline as the studio would have, so the history and reports have data.
        for stage in sorted(stages.values(), key=lambda s: s.position):
            if stage.name == stage_name or stage.kind in ("lost", "archived", "completed"):
                continue
            if stage.position >= stages[stage_name].position or stage.position == 0:
                continue
            job = job_stage_change(job=job, stage=stage, by=owner)
        if job.stage_id != stages[stage_name].id:
            reason = "Chose a photographer nearer the venue." if stage_name == "Lost" else ""
            job = job_stage_change(job=job, stage=stages[stage_name], by=owner, reason=reason)
        jobs[name] = job
    job_gallery_link(job=jobs[WEDDING_JOB], gallery=gallery, by=owner)
    questionnaire = email_template_create(
        studio=studio,
        by=owner,
        name="Timeline questionnaire",
        subject="Your day, {{ client.first_name }}: a few questions",
        body=(
            "Hi {{ client.first_name }},\n\nYour {{ job.type }} is on {{ job.event_date }}. "
            "Could you tell us the timings of the day and who is in the family photos?\n\n"
            "{{ studio.name }}\n"
        ),
    )
    auto_reply = email_template_create(
        studio=studio,
        by=owner,
        name="Inquiry auto-reply",
        subject="Thank you, {{ client.first_name }}",
        body=(
            "Hi {{ client.first_name }},\n\nThank you for your message: we will answer within "
            "two working days.\n\n{{ studio.name }}\n"
        ),
    )
    workflow = workflow_create(studio=studio, by=owner, name="Weddings", job_type="wedding")
    workflow_step_create(
        workflow=workflow,
        by=owner,
        trigger=WorkflowStep.Trigger.STAGE_ENTERED,
        trigger_stage=stages["Booked"],
        action=WorkflowStep.Action.CREATE_TASK,
        task_title="Send the contract and the deposit invoice",
        task_due_days=2,
    )
    workflow_step_create(
        workflow=workflow,
        by=owner,
        trigger=WorkflowStep.Trigger.EVENT_OFFSET,
        offset_days=-7,
        action=WorkflowStep.Action.SEND_EMAIL,
        template=questionnaire,
    )
    inquiry_form_create(
        studio=studio,
        by=owner,
        name="Wedding inquiry",
        slug=INQUIRY_FORM_SLUG,
        title="Tell us about your day",
        fields=[
            {"key": "event_type", "choices": ["Wedding", "Engagement", "Family", "Portrait"]},
            {"key": "event_date", "required": True},
            {"key": "budget"},
            {"key": "phone"},
            {"key": "message", "required": True},
            {"key": "marketing_consent"},
        ],
        job_type="wedding",
        auto_reply_template_id=auto_reply.id,
    )
    task_create(
        studio=studio,
        by=owner,
        title="Call Olivia about the session location",
        job=jobs["Lee family session"],
        due_at=dt.datetime(2027, 3, 1, 10, tzinfo=dt.UTC),
        assignee=owner,
    )
    note_add(
        by=owner,
        job=jobs[WEDDING_JOB],
        text="Emma asked for the first-dance photos in black and white too.",
    )
    return f"CRM demo: {len(contacts)} contacts, {len(jobs)} jobs, a workflow and a form."
