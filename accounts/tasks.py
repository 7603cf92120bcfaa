"""Email delivery off the request path.

Sending inline would make the password-reset answer measurably slower for a known address than
for an unknown one (an SMTP round trip), which tells an attacker which emails have accounts.
"""

from __future__ import annotations

from celery import shared_task
from django.core.mail import send_mail


# SMTP errors are OSErrors; a mail server hiccup is worth a few retries, a bad address is not.
@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def email_send(*, subject: str, body: str, to: list[str]) -> None:
    send_mail(subject, body, None, to)


@shared_task
def tokens_flush_expired() -> None:
    """Drop expired refresh tokens (and their blacklist rows): the table grows with every login."""
    from django.core.management import call_command

    call_command("flushexpiredtokens")
