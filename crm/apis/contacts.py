"""Contact endpoints: custom field definitions, contacts (CRUD, search, merge), the CSV import
and exports, and a person's data (GDPR art. 15 export, art. 17 erase).

A merged contact stays readable at its old id: GET answers 200 with the tombstone, whose
``merged_into`` names the survivor (a client follows it; a redirect would hide the tombstone's
``merged_at`` and break clients that do not follow redirects on API calls).
"""

from __future__ import annotations

import csv

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from accounts.permissions import Perm
from crm.models import Contact, CustomFieldDefinition, ImportJob
from crm.selectors import contacts as selectors
from crm.services import contacts as services
from picpick.core.apis import StudioAPIView
from picpick.core.errors import ApplicationError
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body
from picpick.core.serializers import InputSerializer, QuickOutputMixin

TAGS = ["crm"]


# --- Shapes -------------------------------------------------------------------------------------
class CustomFieldOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomFieldDefinition
        fields = [
            "id",
            "applies_to",
            "key",
            "label",
            "kind",
            "choices",
            "required",
            "position",
            "created_at",
        ]


class EmailOutputSerializer(QuickOutputMixin, serializers.Serializer):
    email = serializers.CharField()
    is_primary = serializers.BooleanField()


class PhoneSerializer(serializers.Serializer):
    number = serializers.CharField(
        max_length=40, help_text="Any spelling in; E.164 out (`+14155550100`)."
    )
    label = serializers.CharField(max_length=30, required=False, allow_blank=True)


class PhoneOutputSerializer(QuickOutputMixin, PhoneSerializer):
    is_primary = serializers.BooleanField()


class ContactOutputSerializer(QuickOutputMixin, serializers.ModelSerializer):
    emails = EmailOutputSerializer(many=True, source="email_list")
    phones = PhoneOutputSerializer(many=True, source="phone_list")
    tags = serializers.ListField(child=serializers.CharField(), source="tag_list")
    custom_fields = serializers.SerializerMethodField()

    class Meta:
        model = Contact
        fields = [
            "id",
            "first_name",
            "last_name",
            "company",
            "email",
            "phone",
            "emails",
            "phones",
            "address_line1",
            "address_line2",
            "city",
            "region",
            "postal_code",
            "country",
            "tags",
            "source",
            "notes",
            "custom_fields",
            "marketing_consent",
            "marketing_consent_at",
            "marketing_consent_source",
            "merged_into",
            "merged_at",
            "erased_at",
            "created_at",
            "updated_at",
        ]

    def get_custom_fields(self, contact) -> dict:
        return selectors.custom_values_visible(contact, self.context["definitions"])


def _contact_body(view: StudioAPIView, contact: Contact) -> dict:
    contact = selectors.contact_get_detailed(studio=view.studio, contact_id=contact.id)
    definitions = selectors.contact_definitions(studio=view.studio)
    return ContactOutputSerializer(contact, context={"definitions": definitions}).data


class ContactPageSerializer(serializers.Serializer):
    results = ContactOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class ImportJobOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportJob
        fields = [
            "id",
            "filename",
            "file_sha256",
            "layout",
            "mapping",
            "state",
            "rows_total",
            "rows_done",
            "created_count",
            "updated_count",
            "skipped_count",
            "error_count",
            "errors",
            "failure_code",
            "created_at",
            "claimed_at",
            "finished_at",
        ]


CONTACT_EXAMPLE = {
    "first_name": "Ana",
    "last_name": "Lima",
    "company": "",
    "emails": ["ana@example.com"],
    "phones": [{"number": "(415) 555-0100", "label": "mobile"}],
    "country": "US",
    "tags": ["wedding 2027"],
    "source": "referral",
    "custom_fields": {"venue": "The Barn"},
    "marketing_consent": True,
    "marketing_consent_source": "asked at the consultation",
}


# --- Custom field definitions -------------------------------------------------------------------
class CustomFieldListApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW, "POST": Perm.CRM_EDIT}

    class CustomFieldFilterSerializer(serializers.Serializer):
        applies_to = serializers.ChoiceField(
            choices=CustomFieldDefinition.AppliesTo.choices, required=False
        )

    class CustomFieldCreateInputSerializer(InputSerializer):
        applies_to = serializers.ChoiceField(choices=CustomFieldDefinition.AppliesTo.choices)
        key = serializers.SlugField(max_length=50)
        label = serializers.CharField(max_length=100)
        kind = serializers.ChoiceField(choices=CustomFieldDefinition.Kind.choices)
        choices = serializers.ListField(
            child=serializers.CharField(max_length=100), required=False, max_length=100
        )
        required = serializers.BooleanField(required=False, default=False)
        position = serializers.IntegerField(required=False, default=0, min_value=0)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_custom_fields_list",
        summary="The studio's custom fields (of contacts and jobs)",
        parameters=[CustomFieldFilterSerializer],
        responses={200: CustomFieldOutputSerializer(many=True), **error_responses(401, 403)},
    )
    def get(self, request):
        params = self.CustomFieldFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        rows = selectors.custom_field_list(
            studio=self.studio, applies_to=params.validated_data.get("applies_to")
        )
        return Response({"results": CustomFieldOutputSerializer(rows, many=True).data})

    @extend_schema(
        tags=TAGS,
        operation_id="crm_custom_fields_create",
        summary="Add a custom field to contacts or jobs",
        request=CustomFieldCreateInputSerializer,
        examples=[
            OpenApiExample(
                "A choice field",
                value={
                    "applies_to": "contact",
                    "key": "package",
                    "label": "Package",
                    "kind": "choice",
                    "choices": ["gold", "silver"],
                },
                request_only=True,
            )
        ],
        responses={
            201: CustomFieldOutputSerializer,
            **error_responses(
                400, 401, 403, 409, e400="`invalid_choices`", e409="`custom_field_exists`"
            ),
        },
    )
    def post(self, request):
        data = self.CustomFieldCreateInputSerializer.validate_or_raise(request.data)
        row = services.custom_field_create(studio=self.studio, **data)
        return Response(CustomFieldOutputSerializer(row).data, status=status.HTTP_201_CREATED)


class CustomFieldDetailApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW, "PATCH": Perm.CRM_EDIT, "DELETE": Perm.CRM_EDIT}

    class CustomFieldUpdateInputSerializer(InputSerializer):
        label = serializers.CharField(max_length=100, required=False)
        choices = serializers.ListField(
            child=serializers.CharField(max_length=100), required=False, max_length=100
        )
        required = serializers.BooleanField(required=False)
        position = serializers.IntegerField(required=False, min_value=0)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_custom_fields_retrieve",
        summary="Read a custom field",
        responses={200: CustomFieldOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, definition_id):
        row = selectors.custom_field_get(studio=self.studio, definition_id=definition_id)
        return Response(CustomFieldOutputSerializer(row).data)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_custom_fields_update",
        summary="Change a custom field's label, choices, required flag or position",
        request=CustomFieldUpdateInputSerializer,
        examples=[OpenApiExample("Required", value={"required": True}, request_only=True)],
        responses={200: CustomFieldOutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request, definition_id):
        row = selectors.custom_field_get(studio=self.studio, definition_id=definition_id)
        changes = self.CustomFieldUpdateInputSerializer.validate_or_raise(request.data)
        row = services.custom_field_update(definition=row, changes=changes)
        return Response(CustomFieldOutputSerializer(row).data)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_custom_fields_destroy",
        summary="Remove a custom field (stored values leave every output)",
        responses={204: OpenApiResponse(description="Removed."), **error_responses(401, 403, 404)},
    )
    def delete(self, request, definition_id):
        row = selectors.custom_field_get(studio=self.studio, definition_id=definition_id)
        services.custom_field_delete(definition=row)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Contacts -----------------------------------------------------------------------------------
class _ContactFields(InputSerializer):
    first_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    company = serializers.CharField(max_length=200, required=False, allow_blank=True)
    emails = serializers.ListField(
        child=serializers.CharField(max_length=254),
        required=False,
        max_length=20,
        help_text="The first is the primary email. Stored lower-case; unique in the studio.",
    )
    phones = PhoneSerializer(many=True, required=False, max_length=20)
    address_line1 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    address_line2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    country = serializers.CharField(
        max_length=2, required=False, allow_blank=True, help_text="ISO 3166-1 alpha-2."
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, max_length=50
    )
    source = serializers.ChoiceField(choices=Contact.Source.choices, required=False)
    notes = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    custom_fields = serializers.DictField(required=False)
    marketing_consent = serializers.BooleanField(required=False)
    marketing_consent_source = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="How consent was given."
    )


class ContactListApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW, "POST": Perm.CRM_EDIT}

    class ContactFilterSerializer(PageParams):
        q = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=200,
            help_text="A name prefix (`ana`, `ana li`), an email or its prefix (`ana@`, "
            "`ana.lima`), or a phone "
            "number in any spelling (also its last 6+ digits).",
        )
        tag = serializers.CharField(required=False, allow_blank=True, max_length=50)
        source = serializers.ChoiceField(choices=Contact.Source.choices, required=False)
        created_after = serializers.DateTimeField(required=False)
        created_before = serializers.DateTimeField(required=False)
        ordering = serializers.CharField(required=False, default=selectors.DEFAULT_ORDERING)

    class ContactCreateInputSerializer(_ContactFields):
        pass

    @extend_schema(
        tags=TAGS,
        operation_id="crm_contacts_list",
        summary="Find contacts (name, email, phone, tag, source, created range)",
        parameters=[
            ContactFilterSerializer,
            OpenApiParameter(
                "ordering",
                OpenApiTypes.STR,
                enum=list(selectors.ORDERINGS),
                description="Default `name` (last name, first name).",
            ),
        ],
        responses={200: ContactPageSerializer, **error_responses(400, 401, 403)},
    )
    def get(self, request):
        params = self.ContactFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        p = params.validated_data
        query = selectors.contact_list(
            studio=self.studio,
            q=p.get("q", ""),
            tag=p.get("tag", ""),
            source=p.get("source", ""),
            created_after=p.get("created_after"),
            created_before=p.get("created_before"),
            ordering=p["ordering"],
        )
        page = selectors.contact_page(query=query, cursor=p.get("cursor"), page_size=p["page_size"])
        definitions = selectors.contact_definitions(studio=self.studio)
        results = ContactOutputSerializer(
            page.items, many=True, context={"definitions": definitions}
        ).data
        return Response(page_body(page, results))

    @extend_schema(
        tags=TAGS,
        operation_id="crm_contacts_create",
        summary="Add a contact",
        request=ContactCreateInputSerializer,
        examples=[OpenApiExample("A client", value=CONTACT_EXAMPLE, request_only=True)],
        responses={
            201: ContactOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                409,
                e400="`validation_error`, `invalid_email`, `invalid_phone` (the field named), "
                "`invalid_country`, `invalid_custom_fields`",
                e409="`contact_exists`: an email is another contact's (`contact_id` names it)",
            ),
        },
    )
    def post(self, request):
        data = self.ContactCreateInputSerializer.validate_or_raise(request.data)
        contact = services.contact_create(studio=self.studio, by=request.user, **data)
        return Response(_contact_body(self, contact), status=status.HTTP_201_CREATED)


class ContactDetailApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW, "PATCH": Perm.CRM_EDIT, "DELETE": Perm.CRM_EDIT}

    class ContactUpdateInputSerializer(_ContactFields):
        pass

    @extend_schema(
        tags=TAGS,
        operation_id="crm_contacts_retrieve",
        summary="Read a contact (a merged one: its tombstone, `merged_into` names the survivor)",
        responses={200: ContactOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, contact_id):
        contact = selectors.contact_get(studio=self.studio, contact_id=contact_id)
        return Response(_contact_body(self, contact))

    @extend_schema(
        tags=TAGS,
        operation_id="crm_contacts_update",
        summary="Change a contact (a list given replaces the whole list)",
        request=ContactUpdateInputSerializer,
        examples=[
            OpenApiExample(
                "New phone, consent withdrawn",
                value={
                    "phones": [{"number": "+44 20 7946 0958"}],
                    "marketing_consent": False,
                    "marketing_consent_source": "unsubscribe email",
                },
                request_only=True,
            )
        ],
        responses={
            200: ContactOutputSerializer,
            **error_responses(400, 401, 403, 404, 409, e409="`contact_exists`, `contact_merged`"),
        },
    )
    def patch(self, request, contact_id):
        contact = selectors.contact_get(studio=self.studio, contact_id=contact_id)
        changes = self.ContactUpdateInputSerializer.validate_or_raise(request.data)
        contact = services.contact_update(contact=contact, by=request.user, changes=changes)
        return Response(_contact_body(self, contact))

    @extend_schema(
        tags=TAGS,
        operation_id="crm_contacts_destroy",
        summary="Delete a contact that is on no job (else erase it)",
        responses={
            204: OpenApiResponse(description="Deleted."),
            **error_responses(
                401,
                403,
                404,
                409,
                e409="`contact_has_jobs`, `contact_has_money_history` (a wallet, payments or "
                "saved cards: erase the contact instead)",
            ),
        },
    )
    def delete(self, request, contact_id):
        contact = selectors.contact_get(studio=self.studio, contact_id=contact_id)
        services.contact_delete(contact=contact, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ContactMergeApi(StudioAPIView):
    permissions = {"POST": Perm.CRM_EDIT}

    class ContactMergeInputSerializer(InputSerializer):
        pass

    # "from" is a Python keyword, so the field cannot be declared as a class attribute.
    ContactMergeInputSerializer._declared_fields["from"] = serializers.UUIDField(
        help_text="The contact merged into this one (left as a tombstone)."
    )

    @extend_schema(
        tags=TAGS,
        operation_id="crm_contacts_merge",
        summary="Merge another contact into this one",
        request=ContactMergeInputSerializer,
        examples=[
            OpenApiExample(
                "Merge", value={"from": "01939a8e-8d6f-7c4e-9d1a-3b2c1d0e9f8a"}, request_only=True
            )
        ],
        responses={
            200: ContactOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400="`merge_into_self`",
                e404="Either contact is not in the studio.",
                e409="`contact_merged`: one of them is already a tombstone; `wallet_has_holds`: "
                "a checkout holds money in the merged contact's wallet",
            ),
        },
    )
    def post(self, request, contact_id):
        survivor = selectors.contact_get(studio=self.studio, contact_id=contact_id)
        data = self.ContactMergeInputSerializer.validate_or_raise(request.data)
        merged = selectors.contact_get(studio=self.studio, contact_id=data["from"])
        survivor = services.contact_merge(survivor=survivor, merged=merged, by=request.user)
        return Response(_contact_body(self, survivor))


class ContactDataApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_EDIT}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_contacts_data_export",
        summary="Everything the studio holds on the person (GDPR art. 15), as JSON",
        description="Contact, emails, phones, tags, custom fields, jobs, inquiries, emails "
        "sent, tasks, timeline, and the galleries visited with their favourites (guests' rows "
        "of the contact's emails). Needs `crm.edit`: it is the full personal record.",
        responses={200: OpenApiTypes.OBJECT, **error_responses(401, 403, 404)},
    )
    def get(self, request, contact_id):
        contact = selectors.contact_get(studio=self.studio, contact_id=contact_id)
        return Response(selectors.contact_data_export(contact=contact))


class ContactEraseApi(StudioAPIView):
    permissions = {"POST": Perm.CRM_EDIT}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_contacts_erase",
        summary="Erase the person (GDPR art. 17): anonymised, rows money points at kept",
        request=None,
        responses={
            200: ContactOutputSerializer,
            **error_responses(401, 403, 404, 409, e409="`contact_merged`"),
        },
    )
    def post(self, request, contact_id):
        contact = selectors.contact_get(studio=self.studio, contact_id=contact_id)
        contact = services.contact_erase(contact=contact, by=request.user)
        return Response(_contact_body(self, contact))


# --- Import and export --------------------------------------------------------------------------
class ContactImportApi(StudioAPIView):
    permissions = {"POST": Perm.CRM_EDIT}
    parser_classes = [MultiPartParser, FormParser]
    # The body-size guard lets this view's uploads through up to the import limit.
    max_body_bytes = settings.PICPICK_CRM_IMPORT_MAX_BYTES + 64 * 1024

    class ContactImportInputSerializer(InputSerializer):
        file = serializers.FileField()
        layout = serializers.ChoiceField(choices=services.LAYOUTS, required=False, default="auto")
        # binary: a multipart form sends the mapping as JSON text.
        mapping = serializers.JSONField(
            required=False,
            binary=True,
            help_text='For `layout=mapping`: CSV header -> field, e.g. {"E-mail": "email"}.',
        )

    @extend_schema(
        tags=TAGS,
        operation_id="crm_contacts_import",
        summary="Import contacts from a CSV (runs in the background)",
        description="HoneyBook and Dubsado exports and common spreadsheets are read by their "
        "headers (`auto`); else give a mapping. Contacts whose email exists are skipped, so a "
        "re-run adds nothing twice. Follow progress at the returned import.",
        request={"multipart/form-data": ContactImportInputSerializer},
        responses={
            202: ImportJobOutputSerializer,
            **error_responses(400, 401, 403, 413, e400="`invalid_layout`, `invalid_mapping`"),
        },
    )
    def post(self, request):
        data = request.data
        fields = {k: data.get(k) for k in data if k in ("layout", "mapping")}
        serializer = self.ContactImportInputSerializer(data={**fields, "file": data.get("file")})
        serializer.is_valid(raise_exception=True)
        v = serializer.validated_data
        upload = v["file"]
        if upload.size > settings.PICPICK_CRM_IMPORT_MAX_BYTES:
            raise ApplicationError(
                "The file is too large.",
                code="payload_too_large",
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        mapping = v.get("mapping") or {}
        if not isinstance(mapping, dict):
            raise ApplicationError(
                "mapping is an object.", code="invalid_mapping", fields={"mapping": ["Object."]}
            )
        job = services.contact_import_start(
            studio=self.studio,
            by=request.user,
            upload=upload,
            filename=upload.name,
            layout=v["layout"],
            mapping=mapping,
        )
        return Response(ImportJobOutputSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ContactImportDetailApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_contacts_import_retrieve",
        summary="An import's progress, counts and per-row errors",
        responses={200: ImportJobOutputSerializer, **error_responses(401, 403, 404)},
        examples=[
            OpenApiExample(
                "Done",
                value={
                    "state": "done",
                    "rows_total": 3,
                    "rows_done": 3,
                    "created_count": 2,
                    "skipped_count": 0,
                    "error_count": 1,
                    "errors": [{"row": 3, "code": "invalid_phone", "message": "Not valid."}],
                    "failure_code": "",
                },
                response_only=True,
            )
        ],
    )
    def get(self, request, import_job_id):
        job = selectors.import_job_get(studio=self.studio, import_job_id=import_job_id)
        return Response(ImportJobOutputSerializer(job).data)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_response(rows, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class ContactExportApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_contacts_export",
        summary="All live contacts as CSV (streamed)",
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV file."),
            **error_responses(401, 403),
        },
    )
    def get(self, request):
        return _csv_response(selectors.contact_export_rows(studio=self.studio), "contacts.csv")


class JobExportApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_jobs_export",
        summary="All jobs as CSV (streamed; values in minor units of their currency)",
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV file."),
            **error_responses(401, 403),
        },
    )
    def get(self, request):
        return _csv_response(selectors.job_export_rows(studio=self.studio), "jobs.csv")
