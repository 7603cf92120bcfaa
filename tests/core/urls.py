"""A tiny URLconf for testing the shared plumbing on its own."""

from django.db import connection
from django.urls import path
from rest_framework import serializers
from rest_framework.response import Response

from accounts.permissions import Perm
from galleries.services import gallery_create
from picpick.core.apis import StudioAPIView
from picpick.core.errors import Conflict
from picpick.core.serializers import InputSerializer
from picpick.core.transactions import outside_request_transaction


class EchoApi(StudioAPIView):
    permissions = {"GET": Perm.GALLERY_VIEW, "POST": Perm.GALLERY_CREATE}

    class InputSerializer(InputSerializer):
        name = serializers.CharField(max_length=10)
        count = serializers.IntegerField(min_value=0, required=False)

    def get(self, request):
        return Response({"studio": str(self.studio.id), "role": self.membership.role})

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["name"] == "taken":
            raise Conflict("That name is taken.", code="name_taken", fields={"name": ["taken"]})
        return Response(data.validated_data, status=201)


class BillingOnlyApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_MANAGE}

    def get(self, request):
        return Response({"ok": True})


class TwoGalleriesApi(StudioAPIView):
    """Two service calls in one request, the second failing (the same slug twice)."""

    permissions = {"POST": Perm.GALLERY_CREATE}

    def post(self, request):
        for name in ("First", "Second"):
            gallery_create(studio=self.studio, by=request.user, name=name, slug="same-slug")
        return Response({}, status=201)


@outside_request_transaction
class TwoGalleriesOutsideApi(TwoGalleriesApi):
    pass


class TransactionProbeApi(StudioAPIView):
    """Says whether the view runs inside a transaction."""

    permissions = {"GET": Perm.GALLERY_VIEW, "POST": Perm.GALLERY_VIEW}

    def get(self, request):
        return Response({"in_transaction": connection.in_atomic_block})

    def post(self, request):
        return Response({"in_transaction": connection.in_atomic_block})


@outside_request_transaction
class TransactionProbeOutsideApi(TransactionProbeApi):
    pass


urlpatterns = [
    path("api/v1/transaction-probe/", TransactionProbeApi.as_view()),
    path("api/v1/transaction-probe-outside/", TransactionProbeOutsideApi.as_view()),
    path("api/v1/two-galleries/", TwoGalleriesApi.as_view()),
    path("api/v1/two-galleries-outside/", TwoGalleriesOutsideApi.as_view()),
    path("api/v1/echo/", EchoApi.as_view()),
    path("api/v1/billing-only/", BillingOnlyApi.as_view()),
]
