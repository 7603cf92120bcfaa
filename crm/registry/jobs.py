"""Hook registrations of the CRM: jobs."""


def register() -> None:
    """Called once from CrmConfig.ready."""
