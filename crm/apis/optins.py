"""A gallery's guests who opted in to marketing: who they are, and turning them into leads."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.permissions import Perm
from crm.selectors import optins as selectors
from crm.services.optins import CONVERT_MAX, opt_ins_convert
from galleries.selectors import gallery_get
from picpick.core.apis import StudioAPIView
from picpick.core.errors import ApplicationError
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body
from picpick.core.serializers import InputSerializer

TAGS = ["crm"]


class OptInOutputSerializer(serializers.Serializer):
    visitor_id = serializers.UUIDField(source="id")
    email = serializers.EmailField()
    name = serializers.CharField()
    opted_in_at = serializers.DateTimeField(source="marketing_opt_in_at")
    contact_id = serializers.UUIDField(allow_null=True, help_text="The contact it became.")


class OptInPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="How many of the gallery's guests opted in.")
    results = OptInOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class OptInParams(InputSerializer, PageParams):
    pass


class GalleryOptInListApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_galleries_opt_ins",
        summary="The gallery's guests who opted in to marketing (count and keyset pages)",
        parameters=[
            OpenApiParameter("cursor", str, required=False),
            OpenApiParameter("page_size", int, required=False),
        ],
        responses={200: OptInPageSerializer, **error_responses(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "12 guests of the Smith wedding",
                value={
                    "count": 12,
                    "results": [
                        {
                            "visitor_id": "01939a61-0c1d-7e2f-8a3b-4c5d6e7f8091",
                            "email": "tom@example.com",
                            "name": "Tom Baker",
                            "opted_in_at": "2026-06-14T19:10:02Z",
                            "contact_id": "01939a61-0d00-7aaa-8bbb-cccdddeeefff",
                        }
                    ],
                    "next": None,
                    "previous": None,
                },
                response_only=True,
            )
        ],
    )
    def get(self, request, gallery_id):
        gallery = gallery_get(studio=self.studio, gallery_id=gallery_id)
        params = OptInParams.validate_or_raise(request.query_params)
        page = selectors.opt_in_page(
            gallery=gallery, cursor=params.get("cursor") or None, page_size=params["page_size"]
        )
        body = page_body(page, OptInOutputSerializer(page.items, many=True).data)
        return Response({"count": selectors.opt_in_count(gallery=gallery), **body})


class ConversionOutputSerializer(serializers.Serializer):
    visitor_id = serializers.UUIDField(source="visitor.id")
    contact_id = serializers.UUIDField(source="contact.id")
    job_id = serializers.UUIDField(source="job.id")
    created = serializers.BooleanField(help_text="False: converted before, the lead is kept.")


class ConversionListSerializer(serializers.Serializer):
    results = ConversionOutputSerializer(many=True)


class GalleryOptInConvertApi(StudioAPIView):
    permissions = {"POST": Perm.CRM_EDIT}

    class ConvertInput(InputSerializer):
        visitor_ids = serializers.ListField(
            child=serializers.UUIDField(),
            required=False,
            allow_empty=False,
            max_length=CONVERT_MAX,
            help_text="The opted-in visitors to convert; with `all` instead, every one.",
        )
        all = serializers.BooleanField(required=False, default=False)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_galleries_opt_ins_convert",
        summary="Turn opted-in guests into leads: a job in the first stage per contact",
        request=ConvertInput,
        responses={
            200: ConversionListSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                e400="`validation_error` (give `visitor_ids` or `all`), `visitor_not_opted_in`, "
                "`too_many_visitors`.",
            ),
        },
        examples=[
            OpenApiExample(
                "Chosen guests",
                value={"visitor_ids": ["01939a61-0c1d-7e2f-8a3b-4c5d6e7f8091"]},
                request_only=True,
            ),
            OpenApiExample("Every guest who opted in", value={"all": True}, request_only=True),
            OpenApiExample(
                "Converted",
                value={
                    "results": [
                        {
                            "visitor_id": "01939a61-0c1d-7e2f-8a3b-4c5d6e7f8091",
                            "contact_id": "01939a61-0d00-7aaa-8bbb-cccdddeeefff",
                            "job_id": "01939a70-1234-7abc-8def-001122334455",
                            "created": True,
                        }
                    ]
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request, gallery_id):
        gallery = gallery_get(studio=self.studio, gallery_id=gallery_id)
        data = self.ConvertInput.validate_or_raise(request.data)
        if ("visitor_ids" in data) == bool(data["all"]):
            raise ApplicationError(
                "Give either visitor_ids or all.",
                code="validation_error",
                fields={"visitor_ids": ["Either visitor_ids or all: true."]},
            )
        results = opt_ins_convert(
            gallery=gallery, by=request.user, visitor_ids=data.get("visitor_ids")
        )
        return Response({"results": ConversionOutputSerializer(results, many=True).data})
