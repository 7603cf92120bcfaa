"""Sending email: the one way every app sends one.

``email_send_on_commit`` queues the message once the current transaction commits (a rolled
back request sends nothing; for mail about something just written), ``email_send`` at once (for
mail about nothing written, a password reset link); a worker delivers it through Django's
email backend (SMTP in production; any anymail backend by settings). Delivery is off the
request path on purpose: sending inline would make the password-reset answer measurably
slower for a known address than for an unknown one (an SMTP round trip), which tells an
attacker which emails have accounts.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.mail import send_mail
from django.db import transaction

logger = logging.getLogger(__name__)


# SMTP errors are OSErrors; a mail server hiccup is worth a few retries, a bad address is not.
@shared_task(
    name="picpick.core.email.email_deliver",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def email_deliver(*, subject: str, body: str, to: list[str]) -> None:
    send_mail(subject, body, None, to)
    logger.info("email sent", extra={"subject": subject, "recipients": len(to)})


def email_send(*, subject: str, body: str, to: list[str]) -> None:
    """Queue one plain-text email now."""
    email_deliver.delay(subject=subject, body=body, to=list(to))


def email_send_on_commit(*, subject: str, body: str, to: list[str]) -> None:
    """Queue one plain-text email once the current transaction commits."""
    transaction.on_commit(lambda: email_send(subject=subject, body=body, to=to), robust=True)
