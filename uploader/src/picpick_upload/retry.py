"""Retries: exponential backoff with jitter on network errors, 5xx and 429 (Retry-After).

The limits come from the environment so a test (or a venue with a very bad network) can
change them without new flags: ``PICPICK_UPLOAD_RETRIES`` attempts (default 10),
``PICPICK_UPLOAD_RETRY_WAIT`` first wait in seconds (default 1), ``PICPICK_UPLOAD_RETRY_MAX_WAIT``
longest wait (default 30). With the defaults a request gives up after about 3 minutes of
failures; the run then stops with exit code 3 and resumes where it was when run again.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx
import tenacity

from picpick_upload.errors import Interrupted, NetworkGaveUp, TransientHttpError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Never wait longer than this for a Retry-After, whatever the server says.
MAX_RETRY_AFTER = 300.0


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        return float(raw) if raw else default
    except ValueError:
        return default


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 10
    initial_wait: float = 1.0
    max_wait: float = 30.0

    @classmethod
    def from_env(cls) -> RetryPolicy:
        return cls(
            attempts=max(1, int(_env_float("PICPICK_UPLOAD_RETRIES", cls.attempts))),
            initial_wait=max(0.0, _env_float("PICPICK_UPLOAD_RETRY_WAIT", cls.initial_wait)),
            max_wait=max(0.0, _env_float("PICPICK_UPLOAD_RETRY_MAX_WAIT", cls.max_wait)),
        )


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TransientHttpError | httpx.TransportError)


class _Wait(tenacity.wait.wait_base):
    """Exponential with full jitter, but at least what the server asked for (Retry-After)."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.backoff = tenacity.wait_exponential_jitter(
            multiplier=policy.initial_wait, max=policy.max_wait, jitter=policy.initial_wait
        )

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        wait = self.backoff(retry_state)
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, TransientHttpError) and exc.retry_after is not None:
            wait = max(wait, min(exc.retry_after, MAX_RETRY_AFTER))
        return wait


def call_with_retries(
    func: Callable[[], T],
    *,
    policy: RetryPolicy,
    stop: threading.Event | None = None,
    what: str = "request",
) -> T:
    """``func()`` until it succeeds, retrying transient failures; NetworkGaveUp at the end."""

    def sleep(seconds: float) -> None:
        if stop is not None:
            if stop.wait(seconds):
                raise Interrupted("interrupted", code="interrupted")
        else:  # pragma: no cover - every caller passes an event
            threading.Event().wait(seconds)

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        logger.info(
            "%s failed (%s), attempt %d of %d; retrying in %.1fs",
            what,
            exc.__class__.__name__ if exc else "?",
            state.attempt_number,
            policy.attempts,
            state.next_action.sleep if state.next_action else 0,
        )

    def stop_now(state: tenacity.RetryCallState) -> bool:
        return stop is not None and stop.is_set()

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_transient),
        wait=_Wait(policy),
        stop=tenacity.stop_after_attempt(policy.attempts) | stop_now,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return retrying(func)
    except (TransientHttpError, httpx.TransportError) as exc:
        if stop is not None and stop.is_set():
            raise Interrupted("interrupted", code="interrupted") from exc
        raise NetworkGaveUp(
            f"{what} kept failing after {policy.attempts} attempts: {_describe(exc)}",
            code="network",
        ) from exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TransientHttpError):
        return str(exc)
    return f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
