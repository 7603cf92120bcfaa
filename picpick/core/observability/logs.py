"""What every log record passes before it is written: its context, then redaction.

``ContextFilter`` (on the handler) adds ``request_id`` and ``studio_id`` (from ``context``) to
every record. Redaction is the last line of defence, in both formatters: the code never logs a
token, a signed URL's signature, a password, selfie bytes or a face vector on purpose, and
``redacted`` masks them if a message, an exception or an extra field carries one anyway (a
library's error message that quotes a URL, a repr of a request). Records of every logger pass
the handler, third-party ones included.

``JsonFormatter``: one JSON object per line (python-json-logger) with the time, level, logger,
message, the context fields and any ``extra`` the call passed.
"""

from __future__ import annotations

import copy
import logging
import re

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from picpick.core.observability.context import current_request_id, current_studio_id

MASK = "[redacted]"

# Query parameters and key=value pairs whose value is a credential: presigned S3 URLs
# (X-Amz-Signature, -Credential, -Security-Token), the local backend's and CloudFront's
# signatures, tickets and tokens in links, passwords.
_CREDENTIALS = (
    r"x-amz-signature|x-amz-credential|x-amz-security-token|signature|sig|token|ticket|"
    r"access|refresh|access_token|refresh_token|password|passwd|secret|key-pair-id|policy|"
    r"api_key|apikey|client_secret"
)
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Authorization: Bearer xyz / Basic xyz, as a header line or a dict item.
    (
        re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer|basic|token)?\s*[^\s'\",}]+"),
        rf"\1{MASK}",
    ),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MASK}"),
    # A JWT anywhere (header.payload.signature, base64url).
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), MASK),
    # name=value in URLs and forms; "name": "value" in JSON and dict reprs.
    (re.compile(rf"(?i)([?&;\s]|^)({_CREDENTIALS})=[^&\s'\"]+"), rf"\1\2={MASK}"),
    (re.compile(rf"(?i)(['\"]({_CREDENTIALS})['\"]\s*:\s*)(['\"])[^'\"]*\3"), rf"\1\3{MASK}\3"),
    # A face vector: a run of 16 or more numbers (an embedding has 128).
    (re.compile(r"(?:[-+]?(?:\d+\.\d*|\.\d+)(?:e[-+]?\d+)?[,\s\]]+){16,}", re.I), "[vector] "),
    # Bytes shown as escapes (an image's repr): 4 or more in a row.
    (re.compile(r"(?:\\x[0-9a-fA-F]{2}){4,}"), "[bytes]"),
]
# Long runs that look like keys or encoded data: hex of 40+ (a SHA-1 and longer secrets), and
# base64 of 32+ with upper and lower case letters and digits (a UUID or a request id has no
# capitals, a word has no digits). Selfie bytes posted as base64 are such a run.
_RUN = re.compile(r"[A-Za-z0-9+/_=-]{32,}")
_HEX = re.compile(r"[0-9a-fA-F]{40,}")


def _mask_run(match: re.Match[str]) -> str:
    run = match.group(0)
    if _HEX.fullmatch(run):
        return MASK
    if "/" in run and "-" in run:  # a path of UUIDs; base64 has "/" or "-", never both
        return run
    upper = sum(c.isupper() for c in run)
    lower = sum(c.islower() for c in run)
    digits = sum(c.isdigit() for c in run)
    if upper >= 2 and lower >= 2 and digits >= 2:
        return MASK
    return run


# What every pattern above needs somewhere in the text: most lines (a route, an address, a
# plain sentence) have none of it and are returned after this one search.
_SUSPECT = re.compile(
    r"(?i)=|bearer|authorization|eyJ|\\x[0-9a-f]{2}|['\"]\s*:|[A-Za-z0-9+/_=-]{32}"
    r"|\d\.\d+[,\s\]]+[-+]?\d*\.\d"
)


def redact(text: str) -> str:
    """``text`` with anything credential-like masked."""
    if not _SUSPECT.search(text):
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _RUN.sub(_mask_run, text)


# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_CONTEXT = frozenset({"request_id", "studio_id"})


class ContextFilter(logging.Filter):
    """Adds the request id and studio id of the work in progress (None outside of one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        if getattr(record, "studio_id", None) is None:
            record.studio_id = current_studio_id()
        return True


def redacted(record: logging.LogRecord) -> logging.LogRecord:
    """A copy of ``record`` with credentials masked in the message, the exception text and
    string extras. A copy: other handlers of the same record (pytest's, Sentry's) see it as
    logged."""
    record = copy.copy(record)
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: log what there is rather than nothing
        message = f"{record.msg!s} {record.args!r}"
    record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
        # Formatters re-render exc_info when it is there; the redacted text must be what
        # they print.
        record.exc_info = None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    for name, value in list(record.__dict__.items()):
        if name in _STANDARD or name in _CONTEXT:
            continue
        if isinstance(value, str):
            setattr(record, name, redact(value))
        elif isinstance(value, bytes | bytearray | memoryview):
            setattr(record, name, f"[{len(value)} bytes]")
    return record


class PlainFormatter(logging.Formatter):
    """Readable lines (a terminal, ``make run``), credentials masked."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(redacted(record))


class JsonFormatter(_JsonFormatter):
    """One JSON object a line: time, level, logger, message, request_id, studio_id, extras;
    credentials masked."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault(
            "fmt", "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(studio_id)s"
        )
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level"})
        kwargs.setdefault("timestamp", False)
        super().__init__(*args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        return super().format(redacted(record))

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        import datetime as dt

        return dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(
            timespec="milliseconds"
        )


def logging_config(*, level: str, json: bool) -> dict:
    """The LOGGING dictionary's common part: one console handler, its context filter, and the
    two formatters (both redact)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "picpick.core.observability.logs.ContextFilter"}},
        "formatters": {
            "plain": {
                "()": "picpick.core.observability.logs.PlainFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
            },
            "json": {"()": "picpick.core.observability.logs.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if json else "plain",
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
    }
