"""Email templates: the studio's, checked when saved, previewed with a job's values."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from crm.apis.work.common import TAGS, TEMPLATE_400, page_example
from crm.apis.work.tasks import page_params
from crm.selectors import work as selectors
from crm.services import emails as email_services
from crm.services.emails import template_context
from crm.templating import render
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body
from picpick.core.serializers import InputSerializer


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
        examples=[page_example(_TEMPLATE_EXAMPLE)],
    )
    def get(self, request):
        data = page_params(request)
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
            **error_responses(400, 401, 403, e400=TEMPLATE_400),
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
            **error_responses(400, 401, 403, 404, e400=TEMPLATE_400),
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
