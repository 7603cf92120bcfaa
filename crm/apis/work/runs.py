"""A job's workflow runs: listed with their step runs, paused and resumed."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from crm.apis.work.common import TAGS
from crm.apis.work.workflows import ACTIONS, TRIGGERS
from crm.models import WorkflowStepRun
from crm.selectors import work as selectors
from crm.selectors.jobs import job_get_plain
from crm.services import workflows as workflow_services
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.serializers import InputSerializer


# --- Workflows on a job -------------------------------------------------------------------------
class StepRunOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    step_id = serializers.UUIDField()
    trigger = serializers.CharField(source="step.trigger", help_text=TRIGGERS)
    action = serializers.CharField(source="step.action", help_text=ACTIONS)
    due_at = serializers.DateTimeField()
    state = serializers.ChoiceField(choices=WorkflowStepRun.State.choices)
    attempts = serializers.IntegerField()
    finished_at = serializers.DateTimeField(allow_null=True)
    outcome = serializers.CharField(
        help_text="What happened: `email_queued: 2`, `task_created`, `moved: Editing`, "
        "`already_in_stage`; or why it was skipped: `paused`, `left_stage`, `job_lost`, "
        "`job_archived`, `job_completed`, `too_late`, `no_recipients`, `workflow_inactive`; "
        "or failed: an error code, `worker_lost`."
    )


class RunOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    workflow_id = serializers.UUIDField()
    workflow_name = serializers.CharField(source="workflow.name")
    paused = serializers.SerializerMethodField()
    paused_at = serializers.DateTimeField(allow_null=True)
    step_runs = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_paused(self, run) -> bool:
        return run.paused_at is not None

    @extend_schema_field(StepRunOutputSerializer(many=True))
    def get_step_runs(self, run) -> list:
        rows = getattr(run, "step_run_list", None)
        if rows is None:
            rows = list(run.step_runs.select_related("step").order_by("due_at", "id"))
        return StepRunOutputSerializer(rows, many=True).data


class RunListSerializer(serializers.Serializer):
    results = RunOutputSerializer(many=True)


_RUN_EXAMPLE = {
    "id": "0190a2c4-aaaa-7c3a-9d2e-1f2a3b4c5d6e",
    "workflow_id": "0190a2c4-7777-7c3a-9d2e-1f2a3b4c5d6e",
    "workflow_name": "Wedding",
    "paused": False,
    "paused_at": None,
    "step_runs": [
        {
            "id": "0190a2c4-bbbb-7c3a-9d2e-1f2a3b4c5d6e",
            "step_id": "0190a2c4-6666-7c3a-9d2e-1f2a3b4c5d6e",
            "trigger": "event_offset",
            "action": "send_email",
            "due_at": "2026-06-06T07:00:00Z",
            "state": "done",
            "attempts": 1,
            "finished_at": "2026-06-06T07:00:12Z",
            "outcome": "email_queued: 2",
        }
    ],
    "created_at": "2026-03-01T10:00:00Z",
}


class JobWorkflowListApi(StudioAPIView):
    """A job has few workflows: the list is not paged."""

    permissions = {"GET": Perm.CRM_VIEW, "POST": Perm.CRM_EDIT}

    class ApplyInputSerializer(InputSerializer):
        workflow_id = serializers.UUIDField()

    @extend_schema(
        tags=TAGS,
        operation_id="crm_job_workflows_list",
        summary="The workflows running on a job, with every step run and its outcome",
        responses={200: RunListSerializer, **error_responses(401, 403, 404)},
        examples=[OpenApiExample("Runs", value={"results": [_RUN_EXAMPLE]}, response_only=True)],
    )
    def get(self, request, job_id):
        job = job_get_plain(studio=self.studio, job_id=job_id)
        runs = selectors.job_workflow_runs(job=job)
        return Response({"results": RunOutputSerializer(runs, many=True).data})

    @extend_schema(
        tags=TAGS,
        operation_id="crm_job_workflows_apply",
        summary="Apply a workflow to a job (whatever its type)",
        request=ApplyInputSerializer,
        responses={
            201: RunOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400="`workflow_not_found`",
                e409="`workflow_already_applied`",
            ),
        },
        examples=[
            OpenApiExample(
                "Apply",
                value={"workflow_id": "0190a2c4-7777-7c3a-9d2e-1f2a3b4c5d6e"},
                request_only=True,
            ),
            OpenApiExample("Applied", value=_RUN_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request, job_id):
        job = job_get_plain(studio=self.studio, job_id=job_id)
        data = self.ApplyInputSerializer.validate_or_raise(request.data)
        workflow = selectors.workflow_for_input(studio=self.studio, workflow_id=data["workflow_id"])
        run = workflow_services.workflow_apply(workflow=workflow, job=job, by=request.user)
        return Response(RunOutputSerializer(run).data, status=status.HTTP_201_CREATED)


class JobWorkflowPauseApi(StudioAPIView):
    permissions = {"POST": Perm.CRM_EDIT, "DELETE": Perm.CRM_EDIT}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_job_workflows_pause",
        summary="Pause a workflow on a job: its future steps are skipped (outcome `paused`)",
        request=None,
        responses={200: RunOutputSerializer, **error_responses(401, 403, 404)},
        examples=[
            OpenApiExample(
                "Paused",
                value={**_RUN_EXAMPLE, "paused": True, "paused_at": "2026-05-01T10:00:00Z"},
                response_only=True,
            )
        ],
    )
    def post(self, request, job_id, run_id):
        job = job_get_plain(studio=self.studio, job_id=job_id)
        run = selectors.workflow_run_get(studio=self.studio, job=job, run_id=run_id)
        run = workflow_services.workflow_run_pause(run=run, by=request.user)
        return Response(RunOutputSerializer(run).data)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_job_workflows_resume",
        summary="Resume a paused workflow on a job (steps skipped by the pause are due again)",
        responses={200: RunOutputSerializer, **error_responses(401, 403, 404)},
        examples=[OpenApiExample("Running", value=_RUN_EXAMPLE, response_only=True)],
    )
    def delete(self, request, job_id, run_id):
        job = job_get_plain(studio=self.studio, job_id=job_id)
        run = selectors.workflow_run_get(studio=self.studio, job=job, run_id=run_id)
        run = workflow_services.workflow_run_resume(run=run, by=request.user)
        return Response(RunOutputSerializer(run).data)
