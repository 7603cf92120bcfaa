"""What the CRM plugs into hooks that other apps (and its own sub-domains) declare, one module
per sub-domain, each with a ``register()`` that ``CrmConfig.ready`` calls once."""

MODULES = ("crm.registry.jobs", "crm.registry.work", "crm.registry.gallery_events")
