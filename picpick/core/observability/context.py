"""The request id and studio id of the work in progress, for every log line it writes.

A request id is taken from an incoming ``X-Request-ID`` when it is a sane token (a proxy or
the client named the request), else made here; the response returns it. Tasks queued while
it is set carry it in a message header (``picpick.core.observability.tasks``), so a photo's
upload-complete call, its processing and its face step log the same id.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

REQUEST_ID_HEADER = "X-Request-ID"
# Letters, digits and a few separators, 8 to 128 of them: anything else (spaces, quotes, a
# megabyte of text) would be written into every log line of the request and its tasks.
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")

request_id_var: ContextVar[str | None] = ContextVar("picpick_request_id", default=None)
studio_id_var: ContextVar[str | None] = ContextVar("picpick_studio_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def sane_request_id(value: str | None) -> str | None:
    """``value`` when it may be used as a request id, else None."""
    if value and _SANE.fullmatch(value):
        return value
    return None


def current_request_id() -> str | None:
    return request_id_var.get()


def current_studio_id() -> str | None:
    return studio_id_var.get()


def set_studio_id(studio_id: object) -> None:
    """Name the studio the current request or task works for (its log lines carry it)."""
    studio_id_var.set(str(studio_id) if studio_id else None)


@contextmanager
def bound(*, request_id: str | None, studio_id: str | None = None) -> Iterator[None]:
    """Run a block with these ids, then put back what was there (eager tasks run inside the
    request that queued them)."""
    tokens = bind(request_id=request_id, studio_id=studio_id)
    try:
        yield
    finally:
        unbind(tokens)


def bind(*, request_id: str | None, studio_id: str | None = None) -> tuple[Token, Token]:
    return request_id_var.set(request_id), studio_id_var.set(studio_id)


def unbind(tokens: tuple[Token, Token]) -> None:
    request_token, studio_token = tokens
    studio_id_var.reset(studio_token)
    request_id_var.reset(request_token)
