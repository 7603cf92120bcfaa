"""Staff views of the ledger: everything read-only.

Ledger rows are written once, by ``billing.services.ledger`` alone; an account's balance moves
only with a posted transaction. So staff can look (search, filters, a transaction with its
entries) but add, change and delete nothing here, whatever their Django permissions say: a
correction is a reversal or an adjustment posted through the service.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from billing.models import LedgerAccount, LedgerCheckRun, LedgerEntry, LedgerTransaction
from picpick.core.admin import StaffCanViewMixin


class ReadOnlyAdmin(StaffCanViewMixin, admin.ModelAdmin):
    show_full_result_count = False
    ordering = ("-id",)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class EntryInline(admin.TabularInline):
    model = LedgerEntry
    fields = ("account", "amount", "currency")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False
    ordering = ("id",)

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("account")


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ("key", "name", "kind", "currency", "balance", "may_go_negative", "studio")
    list_filter = ("kind", "currency")
    list_select_related = ("studio",)
    search_fields = ("=key", "key", "name", "=studio__slug")
    raw_id_fields = ("studio", "contact")


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ("posted_at", "kind", "amount", "currency", "memo", "source_type", "studio")
    list_filter = ("kind", "currency")
    list_select_related = ("studio",)
    search_fields = ("=idempotency_key", "memo", "=studio__slug")
    raw_id_fields = ("studio", "reverses", "created_by")
    inlines = [EntryInline]


@admin.register(LedgerCheckRun)
class LedgerCheckRunAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "finished_at",
        "studio",
        "accounts_checked",
        "transactions_checked",
        "entries_checked",
        "drift",
        "ok",
    )
    list_filter = ("ok",)
    list_select_related = ("studio",)
    raw_id_fields = ("studio",)

    @admin.display(description="drift", ordering="drift_count")
    def drift(self, run: LedgerCheckRun) -> str:
        colour = "#2e7d32" if run.ok else "#c62828"
        return format_html('<strong style="color: {}">{}</strong>', colour, run.drift_count)
