"""Email templates: ``{{ client.first_name }}`` placeholders, rendered safely. Pure: no ORM.

Deliberately not Django's or Jinja's template language: a studio member writes these, and
every engine with tags, loops and attribute lookup on objects is a sandbox to keep sealed. The
language here has nothing to seal: a placeholder is a dotted path looked up only in the plain
dicts the caller offers (``crm.services.emails.template_context``), optionally through one of
a few filters. There are no tags (``{% ... %}`` is a syntax error, so no ``load``, no loops,
no includes), no method calls, no attribute access on objects, no names starting with ``_``,
and the output is at most the template plus the offered values, so no template can make
rendering slow.

Unknown placeholders: a template is checked when it is saved (``template_check``) against
``VARIABLES``, so a typo is a 400 naming it then; at render time an unknown or missing value
renders empty (a job without a gallery yet, a contact without a first name) rather than
failing a send.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MAX_TEMPLATE_CHARS = 100_000

# What ``template_context`` offers: the only names a saved template may use.
VARIABLES: frozenset[str] = frozenset(
    {
        "client.first_name",
        "client.last_name",
        "client.full_name",
        "client.email",
        "job.name",
        "job.type",
        "job.event_date",
        "job.event_time",
        "job.event_end_date",
        "job.time_zone",
        "job.location",
        "studio.name",
        "studio.url",
        "gallery.name",
        "gallery.url",
    }
)

# strftime directives a ``date`` filter may use: no locale-dependent composites (%c, %x)
# whose output the studio can't predict, nothing that reads beyond the value.
_DATE_DIRECTIVES = frozenset("aAbBdeHIjmMpyYZ%")
_DEFAULT_DATE_FORMAT = "%e %B %Y"
_DEFAULT_DATETIME_FORMAT = "%e %B %Y, %H:%M"

_NAME = r"[A-Za-z][A-Za-z0-9_]*"
_PATH_RE = re.compile(rf"{_NAME}(?:\.{_NAME})*\Z")
_FILTER_RE = re.compile(r"(?P<name>[a-z_]+)(?:\s*:\s*\"(?P<arg>[^\"]*)\")?\s*\Z")
_OPEN_RE = re.compile(r"\{\{|\{%|\{#")


class TemplateError(ValueError):
    """A template that can't be saved: ``code`` is ``template_syntax`` or
    ``unknown_variable``, ``name`` the offending placeholder or filter when there is one."""

    def __init__(self, message: str, *, code: str, name: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.name = name


@dataclass(frozen=True)
class _Placeholder:
    path: str
    filters: tuple[tuple[str, str | None], ...]


_FILTERS = ("date", "upper", "lower", "title", "default")


def _parse(text: str) -> list[str | _Placeholder]:
    if not isinstance(text, str):
        raise TemplateError("a template is text", code="template_syntax")
    if len(text) > MAX_TEMPLATE_CHARS:
        raise TemplateError(
            f"a template is at most {MAX_TEMPLATE_CHARS} characters", code="template_syntax"
        )
    parts: list[str | _Placeholder] = []
    pos = 0
    while True:
        match = _OPEN_RE.search(text, pos)
        if match is None:
            parts.append(text[pos:])
            return parts
        if match.group() != "{{":
            raise TemplateError(
                f"{match.group()} … is not supported: only {{{{ placeholders }}}}",
                code="template_syntax",
                name=match.group(),
            )
        end = text.find("}}", match.end())
        if end < 0:
            raise TemplateError("a {{ is never closed", code="template_syntax")
        parts.append(text[pos : match.start()])
        parts.append(_placeholder(text[match.end() : end]))
        pos = end + 2


def _placeholder(inner: str) -> _Placeholder:
    if "{{" in inner:
        raise TemplateError("a {{ is never closed", code="template_syntax")
    head, *filter_texts = inner.split("|")
    path = head.strip()
    if not _PATH_RE.match(path):
        raise TemplateError(
            f"{{{{ {inner.strip()} }}}} is not a placeholder: use a name like client.first_name",
            code="template_syntax",
            name=inner.strip(),
        )
    filters = []
    for filter_text in filter_texts:
        match = _FILTER_RE.match(filter_text.strip())
        if match is None or match["name"] not in _FILTERS:
            raise TemplateError(
                f"unknown filter {filter_text.strip()!r} (allowed: {', '.join(_FILTERS)})",
                code="template_syntax",
                name=filter_text.strip(),
            )
        name, arg = match["name"], match["arg"]
        if name == "date" and arg is not None:
            _date_format_check(arg)
        if name == "default" and arg is None:
            raise TemplateError(
                'default needs a text: default:"there"', code="template_syntax", name=name
            )
        filters.append((name, arg))
    return _Placeholder(path=path, filters=tuple(filters))


def _date_format_check(fmt: str) -> None:
    i = 0
    while i < len(fmt):
        if fmt[i] == "%":
            directive = fmt[i + 1 : i + 2]
            if directive not in _DATE_DIRECTIVES or not directive:
                raise TemplateError(
                    f"date format {fmt!r}: %{directive} is not allowed",
                    code="template_syntax",
                    name=fmt,
                )
            i += 2
        else:
            i += 1


def template_variables(text: str) -> set[str]:
    """The placeholder paths a template uses (raises TemplateError on a syntax error)."""
    return {part.path for part in _parse(text) if isinstance(part, _Placeholder)}


def template_check(text: str, *, allowed: Iterable[str] = VARIABLES) -> None:
    """Raise TemplateError for a syntax error or a placeholder outside ``allowed`` (the first
    unknown one in sorted order, so the message is stable)."""
    allowed = frozenset(allowed)
    unknown = sorted(template_variables(text) - allowed)
    if unknown:
        raise TemplateError(
            f"unknown placeholder {{{{ {unknown[0]} }}}}", code="unknown_variable", name=unknown[0]
        )


def render(text: str, context: Mapping, *, escape_html: bool = False) -> str:
    """The template with each placeholder replaced by its value from ``context`` (nested plain
    dicts; anything else found on the path renders empty). With ``escape_html`` the values
    (never the template's own text) are HTML-escaped, for the HTML part of an email."""
    out: list[str] = []
    for part in _parse(text):
        if isinstance(part, str):
            out.append(part)
            continue
        value = _apply_filters(_lookup(context, part.path), part.filters)
        out.append(html.escape(value, quote=True) if escape_html else value)
    return "".join(out)


def _lookup(context: Mapping, path: str) -> object:
    value: object = context
    for name in path.split("."):
        # Only plain mappings are walked: an object offered by mistake is opaque, never
        # introspected (no getattr, so no __class__, no .delete).
        if not isinstance(value, Mapping) or name not in value:
            return None
        value = value[name]
    if isinstance(value, Mapping | list | tuple | set):
        return None
    return value


def _apply_filters(value: object, filters: tuple[tuple[str, str | None], ...]) -> str:
    fmt = None
    text = None
    for name, arg in filters:
        if name == "date":
            fmt = arg
            continue
        if text is None:
            text = _text(value, fmt)
        if name == "upper":
            text = text.upper()
        elif name == "lower":
            text = text.lower()
        elif name == "title":
            text = text.title()
        elif name == "default" and not text:
            text = arg or ""
    return text if text is not None else _text(value, fmt)


def _text(value: object, fmt: str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.strftime(fmt or _DEFAULT_DATETIME_FORMAT).strip()
    if isinstance(value, dt.date):
        return value.strftime(fmt or _DEFAULT_DATE_FORMAT).strip()
    if isinstance(value, str | int):
        return str(value)
    return ""
