"""Admin for support staff: users, studios, memberships and invitations of every studio.

Staff work across tenants here, so nothing is studio-scoped; any active staff member may view
(changes still need Django permissions). Lists stay cheap as tables grow: foreign keys are raw
id or autocomplete widgets, changelists join what they show and skip the unfiltered COUNT(*).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet
from django.http import HttpRequest

from accounts.models import Invitation, Membership, Studio, StudioUsage, User
from accounts.services import studio_changed_notify
from picpick.core.admin import StaffCanViewMixin


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")

    def clean_email(self) -> str:
        # The API treats emails case-insensitively and stores them lower-case; so must we.
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError("A user with this email already exists.")
        return email


class UserChangeForm(DjangoUserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(StaffCanViewMixin, DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("full_name", "last_studio")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Sessions", {"fields": ("token_version", "last_login", "created_at", "updated_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "full_name", "usable_password", "password1", "password2"),
            },
        ),
    )
    readonly_fields = ("token_version", "last_login", "created_at", "updated_at")
    list_display = ("email", "full_name", "is_active", "is_staff", "created_at")
    list_filter = ("is_staff", "is_active", "is_superuser")
    search_fields = ("email", "full_name")
    ordering = ("email",)
    raw_id_fields = ("last_studio",)
    show_full_result_count = False
    actions = ["revoke_sessions"]

    @admin.action(description="Log out everywhere (revoke every token)")
    def revoke_sessions(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        count = queryset.update(token_version=F("token_version") + 1)
        self.message_user(request, f"Revoked the tokens of {count} user(s).", messages.SUCCESS)


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin):
        return (("yes", "Deleted"), ("no", "Active"))

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


@admin.register(Studio)
class StudioAdmin(StaffCanViewMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "plan", "timezone", "default_currency", "deleted_at")
    list_filter = ("plan", DeletedFilter)
    search_fields = ("name", "slug")
    readonly_fields = ("id", "created_at", "updated_at")
    show_full_result_count = False
    actions = ["restore"]

    # Staff edits tell the apps above (domains' cached hosts) as the services do.
    def save_model(self, request: HttpRequest, obj: Studio, form, change: bool) -> None:
        old_slug = Studio.objects.filter(pk=obj.pk).values_list("slug", flat=True).first()
        super().save_model(request, obj, form, change)
        studio_changed_notify(studio=obj, old_slug=old_slug or obj.slug)

    def delete_model(self, request: HttpRequest, obj: Studio) -> None:
        studio_changed_notify(studio=obj, old_slug=obj.slug)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Studio]) -> None:
        for studio in queryset:
            studio_changed_notify(studio=studio, old_slug=studio.slug)
        super().delete_queryset(request, queryset)

    @admin.action(description="Restore deleted studios")
    def restore(self, request: HttpRequest, queryset: QuerySet[Studio]) -> None:
        restored = list(queryset.filter(deleted_at__isnull=False))
        count = queryset.filter(deleted_at__isnull=False).update(deleted_at=None)
        for studio in restored:
            studio_changed_notify(studio=studio, old_slug=studio.slug)
        self.message_user(request, f"Restored {count} studio(s).", messages.SUCCESS)


@admin.register(Membership)
class MembershipAdmin(StaffCanViewMixin, admin.ModelAdmin):
    # Role changes here skip the API's "last owner" rule: staff fix broken studios with it.
    list_display = ("user", "studio", "role", "created_at")
    list_filter = ("role",)
    list_select_related = ("user", "studio")
    search_fields = ("user__email", "studio__slug", "studio__name")
    autocomplete_fields = ("user", "studio")
    readonly_fields = ("id", "created_at", "updated_at")
    show_full_result_count = False


@admin.register(Invitation)
class InvitationAdmin(StaffCanViewMixin, admin.ModelAdmin):
    list_display = ("email", "studio", "role", "expires_at", "accepted_at", "revoked_at")
    list_filter = ("role",)
    list_select_related = ("studio",)
    search_fields = ("email", "studio__slug")
    raw_id_fields = ("studio", "invited_by", "accepted_by")
    readonly_fields = ("id", "token_hash", "created_at", "updated_at")
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        # The raw token exists only in the invitation email; one made here could never be used.
        return False


@admin.register(StudioUsage)
class StudioUsageAdmin(StaffCanViewMixin, admin.ModelAdmin):
    """View only: the totals are kept by the services; editing one would make it lie."""

    list_display = ("studio", "gallery_count", "photo_count", "storage_bytes", "updated_at")
    list_select_related = ("studio",)
    search_fields = ("=studio__id", "studio__slug")
    raw_id_fields = ("studio",)
    readonly_fields = ("studio", "gallery_count", "photo_count", "storage_bytes", "updated_at")
    ordering = ("-storage_bytes",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: StudioUsage | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: StudioUsage | None = None) -> bool:
        return False
