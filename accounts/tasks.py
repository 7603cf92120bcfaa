"""Accounts' periodic work (email goes through picpick.core.email)."""

from __future__ import annotations

from celery import shared_task


@shared_task
def tokens_flush_expired() -> None:
    """Drop expired refresh tokens (and their blacklist rows): the table grows with every login."""
    from django.core.management import call_command

    call_command("flushexpiredtokens")
