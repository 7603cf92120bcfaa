"""Tasks on jobs and contacts: lists (mine, overdue), edits, done."""

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
from crm.models import Task
from crm.selectors import work as selectors
from crm.services import tasks as task_services
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body
from picpick.core.serializers import InputSerializer


# --- Tasks --------------------------------------------------------------------------------------
class _Ref(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class TaskOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    notes = serializers.CharField()
    job_id = serializers.UUIDField(allow_null=True)
    contact_id = serializers.UUIDField(allow_null=True)
    due_at = serializers.DateTimeField(allow_null=True)
    due_anchor = serializers.CharField(help_text='"" (a fixed date), "event" or "booking".')
    due_offset_days = serializers.IntegerField()
    assignee_id = serializers.UUIDField(allow_null=True)
    done = serializers.SerializerMethodField()
    done_at = serializers.DateTimeField(allow_null=True)
    done_by_id = serializers.UUIDField(allow_null=True)
    workflow_step_run_id = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_done(self, task: Task) -> bool:
        return task.done_at is not None


class TaskPageSerializer(serializers.Serializer):
    results = TaskOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


_TASK_EXAMPLE = {
    "id": "0190a2c4-7b1e-7c3a-9d2e-1f2a3b4c5d6e",
    "title": "Send the timeline questionnaire",
    "notes": "",
    "job_id": "0190a2c4-0000-7c3a-9d2e-1f2a3b4c5d6e",
    "contact_id": None,
    "due_at": "2026-06-06T21:59:00Z",
    "due_anchor": "event",
    "due_offset_days": -7,
    "assignee_id": "0190a2c4-1111-7c3a-9d2e-1f2a3b4c5d6e",
    "done": False,
    "done_at": None,
    "done_by_id": None,
    "workflow_step_run_id": None,
    "created_at": "2026-03-01T10:00:00Z",
}


class _TaskFields(InputSerializer):
    title = serializers.CharField(max_length=200)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    due_at = serializers.DateTimeField(required=False, allow_null=True)
    due_anchor = serializers.ChoiceField(
        choices=["", "event", "booking"], required=False, allow_blank=True
    )
    due_offset_days = serializers.IntegerField(
        required=False,
        min_value=-task_services.MAX_OFFSET_DAYS,
        max_value=task_services.MAX_OFFSET_DAYS,
    )
    assignee_id = serializers.UUIDField(required=False, allow_null=True)


class TaskListApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW, "POST": Perm.CRM_EDIT}

    class TaskListParamsSerializer(PageParams):
        job = serializers.UUIDField(required=False)
        contact = serializers.UUIDField(required=False)
        assignee = serializers.UUIDField(required=False)
        state = serializers.ChoiceField(choices=["open", "done", "all"], default="open")
        due_before = serializers.DateTimeField(required=False)
        due_after = serializers.DateTimeField(required=False)

    class TaskCreateInputSerializer(_TaskFields):
        job_id = serializers.UUIDField(required=False, allow_null=True)
        contact_id = serializers.UUIDField(required=False, allow_null=True)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_tasks_list",
        summary="List tasks (open by default), soonest due first",
        parameters=[TaskListParamsSerializer],
        responses={200: TaskPageSerializer, **error_responses(400, 401, 403)},
        examples=[page_example(_TASK_EXAMPLE)],
    )
    def get(self, request):
        params = self.TaskListParamsSerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        data = params.validated_data
        filters = selectors.TaskFilters(
            job=data.get("job"),
            contact=data.get("contact"),
            assignee=data.get("assignee"),
            state=data["state"],
            due_before=data.get("due_before"),
            due_after=data.get("due_after"),
        )
        page = selectors.task_list(
            studio=self.studio,
            filters=filters,
            cursor=data.get("cursor"),
            page_size=data["page_size"],
        )
        return Response(page_body(page, TaskOutputSerializer(page.items, many=True).data))

    @extend_schema(
        tags=TAGS,
        operation_id="crm_tasks_create",
        summary="Create a task on a job and/or a contact",
        description=(
            "Due at a fixed time (`due_at`) or relative to the job's event or booking date "
            "(`due_anchor` + `due_offset_days`: that many days from the date, by the end of "
            "that day in the job's time zone; kept up to date when the date changes)."
        ),
        request=TaskCreateInputSerializer,
        responses={
            201: TaskOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                e400="`task_needs_owner`, `due_ambiguous`, `due_anchor_needs_job`, "
                "`job_not_found`, `contact_not_found`, `assignee_not_member`, `validation_error`",
            ),
        },
        examples=[
            OpenApiExample(
                "A week before the event",
                value={
                    "job_id": "0190a2c4-0000-7c3a-9d2e-1f2a3b4c5d6e",
                    "title": "Send the timeline questionnaire",
                    "due_anchor": "event",
                    "due_offset_days": -7,
                },
                request_only=True,
            ),
            OpenApiExample("Created", value=_TASK_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request):
        data = self.TaskCreateInputSerializer.validate_or_raise(request.data)
        job_id, contact_id = data.pop("job_id", None), data.pop("contact_id", None)
        job = selectors.job_for_input(studio=self.studio, job_id=job_id) if job_id else None
        contact = (
            selectors.contact_for_input(studio=self.studio, contact_id=contact_id)
            if contact_id
            else None
        )
        assignee = selectors.member_for_input(
            studio=self.studio, user_id=data.pop("assignee_id", None)
        )
        task = task_services.task_create(
            studio=self.studio, by=request.user, job=job, contact=contact, assignee=assignee, **data
        )
        return Response(TaskOutputSerializer(task).data, status=status.HTTP_201_CREATED)


class TaskMineApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_tasks_mine",
        summary="My open tasks, soonest due first",
        parameters=[PageParams],
        responses={200: TaskPageSerializer, **error_responses(400, 401, 403)},
        examples=[page_example(_TASK_EXAMPLE)],
    )
    def get(self, request):
        data = page_params(request)
        page = selectors.task_list_mine(
            studio=self.studio,
            user=request.user,
            cursor=data.get("cursor"),
            page_size=data["page_size"],
        )
        return Response(page_body(page, TaskOutputSerializer(page.items, many=True).data))


def page_params(request) -> dict:
    params = PageParams(data=request.query_params.dict())
    params.is_valid(raise_exception=True)
    return dict(params.validated_data)


class TaskOverdueApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_tasks_overdue",
        summary="Open tasks past their due time, longest overdue first",
        parameters=[PageParams],
        responses={200: TaskPageSerializer, **error_responses(400, 401, 403)},
        examples=[page_example(_TASK_EXAMPLE)],
    )
    def get(self, request):
        data = page_params(request)
        page = selectors.task_list_overdue(
            studio=self.studio, cursor=data.get("cursor"), page_size=data["page_size"]
        )
        return Response(page_body(page, TaskOutputSerializer(page.items, many=True).data))


class TaskDetailApi(StudioAPIView):
    permissions = {"GET": Perm.CRM_VIEW, "PATCH": Perm.CRM_EDIT, "DELETE": Perm.CRM_EDIT}

    class TaskUpdateInputSerializer(_TaskFields):
        title = serializers.CharField(max_length=200, required=False)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_tasks_retrieve",
        summary="Read a task",
        responses={200: TaskOutputSerializer, **error_responses(401, 403, 404)},
        examples=[OpenApiExample("A task", value=_TASK_EXAMPLE, response_only=True)],
    )
    def get(self, request, task_id):
        return Response(
            TaskOutputSerializer(selectors.task_get(studio=self.studio, task_id=task_id)).data
        )

    @extend_schema(
        tags=TAGS,
        operation_id="crm_tasks_update",
        summary="Edit a task (title, notes, due date, assignee)",
        request=TaskUpdateInputSerializer,
        responses={200: TaskOutputSerializer, **error_responses(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "Reassign and fix the date",
                value={
                    "assignee_id": "0190a2c4-1111-7c3a-9d2e-1f2a3b4c5d6e",
                    "due_at": "2026-05-30T17:00:00+02:00",
                },
                request_only=True,
            )
        ],
    )
    def patch(self, request, task_id):
        task = selectors.task_get(studio=self.studio, task_id=task_id)
        changes = self.TaskUpdateInputSerializer.validate_or_raise(request.data)
        if "assignee_id" in changes:
            changes["assignee"] = selectors.member_for_input(
                studio=self.studio, user_id=changes.pop("assignee_id")
            )
        task = task_services.task_update(task=task, by=request.user, changes=changes)
        return Response(TaskOutputSerializer(task).data)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_tasks_destroy",
        summary="Delete a task",
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(401, 403, 404)},
    )
    def delete(self, request, task_id):
        task = selectors.task_get(studio=self.studio, task_id=task_id)
        task_services.task_delete(task=task, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskDoneApi(StudioAPIView):
    permissions = {"POST": Perm.CRM_EDIT, "DELETE": Perm.CRM_EDIT}

    @extend_schema(
        tags=TAGS,
        operation_id="crm_tasks_done",
        summary="Mark a task done (recorded on the timeline; again changes nothing)",
        request=None,
        responses={200: TaskOutputSerializer, **error_responses(401, 403, 404)},
        examples=[
            OpenApiExample("Done", value={**_TASK_EXAMPLE, "done": True}, response_only=True)
        ],
    )
    def post(self, request, task_id):
        task = selectors.task_get(studio=self.studio, task_id=task_id)
        task = task_services.task_set_done(task=task, by=request.user, done=True)
        return Response(TaskOutputSerializer(task).data)

    @extend_schema(
        tags=TAGS,
        operation_id="crm_tasks_undone",
        summary="Open a done task again",
        responses={200: TaskOutputSerializer, **error_responses(401, 403, 404)},
        examples=[OpenApiExample("Open again", value=_TASK_EXAMPLE, response_only=True)],
    )
    def delete(self, request, task_id):
        task = selectors.task_get(studio=self.studio, task_id=task_id)
        task = task_services.task_set_done(task=task, by=request.user, done=False)
        return Response(TaskOutputSerializer(task).data)
