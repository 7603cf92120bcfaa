"""The timeline of a job and of a contact (newest first, keyset pages), and notes on them."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from crm.selectors import timeline as selectors
from crm.selectors.contacts import contact_get
from crm.selectors.jobs import job_get_plain
from crm.services.notes import NOTE_MAX_LENGTH, note_add
from crm.timeline import KINDS
from picpick.core.apis import StudioAPIView
from picpick.core.errors import ApplicationError
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body
from picpick.core.serializers import InputSerializer

TAGS = ["crm"]


class ActorSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.SerializerMethodField()

    def get_name(self, user) -> str:
        return user.full_name or user.email


class TimelineEventOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    # A string, not an enum: the kinds grow (invoices, payments) without breaking clients.
    kind = serializers.CharField(help_text="One of: " + ", ".join(f"`{k}`" for k in sorted(KINDS)))
    occurred_at = serializers.DateTimeField()
    actor = ActorSerializer(allow_null=True, help_text="The member who did it; null for guests.")
    job_id = serializers.UUIDField(allow_null=True)
    contact_id = serializers.UUIDField(allow_null=True)
    payload = serializers.DictField(help_text="Its fields depend on `kind`.")


class TimelinePageSerializer(serializers.Serializer):
    results = TimelineEventOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class TimelineParams(InputSerializer, PageParams):
    kind = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Only these kinds: `kind=note,email_sent` or `kind=note&kind=email_sent`.",
    )


def _params(request) -> tuple[dict, list[str] | None]:
    params = TimelineParams.validate_or_raise(request.query_params)
    kinds = sorted(
        {
            kind.strip()
            for value in request.query_params.getlist("kind")
            for kind in value.split(",")
            if kind.strip()
        }
    )
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise ApplicationError(
            f"Unknown timeline kinds: {', '.join(unknown)}.",
            code="validation_error",
            fields={"kind": [f"Unknown kind {kind!r}." for kind in unknown]},
        )
    return params, kinds or None


def _page_response(page) -> Response:
    return Response(page_body(page, TimelineEventOutputSerializer(page.items, many=True).data))


_PAGE_EXAMPLE = OpenApiExample(
    "A page",
    value={
        "results": [
            {
                "id": "01939a5e-7c1a-7b2e-9f4e-3f1d2c3b4a59",
                "kind": "favourites_made",
                "occurred_at": "2026-06-14T19:02:11.120000Z",
                "actor": None,
                "job_id": "01939a4f-11aa-7c3d-8e2f-0a1b2c3d4e5f",
                "contact_id": None,
                "payload": {
                    "gallery_id": "01939a50-2b3c-7d4e-9f60-718293a4b5c6",
                    "gallery_name": "Smith wedding",
                    "count": 1,
                },
            },
            {
                "id": "01939a5d-0e0f-7a1b-8c2d-3e4f5a6b7c8d",
                "kind": "note",
                "occurred_at": "2026-06-14T17:45:00Z",
                "actor": {"id": "01939a40-1111-7222-8333-444455556666", "name": "Alice Moreau"},
                "job_id": "01939a4f-11aa-7c3d-8e2f-0a1b2c3d4e5f",
                "contact_id": None,
                "payload": {"text": "Called Jane: the album is a gift for the parents."},
            },
        ],
        "next": "eyJ2IjpbeyJ0IjoiZHQiLCJ2IjoiMjAyNi0wNi0xNFQxNzo0NTowMCswMDowMCJ9...",
        "previous": None,
    },
    response_only=True,
)
_LIST_PARAMETERS = [
    OpenApiParameter(
        "kind",
        str,
        many=True,
        required=False,
        description="Only these kinds (repeat it, or comma-separate): "
        + ", ".join(f"`{kind}`" for kind in sorted(KINDS)),
    ),
    OpenApiParameter("cursor", str, required=False, description="`next`/`previous` of a page."),
    OpenApiParameter("page_size", int, required=False, description="1 to 200, default 50."),
]


class NoteInputSerializer(InputSerializer):
    text = serializers.CharField(max_length=NOTE_MAX_LENGTH)


_NOTE_EXAMPLE = OpenApiExample(
    "A note", value={"text": "Called Jane: the album is a gift for the parents."}, request_only=True
)


class JobTimelineApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_jobs_timeline",
        summary="A job's timeline, newest first (keyset pages)",
        parameters=_LIST_PARAMETERS,
        responses={200: TimelinePageSerializer, **error_responses(400, 401, 403, 404)},
        examples=[_PAGE_EXAMPLE],
    )
    def get(self, request, job_id):
        job = job_get_plain(studio=self.studio, job_id=job_id)
        params, kinds = _params(request)
        page = selectors.timeline_job_page(
            job=job,
            kinds=kinds,
            cursor=params.get("cursor") or None,
            page_size=params["page_size"],
        )
        return _page_response(page)


class ContactTimelineApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_contacts_timeline",
        summary="A contact's timeline and that of its jobs, newest first (keyset pages)",
        parameters=_LIST_PARAMETERS,
        responses={200: TimelinePageSerializer, **error_responses(400, 401, 403, 404)},
        examples=[_PAGE_EXAMPLE],
    )
    def get(self, request, contact_id):
        contact = contact_get(studio=self.studio, contact_id=contact_id)
        params, kinds = _params(request)
        page = selectors.timeline_contact_page(
            contact=contact,
            kinds=kinds,
            cursor=params.get("cursor") or None,
            page_size=params["page_size"],
        )
        return _page_response(page)


class JobNoteApi(StudioAPIView):
    permissions = {"POST": Perm.CRM_EDIT}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_jobs_notes_create",
        summary="Write a note on a job's timeline",
        request=NoteInputSerializer,
        responses={201: TimelineEventOutputSerializer, **error_responses(400, 401, 403, 404)},
        examples=[_NOTE_EXAMPLE],
    )
    def post(self, request, job_id):
        job = job_get_plain(studio=self.studio, job_id=job_id)
        data = NoteInputSerializer.validate_or_raise(request.data)
        event = note_add(by=request.user, text=data["text"], job=job)
        return Response(TimelineEventOutputSerializer(event).data, status=status.HTTP_201_CREATED)


class ContactNoteApi(StudioAPIView):
    permissions = {"POST": Perm.CRM_EDIT}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_contacts_notes_create",
        summary="Write a note on a contact's timeline",
        request=NoteInputSerializer,
        responses={201: TimelineEventOutputSerializer, **error_responses(400, 401, 403, 404)},
        examples=[_NOTE_EXAMPLE],
    )
    def post(self, request, contact_id):
        contact = contact_get(studio=self.studio, contact_id=contact_id)
        data = NoteInputSerializer.validate_or_raise(request.data)
        event = note_add(by=request.user, text=data["text"], contact=contact)
        return Response(TimelineEventOutputSerializer(event).data, status=status.HTTP_201_CREATED)
