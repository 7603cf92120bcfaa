"""CRM tasks: work (emails and workflow steps). Thin: they take ids and call one service.

The services queue these after their transaction commits; the services are imported inside
the task bodies because they import this module to queue (the galleries pattern)."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, soft_time_limit=120, time_limit=180)
def email_message_send(message_id: str) -> str | None:
    """Send one CRM email (claimed: a duplicate delivery sends nothing)."""
    from crm.services.emails import email_message_deliver

    return email_message_deliver(message_id=message_id)


def email_message_send_soon(message_id: str) -> None:
    email_message_send.delay(message_id)


@shared_task(soft_time_limit=240, time_limit=300)
def crm_emails_sweep() -> int:
    """Every minute: messages whose task was lost, whose retry wait is over, or whose worker
    died while sending."""
    from crm.services.emails import emails_give_up, emails_sweep

    emails_give_up()
    return emails_sweep()


@shared_task(soft_time_limit=240, time_limit=300)
def crm_workflow_steps_sweep() -> int:
    """Every minute (and right after a stage is entered): run the workflow steps that are due."""
    from crm.services.workflows import workflow_steps_sweep

    return workflow_steps_sweep()


def workflow_steps_sweep_soon() -> None:
    crm_workflow_steps_sweep.delay()
