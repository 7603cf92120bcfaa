"""CRM routes: pipelines, stages, jobs, the board and the reports (under /api/v1/crm/)."""

from django.urls import path

from crm.apis.jobs import (
    BoardApi,
    BoardStageApi,
    JobContactDetailApi,
    JobContactListApi,
    JobDetailApi,
    JobGalleryDetailApi,
    JobGalleryListApi,
    JobListApi,
    JobStageApi,
)
from crm.apis.pipelines import (
    PipelineDetailApi,
    PipelineListApi,
    StageDetailApi,
    StageListApi,
    StageReorderApi,
)
from crm.apis.reports import (
    ConversionReportApi,
    InquiriesReportApi,
    StageTimeReportApi,
    UpcomingReportApi,
)

urlpatterns = [
    path("pipelines/", PipelineListApi.as_view(), name="crm-pipeline-list"),
    path("pipelines/<uuid:pipeline_id>/", PipelineDetailApi.as_view(), name="crm-pipeline-detail"),
    path("pipelines/<uuid:pipeline_id>/stages/", StageListApi.as_view(), name="crm-stage-list"),
    path(
        "pipelines/<uuid:pipeline_id>/stages/reorder/",
        StageReorderApi.as_view(),
        name="crm-stage-reorder",
    ),
    path("stages/<uuid:stage_id>/", StageDetailApi.as_view(), name="crm-stage-detail"),
    path("jobs/", JobListApi.as_view(), name="crm-job-list"),
    path("jobs/<uuid:job_id>/", JobDetailApi.as_view(), name="crm-job-detail"),
    path("jobs/<uuid:job_id>/stage/", JobStageApi.as_view(), name="crm-job-stage"),
    path("jobs/<uuid:job_id>/contacts/", JobContactListApi.as_view(), name="crm-job-contacts"),
    path(
        "jobs/<uuid:job_id>/contacts/<uuid:contact_id>/",
        JobContactDetailApi.as_view(),
        name="crm-job-contact",
    ),
    path("jobs/<uuid:job_id>/galleries/", JobGalleryListApi.as_view(), name="crm-job-galleries"),
    path(
        "jobs/<uuid:job_id>/galleries/<uuid:gallery_id>/",
        JobGalleryDetailApi.as_view(),
        name="crm-job-gallery",
    ),
    path("board/", BoardApi.as_view(), name="crm-board"),
    path("board/stages/<uuid:stage_id>/", BoardStageApi.as_view(), name="crm-board-stage"),
    path("reports/inquiries/", InquiriesReportApi.as_view(), name="crm-report-inquiries"),
    path("reports/conversion/", ConversionReportApi.as_view(), name="crm-report-conversion"),
    path("reports/stage-times/", StageTimeReportApi.as_view(), name="crm-report-stage-times"),
    path("reports/upcoming/", UpcomingReportApi.as_view(), name="crm-report-upcoming"),
]
