"""The studio's payment account (Stripe Connect): its status, onboarding, a refresh.

Reads need ``billing.view``; starting the onboarding and refreshing need ``billing.manage``.
Both writes call the provider, so they run outside the request transaction (the services
apply the provider's answer in their own short transactions).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.permissions import Perm
from billing.selectors.payments import connected_account_get
from billing.services.connect import connect_refresh, connect_start
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.serializers import InputSerializer
from picpick.core.transactions import outside_request_transaction

TAGS = ["billing"]

_STATUS_EXAMPLE = {
    "connected": True,
    "account_id": "acct_1QxYz2AbCdEfGhIj",
    "charges_enabled": True,
    "payouts_enabled": True,
    "details_submitted": True,
    "country": "FR",
    "default_currency": "EUR",
    "refreshed_at": "2026-12-07T10:00:00Z",
}


class ConnectStatusSerializer(serializers.Serializer):
    connected = serializers.BooleanField(help_text="Whether the studio has a payment account.")
    account_id = serializers.CharField(allow_null=True)
    charges_enabled = serializers.BooleanField(help_text="Clients can pay by card.")
    payouts_enabled = serializers.BooleanField(help_text="The provider pays the studio out.")
    details_submitted = serializers.BooleanField(help_text="The onboarding form is complete.")
    country = serializers.CharField(allow_blank=True)
    default_currency = serializers.CharField(allow_blank=True)
    refreshed_at = serializers.DateTimeField(allow_null=True)


class ConnectStartedSerializer(ConnectStatusSerializer):
    onboarding_url = serializers.URLField(
        help_text="Send the studio's owner here (once: it expires within minutes)."
    )


def _status(account) -> dict:
    if account is None:
        return {
            "connected": False,
            "account_id": None,
            "charges_enabled": False,
            "payouts_enabled": False,
            "details_submitted": False,
            "country": "",
            "default_currency": "",
            "refreshed_at": None,
        }
    return {
        "connected": True,
        "account_id": account.provider_account_id,
        "charges_enabled": account.charges_enabled,
        "payouts_enabled": account.payouts_enabled,
        "details_submitted": account.details_submitted,
        "country": account.country,
        "default_currency": account.default_currency,
        "refreshed_at": account.refreshed_at,
    }


@outside_request_transaction
class ConnectApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW, "POST": Perm.BILLING_MANAGE}

    class ConnectStartInputSerializer(InputSerializer):
        country = serializers.CharField(
            required=False,
            default="US",
            max_length=2,
            help_text="Where the studio is (ISO 3166 alpha-2); used when the account is made.",
        )
        refresh_url = serializers.URLField(
            required=False,
            allow_blank=True,
            max_length=500,
            help_text="Where an expired link lands (default: the app's payment settings).",
        )
        return_url = serializers.URLField(
            required=False,
            allow_blank=True,
            max_length=500,
            help_text="Where the owner returns after the form (default: the app's settings).",
        )

    @extend_schema(
        tags=TAGS,
        operation_id="billing_connect_retrieve",
        summary="The studio's payment account: can it take card payments?",
        responses={200: ConnectStatusSerializer, **error_responses(401, 403)},
        examples=[OpenApiExample("Connected", value=_STATUS_EXAMPLE, response_only=True)],
    )
    def get(self, request):
        account = connected_account_get(studio=self.studio)
        return Response(ConnectStatusSerializer(_status(account)).data)

    @extend_schema(
        tags=TAGS,
        operation_id="billing_connect_start",
        summary="Start (or continue) the payment account's onboarding",
        description="Makes the studio's Stripe Express account on first use (once, even when "
        "sent twice) and answers a fresh onboarding link.",
        request=ConnectStartInputSerializer,
        responses={
            200: ConnectStartedSerializer,
            **error_responses(
                400,
                401,
                403,
                503,
                e400="`invalid_country`, `validation_error`.",
                e503="`payments_not_configured`, or the provider did not answer.",
            ),
        },
        examples=[
            OpenApiExample("France", value={"country": "FR"}, request_only=True),
            OpenApiExample(
                "Started",
                value={
                    **_STATUS_EXAMPLE,
                    "charges_enabled": False,
                    "payouts_enabled": False,
                    "details_submitted": False,
                    "onboarding_url": "https://connect.stripe.com/setup/e/acct_1QxYz2AbCdEfGhIj/x",
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request):
        data = self.ConnectStartInputSerializer.validate_or_raise(request.data)
        account, link = connect_start(
            studio=self.studio,
            by=request.user,
            country=data["country"],
            refresh_url=data.get("refresh_url", ""),
            return_url=data.get("return_url", ""),
        )
        return Response(ConnectStartedSerializer({**_status(account), "onboarding_url": link}).data)


@outside_request_transaction
class ConnectRefreshApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_connect_refresh",
        summary="Read the payment account's state from the provider again",
        request=None,
        responses={
            200: ConnectStatusSerializer,
            **error_responses(401, 403, 404, 503, e404="`not_connected`: no account yet."),
        },
        examples=[OpenApiExample("Refreshed", value=_STATUS_EXAMPLE, response_only=True)],
    )
    def post(self, request):
        return Response(ConnectStatusSerializer(_status(connect_refresh(studio=self.studio))).data)
