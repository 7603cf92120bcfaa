"""Hook registrations of the CRM: gallery_events."""


def register() -> None:
    """Called once from CrmConfig.ready."""
