"""Every log line a test writes, as production writes it, and a scan of them for secrets.

``capture_lines`` records what the console handler would print (the same context filter, the
JSON format with its redaction) at DEBUG for the apps' loggers. ``scan_logs`` is an
autouse fixture for the packages whose tests handle tokens, signed URLs and selfies
(tests/uploads, tests/faces_search): after each test it fails if any line holds a secret of
the run.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import pytest
from django.core.signals import request_started

from picpick.core.observability.logs import ContextFilter, JsonFormatter

APP_LOGGERS = (
    "picpick",
    "accounts",
    "galleries",
    "faces",
    "domains",
    "guests",
    "crm",
    "billing",
    "celery",
    "django.request",
)


class LineRecorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.addFilter(ContextFilter())
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def capture_lines(loggers: Iterable[str] = APP_LOGGERS) -> Iterator[list[str]]:
    recorder = LineRecorder()
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in loggers}
    for name in loggers:
        logging.getLogger(name).setLevel(logging.DEBUG)
    root.addHandler(recorder)
    try:
        yield recorder.lines
    finally:
        root.removeHandler(recorder)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
_SIGNED = re.compile(
    r"(?i)(x-amz-signature|x-amz-credential|signature|token|ticket)=(?!\[redacted\])[^&\s\"']+"
)
_IMAGE_BASE64 = re.compile(r"/9j/4|iVBORw0KGgo|UklGR")  # JPEG, PNG, WebP as base64
_IMAGE_BYTES = re.compile(r"\\xff\\xd8|\\x89PNG")
_VECTOR = re.compile(r"(?:[-+]?(?:\d+\.\d*|\.\d+)(?:e[-+]?\d+)?[,\s\]]+){16,}", re.I)
_EMBEDDING = re.compile(r"(?i)embedding['\"]?\s*[:=]\s*['\"]?[\[(\w]")


def find_secrets(lines: Iterable[str], *, known: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(why, line) for every line that holds a secret: one of ``known`` (tokens issued in the
    test, the secret key), a JWT, a signed URL's signature, image bytes, a face vector."""
    known = [k for k in known if k and len(k) >= 8]
    found = []
    for line in lines:
        for secret in known:
            if secret in line:
                found.append(("a secret of the run", line))
        for why, pattern in (
            ("a JWT", _JWT),
            ("a signature or token parameter", _SIGNED),
            ("image bytes as base64", _IMAGE_BASE64),
            ("image bytes", _IMAGE_BYTES),
            ("a face vector", _VECTOR),
            ("an embedding", _EMBEDDING),
        ):
            if pattern.search(line):
                found.append((why, line))
    return found


def _run_secrets(request) -> list[str]:
    from django.conf import settings

    known = [settings.SECRET_KEY]
    for value in request.node.funcargs.values():
        tokens = getattr(value, "tokens", None)  # the API clients of tests/conftest.py
        if isinstance(tokens, dict):
            known += [str(token) for token in tokens.values()]
        if isinstance(value, bytes) and len(value) >= 48:  # a selfie or a file a test sent
            known.append(base64.b64encode(value[:48]).decode()[:32])
    return known


@pytest.fixture(autouse=True)
def scan_logs(request) -> Iterator[list[str]]:
    started: list[int] = []

    def count(**kwargs) -> None:
        started.append(1)

    request_started.connect(count, weak=False, dispatch_uid="tests.logscan")
    try:
        with capture_lines() as lines:
            yield lines
    finally:
        request_started.disconnect(dispatch_uid="tests.logscan")
    problems = find_secrets(lines, known=_run_secrets(request))
    assert not problems, "secrets in log lines:\n" + "\n".join(f"{w}: {x}" for w, x in problems)
    # The scan saw what it should: one request line for every request the app served (the
    # test client's and the live servers' alike).
    logged = sum('"event": "request"' in line for line in lines)
    assert logged >= len(started), f"{len(started)} requests served, {logged} request lines"
