"""Admin for support staff: every studio's custom domains, read-only but for two actions.

State, the held hostname and the primary flag move together under check constraints and the
routing cache follows them, so staff never edit them by hand: they make domains due for a check
(the service's lifecycle applies) or delete one (the service forgets its cached routing).
Domains are added by studios through the API, which checks the hostname.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from domains import services
from domains.models import Domain
from picpick.core.admin import StaffCanViewMixin


@admin.register(Domain)
class DomainAdmin(StaffCanViewMixin, admin.ModelAdmin):
    list_display = ("hostname", "studio", "kind", "state", "is_primary", "last_checked_at")
    list_filter = ("state", "kind", "is_primary")
    list_select_related = ("studio",)
    search_fields = ("hostname", "studio__slug", "studio__name")
    raw_id_fields = ("studio", "taken_over_by")
    readonly_fields = [field.name for field in Domain._meta.fields]
    show_full_result_count = False
    actions = ["check_soon"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Check DNS at the next sweep (failed domains start over)")
    def check_soon(self, request: HttpRequest, queryset: QuerySet[Domain]) -> None:
        # Queued for the beat sweeps instead of looked up here: DNS may take seconds a domain.
        count = 0
        for domain in queryset:
            services.domain_check_soon(domain=domain, by=request.user)
            count += 1
        self.message_user(
            request,
            f"{count} domain(s) will be checked within a minute (active ones within 15).",
            messages.SUCCESS,
        )

    def delete_model(self, request: HttpRequest, obj: Domain) -> None:
        services.domain_delete(domain=obj, by=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Domain]) -> None:
        for domain in queryset:
            services.domain_delete(domain=domain, by=request.user)
