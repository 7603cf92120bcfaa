"""The studio's CRM: contacts, jobs through the studio's pipelines, inquiry forms, tasks, email
templates and messages, workflows, and one timeline.

Every row belongs to one studio (``StudioOwnedModel``) and is read through a studio-scoped
selector. Amounts are integer minor units with an ISO 4217 currency. Rules that MariaDB cannot
hold in a partial index (one primary email per contact, one billing contact per job) are kept
by the services under the owning row's lock.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

# The append-only base lives in core (the ledger's tables use it too); its names stay
# importable from here. Timeline and stage-change rows keep a plain manager: a contact merge
# re-points them with a queryset update (whose history it is changes, not the history).
from picpick.core.models import AppendOnlyError as AppendOnlyError
from picpick.core.models import AppendOnlyModel, StudioOwnedModel


# --- Contacts ---------------------------------------------------------------------------------
class CustomFieldDefinition(StudioOwnedModel):
    """A field the studio adds to its contacts or jobs; values live in their ``custom_fields``
    JSON, checked against these definitions by the services."""

    class AppliesTo(models.TextChoices):
        CONTACT = "contact", "Contact"
        JOB = "job", "Job"

    class Kind(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        DATE = "date", "Date"
        CHOICE = "choice", "Choice"

    applies_to = models.CharField(max_length=10, choices=AppliesTo.choices)
    key = models.SlugField(max_length=50)
    label = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    choices = models.JSONField(default=list, blank=True)  # for CHOICE: the allowed strings
    required = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["studio", "applies_to", "key"], name="crm_custom_field_unique_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.applies_to}.{self.key}"


class Tag(StudioOwnedModel):
    name = models.CharField(max_length=50)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["studio", "name"], name="crm_tag_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Contact(StudioOwnedModel):
    class Source(models.TextChoices):
        INQUIRY = "inquiry", "Inquiry form"
        GALLERY = "gallery", "Gallery visitor"
        IMPORT = "import", "Import"
        MANUAL = "manual", "Manual"
        REFERRAL = "referral", "Referral"
        OTHER = "other", "Other"

    first_name = models.CharField(max_length=120, blank=True)
    last_name = models.CharField(max_length=120, blank=True)
    company = models.CharField(max_length=200, blank=True)
    # The primary email, lower-case (a copy of the primary ContactEmail row, for lists and search).
    email = models.CharField(max_length=254, blank=True)
    # The primary phone in E.164 (a copy of the primary ContactPhone row).
    phone = models.CharField(max_length=20, blank=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True)  # ISO 3166-1 alpha-2
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    notes = models.TextField(blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    tags = models.ManyToManyField(Tag, through="ContactTag", related_name="contacts")
    marketing_consent = models.BooleanField(default=False)
    marketing_consent_at = models.DateTimeField(null=True, blank=True)
    # How consent was given or withdrawn: "inquiry form", "gallery opt-in", "import", ...
    marketing_consent_source = models.CharField(max_length=100, blank=True)
    # A merged contact stays as a tombstone pointing at the one it was merged into.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_from"
    )
    merged_at = models.DateTimeField(null=True, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)  # anonymised on request (GDPR 17)

    class Meta:
        indexes = [
            # Lists and name searches read live contacts (``merged_into IS NULL``, an equality
            # to the index) in name order: each a range that stops after a page.
            models.Index(
                fields=["studio", "merged_into", "last_name", "first_name"],
                name="crm_contact_live_last",
            ),
            models.Index(
                fields=["studio", "merged_into", "first_name", "last_name"],
                name="crm_contact_live_first",
            ),
            models.Index(fields=["studio", "email"], name="crm_contact_email"),
            models.Index(fields=["studio", "phone"], name="crm_contact_phone"),
            models.Index(fields=["studio", "company"], name="crm_contact_company"),
            models.Index(fields=["studio", "created_at"], name="crm_contact_created"),
        ]

    def __str__(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part) or self.email


class ContactEmail(StudioOwnedModel):
    """Every email of a contact, lower-case; unique per studio (a second contact with the same
    email is a 409 naming the first)."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="emails")
    email = models.CharField(max_length=254)
    is_primary = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["studio", "email"], name="crm_contact_email_unique")
        ]

    def __str__(self) -> str:
        return self.email


class ContactPhone(StudioOwnedModel):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="phones")
    number = models.CharField(max_length=20)  # E.164
    # The number's digits reversed: "ends with 5550100" becomes a prefix match an index answers.
    digits_reversed = models.CharField(max_length=20, blank=True, default="")
    label = models.CharField(max_length=30, blank=True)  # mobile, home, work, ...
    is_primary = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["studio", "number"], name="crm_phone_number"),
            models.Index(fields=["studio", "digits_reversed"], name="crm_phone_suffix"),
        ]

    def __str__(self) -> str:
        return self.number


class ContactTag(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "tag"], name="crm_contact_tag_unique")
        ]
        indexes = [models.Index(fields=["tag", "contact"], name="crm_tag_contacts")]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.tag_id}"


class ImportJob(StudioOwnedModel):
    """A CSV import of contacts, run by a worker: counts for a progress bar, errors per row."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    filename = models.CharField(max_length=255)
    file_key = models.CharField(max_length=500)  # the uploaded CSV in object storage
    file_sha256 = models.CharField(max_length=64)  # a re-run of the same file adds nothing twice
    layout = models.CharField(max_length=30, default="auto")  # auto, honeybook, dubsado, mapping
    mapping = models.JSONField(default=dict, blank=True)  # column -> field, for layout=mapping
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # [{"row": n, "code": ..., "message"}]
    failure_code = models.CharField(max_length=50, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)


# --- Pipelines and jobs -----------------------------------------------------------------------
class Pipeline(StudioOwnedModel):
    name = models.CharField(max_length=100)
    is_default = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.name


class Stage(StudioOwnedModel):
    class Kind(models.TextChoices):
        OPEN = "open", "Open"  # a lead or a job in progress
        BOOKED = "booked", "Booked"  # reaching it counts as a booking (conversion reports)
        COMPLETED = "completed", "Completed"
        LOST = "lost", "Lost"  # leaving needs a reason
        ARCHIVED = "archived", "Archived"

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.OPEN)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["pipeline", "position"], name="crm_stage_order")]

    def __str__(self) -> str:
        return self.name


class Job(StudioOwnedModel):
    """A project: "Smith wedding", "Lee family session"."""

    name = models.CharField(max_length=200)
    job_type = models.CharField(max_length=50, blank=True)  # wedding, portrait, family, ...
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="jobs")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="jobs")
    stage_entered_at = models.DateTimeField()
    position = models.PositiveIntegerField(default=0)  # order within its stage on a board
    event_start = models.DateTimeField(null=True, blank=True)
    event_end = models.DateTimeField(null=True, blank=True)
    # The event's own time zone when it is not the studio's ("" = the studio's).
    event_timezone = models.CharField(max_length=64, blank=True)
    location = models.CharField(max_length=300, blank=True)
    estimated_value = models.BigIntegerField(default=0)  # minor units of ``currency``
    currency = models.CharField(max_length=3)
    lead_source = models.CharField(max_length=100, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    booked_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    lost_reason = models.CharField(max_length=300, blank=True)
    notes = models.TextField(blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    contacts = models.ManyToManyField(Contact, through="JobContact", related_name="jobs")

    class Meta:
        indexes = [
            models.Index(fields=["studio", "stage", "position"], name="crm_job_board"),
            # The board's counts and value totals per stage and currency, read from the index
            # alone (no row lookups at 10,000 jobs).
            models.Index(
                fields=["pipeline", "stage", "currency", "estimated_value"],
                name="crm_job_board_totals",
            ),
            models.Index(fields=["studio", "event_start"], name="crm_job_event"),
            models.Index(fields=["studio", "-created_at"], name="crm_job_recent"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(estimated_value__gte=0), name="crm_job_value_not_negative"
            )
        ]

    def __str__(self) -> str:
        return self.name


class JobContact(StudioOwnedModel):
    class Role(models.TextChoices):
        CLIENT = "client", "Client"
        PARTNER = "partner", "Partner"
        PLANNER = "planner", "Planner"
        PARENT = "parent", "Parent"
        GUEST = "guest", "Guest"
        OTHER = "other", "Other"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="job_contacts")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="job_links")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.CLIENT)
    is_billing = models.BooleanField(default=False)  # one per job (services, under the job lock)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "contact"], name="crm_job_contact_unique")
        ]
        indexes = [models.Index(fields=["contact", "job"], name="crm_contact_jobs")]


class JobGallery(StudioOwnedModel):
    """A gallery delivered for a job (a gallery belongs to at most one job)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="job_galleries")
    gallery = models.OneToOneField(
        "galleries.Gallery", on_delete=models.CASCADE, related_name="crm_job_link"
    )


class StageChange(AppendOnlyModel):
    """Every move of a job between stages, for conversion and time-in-stage reports."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    seconds_in_from = models.BigIntegerField(null=True, blank=True)  # time spent in from_stage
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["studio", "to_stage", "created_at"], name="crm_stage_change_to"),
            models.Index(fields=["job", "created_at"], name="crm_stage_change_job"),
        ]


# --- Inquiries ----------------------------------------------------------------------------------
class InquiryForm(StudioOwnedModel):
    """A contact form on the studio's site (and embeddable elsewhere)."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60)
    active = models.BooleanField(default=True)
    title = models.CharField(max_length=200, blank=True)
    intro = models.TextField(blank=True)
    # [{"key", "label", "kind": text|textarea|email|phone|date|number|choice|event_type|budget,
    #   "required", "choices"}]: the studio's questions beyond name and email.
    fields = models.JSONField(default=list, blank=True)
    job_type = models.CharField(max_length=50, blank=True)
    pipeline = models.ForeignKey(
        Pipeline, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    auto_reply_template = models.ForeignKey(
        "EmailTemplate", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    notify_emails = models.JSONField(default=list, blank=True)  # [] = the studio's owners
    # Sites allowed to embed the form (origins, e.g. "https://annasmith.com").
    embed_origins = models.JSONField(default=list, blank=True)
    success_message = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["studio", "slug"], name="crm_inquiry_form_slug")
        ]

    def __str__(self) -> str:
        return self.name


class Inquiry(StudioOwnedModel):
    form = models.ForeignKey(
        InquiryForm, null=True, blank=True, on_delete=models.SET_NULL, related_name="inquiries"
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="inquiries")
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="inquiries"
    )
    answers = models.JSONField(default=dict)
    origin = models.CharField(max_length=300, blank=True)  # the page or site it came from
    client_hash = models.CharField(max_length=64, blank=True)  # keyed hash of the address


# --- Email --------------------------------------------------------------------------------------
class EmailTemplate(StudioOwnedModel):
    name = models.CharField(max_length=100)
    subject = models.CharField(max_length=300)
    body = models.TextField()  # plain text with {{ placeholders }}, rendered sandboxed
    # An optional HTML part (its values HTML-escaped); without it the email is plain text only.
    html_body = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.name


class EmailMessage(StudioOwnedModel):
    """An email sent from the CRM, with its delivery state (kept on the timeline)."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="emails"
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="emails_sent"
    )
    template = models.ForeignKey(
        EmailTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    html_body = models.TextField(blank=True)
    # Set by a workflow step (its step run and the recipient): a re-run of the step finds the
    # message it made instead of queueing a second one.
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failure_code = models.CharField(max_length=50, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "claimed_at"], name="crm_email_due")]


# --- Tasks and workflows ------------------------------------------------------------------------
class Task(StudioOwnedModel):
    class Anchor(models.TextChoices):
        NONE = "", "A fixed date"
        EVENT = "event", "The event date"
        BOOKING = "booking", "The booking date"

    title = models.CharField(max_length=200)
    notes = models.TextField(blank=True)
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    # Due: a fixed time, or ``due_offset_days`` from the job's event or booking date (kept up to
    # date in ``due_at`` when that date changes).
    due_at = models.DateTimeField(null=True, blank=True)
    due_anchor = models.CharField(max_length=10, choices=Anchor.choices, blank=True, default="")
    due_offset_days = models.IntegerField(default=0)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The workflow step that made it (one task per step run: a re-run finds it).
    workflow_step_run = models.OneToOneField(
        "WorkflowStepRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="task"
    )

    class Meta:
        indexes = [
            models.Index(fields=["studio", "assignee", "done_at", "due_at"], name="crm_task_mine"),
            models.Index(fields=["studio", "done_at", "due_at"], name="crm_task_due"),
        ]

    def __str__(self) -> str:
        return self.title


class Workflow(StudioOwnedModel):
    """Steps a studio runs on its jobs of one type (all types when ``job_type`` is empty)."""

    name = models.CharField(max_length=100)
    job_type = models.CharField(max_length=50, blank=True)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class WorkflowStep(StudioOwnedModel):
    class Trigger(models.TextChoices):
        STAGE_ENTERED = "stage_entered", "When the job enters a stage"
        EVENT_OFFSET = "event_offset", "Days from the event date"
        BOOKING_OFFSET = "booking_offset", "Days from the booking date"

    class Action(models.TextChoices):
        SEND_EMAIL = "send_email", "Send an email template"
        CREATE_TASK = "create_task", "Create a task"
        MOVE_STAGE = "move_stage", "Move to a stage"

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    trigger_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    offset_days = models.IntegerField(default=0)  # negative: before the date
    action = models.CharField(max_length=20, choices=Action.choices)
    template = models.ForeignKey(
        EmailTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    task_title = models.CharField(max_length=200, blank=True)
    task_due_days = models.IntegerField(default=0)  # the task's due date, days after it is made
    target_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["workflow", "position"], name="crm_step_order")]


class WorkflowRun(StudioOwnedModel):
    """A workflow applied to one job; pausing it stops its future steps."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="runs")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="workflow_runs")
    paused_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workflow", "job"], name="crm_workflow_run_unique")
        ]


class WorkflowStepRun(StudioOwnedModel):
    """One step of a run, due at a time: claimed atomically by the beat sweep, run once."""

    class State(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="step_runs")
    step = models.ForeignKey(WorkflowStep, on_delete=models.CASCADE, related_name="+")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+")
    due_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.SCHEDULED)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["step", "job"], name="crm_step_run_once_per_job")
        ]
        indexes = [models.Index(fields=["state", "due_at"], name="crm_step_run_due")]


# --- The timeline -------------------------------------------------------------------------------
class TimelineEvent(AppendOnlyModel):
    """What happened, per job and per contact, newest first: one append-only table with a kind
    and a payload checked per kind (``crm.timeline``)."""

    kind = models.CharField(max_length=40)
    occurred_at = models.DateTimeField()
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.CASCADE, related_name="timeline"
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="timeline"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    payload = models.JSONField(default=dict)

    class Meta:
        indexes = [
            models.Index(fields=["job", "-occurred_at", "-id"], name="crm_timeline_job"),
            models.Index(fields=["contact", "-occurred_at", "-id"], name="crm_timeline_contact"),
        ]
