"""Tasks, email templates and sending, workflows and their runs on jobs."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from crm.models import EmailMessage, Task, WorkflowStep, WorkflowStepRun
from crm.selectors import work as selectors
from crm.selectors.jobs import job_get_plain
from crm.services import emails as email_services
from crm.services import tasks as task_services
from crm.services import workflows as workflow_services
from crm.services.emails import template_context
from crm.templating import render
from picpick.core.apis import StudioAPIView
from picpick.core.errors import ApplicationError
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body
from picpick.core.serializers import InputSerializer

TAGS = ["crm"]
MAX_RECIPIENTS = 50
_TEMPLATE_400 = "`invalid_template` (the field and the placeholder named), `validation_error`"


def _page_example(item: dict) -> OpenApiExample:
    return OpenApiExample(
        "A page", value={"results": [item], "next": None, "previous": None}, response_only=True
    )


# --- Tasks --------------------------------------------------------------------------------------
class _Ref(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class TaskOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    notes = serializers.CharField()
    job_id = serializers.UUIDField(allow_null=True)
    contact_id = serializers.UUIDField(allow_null=True)
    due_at = serializers.DateTimeField(allow_null=True)
    due_anchor = serializers.CharField(help_text='"" (a fixed date), "event" or "booking".')
    due_offset_days = serializers.IntegerField()
    assignee_id = serializers.UUIDField(allow_null=True)
    done = serializers.SerializerMethodField()
    done_at = serializers.DateTimeField(allow_null=True)
    done_by_id = serializers.UUIDField(allow_null=True)
    workflow_step_run_id = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_done(self, task: Task) -> bool:
        return task.done_at is not None


class TaskPageSerializer(serializers.Serializer):
    results = TaskOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


_TASK_EXAMPLE = {
    "id": "0190a2c4-7b1e-7c3a-9d2e-1f2a3b4c5d6e",
    "title": "Send the timeline questionnaire",
    "notes": "",
    "job_id": "0190a2c4-0000-7c3a-9d2e-1f2a3b4c5d6e",
    "contact_id": None,
    "due_at": "2026-06-06T21:59:00Z",
    "due_anchor": "event",
    "due_offset_days": -7,
    "assignee_id": "0190a2c4-1111-7c3a-9d2e-1f2a3b4c5d6e",
    "done": False,
    "done_at": None,
    "done_by_id": None,
    "workflow_step_run_id": None,
    "created_at": "2026-03-01T10:00:00Z",
}


class _TaskFields(InputSerializer):
    title = serializers.CharField(max_length=200)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    due_at = serializers.DateTimeField(required=False, allow_null=True)
    due_anchor = serializers.ChoiceField(
        choices=["", "event", "booking"], required=False, allow_blank=True
    )
    due_offset_days = serializers.IntegerField(
        required=False,
        min_value=-task_services.MAX_OFFSET_DAYS,
        max_value=task_services.MAX_OFFSET_DAYS,
    )
    assignee_id = serializers.UUIDField(required=False, allow_null=True)


class TaskListApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW, "POST": Perm.CRM_EDIT}

    class TaskListParamsSerializer(PageParams):
        job = serializers.UUIDField(required=False)
        contact = serializers.UUIDField(required=False)
        assignee = serializers.UUIDField(required=False)
        state = serializers.ChoiceField(choices=["open", "done", "all"], default="open")
        due_before = serializers.DateTimeField(required=False)
        due_after = serializers.DateTimeField(required=False)

    class TaskCreateInputSerializer(_TaskFields):
        job_id = serializers.UUIDField(required=False, allow_null=True)
        contact_id = serializers.UUIDField(required=False, allow_null=True)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_tasks_list",
        summary="List tasks (open by default), soonest due first",
        parameters=[TaskListParamsSerializer],
        responses={200: TaskPageSerializer, **error_responses(400, 401, 403)},
        examples=[_page_example(_TASK_EXAMPLE)],
    )
    def get(self, request):
        params = self.TaskListParamsSerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        data = params.validated_data
        filters = selectors.TaskFilters(
            job=data.get("job"),
            contact=data.get("contact"),
            assignee=data.get("assignee"),
            state=data["state"],
            due_before=data.get("due_before"),
            due_after=data.get("due_after"),
        )
        page = selectors.task_list(
            studio=self.studio,
            filters=filters,
            cursor=data.get("cursor"),
            page_size=data["page_size"],
        )
        return Response(page_body(page, TaskOutputSerializer(page.items, many=True).data))

    @extend_schema(
        tags=TAGS,
        operation_id="crm_tasks_create",
        summary="Create a task on a job and/or a contact",
        description=(
            "Due at a fixed time (`due_at`) or relative to the job's event or booking date "
            "(`due_anchor` + `due_offset_days`: that many days from the date, by the end of "
            "that day in the job's time zone; kept up to date when the date changes)."
        ),
        request=TaskCreateInputSerializer,
        responses={
            201: TaskOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                e400="`task_needs_owner`, `due_ambiguous`, `due_anchor_needs_job`, "
                "`job_not_found`, `contact_not_found`, `assignee_not_member`, `validation_error`",
            ),
        },
        examples=[
            OpenApiExample(
                "A week before the event",
                value={
                    "job_id": "0190a2c4-0000-7c3a-9d2e-1f2a3b4c5d6e",
                    "title": "Send the timeline questionnaire",
                    "due_anchor": "event",
                    "due_offset_days": -7,
                },
                request_only=True,
            ),
            OpenApiExample("Created", value=_TASK_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request):
        data = self.TaskCreateInputSerializer.validate_or_raise(request.data)
        job_id, contact_id = data.pop("job_id", None), data.pop("contact_id", None)
        job = selectors.job_for_input(studio=self.studio, job_id=job_id) if job_id else None
        contact = (
            selectors.contact_for_input(studio=self.studio, contact_id=contact_id)
            if contact_id
            else None
        )
        assignee = selectors.member_for_input(
            studio=self.studio, user_id=data.pop("assignee_id", None)
        )
        task = task_services.task_create(
            studio=self.studio, by=request.user, job=job, contact=contact, assignee=assignee, **data
        )
        return Response(TaskOutputSerializer(task).data, status=status.HTTP_201_CREATED)


class TaskMineApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_tasks_mine",
        summary="My open tasks, soonest due first",
        parameters=[PageParams],
        responses={200: TaskPageSerializer, **error_responses(400, 401, 403)},
        examples=[_page_example(_TASK_EXAMPLE)],
    )
    def get(self, request):
        data = _page_params(request)
        page = selectors.task_list_mine(
            studio=self.studio,
            user=request.user,
            cursor=data.get("cursor"),
            page_size=data["page_size"],
        )
        return Response(page_body(page, TaskOutputSerializer(page.items, many=True).data))


def _page_params(request) -> dict:
    params = PageParams(data=request.query_params.dict())
    params.is_valid(raise_exception=True)
    return dict(params.validated_data)


class TaskOverdueApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_tasks_overdue",
        summary="Open tasks past their due time, longest overdue first",
        parameters=[PageParams],
        responses={200: TaskPageSerializer, **error_responses(400, 401, 403)},
        examples=[_page_example(_TASK_EXAMPLE)],
    )
    def get(self, request):
        data = _page_params(request)
        page = selectors.task_list_overdue(
            studio=self.studio, cursor=data.get("cursor"), page_size=data["page_size"]
        )
        return Response(page_body(page, TaskOutputSerializer(page.items, many=True).data))


class TaskDetailApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW, "PATCH": Perm.CRM_EDIT, "DELETE": Perm.CRM_EDIT}

    class TaskUpdateInputSerializer(_TaskFields):
        title = serializers.CharField(max_length=200, required=False)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_tasks_retrieve",
        summary="Read a task",
        responses={200: TaskOutputSerializer, **error_responses(401, 403, 404)},
        examples=[OpenApiExample("A task", value=_TASK_EXAMPLE, response_only=True)],
    )
    def get(self, request, task_id):
        return Response(
            TaskOutputSerializer(selectors.task_get(studio=self.studio, task_id=task_id)).data
        )

    @extend_schema(
        tags=TAGS,
        operation_id="crm_tasks_update",
        summary="Edit a task (title, notes, due date, assignee)",
        request=TaskUpdateInputSerializer,
        responses={200: TaskOutputSerializer, **error_responses(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "Reassign and fix the date",
                value={
                    "assignee_id": "0190a2c4-1111-7c3a-9d2e-1f2a3b4c5d6e",
                    "due_at": "2026-05-30T17:00:00+02:00",
                },
                request_only=True,
            )
        ],
    )
    def patch(self, request, task_id):
        task = selectors.task_get(studio=self.studio, task_id=task_id)
        changes = self.TaskUpdateInputSerializer.validate_or_raise(request.data)
        if "assignee_id" in changes:
            changes["assignee"] = selectors.member_for_input(
                studio=self.studio, user_id=changes.pop("assignee_id")
            )
        task = task_services.task_update(task=task, by=request.user, changes=changes)
        return Response(TaskOutputSerializer(task).data)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_tasks_destroy",
        summary="Delete a task",
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(401, 403, 404)},
    )
    def delete(self, request, task_id):
        task = selectors.task_get(studio=self.studio, task_id=task_id)
        task_services.task_delete(task=task, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskDoneApi(StudioAPIView):
    permissions = {"POST": Perm.CRM_EDIT, "DELETE": Perm.CRM_EDIT}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_tasks_done",
        summary="Mark a task done (recorded on the timeline; again changes nothing)",
        request=None,
        responses={200: TaskOutputSerializer, **error_responses(401, 403, 404)},
        examples=[
            OpenApiExample("Done", value={**_TASK_EXAMPLE, "done": True}, response_only=True)
        ],
    )
    def post(self, request, task_id):
        task = selectors.task_get(studio=self.studio, task_id=task_id)
        task = task_services.task_set_done(task=task, by=request.user, done=True)
        return Response(TaskOutputSerializer(task).data)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_tasks_undone",
        summary="Open a done task again",
        responses={200: TaskOutputSerializer, **error_responses(401, 403, 404)},
        examples=[OpenApiExample("Open again", value=_TASK_EXAMPLE, response_only=True)],
    )
    def delete(self, request, task_id):
        task = selectors.task_get(studio=self.studio, task_id=task_id)
        task = task_services.task_set_done(task=task, by=request.user, done=False)
        return Response(TaskOutputSerializer(task).data)


# --- Email templates ----------------------------------------------------------------------------
class EmailTemplateOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    subject = serializers.CharField()
    body = serializers.CharField()
    html_body = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class EmailTemplatePageSerializer(serializers.Serializer):
    results = EmailTemplateOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


_TEMPLATE_EXAMPLE = {
    "id": "0190a2c4-2222-7c3a-9d2e-1f2a3b4c5d6e",
    "name": "Timeline questionnaire",
    "subject": "{{ job.name }}: your timeline",
    "body": "Hi {{ client.first_name }},\n\nWe are a week from {{ job.event_date }}. "
    "Could you fill in the timeline?\n\n{{ studio.name }}",
    "html_body": "",
    "created_at": "2026-03-01T10:00:00Z",
    "updated_at": "2026-03-01T10:00:00Z",
}
_PLACEHOLDERS = (
    "Placeholders: `{{ client.first_name }}`, `client.last_name`, `client.full_name`, "
    "`client.email`, `job.name`, `job.type`, `job.event_date`, `job.event_time`, "
    "`job.event_end_date`, `job.time_zone`, `job.location`, `studio.name`, `studio.url`, "
    '`gallery.name`, `gallery.url`; filters `date:"%d/%m/%Y"`, `upper`, `lower`, `title`, '
    '`default:"text"`. No tags (`{% %}`), no other names: checked when saved.'
)


class _TemplateFields(InputSerializer):
    name = serializers.CharField(max_length=100)
    subject = serializers.CharField(max_length=300)
    body = serializers.CharField(max_length=100_000)
    html_body = serializers.CharField(required=False, allow_blank=True, max_length=100_000)


class EmailTemplateListApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW, "POST": Perm.CRM_EDIT}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_email_templates_list",
        summary="List the studio's email templates by name",
        parameters=[PageParams],
        responses={200: EmailTemplatePageSerializer, **error_responses(400, 401, 403)},
        examples=[_page_example(_TEMPLATE_EXAMPLE)],
    )
    def get(self, request):
        data = _page_params(request)
        page = selectors.email_template_list(
            studio=self.studio, cursor=data.get("cursor"), page_size=data["page_size"]
        )
        return Response(page_body(page, EmailTemplateOutputSerializer(page.items, many=True).data))

    @extend_schema(
        tags=TAGS,
        operation_id="crm_email_templates_create",
        summary="Create an email template",
        description=_PLACEHOLDERS,
        request=_TemplateFields,
        responses={
            201: EmailTemplateOutputSerializer,
            **error_responses(400, 401, 403, e400=_TEMPLATE_400),
        },
        examples=[
            OpenApiExample(
                "Questionnaire",
                value={k: _TEMPLATE_EXAMPLE[k] for k in ("name", "subject", "body")},
                request_only=True,
            ),
            OpenApiExample("Created", value=_TEMPLATE_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request):
        data = _TemplateFields.validate_or_raise(request.data)
        template = email_services.email_template_create(studio=self.studio, by=request.user, **data)
        return Response(
            EmailTemplateOutputSerializer(template).data, status=status.HTTP_201_CREATED
        )


class EmailTemplateDetailApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW, "PATCH": Perm.CRM_EDIT, "DELETE": Perm.CRM_EDIT}

    class TemplateUpdateInputSerializer(_TemplateFields):
        name = serializers.CharField(max_length=100, required=False)
        subject = serializers.CharField(max_length=300, required=False)
        body = serializers.CharField(max_length=100_000, required=False)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_email_templates_retrieve",
        summary="Read an email template",
        responses={200: EmailTemplateOutputSerializer, **error_responses(401, 403, 404)},
        examples=[OpenApiExample("A template", value=_TEMPLATE_EXAMPLE, response_only=True)],
    )
    def get(self, request, template_id):
        template = selectors.email_template_get(studio=self.studio, template_id=template_id)
        return Response(EmailTemplateOutputSerializer(template).data)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_email_templates_update",
        summary="Edit an email template",
        description=_PLACEHOLDERS,
        request=TemplateUpdateInputSerializer,
        responses={
            200: EmailTemplateOutputSerializer,
            **error_responses(400, 401, 403, 404, e400=_TEMPLATE_400),
        },
        examples=[
            OpenApiExample(
                "Add an HTML part",
                value={"html_body": "<p>Hi {{ client.first_name }},</p>"},
                request_only=True,
            )
        ],
    )
    def patch(self, request, template_id):
        template = selectors.email_template_get(studio=self.studio, template_id=template_id)
        changes = self.TemplateUpdateInputSerializer.validate_or_raise(request.data)
        template = email_services.email_template_update(
            template=template, by=request.user, changes=changes
        )
        return Response(EmailTemplateOutputSerializer(template).data)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_email_templates_destroy",
        summary="Delete an email template (409 while a workflow step sends it)",
        responses={
            204: OpenApiResponse(description="Deleted."),
            **error_responses(401, 403, 404, 409, e409="`template_in_use`"),
        },
    )
    def delete(self, request, template_id):
        template = selectors.email_template_get(studio=self.studio, template_id=template_id)
        email_services.email_template_delete(template=template, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RenderedSerializer(serializers.Serializer):
    subject = serializers.CharField()
    body = serializers.CharField()
    html_body = serializers.CharField()


class EmailTemplatePreviewApi(StudioAPIView):
    permissions = {"POST": Perm.CRM_VIEW}

    class PreviewInputSerializer(InputSerializer):
        job_id = serializers.UUIDField(required=False, allow_null=True)
        contact_id = serializers.UUIDField(required=False, allow_null=True)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_email_templates_preview",
        summary="Render a template for a job and/or a contact (nothing is sent)",
        request=PreviewInputSerializer,
        responses={200: RenderedSerializer, **error_responses(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "For a job",
                value={"job_id": "0190a2c4-0000-7c3a-9d2e-1f2a3b4c5d6e"},
                request_only=True,
            ),
            OpenApiExample(
                "Rendered",
                value={
                    "subject": "Smith wedding: your timeline",
                    "body": "Hi Ana,\n\nWe are a week from 13 June 2026. ...",
                    "html_body": "",
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request, template_id):
        template = selectors.email_template_get(studio=self.studio, template_id=template_id)
        data = self.PreviewInputSerializer.validate_or_raise(request.data)
        job = (
            selectors.job_for_input(studio=self.studio, job_id=data["job_id"])
            if data.get("job_id")
            else None
        )
        contact = (
            selectors.contact_for_input(studio=self.studio, contact_id=data["contact_id"])
            if data.get("contact_id")
            else None
        )
        context = template_context(job=job, contact=contact, studio=self.studio)
        body = {
            "subject": " ".join(render(template.subject, context).split()),
            "body": render(template.body, context),
            "html_body": render(template.html_body, context, escape_html=True),
        }
        return Response(RenderedSerializer(body).data)


# --- Sending ------------------------------------------------------------------------------------
class EmailMessageOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    job_id = serializers.UUIDField(allow_null=True)
    contact_id = serializers.UUIDField(allow_null=True)
    template_id = serializers.UUIDField(allow_null=True)
    to = serializers.CharField()
    subject = serializers.CharField()
    body = serializers.CharField()
    html_body = serializers.CharField()
    state = serializers.ChoiceField(choices=EmailMessage.State.choices)
    attempts = serializers.IntegerField()
    sent_at = serializers.DateTimeField(allow_null=True)
    failure_code = serializers.CharField()
    created_at = serializers.DateTimeField()


class EmailMessageListSerializer(serializers.Serializer):
    results = EmailMessageOutputSerializer(many=True)


class EmailMessagePageSerializer(EmailMessageListSerializer):
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


_MESSAGE_EXAMPLE = {
    "id": "0190a2c4-3333-7c3a-9d2e-1f2a3b4c5d6e",
    "job_id": "0190a2c4-0000-7c3a-9d2e-1f2a3b4c5d6e",
    "contact_id": "0190a2c4-4444-7c3a-9d2e-1f2a3b4c5d6e",
    "template_id": "0190a2c4-2222-7c3a-9d2e-1f2a3b4c5d6e",
    "to": "ana@example.com",
    "subject": "Smith wedding: your timeline",
    "body": "Hi Ana, ...",
    "html_body": "",
    "state": "queued",
    "attempts": 0,
    "sent_at": None,
    "failure_code": "",
    "created_at": "2026-06-06T09:00:00Z",
}


class _SendInputSerializer(InputSerializer):
    template_id = serializers.UUIDField(required=False, allow_null=True)
    subject = serializers.CharField(required=False, allow_blank=True, max_length=300)
    body = serializers.CharField(required=False, allow_blank=True, max_length=100_000)
    html_body = serializers.CharField(required=False, allow_blank=True, max_length=100_000)


_SEND_400 = (
    "`email_content_required`, `invalid_template`, `template_not_found`, `contact_not_found`, "
    "`contact_without_email`, `no_recipients`, `validation_error`"
)


def _send(view: StudioAPIView, request, *, job, recipients, data) -> Response:
    template = selectors.template_for_input(studio=view.studio, template_id=data.get("template_id"))
    messages = email_services.email_queue(
        studio=view.studio,
        by=request.user,
        recipients=recipients,
        job=job,
        template=template,
        subject=data.get("subject", ""),
        body=data.get("body", ""),
        html_body=data.get("html_body", ""),
    )
    body = {"results": EmailMessageOutputSerializer(messages, many=True).data}
    return Response(body, status=status.HTTP_201_CREATED)


class JobEmailListApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW, "POST": Perm.CRM_EDIT}

    class JobSendInputSerializer(_SendInputSerializer):
        to = serializers.ListField(
            child=serializers.UUIDField(),
            required=False,
            max_length=MAX_RECIPIENTS,
            help_text="Contact ids; default: the job's billing contact and clients.",
        )

    @extend_schema(
        tags=TAGS,
        operation_id="crm_job_emails_list",
        summary="The emails sent from a job, newest first, with their delivery state",
        parameters=[PageParams],
        responses={200: EmailMessagePageSerializer, **error_responses(400, 401, 403, 404)},
        examples=[_page_example({**_MESSAGE_EXAMPLE, "state": "sent", "attempts": 1})],
    )
    def get(self, request, job_id):
        job = job_get_plain(studio=self.studio, job_id=job_id)
        data = _page_params(request)
        page = selectors.email_message_list(
            studio=self.studio, job=job, cursor=data.get("cursor"), page_size=data["page_size"]
        )
        return Response(page_body(page, EmailMessageOutputSerializer(page.items, many=True).data))

    @extend_schema(
        tags=TAGS,
        operation_id="crm_job_emails_send",
        summary="Send an email from a job: one message per recipient, queued and sent by a worker",
        description=(
            "A template (`template_id`) or a `subject` and `body` (placeholders allowed), "
            "rendered for each recipient. Each message's delivery (`sent`, or `failed` with a "
            "code after retries) is kept on it and on the job's and contact's timeline."
        ),
        request=JobSendInputSerializer,
        responses={
            201: EmailMessageListSerializer,
            **error_responses(400, 401, 403, 404, e400=_SEND_400),
        },
        examples=[
            OpenApiExample(
                "A template to the clients",
                value={"template_id": "0190a2c4-2222-7c3a-9d2e-1f2a3b4c5d6e"},
                request_only=True,
            ),
            OpenApiExample(
                "A note to the planner",
                value={
                    "to": ["0190a2c4-5555-7c3a-9d2e-1f2a3b4c5d6e"],
                    "subject": "{{ job.name }}",
                    "body": "Hi {{ client.first_name }}, the timeline is attached.",
                },
                request_only=True,
            ),
            OpenApiExample("Queued", value={"results": [_MESSAGE_EXAMPLE]}, response_only=True),
        ],
    )
    def post(self, request, job_id):
        job = job_get_plain(studio=self.studio, job_id=job_id)
        data = self.JobSendInputSerializer.validate_or_raise(request.data)
        if data.get("to"):
            recipients = selectors.contacts_for_input(studio=self.studio, contact_ids=data["to"])
        else:
            recipients = email_services.job_default_recipients(job=job)
        return _send(self, request, job=job, recipients=recipients, data=data)


class ContactEmailListApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW, "POST": Perm.CRM_EDIT}

    class ContactSendInputSerializer(_SendInputSerializer):
        job_id = serializers.UUIDField(
            required=False, allow_null=True, help_text="A job whose values the template reads."
        )

    @extend_schema(
        tags=TAGS,
        operation_id="crm_contact_emails_list",
        summary="The emails sent to a contact, newest first, with their delivery state",
        parameters=[PageParams],
        responses={200: EmailMessagePageSerializer, **error_responses(400, 401, 403, 404)},
        examples=[_page_example({**_MESSAGE_EXAMPLE, "state": "sent", "attempts": 1})],
    )
    def get(self, request, contact_id):
        contact = selectors.contact_for_work(studio=self.studio, contact_id=contact_id)
        data = _page_params(request)
        page = selectors.email_message_list(
            studio=self.studio,
            contact=contact,
            cursor=data.get("cursor"),
            page_size=data["page_size"],
        )
        return Response(page_body(page, EmailMessageOutputSerializer(page.items, many=True).data))

    @extend_schema(
        tags=TAGS,
        operation_id="crm_contact_emails_send",
        summary="Send an email to a contact (queued, sent by a worker)",
        request=ContactSendInputSerializer,
        responses={
            201: EmailMessageListSerializer,
            **error_responses(400, 401, 403, 404, e400=_SEND_400),
        },
        examples=[
            OpenApiExample(
                "A quick note",
                value={"subject": "Thanks, {{ client.first_name }}", "body": "Lovely to meet you."},
                request_only=True,
            ),
            OpenApiExample("Queued", value={"results": [_MESSAGE_EXAMPLE]}, response_only=True),
        ],
    )
    def post(self, request, contact_id):
        contact = selectors.contact_for_work(studio=self.studio, contact_id=contact_id)
        data = self.ContactSendInputSerializer.validate_or_raise(request.data)
        job_id = data.pop("job_id", None)
        job = selectors.job_for_input(studio=self.studio, job_id=job_id) if job_id else None
        return _send(self, request, job=job, recipients=[contact], data=data)


class EmailMessageDetailApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_emails_retrieve",
        summary="Read a sent (or queued, or failed) email",
        responses={200: EmailMessageOutputSerializer, **error_responses(401, 403, 404)},
        examples=[
            OpenApiExample("Sent", value={**_MESSAGE_EXAMPLE, "state": "sent"}, response_only=True)
        ],
    )
    def get(self, request, email_id):
        message = selectors.email_message_get(studio=self.studio, message_id=email_id)
        return Response(EmailMessageOutputSerializer(message).data)


# --- Workflows ----------------------------------------------------------------------------------
# Plain strings in the schema with the values listed ("action" is an enum name other apps use);
# the service answers `invalid_trigger` / `invalid_action` for anything else.
_TRIGGERS = "One of: " + ", ".join(WorkflowStep.Trigger.values) + "."
_ACTIONS = "One of: " + ", ".join(WorkflowStep.Action.values) + "."


class StepOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    position = serializers.IntegerField()
    trigger = serializers.CharField(help_text=_TRIGGERS)
    trigger_stage_id = serializers.UUIDField(allow_null=True)
    offset_days = serializers.IntegerField()
    action = serializers.CharField(help_text=_ACTIONS)
    template_id = serializers.UUIDField(allow_null=True)
    task_title = serializers.CharField()
    task_due_days = serializers.IntegerField()
    target_stage_id = serializers.UUIDField(allow_null=True)


class WorkflowOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    job_type = serializers.CharField(help_text='"" applies to every type.')
    active = serializers.BooleanField()
    steps = StepOutputSerializer(many=True, source="step_list")
    created_at = serializers.DateTimeField()


class WorkflowPageSerializer(serializers.Serializer):
    results = WorkflowOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


_STEP_EXAMPLE = {
    "id": "0190a2c4-6666-7c3a-9d2e-1f2a3b4c5d6e",
    "position": 0,
    "trigger": "event_offset",
    "trigger_stage_id": None,
    "offset_days": -7,
    "action": "send_email",
    "template_id": "0190a2c4-2222-7c3a-9d2e-1f2a3b4c5d6e",
    "task_title": "",
    "task_due_days": 0,
    "target_stage_id": None,
}
_WORKFLOW_EXAMPLE = {
    "id": "0190a2c4-7777-7c3a-9d2e-1f2a3b4c5d6e",
    "name": "Wedding",
    "job_type": "wedding",
    "active": True,
    "steps": [_STEP_EXAMPLE],
    "created_at": "2026-03-01T10:00:00Z",
}


class StepInputSerializer(InputSerializer):
    trigger = serializers.CharField(max_length=20, help_text=_TRIGGERS)
    trigger_stage_id = serializers.UUIDField(required=False, allow_null=True)
    offset_days = serializers.IntegerField(
        required=False,
        default=0,
        help_text="Days from the date (negative: before). Not for a stage trigger.",
    )
    action = serializers.CharField(max_length=20, help_text=_ACTIONS)
    template_id = serializers.UUIDField(required=False, allow_null=True)
    task_title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    task_due_days = serializers.IntegerField(required=False, default=0)
    target_stage_id = serializers.UUIDField(required=False, allow_null=True)


class StepUpdateInputSerializer(StepInputSerializer):
    trigger = serializers.CharField(max_length=20, required=False, help_text=_TRIGGERS)
    offset_days = serializers.IntegerField(required=False)
    action = serializers.CharField(max_length=20, required=False, help_text=_ACTIONS)
    task_due_days = serializers.IntegerField(required=False)
    position = serializers.IntegerField(required=False, min_value=0)


def _step_rows(studio, data: dict) -> dict:
    """The step's input with its ids turned into this studio's rows (400 naming the field)."""
    out = dict(data)
    for key, name in (("trigger_stage_id", "trigger_stage"), ("target_stage_id", "target_stage")):
        if key in out:
            out[name] = selectors.stage_for_input(studio=studio, stage_id=out.pop(key), field=key)
    if "template_id" in out:
        out["template"] = selectors.template_for_input(
            studio=studio, template_id=out.pop("template_id")
        )
    return out


_STEP_400 = (
    "`offset_on_stage_trigger`, `stage_on_offset_trigger`, `trigger_stage_required`, "
    "`template_required`, `task_title_required`, `target_stage_required`, `stage_not_found`, "
    "`template_not_found`, `invalid_offset`, `invalid_trigger`, `invalid_action`"
)


class WorkflowListApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW, "POST": Perm.CRM_EDIT}

    class WorkflowCreateInputSerializer(InputSerializer):
        name = serializers.CharField(max_length=100)
        job_type = serializers.CharField(required=False, allow_blank=True, max_length=50)
        active = serializers.BooleanField(required=False, default=True)
        steps = StepInputSerializer(
            many=True, required=False, max_length=workflow_services.MAX_STEPS
        )

    @extend_schema(
        tags=TAGS,
        operation_id="crm_workflows_list",
        summary="List the studio's workflows with their steps",
        parameters=[PageParams],
        responses={200: WorkflowPageSerializer, **error_responses(400, 401, 403)},
        examples=[_page_example(_WORKFLOW_EXAMPLE)],
    )
    def get(self, request):
        data = _page_params(request)
        page = selectors.workflow_list(
            studio=self.studio, cursor=data.get("cursor"), page_size=data["page_size"]
        )
        return Response(page_body(page, WorkflowOutputSerializer(page.items, many=True).data))

    @extend_schema(
        tags=TAGS,
        operation_id="crm_workflows_create",
        summary="Create a workflow (with its steps)",
        description=(
            "Active workflows are applied to every new job of their `job_type` (all types when "
            "empty). Triggers: `stage_entered` (with `trigger_stage_id`), `event_offset` and "
            "`booking_offset` (with `offset_days`, run at 09:00 in the job's time zone). "
            "Actions: `send_email` (`template_id`; to the job's billing contact and clients), "
            "`create_task` (`task_title`, due `task_due_days` later), `move_stage` "
            "(`target_stage_id`)."
        ),
        request=WorkflowCreateInputSerializer,
        responses={201: WorkflowOutputSerializer, **error_responses(400, 401, 403, e400=_STEP_400)},
        examples=[
            OpenApiExample(
                "Wedding",
                value={
                    "name": "Wedding",
                    "job_type": "wedding",
                    "steps": [
                        {
                            "trigger": "event_offset",
                            "offset_days": -7,
                            "action": "send_email",
                            "template_id": "0190a2c4-2222-7c3a-9d2e-1f2a3b4c5d6e",
                        },
                        {
                            "trigger": "stage_entered",
                            "trigger_stage_id": "0190a2c4-8888-7c3a-9d2e-1f2a3b4c5d6e",
                            "action": "create_task",
                            "task_title": "Send the contract",
                            "task_due_days": 2,
                        },
                    ],
                },
                request_only=True,
            ),
            OpenApiExample("Created", value=_WORKFLOW_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request):
        data = self.WorkflowCreateInputSerializer.validate_or_raise(request.data)
        steps = data.pop("steps", [])
        workflow = workflow_services.workflow_create(studio=self.studio, by=request.user, **data)
        for index, step in enumerate(steps):
            try:
                workflow_services.workflow_step_create(
                    workflow=workflow, by=request.user, **_step_rows(self.studio, step)
                )
            except ApplicationError as exc:
                # The 400 names the step; the request's transaction drops the workflow too.
                exc.fields = {f"steps.{index}.{k}": v for k, v in exc.fields.items()}
                raise
        workflow = selectors.workflow_get(studio=self.studio, workflow_id=workflow.id)
        return Response(WorkflowOutputSerializer(workflow).data, status=status.HTTP_201_CREATED)


class WorkflowDetailApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW, "PATCH": Perm.CRM_EDIT, "DELETE": Perm.CRM_EDIT}

    class WorkflowUpdateInputSerializer(InputSerializer):
        name = serializers.CharField(max_length=100, required=False)
        job_type = serializers.CharField(required=False, allow_blank=True, max_length=50)
        active = serializers.BooleanField(required=False)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_workflows_retrieve",
        summary="Read a workflow with its steps",
        responses={200: WorkflowOutputSerializer, **error_responses(401, 403, 404)},
        examples=[OpenApiExample("A workflow", value=_WORKFLOW_EXAMPLE, response_only=True)],
    )
    def get(self, request, workflow_id):
        workflow = selectors.workflow_get(studio=self.studio, workflow_id=workflow_id)
        return Response(WorkflowOutputSerializer(workflow).data)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_workflows_update",
        summary="Rename, retarget or (de)activate a workflow",
        description="An inactive workflow is applied to no new job, and its due steps are skipped.",
        request=WorkflowUpdateInputSerializer,
        responses={200: WorkflowOutputSerializer, **error_responses(400, 401, 403, 404)},
        examples=[OpenApiExample("Deactivate", value={"active": False}, request_only=True)],
    )
    def patch(self, request, workflow_id):
        workflow = selectors.workflow_get(studio=self.studio, workflow_id=workflow_id)
        changes = self.WorkflowUpdateInputSerializer.validate_or_raise(request.data)
        workflow_services.workflow_update(workflow=workflow, by=request.user, changes=changes)
        workflow = selectors.workflow_get(studio=self.studio, workflow_id=workflow_id)
        return Response(WorkflowOutputSerializer(workflow).data)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_workflows_destroy",
        summary="Delete a workflow and its runs (what its steps did stays)",
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(401, 403, 404)},
    )
    def delete(self, request, workflow_id):
        workflow = selectors.workflow_get(studio=self.studio, workflow_id=workflow_id)
        workflow_services.workflow_delete(workflow=workflow, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WorkflowStepListApi(StudioAPIView):
    permissions = {"POST": Perm.CRM_EDIT}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_workflow_steps_create",
        summary="Add a step to a workflow (for the jobs it is applied to from now on)",
        request=StepInputSerializer,
        responses={
            201: StepOutputSerializer,
            **error_responses(400, 401, 403, 404, 409, e400=_STEP_400, e409="`too_many_steps`"),
        },
        examples=[
            OpenApiExample(
                "Move to editing a day after the event",
                value={
                    "trigger": "event_offset",
                    "offset_days": 1,
                    "action": "move_stage",
                    "target_stage_id": "0190a2c4-9999-7c3a-9d2e-1f2a3b4c5d6e",
                },
                request_only=True,
            ),
            OpenApiExample("Created", value=_STEP_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request, workflow_id):
        workflow = selectors.workflow_get(studio=self.studio, workflow_id=workflow_id)
        data = _step_rows(self.studio, StepInputSerializer.validate_or_raise(request.data))
        step = workflow_services.workflow_step_create(workflow=workflow, by=request.user, **data)
        return Response(StepOutputSerializer(step).data, status=status.HTTP_201_CREATED)


class WorkflowStepDetailApi(StudioAPIView):
    permissions = {"PATCH": Perm.CRM_EDIT, "DELETE": Perm.CRM_EDIT}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_workflow_steps_update",
        summary="Edit a workflow step (its runs not yet done on jobs move to its new moment)",
        request=StepUpdateInputSerializer,
        responses={
            200: StepOutputSerializer,
            **error_responses(400, 401, 403, 404, e400=_STEP_400),
        },
        examples=[
            OpenApiExample("Two weeks before", value={"offset_days": -14}, request_only=True)
        ],
    )
    def patch(self, request, step_id):
        step = selectors.workflow_step_get(studio=self.studio, step_id=step_id)
        changes = _step_rows(self.studio, StepUpdateInputSerializer.validate_or_raise(request.data))
        step = workflow_services.workflow_step_update(step=step, by=request.user, changes=changes)
        return Response(StepOutputSerializer(step).data)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_workflow_steps_destroy",
        summary="Remove a step (its runs on jobs go with it)",
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(401, 403, 404)},
    )
    def delete(self, request, step_id):
        step = selectors.workflow_step_get(studio=self.studio, step_id=step_id)
        workflow_services.workflow_step_delete(step=step, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Workflows on a job -------------------------------------------------------------------------
class StepRunOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    step_id = serializers.UUIDField()
    trigger = serializers.CharField(source="step.trigger", help_text=_TRIGGERS)
    action = serializers.CharField(source="step.action", help_text=_ACTIONS)
    due_at = serializers.DateTimeField()
    state = serializers.ChoiceField(choices=WorkflowStepRun.State.choices)
    attempts = serializers.IntegerField()
    finished_at = serializers.DateTimeField(allow_null=True)
    outcome = serializers.CharField(
        help_text="What happened: `email_queued: 2`, `task_created`, `moved: Editing`, "
        "`already_in_stage`; or why it was skipped: `paused`, `left_stage`, `job_lost`, "
        "`job_archived`, `job_completed`, `too_late`, `no_recipients`, `workflow_inactive`; "
        "or failed: an error code, `worker_lost`."
    )


class RunOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    workflow_id = serializers.UUIDField()
    workflow_name = serializers.CharField(source="workflow.name")
    paused = serializers.SerializerMethodField()
    paused_at = serializers.DateTimeField(allow_null=True)
    step_runs = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_paused(self, run) -> bool:
        return run.paused_at is not None

    @extend_schema_field(StepRunOutputSerializer(many=True))
    def get_step_runs(self, run) -> list:
        rows = getattr(run, "step_run_list", None)
        if rows is None:
            rows = list(run.step_runs.select_related("step").order_by("due_at", "id"))
        return StepRunOutputSerializer(rows, many=True).data


class RunListSerializer(serializers.Serializer):
    results = RunOutputSerializer(many=True)


_RUN_EXAMPLE = {
    "id": "0190a2c4-aaaa-7c3a-9d2e-1f2a3b4c5d6e",
    "workflow_id": "0190a2c4-7777-7c3a-9d2e-1f2a3b4c5d6e",
    "workflow_name": "Wedding",
    "paused": False,
    "paused_at": None,
    "step_runs": [
        {
            "id": "0190a2c4-bbbb-7c3a-9d2e-1f2a3b4c5d6e",
            "step_id": "0190a2c4-6666-7c3a-9d2e-1f2a3b4c5d6e",
            "trigger": "event_offset",
            "action": "send_email",
            "due_at": "2026-06-06T07:00:00Z",
            "state": "done",
            "attempts": 1,
            "finished_at": "2026-06-06T07:00:12Z",
            "outcome": "email_queued: 2",
        }
    ],
    "created_at": "2026-03-01T10:00:00Z",
}


class JobWorkflowListApi(StudioAPIView):
    """A job has few workflows: the list is not paged."""

    permissions = {"GET": Perm.CRM_VIEW, "POST": Perm.CRM_EDIT}

    class ApplyInputSerializer(InputSerializer):
        workflow_id = serializers.UUIDField()

    @extend_schema(
        tags=TAGS,
        operation_id="crm_job_workflows_list",
        summary="The workflows running on a job, with every step run and its outcome",
        responses={200: RunListSerializer, **error_responses(401, 403, 404)},
        examples=[OpenApiExample("Runs", value={"results": [_RUN_EXAMPLE]}, response_only=True)],
    )
    def get(self, request, job_id):
        job = job_get_plain(studio=self.studio, job_id=job_id)
        runs = selectors.job_workflow_runs(job=job)
        return Response({"results": RunOutputSerializer(runs, many=True).data})

    @extend_schema(
        tags=TAGS,
        operation_id="crm_job_workflows_apply",
        summary="Apply a workflow to a job (whatever its type)",
        request=ApplyInputSerializer,
        responses={
            201: RunOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400="`workflow_not_found`",
                e409="`workflow_already_applied`",
            ),
        },
        examples=[
            OpenApiExample(
                "Apply",
                value={"workflow_id": "0190a2c4-7777-7c3a-9d2e-1f2a3b4c5d6e"},
                request_only=True,
            ),
            OpenApiExample("Applied", value=_RUN_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request, job_id):
        job = job_get_plain(studio=self.studio, job_id=job_id)
        data = self.ApplyInputSerializer.validate_or_raise(request.data)
        workflow = selectors.workflow_for_input(studio=self.studio, workflow_id=data["workflow_id"])
        run = workflow_services.workflow_apply(workflow=workflow, job=job, by=request.user)
        return Response(RunOutputSerializer(run).data, status=status.HTTP_201_CREATED)


class JobWorkflowPauseApi(StudioAPIView):
    permissions = {"POST": Perm.CRM_EDIT, "DELETE": Perm.CRM_EDIT}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_job_workflows_pause",
        summary="Pause a workflow on a job: its future steps are skipped (outcome `paused`)",
        request=None,
        responses={200: RunOutputSerializer, **error_responses(401, 403, 404)},
        examples=[
            OpenApiExample(
                "Paused",
                value={**_RUN_EXAMPLE, "paused": True, "paused_at": "2026-05-01T10:00:00Z"},
                response_only=True,
            )
        ],
    )
    def post(self, request, job_id, run_id):
        job = job_get_plain(studio=self.studio, job_id=job_id)
        run = selectors.workflow_run_get(studio=self.studio, job=job, run_id=run_id)
        run = workflow_services.workflow_run_pause(run=run, by=request.user)
        return Response(RunOutputSerializer(run).data)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_job_workflows_resume",
        summary="Resume a paused workflow on a job (steps skipped by the pause are due again)",
        responses={200: RunOutputSerializer, **error_responses(401, 403, 404)},
        examples=[OpenApiExample("Running", value=_RUN_EXAMPLE, response_only=True)],
    )
    def delete(self, request, job_id, run_id):
        job = job_get_plain(studio=self.studio, job_id=job_id)
        run = selectors.workflow_run_get(studio=self.studio, job=job, run_id=run_id)
        run = workflow_services.workflow_run_resume(run=run, by=request.user)
        return Response(RunOutputSerializer(run).data)
