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


# --- Card payments (billing.services.payments) ------------------------------------------------
# Read-only like the ledger: a payment, a refund or a dispute moves money and follows the
# provider; staff look here and act through the services (a refund through the API, a
# payment's state through a refresh), never by editing a row.
from billing.models import (  # noqa: E402
    ConnectedAccount,
    Dispute,
    Payment,
    ProviderCustomer,
    Refund,
    SavedCard,
    WebhookEvent,
)


class RefundInline(admin.TabularInline):
    model = Refund
    fields = ("created_at", "amount", "currency", "destination", "state", "provider_refund_id")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ("created_at",)

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ConnectedAccount)
class ConnectedAccountAdmin(ReadOnlyAdmin):
    list_display = (
        "provider_account_id",
        "studio",
        "charges_enabled",
        "payouts_enabled",
        "details_submitted",
        "country",
        "refreshed_at",
    )
    list_filter = ("charges_enabled", "payouts_enabled", "country")
    list_select_related = ("studio",)
    search_fields = ("=provider_account_id", "=studio__slug")
    raw_id_fields = ("studio",)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "purpose",
        "state",
        "amount",
        "currency",
        "refunded_amount",
        "intent_id",
        "studio",
    )
    list_filter = ("state", "purpose", "currency")
    list_select_related = ("studio",)
    search_fields = ("=id", "=intent_id", "=payer_email", "=studio__slug")
    raw_id_fields = (
        "studio",
        "contact",
        "posted_transaction",
        "fee_transaction",
        "created_by",
    )
    inlines = [RefundInline]


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "amount", "currency", "destination", "state", "payment")
    list_filter = ("state", "destination")
    search_fields = ("=provider_refund_id", "=payment__intent_id")
    raw_id_fields = (
        "studio",
        "payment",
        "ledger_transaction",
        "release_transaction",
        "created_by",
    )


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "provider_dispute_id", "amount", "currency", "status", "reason")
    list_filter = ("status", "reason")
    search_fields = ("=provider_dispute_id", "=payment__intent_id")
    raw_id_fields = ("studio", "payment", "withdrawn_transaction", "reinstated_transaction")


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "type", "event_id", "account", "state", "attempts", "last_error")
    list_filter = ("state", "type")
    search_fields = ("=event_id", "=account")
    raw_id_fields = ("studio",)


@admin.register(ProviderCustomer)
class ProviderCustomerAdmin(ReadOnlyAdmin):
    list_display = ("provider_customer_id", "contact", "studio")
    search_fields = ("=provider_customer_id",)
    raw_id_fields = ("studio", "contact")


@admin.register(SavedCard)
class SavedCardAdmin(ReadOnlyAdmin):
    list_display = ("provider_payment_method_id", "brand", "last4", "exp_month", "exp_year")
    search_fields = ("=provider_payment_method_id",)
    raw_id_fields = ("studio", "contact", "customer")


# --- Wallets and gift cards (billing.services.wallets, billing.services.gift_cards) -------------
# Read-only like the ledger: credit, holds and cards move money through the services (and the
# studio's API); staff look here. A gift card's code is never shown: not its hash, not its
# sealed copy (kept only until the delivery email), only its last four characters.
from billing.models import (  # noqa: E402
    BillingSettings,
    GiftCard,
    Wallet,
    WalletCreditLot,
    WalletHold,
)


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class WalletLotInline(_ReadOnlyInline):
    model = WalletCreditLot
    fields = ("created_at", "amount", "remaining", "expires_at", "reminded_at", "expired_amount")
    readonly_fields = fields
    ordering = ("-id",)


class WalletHoldInline(_ReadOnlyInline):
    model = WalletHold
    fields = ("created_at", "amount", "reference", "state", "expires_at", "captured_amount")
    readonly_fields = fields
    ordering = ("-id",)


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin):
    list_display = ("contact", "currency", "balance", "held", "studio", "created_at")
    list_filter = ("currency",)
    search_fields = ("=contact__email", "contact__last_name")
    raw_id_fields = ("studio", "contact", "account")
    inlines = [WalletHoldInline, WalletLotInline]
    list_select_related = ("contact", "account", "studio")

    @admin.display(description="balance")
    def balance(self, wallet: Wallet) -> int:
        return wallet.account.balance


@admin.register(WalletHold)
class WalletHoldAdmin(ReadOnlyAdmin):
    list_display = ("wallet", "amount", "reference", "state", "expires_at", "created_at")
    list_filter = ("state",)
    search_fields = ("reference", "=idempotency_key")
    raw_id_fields = ("studio", "wallet", "capture", "created_by")


_CARD_FIELDS = (
    "id",
    "studio",
    "state",
    "origin",
    "code_last4",
    "initial_amount",
    "currency",
    "account",
    "buyer_name",
    "buyer_email",
    "recipient_name",
    "recipient_email",
    "message",
    "deliver_at",
    "delivered_at",
    "expires_at",
    "activated_at",
    "closed_at",
    "void_reason",
    "funding",
    "created_by",
    "created_at",
)


@admin.register(GiftCard)
class GiftCardAdmin(ReadOnlyAdmin):
    fields = _CARD_FIELDS
    list_display = ("code_last4", "state", "origin", "initial_amount", "currency", "expires_at")
    list_filter = ("state", "origin", "currency")
    search_fields = ("=code_last4", "=recipient_email", "=buyer_email")
    raw_id_fields = ("studio", "account", "funding", "created_by")

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return list(_CARD_FIELDS)


@admin.register(BillingSettings)
class BillingSettingsAdmin(ReadOnlyAdmin):
    list_display = ("studio", "currency", "wallet_credit_expiry_days", "gift_card_expiry_months")
    raw_id_fields = ("studio",)


# --- Invoicing: tax rates and the catalogue through their services; documents read-only -------
from billing import admin_invoicing  # noqa: E402, F401
