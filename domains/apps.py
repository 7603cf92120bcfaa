from django.apps import AppConfig


class DomainsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "domains"

    def ready(self) -> None:
        from accounts.services import STUDIO_CHANGE_HOOKS
        from domains import services, signals  # noqa: F401  (signals: its own rows' receiver)

        if services.studio_changed not in STUDIO_CHANGE_HOOKS:
            STUDIO_CHANGE_HOOKS.append(services.studio_changed)
