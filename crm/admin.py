"""Staff views of the CRM: search, filters, the timeline inline; history rows read-only."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from crm.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    CustomFieldDefinition,
    EmailMessage,
    EmailTemplate,
    ImportJob,
    Inquiry,
    InquiryForm,
    Job,
    JobContact,
    Pipeline,
    Stage,
    StageChange,
    Task,
    TimelineEvent,
    Workflow,
    WorkflowRun,
    WorkflowStep,
    WorkflowStepRun,
)
from picpick.core.admin import StaffCanViewMixin

AUDIT = ("id", "studio", "created_at", "updated_at")


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class TimelineInline(ReadOnlyInline):
    model = TimelineEvent
    fields = ("occurred_at", "kind", "actor", "payload")
    readonly_fields = fields
    ordering = ("-occurred_at",)
    max_num = 0


class ContactEmailInline(admin.TabularInline):
    model = ContactEmail
    extra = 0
    fields = ("email", "is_primary")
    readonly_fields = fields


class ContactPhoneInline(admin.TabularInline):
    model = ContactPhone
    extra = 0
    fields = ("number", "label", "is_primary")
    readonly_fields = fields


class JobContactInline(ReadOnlyInline):
    model = JobContact
    fields = ("contact", "role", "is_billing")
    readonly_fields = fields


class StageChangeInline(ReadOnlyInline):
    model = StageChange
    fk_name = "job"
    fields = ("created_at", "from_stage", "to_stage", "by", "seconds_in_from", "reason")
    readonly_fields = fields


@admin.register(Contact)
class ContactAdmin(StaffCanViewMixin, admin.ModelAdmin):
    list_display = ("__str__", "email", "phone", "company", "source", "studio", "created_at")
    list_filter = ("source", "marketing_consent")
    list_select_related = ("studio",)
    search_fields = ("=email", "last_name", "first_name", "company", "=phone", "=studio__slug")
    raw_id_fields = ("studio", "merged_into")
    readonly_fields = (*AUDIT, "merged_into", "merged_at", "erased_at", "marketing_consent_at")
    inlines = [ContactEmailInline, ContactPhoneInline, TimelineInline]
    show_full_result_count = False
    ordering = ("-id",)


@admin.register(Job)
class JobAdmin(StaffCanViewMixin, admin.ModelAdmin):
    list_display = ("name", "job_type", "stage", "event_start", "estimated_value", "currency")
    list_filter = ("job_type", "stage__kind")
    list_select_related = ("stage",)
    search_fields = ("name", "=studio__slug")
    raw_id_fields = ("studio", "pipeline", "stage", "owner")
    readonly_fields = (*AUDIT, "stage_entered_at", "booked_at", "completed_at")
    inlines = [JobContactInline, StageChangeInline, TimelineInline]
    show_full_result_count = False
    ordering = ("-id",)


class StageInline(admin.TabularInline):
    model = Stage
    extra = 0
    fields = ("name", "kind", "position")
    ordering = ("position",)


@admin.register(Pipeline)
class PipelineAdmin(StaffCanViewMixin, admin.ModelAdmin):
    list_display = ("name", "studio", "is_default")
    search_fields = ("name", "=studio__slug")
    raw_id_fields = ("studio",)
    readonly_fields = AUDIT
    inlines = [StageInline]


class WorkflowStepInline(admin.TabularInline):
    model = WorkflowStep
    extra = 0
    fields = ("position", "trigger", "trigger_stage", "offset_days", "action", "template")
    raw_id_fields = ("trigger_stage", "template", "target_stage")
    ordering = ("position",)


@admin.register(Workflow)
class WorkflowAdmin(StaffCanViewMixin, admin.ModelAdmin):
    list_display = ("name", "job_type", "active", "studio")
    list_filter = ("active",)
    search_fields = ("name", "=studio__slug")
    raw_id_fields = ("studio",)
    readonly_fields = AUDIT
    inlines = [WorkflowStepInline]


class ReadOnlyAdmin(StaffCanViewMixin, admin.ModelAdmin):
    """Rows the services write: staff look."""

    show_full_result_count = False
    ordering = ("-id",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(TimelineEvent)
class TimelineEventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "kind", "job", "contact", "studio")
    list_filter = ("kind",)
    raw_id_fields = ("studio", "job", "contact", "actor")


@admin.register(StageChange)
class StageChangeAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "job", "from_stage", "to_stage", "by")
    raw_id_fields = ("studio", "job", "from_stage", "to_stage", "by")


@admin.register(EmailMessage)
class EmailMessageAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "to", "subject", "state", "attempts")
    list_filter = ("state",)
    raw_id_fields = ("studio", "job", "contact", "template", "sent_by")


@admin.register(WorkflowStepRun)
class WorkflowStepRunAdmin(ReadOnlyAdmin):
    list_display = ("due_at", "job", "step", "state", "attempts", "outcome")
    list_filter = ("state",)
    raw_id_fields = ("studio", "run", "step", "job")


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "filename", "state", "rows_done", "rows_total", "error_count")
    list_filter = ("state",)
    raw_id_fields = ("studio", "created_by")


@admin.register(Inquiry)
class InquiryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "form", "contact", "job")
    raw_id_fields = ("studio", "form", "contact", "job")


for model in (CustomFieldDefinition, InquiryForm, EmailTemplate, Task, WorkflowRun):

    @admin.register(model)
    class _Admin(StaffCanViewMixin, admin.ModelAdmin):
        raw_id_fields = tuple(f.name for f in model._meta.fields if f.is_relation and f.many_to_one)
        readonly_fields = AUDIT
        show_full_result_count = False
