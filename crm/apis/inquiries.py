"""Inquiry form endpoints (the studio's side): create, read, edit and delete the forms of the
studio's site, and read the inquiries they brought in."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from crm import inquiry_fields
from crm.inquiry_fields import CUSTOM_KINDS, KINDS, MAX_FIELDS
from crm.selectors import inquiries as selectors
from crm.services import inquiries as services
from domains.selectors import studio_site_url
from picpick.core.apis import PublicAPIView, StudioAPIView, site_studio_id
from picpick.core.clientaddr import client_address
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body
from picpick.core.serializers import InputSerializer

TAGS = ["crm"]

_FIELDS_HELP = (
    "The questions beyond first name, last name and email, in order: objects "
    '`{"key", "label", "kind", "required", "choices"}`. Standard keys (their answers fill the '
    "job and the contact): `event_type` (kind event_type, with choices; the job's type), "
    "`event_date` (date; the job's event), `budget` (budget: an amount in the studio's "
    "currency; the job's estimated value), `message` (textarea), `phone` (phone; the "
    "contact's, E.164), `marketing_consent` (consent: a checkbox, never required). Any other "
    f"key is a custom question of kind {', '.join(CUSTOM_KINDS)} (choice needs choices). "
    f"At most {MAX_FIELDS}."
)
_FORM_ERRORS = error_responses(
    400,
    401,
    403,
    409,
    422,
    e400="`validation_error`, `invalid_slug`, `invalid_origin`, `invalid_form_fields` (fields "
    "name each problem: `fields.2.kind`).",
    e409="`slug_taken`: another form of the studio has this slug.",
    e422="`pipeline_not_found`, `template_not_found`: not one of this studio's.",
)

_QUESTIONS_EXAMPLE = [
    {
        "key": "event_type",
        "label": "What are we celebrating?",
        "kind": "event_type",
        "required": True,
        "choices": ["Wedding", "Engagement", "Family"],
    },
    {"key": "event_date", "label": "Date", "kind": "date", "required": False},
    {"key": "budget", "label": "Budget", "kind": "budget", "required": False},
    {"key": "message", "label": "Tell us about your day", "kind": "textarea", "required": True},
    {"key": "phone", "label": "Phone", "kind": "phone", "required": False},
    {"key": "guests", "label": "How many guests?", "kind": "number", "required": False},
    {
        "key": "marketing_consent",
        "label": "Send me news and offers",
        "kind": "consent",
        "required": False,
    },
]
_FORM_EXAMPLE = {
    "id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b70",
    "name": "Weddings",
    "slug": "weddings",
    "active": True,
    "title": "Tell us about your wedding",
    "intro": "We photograph 25 weddings a year. Ask for your date.",
    "fields": _QUESTIONS_EXAMPLE,
    "job_type": "wedding",
    "pipeline_id": None,
    "auto_reply_template_id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b71",
    "notify_emails": ["anna@annasmith.com"],
    "embed_origins": ["https://annasmith.com"],
    "success_message": "Thank you! Anna will answer within two days.",
    "page_url": "https://photos.annasmith.com/inquire/weddings/",
    "embed_url": "https://photos.annasmith.com/inquire/weddings/embed/",
    "embed_snippet": (
        '<div data-picpick-inquiry="weddings"></div>\n'
        '<script src="https://photos.annasmith.com/inquire/embed.js" async></script>'
    ),
    "created_at": "2026-12-07T10:00:00Z",
    "updated_at": "2026-12-07T10:00:00Z",
}
_INQUIRY_EXAMPLE = {
    "id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b80",
    "form_id": _FORM_EXAMPLE["id"],
    "form_name": "Weddings",
    "contact": {
        "id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b81",
        "name": "Jane Doe",
        "email": "jane@example.com",
    },
    "job": {
        "id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b82",
        "name": "Wedding – Jane Doe",
        "stage": "Inquiry",
    },
    "answers": {
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane@example.com",
        "event_type": "Wedding",
        "event_date": "2027-06-12",
        "budget": {"amount": 350000, "currency": "EUR"},
        "message": "We are getting married in Lyon!",
        "marketing_consent": False,
    },
    "origin": "https://annasmith.com/contact",
    "created_at": "2026-12-07T10:05:00Z",
}


class QuestionSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    kind = serializers.ChoiceField(choices=KINDS)
    required = serializers.BooleanField()
    choices = serializers.ListField(child=serializers.CharField(), required=False)


class InquiryFormOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.CharField()
    active = serializers.BooleanField()
    title = serializers.CharField()
    intro = serializers.CharField()
    fields = QuestionSerializer(many=True)
    job_type = serializers.CharField()
    pipeline_id = serializers.UUIDField(allow_null=True)
    auto_reply_template_id = serializers.UUIDField(allow_null=True)
    notify_emails = serializers.ListField(
        child=serializers.CharField(), help_text="Empty: the studio's owners are told."
    )
    embed_origins = serializers.ListField(child=serializers.CharField())
    success_message = serializers.CharField()
    page_url = serializers.SerializerMethodField()
    embed_url = serializers.SerializerMethodField()
    embed_snippet = serializers.SerializerMethodField(
        help_text="The HTML the studio pastes on its own website (an origin in embed_origins)."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def _site(self) -> str:
        return self.context["site_url"]

    def get_page_url(self, form) -> str:
        return f"{self._site()}/inquire/{form.slug}/"

    def get_embed_url(self, form) -> str:
        return f"{self._site()}/inquire/{form.slug}/embed/"

    def get_embed_snippet(self, form) -> str:
        return (
            f'<div data-picpick-inquiry="{form.slug}"></div>\n'
            f'<script src="{self._site()}/inquire/embed.js" async></script>'
        )


class InquiryFormPageSerializer(serializers.Serializer):
    results = InquiryFormOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class _ContactRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.SerializerMethodField()
    email = serializers.CharField()

    def get_name(self, contact) -> str:
        return " ".join(p for p in (contact.first_name, contact.last_name) if p)


class _JobRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    stage = serializers.CharField(source="stage.name")


class InquiryOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    form_id = serializers.UUIDField(allow_null=True, help_text="Null once the form is deleted.")
    form_name = serializers.CharField(source="form.name", default="")
    contact = _ContactRefSerializer()
    job = _JobRefSerializer(allow_null=True)
    answers = serializers.DictField(
        help_text="What was sent, normalised: dates ISO, phones E.164, a budget in minor "
        "units with its currency."
    )
    origin = serializers.CharField(help_text="The page it was sent from, when known.")
    created_at = serializers.DateTimeField()


class InquiryPageSerializer(serializers.Serializer):
    results = InquiryOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class _FormInputSerializer(InputSerializer):
    active = serializers.BooleanField(required=False)
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    intro = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    fields = serializers.ListField(
        child=serializers.JSONField(), required=False, max_length=MAX_FIELDS, help_text=_FIELDS_HELP
    )
    job_type = serializers.CharField(required=False, allow_blank=True, max_length=50)
    pipeline_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Null: the studio's default pipeline."
    )
    auto_reply_template_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Null: no auto-reply."
    )
    notify_emails = serializers.ListField(
        child=serializers.CharField(max_length=254), required=False, max_length=10
    )
    embed_origins = serializers.ListField(
        child=serializers.CharField(max_length=300),
        required=False,
        max_length=20,
        help_text="Sites that may embed the form: https origins (https://annasmith.com).",
    )
    success_message = serializers.CharField(required=False, allow_blank=True, max_length=500)


def _page_query(request) -> dict:
    query = PageParams(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


def _form_body(form, site_url: str) -> dict:
    return InquiryFormOutputSerializer(form, context={"site_url": site_url}).data


class InquiryFormListApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW, "POST": Perm.CRM_EDIT}

    class InquiryFormCreateInputSerializer(_FormInputSerializer):
        name = serializers.CharField(max_length=100)
        slug = serializers.CharField(max_length=60)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_inquiry_forms_list",
        summary="List the studio's inquiry forms, newest first",
        parameters=[PageParams],
        responses={200: InquiryFormPageSerializer, **error_responses(400, 401, 403)},
        examples=[
            OpenApiExample(
                "Forms",
                value={"results": [_FORM_EXAMPLE], "next": None, "previous": None},
                response_only=True,
            )
        ],
    )
    def get(self, request):
        query = _page_query(request)
        page = selectors.inquiry_form_list(
            studio=self.studio, cursor=query.get("cursor"), page_size=query["page_size"]
        )
        context = {"site_url": studio_site_url(studio=self.studio)}
        results = InquiryFormOutputSerializer(page.items, many=True, context=context).data
        return Response(page_body(page, results))

    @extend_schema(
        tags=TAGS,
        operation_id="crm_inquiry_forms_create",
        summary="Create an inquiry form for the studio's site",
        description="The form is at `page_url` on the studio's site at once (when active), "
        "and embeddable from `embed_origins` with `embed_snippet`.",
        request=InquiryFormCreateInputSerializer,
        responses={201: InquiryFormOutputSerializer, **_FORM_ERRORS},
        examples=[
            OpenApiExample(
                "A wedding form",
                value={
                    "name": "Weddings",
                    "slug": "weddings",
                    "title": "Tell us about your wedding",
                    "fields": _QUESTIONS_EXAMPLE,
                    "job_type": "wedding",
                    "auto_reply_template_id": _FORM_EXAMPLE["auto_reply_template_id"],
                    "embed_origins": ["https://annasmith.com"],
                },
                request_only=True,
            ),
            OpenApiExample("Created", value=_FORM_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request):
        data = self.InquiryFormCreateInputSerializer.validate_or_raise(request.data)
        form = services.inquiry_form_create(studio=self.studio, by=request.user, **data)
        return Response(
            _form_body(form, studio_site_url(studio=self.studio)), status=status.HTTP_201_CREATED
        )


class InquiryFormDetailApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW, "PATCH": Perm.CRM_EDIT, "DELETE": Perm.CRM_EDIT}

    class InquiryFormUpdateInputSerializer(_FormInputSerializer):
        name = serializers.CharField(max_length=100, required=False)
        slug = serializers.CharField(max_length=60, required=False)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_inquiry_forms_retrieve",
        summary="Read an inquiry form",
        responses={200: InquiryFormOutputSerializer, **error_responses(401, 403, 404)},
        examples=[OpenApiExample("Form", value=_FORM_EXAMPLE, response_only=True)],
    )
    def get(self, request, form_id):
        form = selectors.inquiry_form_get(studio=self.studio, form_id=form_id)
        return Response(_form_body(form, studio_site_url(studio=self.studio)))

    @extend_schema(
        tags=TAGS,
        operation_id="crm_inquiry_forms_update",
        summary="Change an inquiry form (only the fields sent)",
        description="`fields` replaces the whole list of questions. Past inquiries keep the "
        "answers they were sent with.",
        request=InquiryFormUpdateInputSerializer,
        responses={200: InquiryFormOutputSerializer, **_FORM_ERRORS, **error_responses(404)},
        examples=[
            OpenApiExample("Pause the form", value={"active": False}, request_only=True),
            OpenApiExample("Updated", value={**_FORM_EXAMPLE, "active": False}, response_only=True),
        ],
    )
    def patch(self, request, form_id):
        form = selectors.inquiry_form_get(studio=self.studio, form_id=form_id)
        data = self.InquiryFormUpdateInputSerializer.validate_or_raise(request.data)
        form = services.inquiry_form_update(form=form, by=request.user, changes=data)
        return Response(_form_body(form, studio_site_url(studio=self.studio)))

    @extend_schema(
        tags=TAGS,
        operation_id="crm_inquiry_forms_destroy",
        summary="Delete an inquiry form; its inquiries, contacts and jobs stay",
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(401, 403, 404)},
    )
    def delete(self, request, form_id):
        form = selectors.inquiry_form_get(studio=self.studio, form_id=form_id)
        services.inquiry_form_delete(form=form, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _inquiry_page(studio, query, form=None) -> dict:
    page = selectors.inquiry_list(
        studio=studio, form=form, cursor=query.get("cursor"), page_size=query["page_size"]
    )
    return page_body(page, InquiryOutputSerializer(page.items, many=True).data)


_INQUIRY_PAGE_EXAMPLE = OpenApiExample(
    "Inquiries",
    value={"results": [_INQUIRY_EXAMPLE], "next": None, "previous": None},
    response_only=True,
)


class InquiryFormInquiriesApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_inquiry_forms_inquiries_list",
        summary="List the inquiries a form brought in, newest first",
        parameters=[PageParams],
        responses={200: InquiryPageSerializer, **error_responses(400, 401, 403, 404)},
        examples=[_INQUIRY_PAGE_EXAMPLE],
    )
    def get(self, request, form_id):
        form = selectors.inquiry_form_get(studio=self.studio, form_id=form_id)
        query = _page_query(request)
        return Response(_inquiry_page(self.studio, query, form))


class InquiryListApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_inquiries_list",
        summary="List every inquiry of the studio, newest first",
        parameters=[PageParams],
        responses={200: InquiryPageSerializer, **error_responses(400, 401, 403)},
        examples=[_INQUIRY_PAGE_EXAMPLE],
    )
    def get(self, request):
        query = _page_query(request)
        return Response(_inquiry_page(self.studio, query))


class InquiryDetailApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_inquiries_retrieve",
        summary="Read an inquiry",
        responses={200: InquiryOutputSerializer, **error_responses(401, 403, 404)},
        examples=[OpenApiExample("Inquiry", value=_INQUIRY_EXAMPLE, response_only=True)],
    )
    def get(self, request, inquiry_id):
        inquiry = selectors.inquiry_get(studio=self.studio, inquiry_id=inquiry_id)
        return Response(InquiryOutputSerializer(inquiry).data)


# --- The public side: an app (or a site's own script) shows a form and sends its answers --------
class PublicQuestionSerializer(QuestionSerializer):
    currency = serializers.CharField(
        required=False, help_text="For the budget: the currency the amount is in."
    )


class PublicInquiryFormOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    slug = serializers.CharField()
    title = serializers.CharField()
    intro = serializers.CharField()
    questions = PublicQuestionSerializer(many=True)
    token = serializers.CharField(help_text="Send it back with the answers.")
    min_seconds = serializers.IntegerField(
        help_text="Answers sent sooner after the token was issued are refused (`too_fast`)."
    )
    success_message = serializers.CharField()


class PublicInquiryCreatedSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["received"])
    message = serializers.CharField()


class PublicInquiryApi(PublicAPIView):
    """Anonymous, and without a CSRF token on purpose: a submission acts for nobody (see
    ``crm.services.inquiries``); the signed form token and the per-address limit guard it."""

    throttle_classes: list = []  # the per-address limit is counted atomically by the service

    class PublicInquiryInputSerializer(InputSerializer):
        token = serializers.CharField(max_length=1000, help_text="From GET, unchanged.")
        answers = serializers.DictField(
            child=serializers.JSONField(allow_null=True),
            help_text="By question key: first_name, last_name, email and the form's questions. "
            "Dates as 2027-06-12, a budget as typed (2500 or 2500.50, in the form's currency), "
            "the consent as true or false. Unknown keys are refused.",
        )
        website = serializers.CharField(
            required=False, allow_blank=True, max_length=300, help_text="Leave empty."
        )
        origin = serializers.CharField(
            required=False, allow_blank=True, max_length=300, help_text="The page it came from."
        )

    def _form(self, key: str):
        return selectors.site_inquiry_form(studio_id=site_studio_id(self.request), key=key)

    @extend_schema(
        tags=TAGS,
        operation_id="public_inquiry_form_retrieve",
        summary="Read an active inquiry form and a fresh token to send it with",
        description="On a studio's site the form is named by its slug or id.",
        responses={200: PublicInquiryFormOutputSerializer, **error_responses(404)},
        examples=[
            OpenApiExample(
                "Form",
                value={
                    "id": _FORM_EXAMPLE["id"],
                    "slug": "weddings",
                    "title": "Tell us about your wedding",
                    "intro": "",
                    "questions": [
                        {
                            "key": "first_name",
                            "label": "First name",
                            "kind": "text",
                            "required": True,
                        },
                        {"key": "email", "label": "Email", "kind": "email", "required": True},
                        {
                            "key": "budget",
                            "label": "Budget",
                            "kind": "budget",
                            "required": False,
                            "currency": "EUR",
                        },
                    ],
                    "token": "eyJmIjoi…",
                    "min_seconds": 3,
                    "success_message": "Thank you!",
                },
                response_only=True,
            )
        ],
    )
    def get(self, request, key: str):
        form = self._form(key)
        currency = form.studio.default_currency
        questions = [
            {**q, "currency": currency} if q["kind"] == "budget" else q
            for q in inquiry_fields.questions(form.fields)
        ]
        body = {
            "id": form.id,
            "slug": form.slug,
            "title": form.title or form.name,
            "intro": form.intro,
            "questions": questions,
            "token": services.inquiry_form_token(form=form),
            "min_seconds": services.min_seconds(),
            "success_message": form.success_message or inquiry_fields.DEFAULT_SUCCESS,
        }
        response = Response(PublicInquiryFormOutputSerializer(body).data)
        response["Cache-Control"] = "private, no-store"
        return response

    @extend_schema(
        tags=TAGS,
        operation_id="public_inquiry_create",
        summary="Send an inquiry",
        description="Makes (or finds by email) the contact and a job in the first stage, emails "
        "the studio and sends the studio's auto-reply.",
        request=PublicInquiryInputSerializer,
        responses={
            201: PublicInquiryCreatedSerializer,
            **error_responses(
                400,
                404,
                429,
                e400="`invalid_answers` (`fields` has the messages and `field_codes` one code per "
                "key: `required`, `invalid_email`, `invalid_phone`, `invalid_date`, "
                "`date_in_past`, `invalid_number`, `invalid_choice`, `invalid_amount`, "
                "`too_long`, `unknown_field`, `invalid`), `too_fast`, `invalid_form_token`, "
                "`form_token_expired`, `validation_error`.",
                e429="`too_many_inquiries` from this address; Retry-After says when.",
            ),
        },
        examples=[
            OpenApiExample(
                "Answers",
                value={
                    "token": "eyJmIjoi…",
                    "answers": {
                        "first_name": "Jane",
                        "last_name": "Doe",
                        "email": "jane@example.com",
                        "event_type": "Wedding",
                        "event_date": "2027-06-12",
                        "budget": "3500",
                        "message": "We are getting married in Lyon!",
                        "marketing_consent": True,
                    },
                },
                request_only=True,
            ),
            OpenApiExample(
                "Received",
                value={"status": "received", "message": "Thank you!"},
                response_only=True,
            ),
        ],
    )
    def post(self, request, key: str):
        form = self._form(key)
        data = self.PublicInquiryInputSerializer.validate_or_raise(request.data)
        services.inquiry_submit(
            form=form,
            data=data["answers"],
            token=data["token"],
            honeypot=data.get("website", ""),
            address=client_address(request),
            origin=data.get("origin", ""),
        )
        # A filled honeypot gets the same answer: nothing tells a bot it was caught.
        body = {
            "status": "received",
            "message": form.success_message or inquiry_fields.DEFAULT_SUCCESS,
        }
        return Response(body, status=status.HTTP_201_CREATED)
