"""CRM routes: jobs (under /api/v1/crm/)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
