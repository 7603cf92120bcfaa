"""Assertions and small helpers shared by the accounts tests."""

from __future__ import annotations

import re

from django.core import mail

STRONG_PASSWORD = "a fresh, long and unusual passphrase 42"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    return body["error"]


def bearer(client, access: str):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def last_mail_match(pattern: str) -> re.Match:
    assert mail.outbox, "no email was sent"
    match = re.search(pattern, mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match


def throttle_rates(settings, **rates: str) -> None:
    """Override throttle rates (``auth="3/min"``) through the ``settings`` fixture: DRF reloads
    its settings when REST_FRAMEWORK changes, and the throttles read the rates per request."""
    current = settings.REST_FRAMEWORK
    settings.REST_FRAMEWORK = {
        **current,
        "DEFAULT_THROTTLE_RATES": {**current["DEFAULT_THROTTLE_RATES"], **rates},
    }
