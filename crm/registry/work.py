"""Hook registrations of the CRM: work."""


def register() -> None:
    """Called once from CrmConfig.ready."""
