"""CRM routes: inquiries (under /api/v1/crm/)."""

from django.urls import path

from crm.apis import inquiries

urlpatterns: list = [
    path(
        "inquiry-forms/",
        inquiries.InquiryFormListApi.as_view(),
        name="crm-inquiry-forms",
    ),
    path(
        "inquiry-forms/<uuid:form_id>/",
        inquiries.InquiryFormDetailApi.as_view(),
        name="crm-inquiry-form",
    ),
    path(
        "inquiry-forms/<uuid:form_id>/inquiries/",
        inquiries.InquiryFormInquiriesApi.as_view(),
        name="crm-inquiry-form-inquiries",
    ),
    path("inquiries/", inquiries.InquiryListApi.as_view(), name="crm-inquiries"),
    path(
        "inquiries/<uuid:inquiry_id>/",
        inquiries.InquiryDetailApi.as_view(),
        name="crm-inquiry",
    ),
]

# Anonymous: on a studio's site (``crm.site_urls``), where a form is named by its slug or id.
public_urlpatterns = [
    path(
        "public/inquiries/<str:key>/",
        inquiries.PublicInquiryApi.as_view(),
        name="public-inquiry",
    ),
]
