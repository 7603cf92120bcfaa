"""Pipeline and stage endpoints: list/create/rename pipelines; add, edit, reorder and remove
stages (a stage that holds jobs is removed only with somewhere for them to go)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from crm.models import Stage
from crm.selectors import jobs as selectors
from crm.services import jobs as job_services
from crm.services import pipelines as services
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.serializers import InputSerializer

TAGS = ["crm"]
MAX_STAGES = 50
# Plain strings in the schema, the values listed: an enum named "kind" collides with other
# apps' (the service answers `invalid_stage_kind` for anything else).
_KINDS = "One of: " + ", ".join(Stage.Kind.values) + "."


class StageOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    pipeline_id = serializers.UUIDField()
    name = serializers.CharField()
    kind = serializers.CharField(help_text=_KINDS)
    position = serializers.IntegerField()


class PipelineOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    is_default = serializers.BooleanField()
    position = serializers.IntegerField()
    stages = StageOutputSerializer(many=True, source="stage_list")


class PipelineListOutputSerializer(serializers.Serializer):
    results = PipelineOutputSerializer(many=True)


_STAGE_EXAMPLE = {
    "id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b5c",
    "pipeline_id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b00",
    "name": "Booked",
    "kind": "booked",
    "position": 2,
}
_PIPELINE_EXAMPLE = {
    "id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b00",
    "name": "Weddings",
    "is_default": True,
    "position": 0,
    "stages": [
        {
            **_STAGE_EXAMPLE,
            "id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b5a",
            "name": "Inquiry",
            "kind": "open",
            "position": 0,
        },
        {
            **_STAGE_EXAMPLE,
            "id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b5b",
            "name": "Proposal sent",
            "kind": "open",
            "position": 1,
        },
        _STAGE_EXAMPLE,
    ],
}


class PipelineListApi(StudioAPIView):
    """A studio has a few pipelines with a few stages each: the list is one page."""

    permissions = {"GET": Perm.CRM_VIEW, "POST": Perm.CRM_EDIT}

    class StageInputSerializer(InputSerializer):
        name = serializers.CharField(max_length=100)
        kind = serializers.CharField(default=Stage.Kind.OPEN, help_text=_KINDS)

    class PipelineCreateInputSerializer(InputSerializer):
        name = serializers.CharField(max_length=100)
        stages = serializers.ListField(
            child=serializers.DictField(), required=False, min_length=1, max_length=MAX_STAGES
        )

    @extend_schema(
        tags=TAGS,
        operation_id="crm_pipelines_list",
        summary="List the studio's pipelines with their stages in order",
        description="The studio's default pipeline is made the first time it is needed.",
        responses={200: PipelineListOutputSerializer, **error_responses(401, 403)},
        examples=[
            OpenApiExample("Pipelines", value={"results": [_PIPELINE_EXAMPLE]}, response_only=True)
        ],
    )
    def get(self, request):
        pipelines = selectors.pipeline_list(studio=self.studio)
        if not pipelines:
            # A studio's first look at its CRM: the default pipeline, made once (race-safe).
            services.pipeline_default_ensure(studio=self.studio)
            pipelines = selectors.pipeline_list(studio=self.studio)
        return Response({"results": PipelineOutputSerializer(pipelines, many=True).data})

    @extend_schema(
        tags=TAGS,
        operation_id="crm_pipelines_create",
        summary="Create a pipeline (the default stages unless stages are given)",
        request=PipelineCreateInputSerializer,
        responses={201: PipelineOutputSerializer, **error_responses(400, 401, 403)},
        examples=[
            OpenApiExample(
                "Portraits",
                value={
                    "name": "Portraits",
                    "stages": [
                        {"name": "Inquiry", "kind": "open"},
                        {"name": "Booked", "kind": "booked"},
                        {"name": "Done", "kind": "completed"},
                        {"name": "Lost", "kind": "lost"},
                    ],
                },
                request_only=True,
            ),
            OpenApiExample("Created", value=_PIPELINE_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request):
        data = self.PipelineCreateInputSerializer.validate_or_raise(request.data)
        stages = None
        if "stages" in data:
            stages = []
            for index, raw in enumerate(data["stages"]):
                item = self.StageInputSerializer(data=raw)
                if not item.is_valid():
                    raise serializers.ValidationError({f"stages.{index}": item.errors})
                stages.append((item.validated_data["name"], item.validated_data["kind"]))
        pipeline = services.pipeline_create(studio=self.studio, name=data["name"], stages=stages)
        pipeline = selectors.pipeline_get(studio=self.studio, pipeline_id=pipeline.id)
        return Response(PipelineOutputSerializer(pipeline).data, status=status.HTTP_201_CREATED)


class PipelineDetailApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW, "PATCH": Perm.CRM_EDIT}

    class PipelineUpdateInputSerializer(InputSerializer):
        name = serializers.CharField(max_length=100)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_pipelines_retrieve",
        summary="Read a pipeline with its stages",
        responses={200: PipelineOutputSerializer, **error_responses(401, 403, 404)},
        examples=[OpenApiExample("Pipeline", value=_PIPELINE_EXAMPLE, response_only=True)],
    )
    def get(self, request, pipeline_id):
        pipeline = selectors.pipeline_get(studio=self.studio, pipeline_id=pipeline_id)
        return Response(PipelineOutputSerializer(pipeline).data)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_pipelines_update",
        summary="Rename a pipeline",
        request=PipelineUpdateInputSerializer,
        responses={200: PipelineOutputSerializer, **error_responses(400, 401, 403, 404)},
        examples=[OpenApiExample("Rename", value={"name": "Weddings"}, request_only=True)],
    )
    def patch(self, request, pipeline_id):
        pipeline = selectors.pipeline_get(studio=self.studio, pipeline_id=pipeline_id)
        data = self.PipelineUpdateInputSerializer.validate_or_raise(request.data)
        services.pipeline_rename(pipeline=pipeline, name=data["name"])
        return Response(PipelineOutputSerializer(pipeline).data)


class StageListApi(StudioAPIView):
    permissions = {"POST": Perm.CRM_EDIT}

    class StageCreateInputSerializer(InputSerializer):
        name = serializers.CharField(max_length=100)
        kind = serializers.CharField(default=Stage.Kind.OPEN, help_text=_KINDS)
        position = serializers.IntegerField(
            required=False, min_value=0, help_text="0-based; the end when left out."
        )

    @extend_schema(
        tags=TAGS,
        operation_id="crm_stages_create",
        summary="Add a stage to a pipeline",
        request=StageCreateInputSerializer,
        responses={201: StageOutputSerializer, **error_responses(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "Add",
                value={"name": "Contract signed", "kind": "open", "position": 2},
                request_only=True,
            ),
            OpenApiExample(
                "Added",
                value={**_STAGE_EXAMPLE, "name": "Contract signed", "kind": "open"},
                response_only=True,
            ),
        ],
    )
    def post(self, request, pipeline_id):
        pipeline = selectors.pipeline_get(studio=self.studio, pipeline_id=pipeline_id)
        data = self.StageCreateInputSerializer.validate_or_raise(request.data)
        stage = services.stage_add(pipeline=pipeline, **data)
        return Response(StageOutputSerializer(stage).data, status=status.HTTP_201_CREATED)


class StageReorderApi(StudioAPIView):
    permissions = {"POST": Perm.CRM_EDIT}

    class StageReorderInputSerializer(InputSerializer):
        stage_ids = serializers.ListField(child=serializers.UUIDField(), max_length=MAX_STAGES)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_stages_reorder",
        summary="Set the order of all the pipeline's stages",
        request=StageReorderInputSerializer,
        responses={
            200: PipelineOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                e400="`invalid_stage_order` (not every stage once), `stage_of_another_pipeline`",
            ),
        },
        examples=[
            OpenApiExample(
                "Order",
                value={
                    "stage_ids": [
                        "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b5b",
                        "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b5a",
                        "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4b5c",
                    ]
                },
                request_only=True,
            )
        ],
    )
    def post(self, request, pipeline_id):
        pipeline = selectors.pipeline_get(studio=self.studio, pipeline_id=pipeline_id)
        data = self.StageReorderInputSerializer.validate_or_raise(request.data)
        pipeline.stage_list = services.stages_reorder(
            pipeline=pipeline, stage_ids=data["stage_ids"]
        )
        return Response(PipelineOutputSerializer(pipeline).data)


class StageDetailApi(StudioAPIView):
    permissions = {"PATCH": Perm.CRM_EDIT, "DELETE": Perm.CRM_EDIT}

    class StageUpdateInputSerializer(InputSerializer):
        name = serializers.CharField(max_length=100, required=False)
        kind = serializers.CharField(required=False, help_text=_KINDS)

    class StageRemoveParamsSerializer(InputSerializer):
        move_jobs_to = serializers.UUIDField(required=False)
        reason = serializers.CharField(required=False, allow_blank=True, max_length=300)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_stages_update",
        summary="Rename a stage or change its kind",
        request=StageUpdateInputSerializer,
        responses={200: StageOutputSerializer, **error_responses(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "Rename", value={"name": "Deposit paid", "kind": "booked"}, request_only=True
            )
        ],
    )
    def patch(self, request, stage_id):
        stage = selectors.stage_get(studio=self.studio, stage_id=stage_id)
        data = self.StageUpdateInputSerializer.validate_or_raise(request.data)
        stage = services.stage_update(stage=stage, **data)
        return Response(StageOutputSerializer(stage).data)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_stages_destroy",
        summary="Remove a stage; its jobs move to move_jobs_to",
        parameters=[
            OpenApiParameter(
                "move_jobs_to",
                OpenApiTypes.UUID,
                description="Another stage of the same pipeline; needed when the stage holds jobs.",
            ),
            OpenApiParameter("reason", OpenApiTypes.STR, description="Recorded on each move."),
        ],
        responses={
            204: OpenApiResponse(description="Removed."),
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400="`stage_of_another_pipeline`, `stage_not_found`",
                e409="`stage_not_empty` (with `count`), `last_stage`",
            ),
        },
    )
    def delete(self, request, stage_id):
        stage = selectors.stage_get(studio=self.studio, stage_id=stage_id)
        params = self.StageRemoveParamsSerializer.validate_or_raise(request.query_params)
        target = None
        if params.get("move_jobs_to"):
            target = selectors.stage_for_input(
                studio=self.studio, stage_id=params["move_jobs_to"], field="move_jobs_to"
            )
        job_services.stage_remove(
            stage=stage, by=request.user, move_jobs_to=target, reason=params.get("reason", "")
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
