from importlib import import_module

from django.apps import AppConfig


class CrmConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "crm"
    verbose_name = "CRM"

    def ready(self) -> None:
        from crm.registry import MODULES

        for name in MODULES:
            import_module(name).register()
