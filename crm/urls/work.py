"""CRM routes: tasks, email templates and sending, workflows (under /api/v1/crm/)."""

from django.urls import path

from crm.apis.work import (
    ContactEmailListApi,
    EmailMessageDetailApi,
    EmailTemplateDetailApi,
    EmailTemplateListApi,
    EmailTemplatePreviewApi,
    JobEmailListApi,
    JobWorkflowListApi,
    JobWorkflowPauseApi,
    TaskDetailApi,
    TaskDoneApi,
    TaskListApi,
    TaskMineApi,
    TaskOverdueApi,
    WorkflowDetailApi,
    WorkflowListApi,
    WorkflowStepDetailApi,
    WorkflowStepListApi,
)

urlpatterns = [
    path("tasks/", TaskListApi.as_view(), name="crm-task-list"),
    path("tasks/mine/", TaskMineApi.as_view(), name="crm-task-mine"),
    path("tasks/overdue/", TaskOverdueApi.as_view(), name="crm-task-overdue"),
    path("tasks/<uuid:task_id>/", TaskDetailApi.as_view(), name="crm-task-detail"),
    path("tasks/<uuid:task_id>/done/", TaskDoneApi.as_view(), name="crm-task-done"),
    path("email-templates/", EmailTemplateListApi.as_view(), name="crm-email-template-list"),
    path(
        "email-templates/<uuid:template_id>/",
        EmailTemplateDetailApi.as_view(),
        name="crm-email-template-detail",
    ),
    path(
        "email-templates/<uuid:template_id>/preview/",
        EmailTemplatePreviewApi.as_view(),
        name="crm-email-template-preview",
    ),
    path("jobs/<uuid:job_id>/emails/", JobEmailListApi.as_view(), name="crm-job-emails"),
    path(
        "contacts/<uuid:contact_id>/emails/",
        ContactEmailListApi.as_view(),
        name="crm-contact-emails",
    ),
    path("emails/<uuid:email_id>/", EmailMessageDetailApi.as_view(), name="crm-email-detail"),
    path("workflows/", WorkflowListApi.as_view(), name="crm-workflow-list"),
    path("workflows/<uuid:workflow_id>/", WorkflowDetailApi.as_view(), name="crm-workflow-detail"),
    path(
        "workflows/<uuid:workflow_id>/steps/",
        WorkflowStepListApi.as_view(),
        name="crm-workflow-step-list",
    ),
    path(
        "workflow-steps/<uuid:step_id>/",
        WorkflowStepDetailApi.as_view(),
        name="crm-workflow-step-detail",
    ),
    path("jobs/<uuid:job_id>/workflows/", JobWorkflowListApi.as_view(), name="crm-job-workflows"),
    path(
        "jobs/<uuid:job_id>/workflows/<uuid:run_id>/pause/",
        JobWorkflowPauseApi.as_view(),
        name="crm-job-workflow-pause",
    ),
]
