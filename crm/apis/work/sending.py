"""Sending email from a job or a contact, and the messages sent."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from crm.apis.work.common import MAX_RECIPIENTS, TAGS, page_example
from crm.apis.work.tasks import page_params
from crm.models import EmailMessage
from crm.selectors import work as selectors
from crm.selectors.jobs import job_get_plain
from crm.services import emails as email_services
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body
from picpick.core.serializers import InputSerializer


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
        examples=[page_example({**_MESSAGE_EXAMPLE, "state": "sent", "attempts": 1})],
    )
    def get(self, request, job_id):
        job = job_get_plain(studio=self.studio, job_id=job_id)
        data = page_params(request)
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
        examples=[page_example({**_MESSAGE_EXAMPLE, "state": "sent", "attempts": 1})],
    )
    def get(self, request, contact_id):
        contact = selectors.contact_for_work(studio=self.studio, contact_id=contact_id)
        data = page_params(request)
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
