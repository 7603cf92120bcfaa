"""The local backend's presigned endpoints, mounted at ``/storage/`` (outside ``/api/``: the
body size limit of the JSON API does not apply to object bodies)."""

from django.urls import path

from picpick.core.storage.views import LocalObjectApi

app_name = "storage"

urlpatterns = [
    path("o/<path:key>", LocalObjectApi.as_view(), name="object"),
]
