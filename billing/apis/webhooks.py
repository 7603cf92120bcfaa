"""The provider's webhook endpoint: ``POST /api/v1/billing/stripe/webhook/``.

Public (the provider calls it), CSRF-exempt (DRF's views are, with no session
authentication) and authenticated by the ``Stripe-Signature`` header over the RAW body, which is
read as bytes before anything parses it. A valid event is stored and its processing queued;
the answer is quick and 200, also for an event already received (the provider stops
redelivering it). A bad, tampered or old signature is a 400 and stores nothing.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.parsers import BaseParser
from rest_framework.response import Response

from billing.services.webhooks import webhook_receive
from picpick.core.apis import PublicAPIView
from picpick.core.openapi import error_responses

TAGS = ["billing"]


class _RawParser(BaseParser):
    """Accepts any body (the view reads ``request.body`` itself, byte for byte)."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return {}


class WebhookAnswerSerializer(serializers.Serializer):
    received = serializers.BooleanField()
    duplicate = serializers.BooleanField(help_text="True: this event id was received before.")
    event_id = serializers.CharField()


class StripeWebhookApi(PublicAPIView):
    throttle_classes: list = []  # the provider's retries must never be throttled away
    parser_classes = [_RawParser]

    @extend_schema(
        tags=TAGS,
        operation_id="billing_stripe_webhook",
        summary="Receive a Stripe event (called by Stripe, signed)",
        description="The body is Stripe's event JSON, verified with the `Stripe-Signature` "
        "header (5 minutes' tolerance) against `STRIPE_WEBHOOK_SECRET`. Stored once by event "
        "id and processed asynchronously: payment intents, refunds, disputes, `account.updated`; "
        "other types are ignored.",
        request={"application/json": {"type": "object"}},
        parameters=[
            OpenApiParameter(
                "Stripe-Signature",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="`t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<body>'>`.",
            )
        ],
        responses={
            200: WebhookAnswerSerializer,
            **error_responses(
                400,
                503,
                e400="`webhook_signature_invalid` (missing, wrong, tampered or older than 5 "
                "minutes), `webhook_payload_invalid` (signed but not an event). Nothing stored.",
                e503="`webhooks_not_configured` / `payments_not_configured`.",
            ),
        },
        examples=[
            OpenApiExample(
                "An event",
                value={
                    "id": "evt_1QxYz2AbCdEf",
                    "object": "event",
                    "type": "payment_intent.succeeded",
                    "account": "acct_1QxYz2AbCdEf",
                    "created": 1796688000,
                    "data": {"object": {"id": "pi_3QxYz2AbCdEf", "object": "payment_intent"}},
                    "livemode": False,
                },
                request_only=True,
            ),
            OpenApiExample(
                "Stored",
                value={"received": True, "duplicate": False, "event_id": "evt_1QxYz2AbCdEf"},
                response_only=True,
            ),
        ],
    )
    def post(self, request):
        payload = request._request.body  # the raw bytes the signature is over
        signature = request.META.get("HTTP_STRIPE_SIGNATURE", "")
        row, created = webhook_receive(payload=payload, signature=signature)
        body = {"received": True, "duplicate": not created, "event_id": row.event_id}
        return Response(WebhookAnswerSerializer(body).data)
