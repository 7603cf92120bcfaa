"""CRM routes: timeline (under /api/v1/crm/)."""

from django.urls import path

from crm.apis.optins import GalleryOptInConvertApi, GalleryOptInListApi
from crm.apis.timeline import ContactNoteApi, ContactTimelineApi, JobNoteApi, JobTimelineApi

urlpatterns: list = [
    path("jobs/<uuid:job_id>/timeline/", JobTimelineApi.as_view(), name="crm-job-timeline"),
    path("jobs/<uuid:job_id>/notes/", JobNoteApi.as_view(), name="crm-job-notes"),
    path(
        "contacts/<uuid:contact_id>/timeline/",
        ContactTimelineApi.as_view(),
        name="crm-contact-timeline",
    ),
    path("contacts/<uuid:contact_id>/notes/", ContactNoteApi.as_view(), name="crm-contact-notes"),
    path(
        "galleries/<uuid:gallery_id>/opt-ins/",
        GalleryOptInListApi.as_view(),
        name="crm-gallery-opt-ins",
    ),
    path(
        "galleries/<uuid:gallery_id>/opt-ins/convert/",
        GalleryOptInConvertApi.as_view(),
        name="crm-gallery-opt-ins-convert",
    ),
]
