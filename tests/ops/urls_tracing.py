"""The API host's URLs plus one studio view that queues a task (the tracing test's)."""

from django.urls import path
from rest_framework.response import Response

from accounts.permissions import Perm
from picpick.core.apis import StudioAPIView
from picpick.urls import urlpatterns as api_urlpatterns

QUEUED: list = []  # the task the view queues, set by the test


class QueueTaskApi(StudioAPIView):
    permissions = {"POST": Perm.GALLERY_VIEW}

    def post(self, request):
        QUEUED[0].apply_async(("traced",), queue="default")
        return Response({"queued": True})


urlpatterns = [path("api/v1/test-tracing/queue/", QueueTaskApi.as_view()), *api_urlpatterns]
