"""Staff views of invoicing (imported by ``billing.admin``).

Tax rates and catalogue items are the studio's settings: any staff member may look, and staff
with the billing app's Django permissions (change tax rate, change catalogue item) may fix one.
Their form checks with the service's own rules and saves through the service
(``billing.services.catalogue``), so the admin can store nothing the API would refuse (a float
rate cannot even be typed, but 100.5%, a duplicate name, a compound inclusive tax or another
studio's tax rate on an item are refused here as there). Nothing is deleted: archive instead.

Quotes, invoices (and credit notes) with their lines and instalments, reminders, autopay
attempts and the number counters are READ-ONLY for everyone, whatever their Django
permissions say. Documents are written through ``billing.services`` alone, so that totals,
numbers and the ledger agree; an issued invoice must never be edited (a correction is a credit
note or a void, posted through the service), and a counter edited by hand would break the
gapless numbering.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from billing.admin import ReadOnlyAdmin
from billing.models import (
    AutopayAttempt,
    CatalogueItem,
    DocumentCounter,
    Instalment,
    Invoice,
    InvoiceLine,
    InvoiceReminder,
    Quote,
    QuoteItem,
    TaxRate,
)
from billing.money import Money
from billing.services import catalogue as services
from picpick.core.admin import StaffCanViewMixin
from picpick.core.errors import ApplicationError

# --- Tax rates and the catalogue: edited through the services ---------------------------------

_TAX_RATE_FIELDS = ("name", "rate", "inclusive", "compound", "country", "region", "archived")
_ITEM_FIELDS = ("kind", "name", "description", "unit_price", "currency", "optional", "archived")
# The service's input names that are another field on the form.
_FORM_FIELD = {"tax_rate_ids": "taxes"}


def _money(amount: int, currency: str) -> str:
    return f"{Money(amount, currency).decimal_str()} {currency}"


class _ServiceCheckedForm(forms.ModelForm):
    """A form whose rules are its service's: ``clean`` runs the service's check, and each
    error is shown on the field it names (or above the form)."""

    def service_check(self, cleaned: dict[str, Any]) -> None:
        raise NotImplementedError

    def changes(self, cleaned: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
        """What the form sends the service: every field when adding, else the changed ones."""
        adding = self.instance._state.adding
        return {
            name: cleaned[name]
            for name in names
            if name in cleaned and (adding or name in self.changed_data)
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.service_check(cleaned)
        except ApplicationError as error:
            named = [
                _FORM_FIELD.get(field, field)
                for field in error.fields
                if _FORM_FIELD.get(field, field) in self.fields
            ]
            for field in named or [None]:
                self.add_error(field, error.message)
        return cleaned


class TaxRateForm(_ServiceCheckedForm):
    class Meta:
        model = TaxRate
        fields = ("studio", *_TAX_RATE_FIELDS)

    def service_check(self, cleaned: dict[str, Any]) -> None:
        adding = self.instance._state.adding
        services.tax_rate_check(
            studio=cleaned["studio"] if adding else self.instance.studio,
            tax_rate=None if adding else self.instance,
            **self.changes(cleaned, _TAX_RATE_FIELDS),
        )


class CatalogueItemForm(_ServiceCheckedForm):
    class Meta:
        model = CatalogueItem
        fields = ("studio", *_ITEM_FIELDS, "taxes")
        help_texts = {"unit_price": "In minor units of the currency: 1050 is 10.50 EUR."}

    def service_check(self, cleaned: dict[str, Any]) -> None:
        adding = self.instance._state.adding
        services.catalogue_item_check(
            studio=cleaned["studio"] if adding else self.instance.studio,
            item=None if adding else self.instance,
            **self.service_fields(cleaned),
        )

    def service_fields(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        fields = self.changes(cleaned, _ITEM_FIELDS)
        if self.instance._state.adding or "taxes" in self.changed_data:
            fields["tax_rate_ids"] = [rate.id for rate in cleaned.get("taxes") or ()]
        return fields


class _ThroughServiceAdmin(StaffCanViewMixin, admin.ModelAdmin):
    """Saved by the service; archived, never deleted; the studio fixed once made."""

    show_full_result_count = False
    ordering = ("-id",)
    raw_id_fields = ("studio",)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return ("studio", "created_at", "updated_at") if obj else ()

    def get_exclude(self, request: HttpRequest, obj=None):
        return () if obj else ("archived",)  # made active; archived once it exists

    def saved(self, obj, form, request: HttpRequest, change: bool):
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        saved = self.saved(obj, form, request, change)
        for field in obj._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False
        obj._state.db = saved._state.db

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        # The service wrote the relations (an item's taxes) itself.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


@admin.register(TaxRate)
class TaxRateAdmin(_ThroughServiceAdmin):
    form = TaxRateForm
    list_display = (
        "name",
        "rate",
        "inclusive",
        "compound",
        "country",
        "region",
        "archived",
        "studio",
    )
    list_filter = ("archived", "inclusive", "compound", "country")
    list_select_related = ("studio",)
    search_fields = ("name", "=studio__slug")
    date_hierarchy = "created_at"

    def saved(self, obj: TaxRate, form: TaxRateForm, request: HttpRequest, change: bool):
        fields = form.changes(form.cleaned_data, _TAX_RATE_FIELDS)
        if change:
            return services.tax_rate_update(tax_rate=obj, by=request.user, **fields)
        fields.pop("archived", None)
        return services.tax_rate_create(
            studio=form.cleaned_data["studio"], by=request.user, **fields
        )


@admin.register(CatalogueItem)
class CatalogueItemAdmin(_ThroughServiceAdmin):
    form = CatalogueItemForm
    list_display = ("name", "kind", "price", "optional", "position", "archived", "studio")
    list_filter = ("archived", "kind", "optional", "currency")
    list_select_related = ("studio",)
    search_fields = ("name", "=studio__slug")
    date_hierarchy = "created_at"
    # Tax rates are per studio: a select would list every studio's.
    raw_id_fields = ("studio", "taxes")

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        # The order is the studio's (the catalogue's reorder), not a number typed here.
        return (*super().get_readonly_fields(request, obj), "position")

    @admin.display(description="price", ordering="unit_price")
    def price(self, item: CatalogueItem) -> str:
        return _money(item.unit_price, item.currency)

    def saved(
        self, obj: CatalogueItem, form: CatalogueItemForm, request: HttpRequest, change: bool
    ):
        fields = form.service_fields(form.cleaned_data)
        if change:
            return services.catalogue_item_update(item=obj, by=request.user, **fields)
        fields.pop("archived", None)
        return services.catalogue_item_create(
            studio=form.cleaned_data["studio"], by=request.user, **fields
        )


# --- Documents: read-only --------------------------------------------------------------------


class _DocumentInline(StaffCanViewMixin, admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return self.fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class QuoteItemInline(_DocumentInline):
    model = QuoteItem
    fields = (
        "position",
        "kind",
        "name",
        "quantity",
        "unit_price",
        "discount_percent",
        "discount_amount",
        "taxes",
        "optional",
        "selected",
    )


class InvoiceLineInline(_DocumentInline):
    model = InvoiceLine
    fields = (
        "position",
        "kind",
        "name",
        "quantity",
        "unit_price",
        "taxes",
        "gross",
        "discount",
        "net",
        "tax",
        "total",
    )


class InstalmentInline(_DocumentInline):
    model = Instalment
    fields = ("position", "label", "due_kind", "due_date", "amount", "paid", "state", "autopay")


@admin.register(Quote)
class QuoteAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "title", "contact", "state", "currency", "expires_on", "created_at")
    list_filter = ("state", "currency")
    list_select_related = ("contact",)
    search_fields = ("=number", "=contact__email", "title", "=studio__slug")
    date_hierarchy = "created_at"
    inlines = [QuoteItemInline]


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = (
        "__str__",
        "kind",
        "status",
        "contact",
        "total_shown",
        "issue_date",
        "due_date",
    )
    list_filter = ("status", "kind", "currency")
    list_select_related = ("contact",)
    search_fields = ("=number", "=contact__email", "=studio__slug")
    date_hierarchy = "created_at"
    inlines = [InvoiceLineInline, InstalmentInline]

    @admin.display(description="total", ordering="total")
    def total_shown(self, invoice: Invoice) -> str:
        return _money(invoice.total, invoice.currency)


@admin.register(Instalment)
class InstalmentAdmin(ReadOnlyAdmin):
    list_display = ("label", "invoice", "due_date", "amount", "paid", "state", "autopay")
    list_filter = ("state", "due_kind", "autopay")
    list_select_related = ("invoice",)
    search_fields = ("=invoice__number", "=invoice__contact__email")
    date_hierarchy = "due_date"


@admin.register(InvoiceReminder)
class InvoiceReminderAdmin(ReadOnlyAdmin):
    list_display = ("key", "instalment", "sent_at", "created_at")
    search_fields = ("=key", "=instalment__invoice__number", "=instalment__invoice__contact__email")
    date_hierarchy = "created_at"


@admin.register(AutopayAttempt)
class AutopayAttemptAdmin(ReadOnlyAdmin):
    list_display = (
        "instalment",
        "number",
        "amount",
        "currency",
        "state",
        "error_code",
        "claimed_at",
        "finished_at",
    )
    list_filter = ("state", "currency")
    search_fields = ("=instalment__invoice__number", "=instalment__invoice__contact__email")
    date_hierarchy = "created_at"


@admin.register(DocumentCounter)
class DocumentCounterAdmin(ReadOnlyAdmin):
    list_display = ("studio", "series", "year", "last")
    list_filter = ("series", "year")
    list_select_related = ("studio",)
    search_fields = ("=studio__slug",)
