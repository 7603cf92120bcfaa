"""CRM tasks: contacts. Thin: they take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from crm.services import contacts as _contacts


@shared_task(acks_late=True, soft_time_limit=1800, time_limit=1900)
def contact_import_run(import_job_id: str) -> str | None:
    """Run a CSV import (claimed once: a duplicate delivery does nothing)."""
    job = _contacts.contact_import_run(import_job_id=import_job_id)
    return job.state if job is not None else None
