"""CRM routes: contacts, custom fields, imports and exports (under /api/v1/crm/)."""

from django.urls import path

from crm.apis import contacts as apis

urlpatterns = [
    path("custom-fields/", apis.CustomFieldListApi.as_view(), name="crm-custom-fields"),
    path(
        "custom-fields/<uuid:definition_id>/",
        apis.CustomFieldDetailApi.as_view(),
        name="crm-custom-field",
    ),
    path("contacts/", apis.ContactListApi.as_view(), name="crm-contacts"),
    path("contacts/export/", apis.ContactExportApi.as_view(), name="crm-contacts-export"),
    path("contacts/imports/", apis.ContactImportApi.as_view(), name="crm-contacts-imports"),
    path(
        "contacts/imports/<uuid:import_job_id>/",
        apis.ContactImportDetailApi.as_view(),
        name="crm-contacts-import",
    ),
    path("contacts/<uuid:contact_id>/", apis.ContactDetailApi.as_view(), name="crm-contact"),
    path(
        "contacts/<uuid:contact_id>/merge/",
        apis.ContactMergeApi.as_view(),
        name="crm-contact-merge",
    ),
    path(
        "contacts/<uuid:contact_id>/data/", apis.ContactDataApi.as_view(), name="crm-contact-data"
    ),
    path(
        "contacts/<uuid:contact_id>/erase/",
        apis.ContactEraseApi.as_view(),
        name="crm-contact-erase",
    ),
    # The jobs' CSV lives here with the other exports (the jobs' routes are another module's).
    path("jobs/export/", apis.JobExportApi.as_view(), name="crm-jobs-export"),
]
