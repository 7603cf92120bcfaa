"""The studio's quotes (proposals): list, write, read, change, delete a draft, send, withdraw,
and what a choice of its packages and add-ons costs.

Reads need ``billing.view``; writes ``billing.manage``. A quote's items are packages (the
client picks one of them when the quote has any) and items (always in unless ``optional``:
an add-on the client may tick); ``selected`` is the pre-selection the client's page starts
on. Items are checked as invoice lines are (the same 400 codes, naming ``items[i]``). Prices
and amounts are sent as everywhere in billing, an integer of minor units or a decimal string,
in the quote's currency; they are answered as the money object.

The client accepts or declines on the quote's page on the studio's site (the link in the
email ``send`` sends, and ``link`` here); accepting issues the invoice and its schedule and
moves the job to ``accept_stage_id``.

Writes are one transaction per request, except ``send``: it takes the quote's number under
the number counter's lock, and the counter row of a new year is made and committed before
that transaction (made inside it, racing first sends would deadlock on InnoDB).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from billing import pricing
from billing.apis.catalogue import RateField, RateOutputField
from billing.apis.fields import (
    DEFAULT_LOCALE,
    AmountField,
    CurrencyField,
    MoneyOutputSerializer,
    example_money,
    money_context,
    money_from_input,
    money_output,
)
from billing.apis.invoices.fields import PercentField, QuantityField
from billing.models import CatalogueItem, Quote, QuoteItem
from billing.money import Money
from billing.selectors import quotes as selectors
from billing.services import quotes as services
from billing.services.wallets import billing_settings_get
from crm.selectors.contacts import contact_get
from crm.selectors.jobs import job_get_plain, stage_get
from picpick.core.apis import StudioAPIView
from picpick.core.errors import ApplicationError, NotFound
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body
from picpick.core.serializers import InputSerializer
from picpick.core.transactions import outside_request_transaction

TAGS = ["billing"]

_E400_WRITE = (
    "`title_required`, `item_invalid`, `too_many_items`, `line_name_invalid`, "
    "`price_invalid`, `quantity_invalid`, `discount_invalid`, `discount_exceeds_total`, "
    "`tax_rate_invalid` (a float, above 100%), `tax_mixed`, `currency_mismatch` (a catalogue "
    "item in another currency), `choice_invalid` (two packages pre-selected), "
    "`schedule_invalid`, `schedule_exceeds_total`, `accept_stage_needs_job`, "
    "`accept_stage_invalid` (a lost stage), `amount_float`, `amount_invalid`, "
    "`amount_precision`, `currency_unknown`, `invalid`, `validation_error`"
)
_E404_WRITE = (
    "`contact_not_found`, `job_not_found`, `stage_not_found` (not a stage of the job's "
    "pipeline), `catalogue_item_not_found`, `tax_rate_not_found`, `not_found` (the quote)"
)
_E400_CHOICE = "`package_required`, `choice_invalid`, `choice_empty`"


def _money(amount: int | None, currency: str, context: dict) -> dict | None:
    if amount is None:
        return None
    return money_output(Money(amount, currency), locale=context.get("locale", DEFAULT_LOCALE))


def _percent(value: Any) -> str | None:
    return None if value is None else format(value.normalize(), "f")


# --- Output ---------------------------------------------------------------------------------


class QuoteContactSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.SerializerMethodField()
    email = serializers.CharField()

    def get_name(self, contact) -> str:
        return " ".join(p for p in (contact.first_name, contact.last_name) if p)


class QuoteJobSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class QuoteStageSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class QuoteInvoiceSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    number = serializers.CharField(allow_null=True)
    status = serializers.CharField(help_text="The invoice's status, from the ledger.")


class QuoteTaxSerializer(serializers.Serializer):
    name = serializers.CharField()
    rate = serializers.CharField(help_text='A percent, as a plain decimal string: "20".')
    inclusive = serializers.BooleanField()
    compound = serializers.BooleanField()


class QuoteItemOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=CatalogueItem.Kind.choices)
    optional = serializers.BooleanField(help_text="An add-on the client may tick (items only).")
    selected = serializers.BooleanField(
        help_text="Pre-selected: the package the page starts on, a pre-ticked add-on; a "
        "required item is always true."
    )
    position = serializers.IntegerField()
    catalogue_item_id = serializers.UUIDField(allow_null=True)
    name = serializers.CharField()
    description = serializers.CharField()
    quantity = serializers.SerializerMethodField(help_text='A decimal string: "1", "2.5".')
    unit_price = serializers.SerializerMethodField()
    discount_percent = serializers.SerializerMethodField()
    discount_amount = serializers.SerializerMethodField()
    taxes = QuoteTaxSerializer(many=True, help_text="Copies of the rates, as written.")

    def get_quantity(self, item: QuoteItem) -> str:
        return format(item.quantity.normalize(), "f")

    @extend_schema_field(MoneyOutputSerializer)
    def get_unit_price(self, item: QuoteItem) -> dict | None:
        return _money(item.unit_price, item.quote.currency, self.context)

    @extend_schema_field({"type": "string", "nullable": True, "example": "10"})
    def get_discount_percent(self, item: QuoteItem) -> str | None:
        return _percent(item.discount_percent)

    @extend_schema_field(MoneyOutputSerializer(allow_null=True))
    def get_discount_amount(self, item: QuoteItem) -> dict | None:
        return _money(item.discount_amount, item.quote.currency, self.context)


class QuoteChoiceOutputSerializer(serializers.Serializer):
    package_id = serializers.UUIDField(allow_null=True, source="package")
    addon_ids = serializers.ListField(child=serializers.UUIDField(), source="addons")


class QuoteOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    number = serializers.CharField(allow_null=True, help_text="Given when first sent.")
    title = serializers.CharField()
    message = serializers.CharField(help_text="To the client, shown on the quote's page.")
    state = serializers.ChoiceField(
        choices=Quote.State.choices,
        help_text="draft → sent → accepted | declined (by the client) | withdrawn (by the studio).",
    )
    currency = serializers.CharField()
    language = serializers.CharField(help_text="A CLDR locale; empty: the studio's.")
    contact = QuoteContactSerializer()
    job = QuoteJobSerializer(allow_null=True)
    expires_on = serializers.DateField(allow_null=True)
    accept_stage = QuoteStageSerializer(
        allow_null=True, help_text="The job's stage once the quote is accepted."
    )
    schedule = serializers.ListField(
        child=serializers.DictField(), help_text="The invoice's schedule, as parts."
    )
    payment_terms_days = serializers.IntegerField(
        allow_null=True, help_text="Null: the studio's payment terms."
    )
    discount_percent = serializers.SerializerMethodField()
    discount_amount = serializers.SerializerMethodField()
    items = QuoteItemOutputSerializer(many=True, source="items.all")
    preselected_total = serializers.SerializerMethodField(
        help_text="What the pre-selection costs (null when it is not a valid choice)."
    )
    sent_at = serializers.DateTimeField(allow_null=True)
    accepted_at = serializers.DateTimeField(allow_null=True)
    accepted_name = serializers.CharField(help_text="The name the client typed to accept.")
    accepted_address = serializers.CharField(allow_null=True, help_text="The client's IP.")
    accepted_user_agent = serializers.CharField()
    accepted_choice = serializers.SerializerMethodField()
    declined_at = serializers.DateTimeField(allow_null=True)
    decline_reason = serializers.CharField()
    invoice = QuoteInvoiceSerializer(allow_null=True, help_text="Issued when accepted.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field({"type": "string", "nullable": True, "example": "10"})
    def get_discount_percent(self, quote: Quote) -> str | None:
        return _percent(quote.discount_percent)

    @extend_schema_field(MoneyOutputSerializer(allow_null=True))
    def get_discount_amount(self, quote: Quote) -> dict | None:
        return _money(quote.discount_amount, quote.currency, self.context)

    @extend_schema_field(MoneyOutputSerializer(allow_null=True))
    def get_preselected_total(self, quote: Quote) -> dict | None:
        items = list(quote.items.all())
        package, addons = services.choice_default(items)
        try:
            totals = services.quote_totals(quote=quote, package_id=package, addon_ids=addons)
        except ApplicationError:
            return None
        return _money(totals.total, quote.currency, self.context)

    @extend_schema_field(QuoteChoiceOutputSerializer(allow_null=True))
    def get_accepted_choice(self, quote: Quote) -> dict | None:
        if not quote.accepted_choice:
            return None
        return QuoteChoiceOutputSerializer(quote.accepted_choice).data


class QuoteDetailOutputSerializer(QuoteOutputSerializer):
    link = serializers.SerializerMethodField(
        help_text="The client's page on the studio's site (null while a draft)."
    )

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_link(self, quote: Quote) -> str | None:
        if quote.state == Quote.State.DRAFT:
            return None
        return services.quote_link_url(quote=quote)


class QuotePageSerializer(serializers.Serializer):
    results = QuoteOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class TotalsTaxSerializer(serializers.Serializer):
    name = serializers.CharField()
    rate = RateOutputField()
    inclusive = serializers.BooleanField()
    compound = serializers.BooleanField()
    base = serializers.SerializerMethodField()
    amount = serializers.SerializerMethodField()

    @extend_schema_field(MoneyOutputSerializer)
    def get_base(self, tax: pricing.TaxAmount) -> dict | None:
        return _money(tax.base, self.context["currency"], self.context)

    @extend_schema_field(MoneyOutputSerializer)
    def get_amount(self, tax: pricing.TaxAmount) -> dict | None:
        return _money(tax.amount, self.context["currency"], self.context)


class TotalsLineSerializer(serializers.Serializer):
    item_id = serializers.UUIDField(source="item.id")
    name = serializers.CharField(source="item.name")
    net = serializers.SerializerMethodField()
    tax = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()

    @extend_schema_field(MoneyOutputSerializer)
    def get_net(self, line) -> dict | None:
        return _money(line.totals.net, self.context["currency"], self.context)

    @extend_schema_field(MoneyOutputSerializer)
    def get_tax(self, line) -> dict | None:
        return _money(line.totals.tax, self.context["currency"], self.context)

    @extend_schema_field(MoneyOutputSerializer)
    def get_total(self, line) -> dict | None:
        return _money(line.totals.total, self.context["currency"], self.context)


class QuoteTotalsOutputSerializer(serializers.Serializer):
    package_id = serializers.UUIDField(allow_null=True, source="choice.package_id")
    addon_ids = serializers.ListField(child=serializers.UUIDField(), source="choice.addon_ids")
    lines = TotalsLineSerializer(many=True)
    subtotal = serializers.SerializerMethodField()
    discount = serializers.SerializerMethodField()
    tax = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()
    taxes = TotalsTaxSerializer(many=True, source="totals.taxes")
    rounding = serializers.CharField(source="totals.rounding")

    @extend_schema_field(MoneyOutputSerializer)
    def get_subtotal(self, view) -> dict | None:
        return _money(view.totals.subtotal, self.context["currency"], self.context)

    @extend_schema_field(MoneyOutputSerializer)
    def get_discount(self, view) -> dict | None:
        return _money(view.totals.discount, self.context["currency"], self.context)

    @extend_schema_field(MoneyOutputSerializer)
    def get_tax(self, view) -> dict | None:
        return _money(view.totals.tax, self.context["currency"], self.context)

    @extend_schema_field(MoneyOutputSerializer)
    def get_total(self, view) -> dict | None:
        return _money(view.totals.total, self.context["currency"], self.context)


class _TotalsLine:
    def __init__(self, item: QuoteItem, totals: pricing.LineTotals) -> None:
        self.item = item
        self.totals = totals


class _TotalsView:
    """A choice with its computation, for the totals serializer."""

    def __init__(self, choice: services.Choice, totals: pricing.Totals) -> None:
        self.choice = choice
        self.totals = totals
        self.lines = [
            _TotalsLine(item, line) for item, line in zip(choice.items, totals.lines, strict=True)
        ]


# --- Examples -------------------------------------------------------------------------------


_QUOTE_ID = "01939e00-1a2b-7c3d-8e4f-5a6b7c8d9e0f"
_CONTACT_ID = "01939d00-0a1b-7c2d-8e3f-4a5b6c7d8e9f"
_JOB_ID = "01939d05-0a1b-7c2d-8e3f-4a5b6c7d8e9f"
_STAGE_ID = "01939d06-0a1b-7c2d-8e3f-4a5b6c7d8e9f"
_HALF = "01939e01-0000-7000-8000-000000000001"
_FULL = "01939e01-0000-7000-8000-000000000002"
_TRAVEL = "01939e01-0000-7000-8000-000000000003"
_ALBUM = "01939e01-0000-7000-8000-000000000004"
_VAT = [{"name": "VAT", "rate": "20", "inclusive": False, "compound": False}]


def _example_item(item_id, kind, position, name, price, *, optional=False, selected=True):
    return {
        "id": item_id,
        "kind": kind,
        "optional": optional,
        "selected": selected,
        "position": position,
        "catalogue_item_id": None,
        "name": name,
        "description": "",
        "quantity": "1",
        "unit_price": example_money(price),
        "discount_percent": None,
        "discount_amount": None,
        "taxes": _VAT,
    }


_SCHEDULE = [
    {"label": "Deposit", "percent": "30", "due": {"on": "acceptance"}},
    {"label": "Balance", "balance": True, "due": {"on": "before_event", "days": 14}},
]
_QUOTE = {
    "id": _QUOTE_ID,
    "number": "Q-2026-0007",
    "title": "Doe wedding",
    "message": "Here are two options for your day.",
    "state": "sent",
    "currency": "EUR",
    "language": "",
    "contact": {"id": _CONTACT_ID, "name": "Jane Doe", "email": "jane@example.com"},
    "job": {"id": _JOB_ID, "name": "Doe wedding"},
    "expires_on": "2026-07-01",
    "accept_stage": {"id": _STAGE_ID, "name": "Booked"},
    "schedule": _SCHEDULE,
    "payment_terms_days": None,
    "discount_percent": None,
    "discount_amount": None,
    "items": [
        _example_item(_HALF, "package", 0, "Half day", 100_000, selected=False),
        _example_item(_FULL, "package", 1, "Full day", 180_000),
        _example_item(_TRAVEL, "item", 2, "Travel", 5_000),
        _example_item(_ALBUM, "item", 3, "Album", 30_000, optional=True, selected=False),
    ],
    "preselected_total": example_money(222_000),
    "sent_at": "2026-06-01T09:00:00Z",
    "accepted_at": None,
    "accepted_name": "",
    "accepted_address": None,
    "accepted_user_agent": "",
    "accepted_choice": None,
    "declined_at": None,
    "decline_reason": "",
    "invoice": None,
    "created_at": "2026-05-30T16:00:00Z",
    "updated_at": "2026-06-01T09:00:00Z",
}
_QUOTE_DETAIL = {
    **_QUOTE,
    "link": "https://annasmith.picpick.example/quotes/eyJzIjoiMDE5MzlkIn0:1tQ:abc/",
}
_CREATE = {
    "contact_id": _CONTACT_ID,
    "job_id": _JOB_ID,
    "title": "Doe wedding",
    "message": "Here are two options for your day.",
    "currency": "EUR",
    "expires_on": "2026-07-01",
    "accept_stage_id": _STAGE_ID,
    "schedule": _SCHEDULE,
    "items": [
        {"kind": "package", "name": "Half day", "unit_price": "1000.00", "taxes": _VAT[:1]},
        {
            "kind": "package",
            "name": "Full day",
            "unit_price": "1800.00",
            "taxes": _VAT[:1],
            "selected": True,
        },
        {"name": "Travel", "unit_price": 5000, "taxes": _VAT[:1]},
        {"name": "Album", "unit_price": "300.00", "optional": True, "taxes": _VAT[:1]},
    ],
}


# --- Input ----------------------------------------------------------------------------------


class QuoteTaxInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=40)
    rate = RateField()
    inclusive = serializers.BooleanField(required=False, default=False)
    compound = serializers.BooleanField(required=False, default=False)


class QuoteItemInputSerializer(InputSerializer):
    kind = serializers.ChoiceField(
        choices=CatalogueItem.Kind.choices,
        required=False,
        help_text="Default: the catalogue item's, else `item`.",
    )
    catalogue_item_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="Fills the name, description, price and taxes not given.",
    )
    name = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    unit_price = AmountField(required=False, help_text="In the quote's currency.")
    quantity = QuantityField(required=False)
    discount_percent = PercentField(code="discount_invalid", required=False, allow_null=True)
    discount_amount = AmountField(required=False, allow_null=True)
    tax_rate_ids = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=5,
        help_text="The studio's tax rates (copied onto the item).",
    )
    taxes = QuoteTaxInputSerializer(
        many=True, required=False, help_text="Or the taxes themselves (copies)."
    )
    optional = serializers.BooleanField(
        required=False, help_text="Items only: an add-on the client may tick."
    )
    selected = serializers.BooleanField(
        required=False,
        help_text="Pre-selected: the package the page starts on (the first one when none "
        "is), a pre-ticked add-on.",
    )


class _QuoteInput(InputSerializer):
    job_id = serializers.UUIDField(required=False, allow_null=True)
    title = serializers.CharField(max_length=200)
    message = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    language = serializers.CharField(required=False, allow_blank=True, max_length=20)
    expires_on = serializers.DateField(required=False, allow_null=True)
    accept_stage_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="A stage of the job's pipeline: the job moves there once accepted.",
    )
    schedule = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        max_length=24,
        help_text='The invoice\'s schedule as parts: [{"label", "percent" | "amount" | '
        '"balance", "due": {"on": "acceptance" | "issue" | "date" | "before_event" | '
        '"after_event", "date", "days"}}]. Empty: one payment due on the terms.',
    )
    payment_terms_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=365
    )
    discount_percent = PercentField(code="discount_invalid", required=False, allow_null=True)
    discount_amount = AmountField(required=False, allow_null=True)
    items = QuoteItemInputSerializer(many=True, max_length=100)


def _item_input(data: dict, *, index: int, currency: str) -> services.QuoteItemInput:
    values = dict(data)
    for name in ("unit_price", "discount_amount"):
        if values.get(name) is not None:
            values[name] = money_from_input(
                values[name], currency, field=f"items[{index}].{name}", min_amount=0
            ).amount
    if "taxes" in values:
        values["taxes"] = [dict(tax) for tax in values["taxes"]]
    return services.QuoteItemInput(**values)


def _resolve(view: StudioAPIView, data: dict, *, currency: str) -> dict:
    """Ids to rows of this studio (404 with the code naming which), amounts to minor units."""
    out = dict(data)
    studio = view.studio
    if "job_id" in out:
        job_id = out.pop("job_id")
        out["job"] = _scoped(job_get_plain, "job_not_found", studio=studio, job_id=job_id)
    if "accept_stage_id" in out:
        stage_id = out.pop("accept_stage_id")
        out["accept_stage"] = _scoped(
            stage_get, "stage_not_found", studio=studio, stage_id=stage_id
        )
    if out.get("discount_amount") is not None:
        out["discount_amount"] = money_from_input(
            out["discount_amount"], currency, field="discount_amount", min_amount=0
        ).amount
    if "items" in out:
        out["items"] = [
            _item_input(item, index=index, currency=currency)
            for index, item in enumerate(out["items"])
        ]
    return out


def _scoped(getter, code: str, *, studio, **ids):
    """``getter(studio=..., <x>_id=...)``, or None for a null id; its 404 with ``code``."""
    ((_, value),) = ids.items()
    if value is None:
        return None
    try:
        return getter(studio=studio, **ids)
    except NotFound as exc:
        raise NotFound(exc.message, code=code) from None


def _detail(view: StudioAPIView, quote_id) -> dict:
    quote = selectors.quote_get(studio=view.studio, quote_id=quote_id)
    return QuoteDetailOutputSerializer(quote, context=money_context(view.studio)).data


# --- Views ----------------------------------------------------------------------------------


class QuoteListParams(InputSerializer, PageParams):
    state = serializers.ChoiceField(choices=Quote.State.choices, required=False)
    job_id = serializers.UUIDField(required=False)
    contact_id = serializers.UUIDField(required=False)


class QuoteListApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW, "POST": Perm.BILLING_MANAGE}

    class QuoteCreateInputSerializer(_QuoteInput):
        contact_id = serializers.UUIDField()
        currency = CurrencyField(
            required=False, help_text="Default: the studio's billing currency."
        )

    @extend_schema(
        tags=TAGS,
        operation_id="billing_quotes_list",
        summary="List the studio's quotes, newest first",
        parameters=[QuoteListParams],
        responses={200: QuotePageSerializer, **error_responses(400, 401, 403)},
        examples=[
            OpenApiExample(
                "A page",
                value={"results": [_QUOTE], "next": None, "previous": None},
                response_only=True,
            )
        ],
    )
    def get(self, request):
        params = QuoteListParams.validate_or_raise(request.query_params)
        page = selectors.quote_page(
            studio=self.studio,
            state=params.get("state"),
            job_id=params.get("job_id"),
            contact_id=params.get("contact_id"),
            cursor=params.get("cursor"),
            page_size=params["page_size"],
        )
        quotes = QuoteOutputSerializer(
            page.items, many=True, context=money_context(self.studio)
        ).data
        return Response(page_body(page, quotes))

    @extend_schema(
        tags=TAGS,
        operation_id="billing_quotes_create",
        summary="Write a quote (a draft)",
        description=(
            "Packages are alternatives (the client picks one); items are always in unless "
            "optional. The quote's discount and schedule are checked against every choice "
            "the client can make."
        ),
        request=QuoteCreateInputSerializer,
        responses={
            201: QuoteDetailOutputSerializer,
            **error_responses(400, 401, 403, 404, e400=_E400_WRITE, e404=_E404_WRITE),
        },
        examples=[
            OpenApiExample("Two packages and an add-on", value=_CREATE, request_only=True),
            OpenApiExample(
                "Written",
                value={
                    **_QUOTE_DETAIL,
                    "number": None,
                    "state": "draft",
                    "sent_at": None,
                    "link": None,
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request):
        data = self.QuoteCreateInputSerializer.validate_or_raise(request.data)
        contact = _scoped(
            contact_get, "contact_not_found", studio=self.studio, contact_id=data.pop("contact_id")
        )
        currency = data.pop("currency", None) or billing_settings_get(studio=self.studio).currency
        data = _resolve(self, data, currency=currency)
        quote = services.quote_create(
            studio=self.studio, contact=contact, currency=currency, by=request.user, **data
        )
        return Response(_detail(self, quote.id), status=status.HTTP_201_CREATED)


class QuoteDetailApi(StudioAPIView):
    permissions = {
        "GET": Perm.BILLING_VIEW,
        "PATCH": Perm.BILLING_MANAGE,
        "DELETE": Perm.BILLING_MANAGE,
    }

    class QuoteUpdateInputSerializer(_QuoteInput):
        title = serializers.CharField(required=False, max_length=200)
        items = QuoteItemInputSerializer(
            many=True, required=False, max_length=100, help_text="Replaces all the items."
        )

    @extend_schema(
        tags=TAGS,
        operation_id="billing_quotes_retrieve",
        summary="Read a quote with its items and the client's link",
        responses={200: QuoteDetailOutputSerializer, **error_responses(401, 403, 404)},
        examples=[OpenApiExample("A sent quote", value=_QUOTE_DETAIL, response_only=True)],
    )
    def get(self, request, quote_id):
        return Response(_detail(self, quote_id))

    @extend_schema(
        tags=TAGS,
        operation_id="billing_quotes_update",
        summary="Change a draft or sent quote (a sent one stays sent)",
        description=(
            "`items` replaces them all. Giving one of `discount_percent` / `discount_amount` "
            "clears the other. The contact and the currency are the quote's for good."
        ),
        request=QuoteUpdateInputSerializer,
        responses={
            200: QuoteDetailOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400=_E400_WRITE,
                e404=_E404_WRITE,
                e409="`quote_closed`: accepted, declined or withdrawn",
            ),
        },
        examples=[
            OpenApiExample(
                "Ten percent off, valid longer",
                value={"discount_percent": "10", "expires_on": "2026-07-15"},
                request_only=True,
            ),
            OpenApiExample(
                "Changed",
                value={
                    **_QUOTE_DETAIL,
                    "discount_percent": "10",
                    "expires_on": "2026-07-15",
                    "preselected_total": example_money(199_800),
                },
                response_only=True,
            ),
        ],
    )
    def patch(self, request, quote_id):
        quote = selectors.quote_get(studio=self.studio, quote_id=quote_id)
        data = self.QuoteUpdateInputSerializer.validate_or_raise(request.data)
        data = _resolve(self, data, currency=quote.currency)
        services.quote_update(quote=quote, by=request.user, **data)
        return Response(_detail(self, quote.id))

    @extend_schema(
        tags=TAGS,
        operation_id="billing_quotes_delete",
        summary="Delete a draft (withdraw a sent quote instead)",
        responses={
            204: OpenApiResponse(description="Deleted."),
            **error_responses(401, 403, 404, 409, e409="`quote_not_draft`"),
        },
    )
    def delete(self, request, quote_id):
        quote = selectors.quote_get(studio=self.studio, quote_id=quote_id)
        services.quote_delete(quote=quote, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@outside_request_transaction
class QuoteSendApi(StudioAPIView):
    """Outside the request transaction: ``quote_send`` makes the number counter of a new year
    before its own transaction (see the module)."""

    permissions = {"POST": Perm.BILLING_MANAGE}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_quotes_send",
        summary="Send the quote to the client (numbered the first time; again: re-sent)",
        description=(
            "Emails the client the link to the quote's page on the studio's site, where they "
            "choose and accept or decline. Records `quote_sent` on the job's and the "
            "contact's timelines."
        ),
        request=None,
        responses={
            200: QuoteDetailOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e400="`event_date_required`: the schedule counts from an event the job lacks",
                e409="`quote_empty`, `quote_expired`, `quote_accepted`, `quote_declined`, "
                "`quote_withdrawn`",
            ),
        },
        examples=[OpenApiExample("Sent", value=_QUOTE_DETAIL, response_only=True)],
    )
    def post(self, request, quote_id):
        quote = selectors.quote_get(studio=self.studio, quote_id=quote_id)
        services.quote_send(quote=quote, by=request.user)
        return Response(_detail(self, quote.id))


class QuoteWithdrawApi(StudioAPIView):
    permissions = {"POST": Perm.BILLING_MANAGE}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_quotes_withdraw",
        summary="Withdraw a sent quote: it can no longer be accepted",
        request=None,
        responses={
            200: QuoteDetailOutputSerializer,
            **error_responses(
                401,
                403,
                404,
                409,
                e409="`quote_draft` (delete it instead), `quote_accepted`, `quote_declined`",
            ),
        },
        examples=[
            OpenApiExample(
                "Withdrawn", value={**_QUOTE_DETAIL, "state": "withdrawn"}, response_only=True
            )
        ],
    )
    def post(self, request, quote_id):
        quote = selectors.quote_get(studio=self.studio, quote_id=quote_id)
        services.quote_withdraw(quote=quote, by=request.user)
        return Response(_detail(self, quote.id))


class QuoteTotalsParams(InputSerializer):
    package = serializers.CharField(
        required=False, allow_blank=True, max_length=40, help_text="The chosen package's id."
    )
    addons = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=4000,
        help_text="The ticked add-ons' ids, comma-separated.",
    )


class QuoteTotalsApi(StudioAPIView):
    permissions = {"GET": Perm.BILLING_VIEW}

    @extend_schema(
        tags=TAGS,
        operation_id="billing_quotes_totals",
        summary="What a choice of packages and add-ons costs",
        description=(
            "Computed as the invoice would be. Without `package` and `addons`: the pre-selection."
        ),
        parameters=[
            OpenApiParameter("package", str, description="The chosen package's id."),
            OpenApiParameter(
                "addons", str, description="The ticked add-ons' ids, comma-separated."
            ),
        ],
        responses={
            200: QuoteTotalsOutputSerializer,
            **error_responses(400, 401, 403, 404, e400=_E400_CHOICE),
        },
        examples=[
            OpenApiExample(
                "The full day with the album",
                value={
                    "package_id": _FULL,
                    "addon_ids": [_ALBUM],
                    "lines": [
                        {
                            "item_id": _FULL,
                            "name": "Full day",
                            "net": example_money(180_000),
                            "tax": example_money(36_000),
                            "total": example_money(216_000),
                        },
                        {
                            "item_id": _TRAVEL,
                            "name": "Travel",
                            "net": example_money(5_000),
                            "tax": example_money(1_000),
                            "total": example_money(6_000),
                        },
                        {
                            "item_id": _ALBUM,
                            "name": "Album",
                            "net": example_money(30_000),
                            "tax": example_money(6_000),
                            "total": example_money(36_000),
                        },
                    ],
                    "subtotal": example_money(215_000),
                    "discount": example_money(0),
                    "tax": example_money(43_000),
                    "total": example_money(258_000),
                    "taxes": [
                        {
                            "name": "VAT",
                            "rate": "20",
                            "inclusive": False,
                            "compound": False,
                            "base": example_money(215_000),
                            "amount": example_money(43_000),
                        }
                    ],
                    "rounding": "half_even",
                },
                response_only=True,
            )
        ],
    )
    def get(self, request, quote_id):
        quote = selectors.quote_get(studio=self.studio, quote_id=quote_id)
        params = QuoteTotalsParams.validate_or_raise(request.query_params)
        items = list(quote.items.all())
        if "package" not in params and "addons" not in params:
            package, addons = services.choice_default(items)
        else:
            package = params.get("package") or None
            addons = [a.strip() for a in (params.get("addons") or "").split(",") if a.strip()]
        choice = services.choice_resolve(items, package_id=package, addon_ids=addons)
        totals = services.quote_totals(
            quote=quote, package_id=choice.package_id, addon_ids=choice.addon_ids
        )
        context = {**money_context(self.studio), "currency": quote.currency}
        return Response(
            QuoteTotalsOutputSerializer(_TotalsView(choice, totals), context=context).data
        )
