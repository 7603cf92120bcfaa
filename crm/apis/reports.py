"""Report endpoints: inquiries per month and source, conversion to booked, average time per
stage, upcoming events. Periods are dates (both included) in the studio's time zone."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.permissions import Perm
from crm.apis.jobs import JobStageOutputSerializer
from crm.apis.pipelines import StageOutputSerializer
from crm.selectors import jobs as job_selectors
from crm.selectors import reports as selectors
from crm.services.pipelines import pipeline_default_ensure
from picpick.core.apis import StudioAPIView
from picpick.core.errors import ApplicationError
from picpick.core.openapi import error_responses
from picpick.core.serializers import InputSerializer

TAGS = ["crm"]
UPCOMING_DEFAULT = 10
UPCOMING_MAX = 100


class PeriodParamsSerializer(InputSerializer):
    start = serializers.DateField(required=False, help_text="First day (default: a year ago).")
    end = serializers.DateField(required=False, help_text="Last day, included (default: today).")


def _period(view, params: dict) -> selectors.Period:
    today = (
        timezone.now()
        .astimezone(
            selectors.period_for(
                studio=view.studio, first=dt.date.today(), last=dt.date.today()
            ).zone
        )
        .date()
    )
    last = params.get("end") or today
    first = params.get("start") or last.replace(day=1) - dt.timedelta(days=334)
    if first > last:
        raise ApplicationError(
            "The period ends before it starts.",
            code="invalid_period",
            fields={"end": ["Not before start."]},
        )
    if (last - first).days > selectors.MAX_PERIOD_DAYS:
        raise ApplicationError(
            "A period is at most three years.",
            code="invalid_period",
            fields={"start": ["Too far back."]},
        )
    return selectors.period_for(studio=view.studio, first=first, last=last)


class _PeriodOutput(serializers.Serializer):
    start = serializers.DateField(source="first")
    end = serializers.DateField(source="last")
    timezone = serializers.CharField(source="zone.key")


class _JobsRow(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM in the studio's time zone.")
    lead_source = serializers.CharField()
    count = serializers.IntegerField()


class _MonthCount(serializers.Serializer):
    month = serializers.CharField()
    count = serializers.IntegerField()


class InquiriesReportSerializer(serializers.Serializer):
    period = _PeriodOutput()
    jobs = _JobsRow(many=True, help_text="Jobs created, per month and lead source.")
    inquiries = _MonthCount(many=True, help_text="Inquiries received, per month.")


class _ConversionMonth(serializers.Serializer):
    month = serializers.CharField()
    created = serializers.IntegerField()
    booked = serializers.IntegerField()
    rate = serializers.FloatField()


class ConversionReportSerializer(serializers.Serializer):
    period = _PeriodOutput()
    created = serializers.IntegerField(help_text="Jobs created in the period.")
    booked = serializers.IntegerField(help_text="Of those, how many reached a booked stage.")
    rate = serializers.FloatField(help_text="booked / created (0 when none).")
    months = _ConversionMonth(many=True)


class _StageTime(serializers.Serializer):
    stage = StageOutputSerializer()
    moves = serializers.IntegerField(help_text="Moves out of the stage in the period.")
    average_seconds = serializers.IntegerField(allow_null=True)


class StageTimeReportSerializer(serializers.Serializer):
    period = _PeriodOutput()
    pipeline_id = serializers.UUIDField()
    stages = _StageTime(many=True)


class UpcomingJobSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    job_type = serializers.CharField()
    stage = JobStageOutputSerializer()
    event_start = serializers.DateTimeField()
    event_end = serializers.DateTimeField(allow_null=True)
    event_timezone = serializers.CharField()
    location = serializers.CharField()
    owner_id = serializers.UUIDField(allow_null=True)


class UpcomingReportSerializer(serializers.Serializer):
    results = UpcomingJobSerializer(many=True)


_PERIOD = {"start": "2026-01-01", "end": "2026-03-31", "timezone": "Europe/Paris"}


class InquiriesReportApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_reports_inquiries",
        summary="Jobs created per month and lead source, inquiries per month",
        parameters=[PeriodParamsSerializer],
        responses={200: InquiriesReportSerializer, **error_responses(400, 401, 403)},
        examples=[
            OpenApiExample(
                "Report",
                value={
                    "period": _PERIOD,
                    "jobs": [{"month": "2026-01", "lead_source": "instagram", "count": 4}],
                    "inquiries": [
                        {"month": "2026-01", "count": 5},
                        {"month": "2026-02", "count": 0},
                        {"month": "2026-03", "count": 2},
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        period = _period(self, PeriodParamsSerializer.validate_or_raise(request.query_params))
        report = selectors.inquiries_report(studio=self.studio, period=period)
        return Response(InquiriesReportSerializer({"period": period, **report}).data)


class ConversionReportApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW}

    class ConversionParamsSerializer(PeriodParamsSerializer):
        pipeline = serializers.UUIDField(required=False, help_text="Default: every pipeline.")

    @extend_schema(
        tags=TAGS,
        operation_id="crm_reports_conversion",
        summary="Conversion: jobs created in the period that reached a booked stage",
        parameters=[ConversionParamsSerializer],
        responses={200: ConversionReportSerializer, **error_responses(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "Report",
                value={
                    "period": _PERIOD,
                    "created": 10,
                    "booked": 4,
                    "rate": 0.4,
                    "months": [{"month": "2026-01", "created": 10, "booked": 4, "rate": 0.4}],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        params = self.ConversionParamsSerializer.validate_or_raise(request.query_params)
        pipeline = None
        if params.get("pipeline"):
            pipeline = job_selectors.pipeline_get(
                studio=self.studio, pipeline_id=params["pipeline"]
            )
        period = _period(self, params)
        report = selectors.conversion_report(studio=self.studio, period=period, pipeline=pipeline)
        return Response(ConversionReportSerializer({"period": period, **report}).data)


class StageTimeReportApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW}

    class StageTimeParamsSerializer(PeriodParamsSerializer):
        pipeline = serializers.UUIDField(required=False, help_text="Default: the studio's default.")

    @extend_schema(
        tags=TAGS,
        operation_id="crm_reports_stage_times",
        summary="Average time jobs spent in each stage (moves out of it in the period)",
        parameters=[StageTimeParamsSerializer],
        responses={200: StageTimeReportSerializer, **error_responses(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "Report",
                value={
                    "period": _PERIOD,
                    "pipeline_id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b00",
                    "stages": [
                        {
                            "stage": {
                                "id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b5a",
                                "pipeline_id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b00",
                                "name": "Inquiry",
                                "kind": "open",
                                "position": 0,
                            },
                            "moves": 12,
                            "average_seconds": 259200,
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        params = self.StageTimeParamsSerializer.validate_or_raise(request.query_params)
        if params.get("pipeline"):
            pipeline = job_selectors.pipeline_get(
                studio=self.studio, pipeline_id=params["pipeline"]
            )
        else:
            pipeline = pipeline_default_ensure(studio=self.studio)
        period = _period(self, params)
        stages = selectors.stage_time_report(studio=self.studio, pipeline=pipeline, period=period)
        body = {"period": period, "pipeline_id": pipeline.id, "stages": stages}
        return Response(StageTimeReportSerializer(body).data)


class UpcomingReportApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW}

    class UpcomingParamsSerializer(InputSerializer):
        limit = serializers.IntegerField(
            required=False, min_value=1, max_value=UPCOMING_MAX, default=UPCOMING_DEFAULT
        )

    @extend_schema(
        tags=TAGS,
        operation_id="crm_reports_upcoming",
        summary="The next events: jobs by event start from now (lost and archived left out)",
        parameters=[UpcomingParamsSerializer],
        responses={200: UpcomingReportSerializer, **error_responses(400, 401, 403)},
        examples=[
            OpenApiExample(
                "Upcoming",
                value={
                    "results": [
                        {
                            "id": "0193a5a0-8d2f-7c3b-a0f1-2b3c4d5e6f70",
                            "name": "Smith wedding",
                            "job_type": "wedding",
                            "stage": {
                                "id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b5c",
                                "name": "Booked",
                                "kind": "booked",
                            },
                            "event_start": "2026-06-13T13:00:00Z",
                            "event_end": "2026-06-13T22:00:00Z",
                            "event_timezone": "Europe/Paris",
                            "location": "Château de Vaux, Maincy",
                            "owner_id": None,
                        }
                    ]
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        params = self.UpcomingParamsSerializer.validate_or_raise(request.query_params)
        jobs = selectors.upcoming_events(studio=self.studio, limit=params["limit"])
        return Response({"results": UpcomingJobSerializer(jobs, many=True).data})
