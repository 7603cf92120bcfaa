"""The studio's tax rates and catalogue: list, add, read, change, archive; the catalogue's order.

Reads need ``billing.view``; writes ``billing.manage``. DELETE archives (204): a rate or an
item is hidden from new picks, never deleted, and documents already written keep their copies.

A rate is a percent from 0 to 100 with at most 4 decimals, sent as a decimal string ("9.975")
or an integer, never a JSON number with a fraction (``tax_rate_invalid``). A price is sent as
amounts are everywhere in billing: an integer of minor units or a decimal string, with its
``currency`` beside it (default: the studio's billing currency); it is answered as the money
object (``{"amount", "currency", "decimal", "formatted"}``).

These writes move no money and do no I/O: each request is one transaction.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from billing.apis.fields import (
    AmountField,
    CurrencyField,
    MoneyOutputSerializer,
    example_money,
    money_context,
    money_from_input,
)
from billing.models import CatalogueItem
from billing.selectors import catalogue as selectors
from billing.services import catalogue as services
from billing.services.wallets import billing_settings_get
from picpick.core.apis import StudioAPIView
from picpick.core.errors import ApplicationError
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body
from picpick.core.serializers import InputSerializer

TAGS = ["billing"]

_RATE_SCHEMA = {
    "oneOf": [
        {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,4})?$"},
        {"type": "integer", "minimum": 0, "maximum": 100},
    ],
    "description": "A percent from 0 to 100 with at most 4 decimals: a decimal string "
    '("9.975") or an integer. A JSON number with a fraction is refused (`tax_rate_invalid`).',
    "example": "20",
}
_E400_RATE = (
    "`tax_rate_invalid` (a float, out of 0..100, more than 4 decimals), `tax_mixed` (compound "
    "and inclusive), `invalid`, `validation_error`"
)
_E400_ITEM = (
    "`amount_float`, `amount_invalid`, `amount_precision`, `amount_too_large`, "
    "`currency_unknown`, `tax_mixed` (inclusive and exclusive taxes), `tax_rate_invalid` "
    "(inclusive taxes above 100%), `invalid`, `validation_error`"
)


@extend_schema_field(_RATE_SCHEMA)
class RateField(serializers.Field):
    """The raw rate (a decimal string or an int), read exactly by the service; a float or
    anything else is refused here."""

    def to_internal_value(self, data: Any) -> int | str:
        if isinstance(data, bool) or not isinstance(data, int | str):
            raise ApplicationError(
                'A rate is a decimal string such as "9.975" or an integer, never a number with '
                "a fraction.",
                code="tax_rate_invalid",
                fields={self.field_name: ["A decimal string or an integer."]},
            )
        return data


# --- Output ---------------------------------------------------------------------------------


@extend_schema_field({"type": "string", "example": "20", "description": "A percent: `9.975`."})
class RateOutputField(serializers.Field):
    def to_representation(self, value: Any) -> str:
        return services.rate_text(value)


class TaxRateOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    rate = RateOutputField(help_text="A percent, as a plain decimal string: `20`, `9.975`.")
    inclusive = serializers.BooleanField(help_text="Prices already contain it.")
    compound = serializers.BooleanField(help_text="Levied on the price and the other taxes.")
    country = serializers.CharField(help_text="ISO 3166 code, or empty.")
    region = serializers.CharField()
    archived = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class TaxRatePageSerializer(serializers.Serializer):
    results = TaxRateOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class CatalogueItemTaxSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    rate = RateOutputField()
    inclusive = serializers.BooleanField()
    compound = serializers.BooleanField()
    archived = serializers.BooleanField(help_text="Archived since it was picked: still charged.")


class CatalogueItemOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=CatalogueItem.Kind.choices)
    name = serializers.CharField()
    description = serializers.CharField()
    unit_price = MoneyOutputSerializer(source="price_money")
    taxes = CatalogueItemTaxSerializer(many=True, source="taxes.all")
    optional = serializers.BooleanField(help_text="On a quote: an add-on the client may tick.")
    position = serializers.IntegerField(help_text="Its place in the catalogue, from 0.")
    archived = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class CatalogueItemPageSerializer(serializers.Serializer):
    results = CatalogueItemOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class CatalogueItemListSerializer(serializers.Serializer):
    results = CatalogueItemOutputSerializer(many=True)


# --- Examples -------------------------------------------------------------------------------


_RATE_ID = "01939d10-2c3d-7e4f-8a5b-6c7d8e9f0a1b"
_RATE = {
    "id": _RATE_ID,
    "name": "VAT",
    "rate": "20",
    "inclusive": False,
    "compound": False,
    "country": "FR",
    "region": "",
    "archived": False,
    "created_at": "2026-05-02T10:00:00Z",
    "updated_at": "2026-05-02T10:00:00Z",
}
_ITEM_ID = "01939d20-5a6b-7c8d-9e0f-a1b2c3d4e5f6"
_ITEM = {
    "id": _ITEM_ID,
    "kind": "package",
    "name": "Full day wedding",
    "description": "10 hours, two photographers, an online gallery.",
    "unit_price": example_money(250_000),
    "taxes": [
        {
            "id": _RATE_ID,
            "name": "VAT",
            "rate": "20",
            "inclusive": False,
            "compound": False,
            "archived": False,
        }
    ],
    "optional": False,
    "position": 0,
    "archived": False,
    "created_at": "2026-05-02T10:05:00Z",
    "updated_at": "2026-05-02T10:05:00Z",
}
_ADDON = {
    **_ITEM,
    "id": "01939d20-5a6b-7c8d-9e0f-000000000002",
    "kind": "item",
    "name": "Engagement session",
    "description": "",
    "unit_price": example_money(45_000),
    "optional": True,
    "position": 1,
}


# --- Tax rates ------------------------------------------------------------------------------


class TaxRateListParams(InputSerializer, PageParams):
    archived = serializers.BooleanField(
        required=False, default=False, help_text="true: the archived rates instead."
    )
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=40, help_text="A name prefix, any case."
    )


class TaxRateListApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW, "POST": Perm.BILLING_MANAGE}

    class TaxRateCreateInputSerializer(InputSerializer):
        name = serializers.CharField(max_length=services.MAX_TAX_NAME)
        rate = RateField()
        inclusive = serializers.BooleanField(required=False, default=False)
        compound = serializers.BooleanField(required=False, default=False)
        country = serializers.CharField(required=False, allow_blank=True, max_length=2)
        region = serializers.CharField(
            required=False, allow_blank=True, max_length=services.MAX_REGION
        )

    @extend_schema(
        tags=TAGS,
        operation_id="billing_tax_rates_list",
        summary="List the studio's tax rates by name",
        parameters=[TaxRateListParams],
        responses={200: TaxRatePageSerializer, **error_responses(400, 401, 403)},
        examples=[
            OpenApiExample(
                "A page",
                value={"results": [_RATE], "next": None, "previous": None},
                response_only=True,
            )
        ],
    )
    def get(self, request):
        params = TaxRateListParams.validate_or_raise(request.query_params)
        page = selectors.tax_rate_page(
            studio=self.studio,
            archived=params["archived"],
            search=params.get("q") or None,
            cursor=params.get("cursor"),
            page_size=params["page_size"],
        )
        return Response(page_body(page, TaxRateOutputSerializer(page.items, many=True).data))

    @extend_schema(
        tags=TAGS,
        operation_id="billing_tax_rates_create",
        summary="Add a tax rate",
        description=(
            "A name is unique among the studio's active rates of the same rate. A compound "
            "tax (levied on the other taxes too) cannot be inclusive."
        ),
        request=TaxRateCreateInputSerializer,
        responses={
            201: TaxRateOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                409,
                e400=_E400_RATE,
                e409="`tax_rate_exists`: an active rate of this name and rate",
            ),
        },
        examples=[
            OpenApiExample(
                "French VAT",
                value={"name": "VAT", "rate": "20", "country": "FR"},
                request_only=True,
            ),
            OpenApiExample(
                "Quebec's QST, included in prices",
                value={"name": "QST", "rate": "9.975", "inclusive": True, "country": "CA"},
                request_only=True,
            ),
            OpenApiExample("Added", value=_RATE, response_only=True),
        ],
    )
    def post(self, request):
        data = self.TaxRateCreateInputSerializer.validate_or_raise(request.data)
        rate = services.tax_rate_create(studio=self.studio, by=request.user, **data)
        return Response(TaxRateOutputSerializer(rate).data, status=status.HTTP_201_CREATED)


class TaxRateDetailApi(StudioAPIView):
    permissions = {
        "GET": Perm.BILLING_VIEW,
        "PATCH": Perm.BILLING_MANAGE,
        "DELETE": Perm.BILLING_MANAGE,
    }

    class TaxRateUpdateInputSerializer(InputSerializer):
        name = serializers.CharField(required=False, max_length=services.MAX_TAX_NAME)
        rate = RateField(required=False)
        inclusive = serializers.BooleanField(required=False)
        compound = serializers.BooleanField(required=False)
        country = serializers.CharField(required=False, allow_blank=True, max_length=2)
        region = serializers.CharField(
            required=False, allow_blank=True, max_length=services.MAX_REGION
        )
        archived = serializers.BooleanField(
            required=False, help_text="false restores an archived rate."
        )

    @extend_schema(
        tags=TAGS,
        operation_id="billing_tax_rates_retrieve",
        summary="Read a tax rate",
        responses={200: TaxRateOutputSerializer, **error_responses(401, 403, 404)},
        examples=[OpenApiExample("A rate", value=_RATE, response_only=True)],
    )
    def get(self, request, tax_rate_id):
        rate = selectors.tax_rate_get(studio=self.studio, tax_rate_id=tax_rate_id)
        return Response(TaxRateOutputSerializer(rate).data)

    @extend_schema(
        tags=TAGS,
        operation_id="billing_tax_rates_update",
        summary="Change a tax rate (documents already written keep their copy)",
        description=(
            "Quotes and invoices already written keep the rate they were written with; "
            "catalogue items that have this rate use the new one on the next document."
        ),
        request=TaxRateUpdateInputSerializer,
        responses={
            200: TaxRateOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400=_E400_RATE,
                e409="`tax_rate_exists`: an active rate of this name and rate",
            ),
        },
        examples=[
            OpenApiExample("A new rate", value={"rate": "5.5"}, request_only=True),
            OpenApiExample("Changed", value={**_RATE, "rate": "5.5"}, response_only=True),
        ],
    )
    def patch(self, request, tax_rate_id):
        rate = selectors.tax_rate_get(studio=self.studio, tax_rate_id=tax_rate_id)
        data = self.TaxRateUpdateInputSerializer.validate_or_raise(request.data)
        rate = services.tax_rate_update(tax_rate=rate, by=request.user, **data)
        return Response(TaxRateOutputSerializer(rate).data)

    @extend_schema(
        tags=TAGS,
        operation_id="billing_tax_rates_archive",
        summary="Archive a tax rate: no new picks (documents keep their copies)",
        description=(
            "Never deleted. Catalogue items that have it keep it until they are edited; "
            "`PATCH` with `archived: false` restores it."
        ),
        responses={
            204: OpenApiResponse(description="Archived (or already archived)."),
            **error_responses(401, 403, 404),
        },
    )
    def delete(self, request, tax_rate_id):
        rate = selectors.tax_rate_get(studio=self.studio, tax_rate_id=tax_rate_id)
        services.tax_rate_archive(tax_rate=rate, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Catalogue ------------------------------------------------------------------------------


def _price(data: dict, *, currency: str) -> None:
    """The price sent (an int of minor units or a decimal string) read in ``currency``, in
    place, as an int of minor units; 0 is a free item."""
    if "unit_price" in data:
        data["unit_price"] = money_from_input(
            data["unit_price"], currency, field="unit_price", min_amount=0
        ).amount


def _item(view: StudioAPIView, item_id) -> CatalogueItem:
    return selectors.catalogue_item_get(studio=view.studio, item_id=item_id)


def _item_body(view: StudioAPIView, item: CatalogueItem) -> dict:
    return CatalogueItemOutputSerializer(
        _item(view, item.id), context=money_context(view.studio)
    ).data


class CatalogueListParams(InputSerializer, PageParams):
    archived = serializers.BooleanField(
        required=False, default=False, help_text="true: the archived items instead."
    )
    kind = serializers.ChoiceField(choices=CatalogueItem.Kind.choices, required=False)
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="A name prefix, any case."
    )


class _ItemInput(InputSerializer):
    kind = serializers.ChoiceField(choices=CatalogueItem.Kind.choices)
    name = serializers.CharField(max_length=services.MAX_ITEM_NAME)
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=services.MAX_DESCRIPTION
    )
    unit_price = AmountField(help_text="0 for an item given free.")
    currency = CurrencyField(required=False, help_text="Default: the studio's billing currency.")
    tax_rate_ids = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=services.MAX_ITEM_TAXES,
        help_text="The studio's active tax rates: all inclusive or all exclusive.",
    )
    optional = serializers.BooleanField(
        required=False, help_text="On a quote: an add-on the client may tick."
    )


class CatalogueListApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW, "POST": Perm.BILLING_MANAGE}

    class CatalogueItemCreateInputSerializer(_ItemInput):
        pass

    @extend_schema(
        tags=TAGS,
        operation_id="billing_catalogue_list",
        summary="List the catalogue in its order",
        parameters=[CatalogueListParams],
        responses={200: CatalogueItemPageSerializer, **error_responses(400, 401, 403)},
        examples=[
            OpenApiExample(
                "A page",
                value={"results": [_ITEM, _ADDON], "next": None, "previous": None},
                response_only=True,
            )
        ],
    )
    def get(self, request):
        params = CatalogueListParams.validate_or_raise(request.query_params)
        page = selectors.catalogue_item_page(
            studio=self.studio,
            archived=params["archived"],
            kind=params.get("kind"),
            search=params.get("q") or None,
            cursor=params.get("cursor"),
            page_size=params["page_size"],
        )
        items = CatalogueItemOutputSerializer(
            page.items, many=True, context=money_context(self.studio)
        ).data
        return Response(page_body(page, items))

    @extend_schema(
        tags=TAGS,
        operation_id="billing_catalogue_create",
        summary="Add a package or an item at the end of the catalogue",
        request=CatalogueItemCreateInputSerializer,
        responses={
            201: CatalogueItemOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400=_E400_ITEM,
                e404="`tax_rate_not_found`: a tax rate id not of this studio",
                e409="`tax_rate_archived`, `catalogue_full`",
            ),
        },
        examples=[
            OpenApiExample(
                "A package with VAT",
                value={
                    "kind": "package",
                    "name": "Full day wedding",
                    "description": "10 hours, two photographers, an online gallery.",
                    "unit_price": "2500.00",
                    "currency": "EUR",
                    "tax_rate_ids": [_RATE_ID],
                },
                request_only=True,
            ),
            OpenApiExample("Added", value=_ITEM, response_only=True),
        ],
    )
    def post(self, request):
        data = self.CatalogueItemCreateInputSerializer.validate_or_raise(request.data)
        if "currency" not in data:
            data["currency"] = billing_settings_get(studio=self.studio).currency
        _price(data, currency=data["currency"])
        item = services.catalogue_item_create(studio=self.studio, by=request.user, **data)
        return Response(_item_body(self, item), status=status.HTTP_201_CREATED)


class CatalogueReorderApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    class CatalogueReorderInputSerializer(InputSerializer):
        ids = serializers.ListField(
            child=serializers.UUIDField(),
            allow_empty=True,
            max_length=services.MAX_CATALOGUE_ITEMS,
            help_text="Every active item's id, once each, in the new order.",
        )

    @extend_schema(
        tags=TAGS,
        operation_id="billing_catalogue_reorder",
        summary="Set the order of all the active items",
        request=CatalogueReorderInputSerializer,
        responses={
            200: CatalogueItemListSerializer,
            **error_responses(
                400,
                401,
                403,
                422,
                e422="`catalogue_set_mismatch`: ids must list every active item exactly once",
            ),
        },
        examples=[
            OpenApiExample(
                "The add-on first", value={"ids": [_ADDON["id"], _ITEM_ID]}, request_only=True
            ),
            OpenApiExample(
                "Reordered",
                value={"results": [{**_ADDON, "position": 0}, {**_ITEM, "position": 1}]},
                response_only=True,
            ),
        ],
    )
    def post(self, request):
        data = self.CatalogueReorderInputSerializer.validate_or_raise(request.data)
        services.catalogue_reorder(studio=self.studio, ids=data["ids"], by=request.user)
        items = selectors.catalogue_item_list(studio=self.studio, archived=False)
        return Response(
            {
                "results": CatalogueItemOutputSerializer(
                    items, many=True, context=money_context(self.studio)
                ).data
            }
        )


class CatalogueDetailApi(StudioAPIView):
    permissions = {
        "GET": Perm.BILLING_VIEW,
        "PATCH": Perm.BILLING_MANAGE,
        "DELETE": Perm.BILLING_MANAGE,
    }

    class CatalogueItemUpdateInputSerializer(_ItemInput):
        kind = serializers.ChoiceField(choices=CatalogueItem.Kind.choices, required=False)
        name = serializers.CharField(required=False, max_length=services.MAX_ITEM_NAME)
        unit_price = AmountField(
            required=False,
            help_text="In the `currency` sent, else the item's. A new currency needs it.",
        )
        currency = CurrencyField(required=False, help_text="A new one comes with `unit_price`.")
        archived = serializers.BooleanField(
            required=False, help_text="false restores an archived item where it was."
        )

    @extend_schema(
        tags=TAGS,
        operation_id="billing_catalogue_retrieve",
        summary="Read a catalogue item",
        responses={200: CatalogueItemOutputSerializer, **error_responses(401, 403, 404)},
        examples=[OpenApiExample("An item", value=_ITEM, response_only=True)],
    )
    def get(self, request, item_id):
        return Response(
            CatalogueItemOutputSerializer(
                _item(self, item_id), context=money_context(self.studio)
            ).data
        )

    @extend_schema(
        tags=TAGS,
        operation_id="billing_catalogue_update",
        summary="Change a catalogue item (documents already written keep their copy)",
        request=CatalogueItemUpdateInputSerializer,
        responses={
            200: CatalogueItemOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400=f"{_E400_ITEM}, `unit_price_required` (a new currency without a price)",
                e404="`not_found` (the item), `tax_rate_not_found`",
                e409="`tax_rate_archived`, `catalogue_full`",
            ),
        },
        examples=[
            OpenApiExample(
                "A new price, without tax",
                value={"unit_price": "2800.00", "tax_rate_ids": []},
                request_only=True,
            ),
            OpenApiExample(
                "Changed",
                value={**_ITEM, "unit_price": example_money(280_000), "taxes": []},
                response_only=True,
            ),
        ],
    )
    def patch(self, request, item_id):
        item = _item(self, item_id)
        data = self.CatalogueItemUpdateInputSerializer.validate_or_raise(request.data)
        _price(data, currency=data.get("currency", item.currency))
        item = services.catalogue_item_update(item=item, by=request.user, **data)
        return Response(_item_body(self, item))

    @extend_schema(
        tags=TAGS,
        operation_id="billing_catalogue_archive",
        summary="Archive a catalogue item: off the catalogue (documents keep their copies)",
        description="Never deleted; `PATCH` with `archived: false` restores it where it was.",
        responses={
            204: OpenApiResponse(description="Archived (or already archived)."),
            **error_responses(401, 403, 404),
        },
    )
    def delete(self, request, item_id):
        services.catalogue_item_archive(item=_item(self, item_id), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
