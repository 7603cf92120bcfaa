"""Hook registrations of the CRM: gallery_events (galleries' activity on the job's timeline,
guests' marketing opt-ins as contacts)."""

from crm.services.gallery_events import gallery_activity_record
from crm.services.optins import visitor_opted_in
from galleries.services.galleries import GALLERY_ACTIVITY_HOOKS
from guests.services import VISITOR_OPTED_IN_HOOKS


def register() -> None:
    """Called once from CrmConfig.ready."""
    _register(GALLERY_ACTIVITY_HOOKS, gallery_activity_record)
    _register(VISITOR_OPTED_IN_HOOKS, visitor_opted_in)


def _register(hooks: list, hook) -> None:
    if hook not in hooks:  # ready() may run twice (tests that reload apps)
        hooks.append(hook)
