from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Accounts and studios"

    def ready(self) -> None:
        from accounts.permissions import role_has
        from accounts.selectors import membership_for_request
        from picpick.core.apis import STUDIO_ACCESS, StudioAccess

        access = StudioAccess(membership_for_request=membership_for_request, role_has=role_has)
        if access not in STUDIO_ACCESS:
            STUDIO_ACCESS.append(access)
