"""Endpoints for other services of the deployment (mounted at ``/internal/``)."""

from django.urls import path

from domains import views

app_name = "internal"
urlpatterns = [
    path("tls-ask", views.tls_ask, name="tls-ask"),
]
