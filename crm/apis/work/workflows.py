"""Workflows and their steps."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from crm.apis.work.common import TAGS, page_example
from crm.apis.work.tasks import page_params
from crm.models import WorkflowStep
from crm.selectors import work as selectors
from crm.services import workflows as workflow_services
from picpick.core.apis import StudioAPIView
from picpick.core.errors import ApplicationError
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body
from picpick.core.serializers import InputSerializer

# --- Workflows ----------------------------------------------------------------------------------
# Plain strings in the schema with the values listed ("action" is an enum name other apps use);
# the service answers `invalid_trigger` / `invalid_action` for anything else.
TRIGGERS = "One of: " + ", ".join(WorkflowStep.Trigger.values) + "."
ACTIONS = "One of: " + ", ".join(WorkflowStep.Action.values) + "."


class StepOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    position = serializers.IntegerField()
    trigger = serializers.CharField(help_text=TRIGGERS)
    trigger_stage_id = serializers.UUIDField(allow_null=True)
    offset_days = serializers.IntegerField()
    action = serializers.CharField(help_text=ACTIONS)
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
    trigger = serializers.CharField(max_length=20, help_text=TRIGGERS)
    trigger_stage_id = serializers.UUIDField(required=False, allow_null=True)
    offset_days = serializers.IntegerField(
        required=False,
        default=0,
        help_text="Days from the date (negative: before). Not for a stage trigger.",
    )
    action = serializers.CharField(max_length=20, help_text=ACTIONS)
    template_id = serializers.UUIDField(required=False, allow_null=True)
    task_title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    task_due_days = serializers.IntegerField(required=False, default=0)
    target_stage_id = serializers.UUIDField(required=False, allow_null=True)


class StepUpdateInputSerializer(StepInputSerializer):
    trigger = serializers.CharField(max_length=20, required=False, help_text=TRIGGERS)
    offset_days = serializers.IntegerField(required=False)
    action = serializers.CharField(max_length=20, required=False, help_text=ACTIONS)
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
        examples=[page_example(_WORKFLOW_EXAMPLE)],
    )
    def get(self, request):
        data = page_params(request)
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
