"""A client's saved cards in the API (for autopay): save one through a SetupIntent the client
confirms in the browser, follow it, list and forget them.

``billing.manage`` to start a card setup (``Idempotency-Key`` required: the same key answers
the same SetupIntent), refresh one and forget a card; ``billing.view`` to list. The card is
recorded when the provider's ``setup_intent.succeeded`` webhook arrives, or on a refresh.
Another studio's contact or card is a 404. Views that call the provider run outside the
request transaction.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from billing.apis.common import IDEMPOTENCY_PARAMETER, idempotency_key_from
from billing.services.payments import card_setup_complete, card_setup_start
from billing.services.payments.cards import saved_card_delete, saved_cards_of
from crm.selectors.contacts import contact_get
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.transactions import outside_request_transaction

TAGS = ["billing"]

_SETUP_ID = "seti_1QxYz2AbCdEfGhIj"
_CARD_EXAMPLE = {
    "id": "0193a5a0-7c1e-7b0a-9c52-6f1d2e3a4c51",
    "contact_id": "01939a4f-11aa-7c3d-8e2f-0a1b2c3d4e5f",
    "provider_payment_method_id": "pm_1QxYz2AbCdEfGhIj",
    "brand": "visa",
    "last4": "4242",
    "exp_month": 12,
    "exp_year": 2034,
    "created_at": "2026-12-07T10:00:00Z",
}
_STARTED_EXAMPLE = {
    "setup_id": _SETUP_ID,
    "client_secret": f"{_SETUP_ID}_secret_AbCdEfGhIjKlMnOpQrStUv",
    "publishable_key": "pk_live_51AbCdEf",
    "account": "acct_1QxYz2AbCdEfGhIj",
}
_PENDING_EXAMPLE = {"setup_id": _SETUP_ID, "status": "requires_payment_method"}
_E503 = "`provider_unavailable`: send the same request again in a moment."


class SavedCardOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    contact_id = serializers.UUIDField()
    provider_payment_method_id = serializers.CharField()
    brand = serializers.CharField(help_text="The provider's: visa, mastercard, amex, ...")
    last4 = serializers.CharField()
    exp_month = serializers.IntegerField(allow_null=True)
    exp_year = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class SavedCardListSerializer(serializers.Serializer):
    results = SavedCardOutputSerializer(many=True)


class CardSetupStartedSerializer(serializers.Serializer):
    setup_id = serializers.CharField(help_text="The provider's SetupIntent.")
    client_secret = serializers.CharField(
        help_text="For Stripe.js `confirmCardSetup` on the client's page only; never store it."
    )
    publishable_key = serializers.CharField()
    account = serializers.CharField(help_text="Stripe.js's `stripeAccount` option.")


class CardSetupPendingSerializer(serializers.Serializer):
    setup_id = serializers.CharField()
    status = serializers.CharField(
        help_text="The provider's SetupIntent status: `requires_payment_method`, "
        "`requires_action`, `processing`, ..."
    )


@outside_request_transaction
class CardSetupStartApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_card_setups_start",
        summary="Start saving a card for a client (a SetupIntent confirmed with Stripe.js)",
        description="The client confirms the SetupIntent in the browser with `client_secret`, "
        "`publishable_key` and `account`; the card is recorded when the provider reports the "
        "setup succeeded (webhook) or on a refresh. The same Idempotency-Key answers the same "
        "SetupIntent.",
        parameters=[IDEMPOTENCY_PARAMETER],
        request=None,
        responses={
            201: CardSetupStartedSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                422,
                503,
                e400="`idempotency_key_required`, `idempotency_key_invalid`.",
                e404="No such contact in the studio.",
                e409="`payments_not_enabled` (the studio takes no card payments), "
                "`contact_merged`, `contact_erased`, `idempotency_key_reused`.",
                e422="`card_setup_rejected` by the provider.",
                e503=_E503,
            ),
        },
        examples=[OpenApiExample("Started", value=_STARTED_EXAMPLE, response_only=True)],
    )
    def post(self, request, contact_id):
        contact = contact_get(studio=self.studio, contact_id=contact_id)
        key = idempotency_key_from(request, "card-setup")
        started = card_setup_start(
            studio=self.studio, contact=contact, by=request.user, idempotency_key=key
        )
        body = {
            "setup_id": started.setup_id,
            "client_secret": started.client_secret,
            "publishable_key": started.publishable_key,
            "account": started.account,
        }
        return Response(CardSetupStartedSerializer(body).data, status=status.HTTP_201_CREATED)


@outside_request_transaction
class CardSetupRefreshApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_card_setups_refresh",
        summary="Ask the provider where a card setup is; succeeded, its card is recorded",
        description="What the `setup_intent.succeeded` webhook does on its own. 200 with the "
        "saved card (recorded once), or 202 with the SetupIntent's status while it has not "
        "succeeded.",
        request=None,
        responses={
            200: SavedCardOutputSerializer,
            202: CardSetupPendingSerializer,
            **error_responses(
                401,
                403,
                404,
                503,
                e404="No such contact, or no such card setup for this contact.",
                e503=_E503,
            ),
        },
        examples=[
            OpenApiExample("Saved", value=_CARD_EXAMPLE, response_only=True, status_codes=["200"]),
            OpenApiExample(
                "Pending", value=_PENDING_EXAMPLE, response_only=True, status_codes=["202"]
            ),
        ],
    )
    def post(self, request, contact_id, setup_id):
        contact = contact_get(studio=self.studio, contact_id=contact_id)
        outcome = card_setup_complete(studio=self.studio, setup_id=setup_id, contact=contact)
        if outcome.card is None:
            body = {"setup_id": outcome.setup_id, "status": outcome.status}
            return Response(CardSetupPendingSerializer(body).data, status=status.HTTP_202_ACCEPTED)
        return Response(SavedCardOutputSerializer(outcome.card).data)


class SavedCardListApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_saved_cards_list",
        summary="List a client's saved cards, newest first",
        responses={
            200: SavedCardListSerializer,
            **error_responses(401, 403, 404, e404="No such contact in the studio."),
        },
        examples=[OpenApiExample("Cards", value={"results": [_CARD_EXAMPLE]}, response_only=True)],
    )
    def get(self, request, contact_id):
        contact = contact_get(studio=self.studio, contact_id=contact_id)
        cards = saved_cards_of(studio=self.studio, contact=contact)
        return Response({"results": SavedCardOutputSerializer(cards, many=True).data})


class SavedCardDetailApi(StudioAPIView):
    permissions = {"DELETE": Perm.BILLING_MANAGE}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_saved_cards_delete",
        summary="Forget a client's saved card",
        description="Removes our record of the card (it is no longer offered for autopay); "
        "the provider's copy stays on the client's customer.",
        responses={
            204: None,
            **error_responses(401, 403, 404, e404="No such contact, or no such card of theirs."),
        },
    )
    def delete(self, request, contact_id, card_id):
        contact = contact_get(studio=self.studio, contact_id=contact_id)
        saved_card_delete(studio=self.studio, contact=contact, card_id=card_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
