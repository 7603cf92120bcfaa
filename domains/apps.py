from django.apps import AppConfig


class DomainsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "domains"

    def ready(self) -> None:
        from domains import signals  # noqa: F401  (connects the cache invalidation receivers)
