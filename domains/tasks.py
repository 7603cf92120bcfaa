"""Celery tasks of custom domains (queue ``default``). Thin: they take ids and call services."""

from __future__ import annotations

from celery import shared_task

from domains import selectors, services
from domains.models import Domain


@shared_task
def domain_check(domain_id: str) -> str | None:
    """Check one domain if it is due (the claim makes a duplicate message a no-op)."""
    domain = services.domain_check(domain_id=domain_id)
    return domain.state if domain is not None else None


def _queue_due(states: tuple[str, ...]) -> int:
    ids = selectors.domains_due_ids(states=states)
    for domain_id in ids:
        domain_check.delay(str(domain_id))
    return len(ids)


@shared_task
def domains_verify_sweep() -> int:
    """Beat: queue the due checks of domains being verified (pending, verified)."""
    return _queue_due((Domain.State.PENDING, Domain.State.VERIFIED))


@shared_task
def domains_recheck_sweep() -> int:
    """Beat: queue the due re-checks of active domains (deactivated once records stay gone)."""
    return _queue_due((Domain.State.ACTIVE,))
