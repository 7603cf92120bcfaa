"""Job endpoints: list (filters, ordering), create, read, edit, delete; stage changes and their
history; linked contacts and galleries; the board of a pipeline."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from crm.apis.pipelines import StageOutputSerializer
from crm.custom_fields import custom_fields_visible
from crm.models import Contact, CustomFieldDefinition, Job, JobContact
from crm.selectors import jobs as selectors
from crm.services import jobs as services
from crm.services.pipelines import pipeline_default_ensure
from galleries.models import Gallery
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body
from picpick.core.selectors import studio_object_or_404
from picpick.core.serializers import InputSerializer

TAGS = ["crm"]
# Plain strings in the schema, the values listed (an enum named "role" collides with the
# studio roles'); the service answers `invalid_role` for anything else.
_ROLES = "One of: " + ", ".join(JobContact.Role.values) + "."
MAX_CONTACTS = 50
BOARD_PER_STAGE = 20
BOARD_PER_STAGE_MAX = 100


# --- Fields -------------------------------------------------------------------------------------
@extend_schema_field(OpenApiTypes.INT)
class AmountField(serializers.Field):
    """Handed to the service as sent: it refuses "12.50", 12.5 and true with `invalid_amount`
    (a serializer's IntegerField would quietly accept "12" and 12.0)."""

    def to_internal_value(self, data):
        return data

    def to_representation(self, value):
        return value


@extend_schema_field(OpenApiTypes.DATETIME)
class EventDateTimeField(serializers.Field):
    """ISO 8601. With an offset it is that instant; without one it is a wall-clock time at the
    event (its event_timezone, else the studio's time zone), placed by the view."""

    def to_internal_value(self, data):
        value = parse_datetime(data) if isinstance(data, str) else None
        if value is None:
            raise serializers.ValidationError("A date and time in ISO 8601 (2026-06-01T14:00).")
        return value

    def to_representation(self, value):
        return value.isoformat()


def _placed(value: dt.datetime | None, zone_name: str) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    # fold=0: a wall-clock time that happens twice (the autumn change) is the first one.
    return value.replace(tzinfo=zoneinfo.ZoneInfo(zone_name))


# --- Output -------------------------------------------------------------------------------------
class JobStageOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    kind = serializers.CharField()


class JobOwnerOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    full_name = serializers.CharField()
    email = serializers.EmailField()


class JobContactOutputSerializer(serializers.Serializer):
    contact_id = serializers.UUIDField()
    name = serializers.SerializerMethodField()
    email = serializers.CharField(source="contact.email")
    role = serializers.CharField(help_text=_ROLES)
    is_billing = serializers.BooleanField()

    def get_name(self, link) -> str:
        return _contact_name(link.contact)


class JobGalleryOutputSerializer(serializers.Serializer):
    gallery_id = serializers.UUIDField()
    name = serializers.CharField(source="gallery.name")


def _contact_name(contact: Contact) -> str:
    return " ".join(p for p in (contact.first_name, contact.last_name) if p) or contact.company


class _LocalTimes(serializers.Serializer):
    def _zone(self, job) -> str:
        return job.event_timezone or self.context["studio"].timezone or "UTC"

    def get_timezone(self, job) -> str:
        return self._zone(job)

    def get_event_start_local(self, job) -> str | None:
        return (
            job.event_start.astimezone(zoneinfo.ZoneInfo(self._zone(job))).isoformat()
            if job.event_start
            else None
        )

    def get_event_end_local(self, job) -> str | None:
        return (
            job.event_end.astimezone(zoneinfo.ZoneInfo(self._zone(job))).isoformat()
            if job.event_end
            else None
        )


class JobOutputSerializer(_LocalTimes):
    id = serializers.UUIDField()
    name = serializers.CharField()
    job_type = serializers.CharField()
    pipeline_id = serializers.UUIDField()
    stage = JobStageOutputSerializer()
    stage_entered_at = serializers.DateTimeField()
    position = serializers.IntegerField()
    event_start = serializers.DateTimeField(allow_null=True, help_text="UTC.")
    event_end = serializers.DateTimeField(allow_null=True, help_text="UTC.")
    event_timezone = serializers.CharField(help_text="The event's own zone (\"\" = the studio's).")
    timezone = serializers.SerializerMethodField(help_text="The zone the local times are in.")
    event_start_local = serializers.SerializerMethodField()
    event_end_local = serializers.SerializerMethodField()
    location = serializers.CharField()
    estimated_value = serializers.IntegerField(help_text="Minor units of currency.")
    currency = serializers.CharField()
    lead_source = serializers.CharField()
    owner = JobOwnerOutputSerializer(allow_null=True)
    booked_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    lost_reason = serializers.CharField()
    notes = serializers.CharField()
    custom_fields = serializers.SerializerMethodField()
    contacts = JobContactOutputSerializer(many=True, source="contact_links")
    galleries = JobGalleryOutputSerializer(many=True, source="gallery_links")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_custom_fields(self, job) -> dict:
        return custom_fields_visible(self.context["job_fields"], job.custom_fields)


class JobPageSerializer(serializers.Serializer):
    results = JobOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class StageChangeOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    from_stage = JobStageOutputSerializer(allow_null=True)
    to_stage = JobStageOutputSerializer(allow_null=True)
    by_id = serializers.UUIDField(allow_null=True)
    seconds_in_from = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class StageChangeListSerializer(serializers.Serializer):
    results = StageChangeOutputSerializer(many=True)


class BoardCardSerializer(_LocalTimes):
    id = serializers.UUIDField()
    name = serializers.CharField()
    job_type = serializers.CharField()
    position = serializers.IntegerField()
    stage_entered_at = serializers.DateTimeField()
    event_start = serializers.DateTimeField(allow_null=True)
    event_start_local = serializers.SerializerMethodField()
    estimated_value = serializers.IntegerField()
    currency = serializers.CharField()
    owner_id = serializers.UUIDField(allow_null=True)
    client_name = serializers.CharField(help_text="The billing contact's name.")


class BoardTotalSerializer(serializers.Serializer):
    currency = serializers.CharField()
    value = serializers.IntegerField(help_text="Minor units.")


class BoardColumnSerializer(serializers.Serializer):
    stage = StageOutputSerializer()
    count = serializers.IntegerField()
    totals = serializers.SerializerMethodField()
    results = serializers.SerializerMethodField()
    next = serializers.SerializerMethodField(help_text="Cursor for the column's next cards.")

    @extend_schema_field(BoardTotalSerializer(many=True))
    def get_totals(self, column) -> list:
        return [{"currency": c, "value": v} for c, v in sorted(column.totals.items())]

    @extend_schema_field(BoardCardSerializer(many=True))
    def get_results(self, column) -> list:
        return BoardCardSerializer(column.page.items, many=True, context=self.context).data

    def get_next(self, column) -> str | None:
        return column.page.next_cursor


class BoardOutputSerializer(serializers.Serializer):
    pipeline_id = serializers.UUIDField()
    stages = BoardColumnSerializer(many=True)


class BoardCardPageSerializer(serializers.Serializer):
    results = BoardCardSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


_JOB_ID = "0193a5a0-8d2f-7c3b-a0f1-2b3c4d5e6f70"
_JOB_EXAMPLE = {
    "id": _JOB_ID,
    "name": "Smith wedding",
    "job_type": "wedding",
    "pipeline_id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b00",
    "stage": {"id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b5c", "name": "Booked", "kind": "booked"},
    "stage_entered_at": "2026-03-02T09:15:00Z",
    "position": 0,
    "event_start": "2026-06-13T13:00:00Z",
    "event_end": "2026-06-13T22:00:00Z",
    "event_timezone": "Europe/Paris",
    "timezone": "Europe/Paris",
    "event_start_local": "2026-06-13T15:00:00+02:00",
    "event_end_local": "2026-06-14T00:00:00+02:00",
    "location": "Château de Vaux, Maincy",
    "estimated_value": 450000,
    "currency": "EUR",
    "lead_source": "instagram",
    "owner": {
        "id": "0193a5a0-6b1d-7a09-8b41-5e0c1d2f3a4b",
        "full_name": "Alice Owner",
        "email": "alice@example.com",
    },
    "booked_at": "2026-03-02T09:15:00Z",
    "completed_at": None,
    "lost_reason": "",
    "notes": "Ceremony at 15:00, dinner outside.",
    "custom_fields": {"guests": 120},
    "contacts": [
        {
            "contact_id": "0193a5a0-5a0c-7908-9a30-4d0b1c2e3f4a",
            "name": "Jane Smith",
            "email": "jane@example.com",
            "role": "client",
            "is_billing": True,
        }
    ],
    "galleries": [],
    "created_at": "2026-02-20T18:01:00Z",
    "updated_at": "2026-03-02T09:15:00Z",
}
_JOB_ERRORS = (
    "`invalid_amount` (not an integer of minor units, or negative), `invalid_currency`, "
    "`invalid_timezone`, `invalid_event_range`, `owner_not_member`, `contact_not_found`, "
    "`billing_contact_count`, `stage_of_another_pipeline`, `stage_not_found`, "
    "`invalid_custom_fields`, `validation_error`"
)


def _job_context(view) -> dict:
    definitions = list(
        CustomFieldDefinition.objects.filter(
            studio=view.studio, applies_to=CustomFieldDefinition.AppliesTo.JOB
        )
    )
    return {"studio": view.studio, "job_fields": definitions}


def _job_body(view, job_id) -> dict:
    job = selectors.job_get(studio=view.studio, job_id=job_id)
    return JobOutputSerializer(job, context=_job_context(view)).data


# --- Input --------------------------------------------------------------------------------------
class JobContactInputSerializer(InputSerializer):
    contact = serializers.UUIDField()
    role = serializers.CharField(default=JobContact.Role.CLIENT, help_text=_ROLES)
    is_billing = serializers.BooleanField(default=False)


class _JobFieldsInput(InputSerializer):
    name = serializers.CharField(max_length=200)
    job_type = serializers.CharField(max_length=50, allow_blank=True, required=False)
    event_start = EventDateTimeField(allow_null=True, required=False)
    event_end = EventDateTimeField(allow_null=True, required=False)
    event_timezone = serializers.CharField(
        max_length=64,
        allow_blank=True,
        required=False,
        help_text="IANA name; blank = the studio's.",
    )
    location = serializers.CharField(max_length=300, allow_blank=True, required=False)
    estimated_value = AmountField(required=False, help_text="Integer minor units (cents), >= 0.")
    currency = serializers.CharField(max_length=10, required=False, help_text="ISO 4217.")
    lead_source = serializers.CharField(max_length=100, allow_blank=True, required=False)
    owner = serializers.UUIDField(allow_null=True, required=False, help_text="A member's user id.")
    notes = serializers.CharField(max_length=20000, allow_blank=True, required=False)
    custom_fields = serializers.DictField(required=False)


def _fields_from(view, data: dict, *, job: Job | None = None) -> dict:
    """The service's keyword arguments from validated input: ids resolved in the studio,
    wall-clock event times placed in the event's (or the studio's) zone."""
    studio = view.studio
    if "event_timezone" in data:
        data["event_timezone"] = services.timezone_check(data["event_timezone"])
    zone = data.get("event_timezone", job.event_timezone if job else "") or studio.timezone or "UTC"
    for name in ("event_start", "event_end"):
        if name in data:
            data[name] = _placed(data[name], zone)
    if data.get("owner") is not None:
        data["owner"] = selectors.member_for_input(studio=studio, user_id=data["owner"])
    return data


class JobListApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW, "POST": Perm.CRM_EDIT}

    class JobListParamsSerializer(PageParams):
        stage = serializers.UUIDField(required=False)
        pipeline = serializers.UUIDField(required=False)
        job_type = serializers.CharField(required=False, max_length=50)
        owner = serializers.UUIDField(required=False)
        contact = serializers.UUIDField(required=False)
        event_from = serializers.DateTimeField(required=False, help_text="Event start ≥ this.")
        event_to = serializers.DateTimeField(required=False, help_text="Event start < this.")
        q = serializers.CharField(required=False, max_length=200, help_text="In the name.")
        ordering = serializers.ChoiceField(
            choices=list(selectors.JOB_ORDERINGS),
            default="-created_at",
            help_text="By event_start: only jobs with an event date.",
        )

    class JobCreateInputSerializer(_JobFieldsInput):
        stage = serializers.UUIDField(required=False, help_text="Default: the pipeline's first.")
        pipeline = serializers.UUIDField(required=False, help_text="Default: the studio's default.")
        contacts = serializers.ListField(
            child=JobContactInputSerializer(), required=False, max_length=MAX_CONTACTS
        )

    @extend_schema(
        tags=TAGS,
        operation_id="crm_jobs_list",
        summary="List the studio's jobs",
        parameters=[JobListParamsSerializer],
        responses={200: JobPageSerializer, **error_responses(400, 401, 403)},
        examples=[
            OpenApiExample(
                "A page",
                value={"results": [_JOB_EXAMPLE], "next": None, "previous": None},
                response_only=True,
            )
        ],
    )
    def get(self, request):
        params = self.JobListParamsSerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        p = params.validated_data
        filters = selectors.JobFilters(
            **{
                k: p.get(k)
                for k in (
                    "stage",
                    "pipeline",
                    "job_type",
                    "owner",
                    "contact",
                    "event_from",
                    "event_to",
                    "q",
                )
            }
        )
        page = selectors.job_list(
            studio=self.studio,
            filters=filters,
            ordering=p["ordering"],
            cursor=p.get("cursor") or None,
            page_size=p["page_size"],
        )
        results = JobOutputSerializer(page.items, many=True, context=_job_context(self)).data
        return Response(page_body(page, results))

    @extend_schema(
        tags=TAGS,
        operation_id="crm_jobs_create",
        summary="Create a job",
        description="Without a stage it starts in the first stage of the pipeline (the studio's "
        "default pipeline unless one is given). With contacts, exactly one is the billing "
        "contact (the first when none is marked).",
        request=JobCreateInputSerializer,
        responses={201: JobOutputSerializer, **error_responses(400, 401, 403, e400=_JOB_ERRORS)},
        examples=[
            OpenApiExample(
                "Wedding",
                value={
                    "name": "Smith wedding",
                    "job_type": "wedding",
                    "event_start": "2026-06-13T15:00",
                    "event_end": "2026-06-14T00:00",
                    "event_timezone": "Europe/Paris",
                    "location": "Château de Vaux, Maincy",
                    "estimated_value": 450000,
                    "currency": "EUR",
                    "lead_source": "instagram",
                    "contacts": [
                        {
                            "contact": "0193a5a0-5a0c-7908-9a30-4d0b1c2e3f4a",
                            "role": "client",
                            "is_billing": True,
                        }
                    ],
                },
                request_only=True,
            ),
            OpenApiExample("Created", value=_JOB_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request):
        data = self.JobCreateInputSerializer.validate_or_raise(request.data)
        data = _fields_from(self, data)
        if data.get("stage"):
            data["stage"] = selectors.stage_for_input(studio=self.studio, stage_id=data["stage"])
        if data.get("pipeline"):
            data["pipeline"] = selectors.pipeline_for_input(
                studio=self.studio, pipeline_id=data["pipeline"]
            )
        links = data.pop("contacts", [])
        found = selectors.contacts_for_input(
            studio=self.studio, contact_ids=[link["contact"] for link in links]
        )
        data["contacts"] = [
            (found[link["contact"]], link["role"], link["is_billing"]) for link in links
        ]
        job = services.job_create(studio=self.studio, by=request.user, **data)
        return Response(_job_body(self, job.id), status=status.HTTP_201_CREATED)


class JobDetailApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW, "PATCH": Perm.CRM_EDIT, "DELETE": Perm.CRM_EDIT}

    class JobUpdateInputSerializer(_JobFieldsInput):
        name = serializers.CharField(max_length=200, required=False)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_jobs_retrieve",
        summary="Read a job",
        responses={200: JobOutputSerializer, **error_responses(401, 403, 404)},
        examples=[OpenApiExample("Job", value=_JOB_EXAMPLE, response_only=True)],
    )
    def get(self, request, job_id):
        return Response(_job_body(self, job_id))

    @extend_schema(
        tags=TAGS,
        operation_id="crm_jobs_update",
        summary="Change a job's fields (stage changes have their own endpoint)",
        request=JobUpdateInputSerializer,
        responses={
            200: JobOutputSerializer,
            **error_responses(400, 401, 403, 404, e400=_JOB_ERRORS),
        },
        examples=[
            OpenApiExample(
                "Value", value={"estimated_value": 520000, "currency": "EUR"}, request_only=True
            )
        ],
    )
    def patch(self, request, job_id):
        job = selectors.job_get_plain(studio=self.studio, job_id=job_id)
        data = self.JobUpdateInputSerializer.validate_or_raise(request.data)
        data = _fields_from(self, data, job=job)
        services.job_update(job=job, by=request.user, **data)
        return Response(_job_body(self, job.id))

    @extend_schema(
        tags=TAGS,
        operation_id="crm_jobs_destroy",
        summary="Delete a job with its stage history and timeline (contacts and galleries stay)",
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(401, 403, 404)},
    )
    def delete(self, request, job_id):
        job = selectors.job_get_plain(studio=self.studio, job_id=job_id)
        services.job_delete(job=job, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class JobStageApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW, "POST": Perm.CRM_EDIT}

    class JobStageInputSerializer(InputSerializer):
        stage = serializers.UUIDField()
        reason = serializers.CharField(
            max_length=300, allow_blank=True, required=False, help_text="Required for a lost stage."
        )

    @extend_schema(
        tags=TAGS,
        operation_id="crm_jobs_stage_history",
        summary="A job's stage changes, oldest first",
        responses={200: StageChangeListSerializer, **error_responses(401, 403, 404)},
        examples=[
            OpenApiExample(
                "History",
                value={
                    "results": [
                        {
                            "id": "0193a5a0-9e30-7d4c-b102-3c4d5e6f7081",
                            "from_stage": {
                                "id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b5a",
                                "name": "Inquiry",
                                "kind": "open",
                            },
                            "to_stage": {
                                "id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b5c",
                                "name": "Booked",
                                "kind": "booked",
                            },
                            "by_id": "0193a5a0-6b1d-7a09-8b41-5e0c1d2f3a4b",
                            "seconds_in_from": 86400,
                            "reason": "",
                            "created_at": "2026-03-02T09:15:00Z",
                        }
                    ]
                },
                response_only=True,
            )
        ],
    )
    def get(self, request, job_id):
        job = selectors.job_get_plain(studio=self.studio, job_id=job_id)
        changes = selectors.job_stage_changes(job=job)
        return Response({"results": StageChangeOutputSerializer(changes, many=True).data})

    @extend_schema(
        tags=TAGS,
        operation_id="crm_jobs_stage_change",
        summary="Move a job to another stage of its pipeline",
        request=JobStageInputSerializer,
        responses={
            200: JobOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400="`stage_of_another_pipeline`, `stage_not_found`, `reason_required` (lost)",
                e409="`stage_removed`",
            ),
        },
        examples=[
            OpenApiExample(
                "Booked", value={"stage": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b5c"}, request_only=True
            ),
            OpenApiExample(
                "Lost",
                value={
                    "stage": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b5d",
                    "reason": "Went with another photographer",
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request, job_id):
        job = selectors.job_get_plain(studio=self.studio, job_id=job_id)
        data = self.JobStageInputSerializer.validate_or_raise(request.data)
        stage = selectors.stage_for_input(studio=self.studio, stage_id=data["stage"])
        services.job_stage_change(
            job=job, stage=stage, by=request.user, reason=data.get("reason", "")
        )
        return Response(_job_body(self, job.id))


class JobContactListApi(StudioAPIView):
    permissions = {"POST": Perm.CRM_EDIT}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_jobs_contacts_add",
        summary="Link a contact to a job",
        description="The job's first contact becomes its billing contact; is_billing moves it.",
        request=JobContactInputSerializer,
        responses={
            200: JobOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400="`contact_not_found`, `invalid_role`",
                e409="`contact_already_linked`",
            ),
        },
        examples=[
            OpenApiExample(
                "Planner",
                value={"contact": "0193a5a0-5a0c-7908-9a30-4d0b1c2e3f4b", "role": "planner"},
                request_only=True,
            )
        ],
    )
    def post(self, request, job_id):
        job = selectors.job_get_plain(studio=self.studio, job_id=job_id)
        data = JobContactInputSerializer.validate_or_raise(request.data)
        contact = selectors.contacts_for_input(studio=self.studio, contact_ids=[data["contact"]])[
            data["contact"]
        ]
        services.job_contact_add(
            job=job, contact=contact, role=data["role"], is_billing=data["is_billing"]
        )
        return Response(_job_body(self, job.id))


class JobContactDetailApi(StudioAPIView):
    permissions = {"PATCH": Perm.CRM_EDIT, "DELETE": Perm.CRM_EDIT}

    class JobContactUpdateInputSerializer(InputSerializer):
        role = serializers.CharField(required=False, help_text=_ROLES)
        is_billing = serializers.BooleanField(required=False)

    def _objects(self, job_id, contact_id):
        job = selectors.job_get_plain(studio=self.studio, job_id=job_id)
        contact = studio_object_or_404(
            Contact.objects.all(),
            studio=self.studio,
            object_id=contact_id,
            message="Contact not found.",
        )
        return job, contact

    @extend_schema(
        tags=TAGS,
        operation_id="crm_jobs_contacts_update",
        summary="Change a linked contact's role, or make it the billing contact",
        request=JobContactUpdateInputSerializer,
        responses={
            200: JobOutputSerializer,
            **error_responses(
                400, 401, 403, 404, e400="`billing_contact_required`, `invalid_role`"
            ),
        },
        examples=[OpenApiExample("Billing", value={"is_billing": True}, request_only=True)],
    )
    def patch(self, request, job_id, contact_id):
        job, contact = self._objects(job_id, contact_id)
        data = self.JobContactUpdateInputSerializer.validate_or_raise(request.data)
        services.job_contact_update(job=job, contact=contact, **data)
        return Response(_job_body(self, job.id))

    @extend_schema(
        tags=TAGS,
        operation_id="crm_jobs_contacts_remove",
        summary="Unlink a contact (the earliest remaining one becomes the billing contact)",
        responses={204: OpenApiResponse(description="Unlinked."), **error_responses(401, 403, 404)},
    )
    def delete(self, request, job_id, contact_id):
        job, contact = self._objects(job_id, contact_id)
        services.job_contact_remove(job=job, contact=contact)
        return Response(status=status.HTTP_204_NO_CONTENT)


class JobGalleryListApi(StudioAPIView):
    permissions = {"POST": Perm.CRM_EDIT}

    class JobGalleryInputSerializer(InputSerializer):
        gallery = serializers.UUIDField()

    @extend_schema(
        tags=TAGS,
        operation_id="crm_jobs_galleries_link",
        summary="Link a gallery of the studio to a job",
        request=JobGalleryInputSerializer,
        responses={
            200: JobOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400="`gallery_not_found`",
                e409="`gallery_linked_elsewhere`",
            ),
        },
        examples=[
            OpenApiExample(
                "Link", value={"gallery": "0193a5a0-4f0b-7807-8920-3c0a1b2d3e4f"}, request_only=True
            )
        ],
    )
    def post(self, request, job_id):
        job = selectors.job_get_plain(studio=self.studio, job_id=job_id)
        data = self.JobGalleryInputSerializer.validate_or_raise(request.data)
        gallery = selectors.gallery_for_input(studio=self.studio, gallery_id=data["gallery"])
        services.job_gallery_link(job=job, gallery=gallery, by=request.user)
        return Response(_job_body(self, job.id))


class JobGalleryDetailApi(StudioAPIView):
    permissions = {"DELETE": Perm.CRM_EDIT}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_jobs_galleries_unlink",
        summary="Unlink a gallery from a job (the gallery stays)",
        responses={204: OpenApiResponse(description="Unlinked."), **error_responses(401, 403, 404)},
    )
    def delete(self, request, job_id, gallery_id):
        job = selectors.job_get_plain(studio=self.studio, job_id=job_id)
        gallery = studio_object_or_404(
            Gallery.objects.all(),
            studio=self.studio,
            object_id=gallery_id,
            message="Gallery not found.",
        )
        services.job_gallery_unlink(job=job, gallery=gallery)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Board --------------------------------------------------------------------------------------
_CARD_EXAMPLE = {
    "id": _JOB_ID,
    "name": "Smith wedding",
    "job_type": "wedding",
    "position": 0,
    "stage_entered_at": "2026-03-02T09:15:00Z",
    "event_start": "2026-06-13T13:00:00Z",
    "event_start_local": "2026-06-13T15:00:00+02:00",
    "estimated_value": 450000,
    "currency": "EUR",
    "owner_id": None,
    "client_name": "Jane Smith",
}


class BoardApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW}

    class BoardParamsSerializer(InputSerializer):
        pipeline = serializers.UUIDField(required=False, help_text="Default: the studio's default.")
        per_stage = serializers.IntegerField(
            required=False, min_value=1, max_value=BOARD_PER_STAGE_MAX, default=BOARD_PER_STAGE
        )

    @extend_schema(
        tags=TAGS,
        operation_id="crm_board",
        summary="A pipeline's board: each stage's count, value totals and first cards",
        description="Each column's `next` cursor reads more cards from /crm/board/stages/{id}/. "
        "A handful of queries whatever the number of jobs.",
        parameters=[BoardParamsSerializer],
        responses={200: BoardOutputSerializer, **error_responses(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "Board",
                value={
                    "pipeline_id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b00",
                    "stages": [
                        {
                            "stage": {
                                "id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b5c",
                                "pipeline_id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b00",
                                "name": "Booked",
                                "kind": "booked",
                                "position": 2,
                            },
                            "count": 31,
                            "totals": [{"currency": "EUR", "value": 9350000}],
                            "results": [_CARD_EXAMPLE],
                            "next": "eyJ2IjpbMCwi...",
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        params = self.BoardParamsSerializer.validate_or_raise(request.query_params)
        if params.get("pipeline"):
            pipeline = selectors.pipeline_get(studio=self.studio, pipeline_id=params["pipeline"])
        else:
            pipeline = pipeline_default_ensure(studio=self.studio)
        columns = selectors.board(
            studio=self.studio, pipeline=pipeline, per_stage=params["per_stage"]
        )
        body = {"pipeline_id": pipeline.id, "stages": columns}
        return Response(BoardOutputSerializer(body, context={"studio": self.studio}).data)


class BoardStageApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_board_stage",
        summary="More cards of one board column",
        parameters=[PageParams],
        responses={200: BoardCardPageSerializer, **error_responses(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "Cards",
                value={"results": [_CARD_EXAMPLE], "next": None, "previous": "eyJ2Ijpb..."},
                response_only=True,
            )
        ],
    )
    def get(self, request, stage_id):
        stage = selectors.stage_get(studio=self.studio, stage_id=stage_id)
        params = PageParams(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        page = selectors.stage_jobs_page(
            studio=self.studio,
            stage=stage,
            cursor=params.validated_data.get("cursor") or None,
            page_size=params.validated_data["page_size"],
        )
        results = BoardCardSerializer(page.items, many=True, context={"studio": self.studio}).data
        return Response(page_body(page, results))
