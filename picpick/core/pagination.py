"""Keyset (cursor) pagination that stays fast on deep pages.

``OFFSET 9900`` makes the database walk 9,900 rows; a keyset page asks for rows *after* the
last one seen, ``WHERE (position, id) > (p, i)``, which an index on ``(..., position, id)``
answers in one range read however deep the page is. The cursor is an opaque, signed token
holding the last row's ordering values, so clients cannot forge positions into other rows.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from rest_framework import serializers

from picpick.core.errors import ApplicationError

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
_SALT = "picpick.pagination"


class PageParams(serializers.Serializer):
    """The paging parameters of every list (``?cursor=&page_size=``); list filters extend it."""

    cursor = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, help_text="`next`/`previous` of a page."
    )
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE
    )


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None
    previous_cursor: str | None


def _encode_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"t": "dt", "v": value.isoformat()}
    if isinstance(value, dt.date):
        return {"t": "d", "v": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"t": "u", "v": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        kind, raw = value.get("t"), value.get("v")
        if kind == "dt":
            return dt.datetime.fromisoformat(raw)
        if kind == "d":
            return dt.date.fromisoformat(raw)
        if kind == "u":
            return uuid.UUID(raw)
    return value


def _make_cursor(values: list[Any], *, reverse: bool, ordering_key: str) -> str:
    payload = json.dumps(
        {"v": [_encode_value(v) for v in values], "r": reverse, "o": ordering_key},
        separators=(",", ":"),
    )
    signed = signing.Signer(salt=_SALT).sign(payload)
    return base64.urlsafe_b64encode(signed.encode()).decode().rstrip("=")


def _read_cursor(cursor: str, *, ordering_key: str) -> tuple[list[Any], bool]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        signed = base64.urlsafe_b64decode(padded.encode()).decode()
        data = json.loads(signing.Signer(salt=_SALT).unsign(signed))
        values = [_decode_value(v) for v in data["v"]]
        reverse = bool(data["r"])
        if data["o"] != ordering_key:
            raise ValueError("cursor made for another ordering")
    except (ValueError, KeyError, TypeError, signing.BadSignature, UnicodeDecodeError) as exc:
        raise ApplicationError(
            "The cursor is invalid or was made for another ordering.",
            code="invalid_cursor",
            fields={"cursor": ["Invalid cursor."]},
        ) from exc
    return values, reverse


def _after(fields: list[tuple[str, bool]], values: list[Any]) -> Q:
    """Rows strictly after ``values`` in the order ``fields`` ((name, descending) pairs)."""
    condition = Q()
    for index, (name, descending) in enumerate(fields):
        step = Q(**{f"{name}__{'lt' if descending else 'gt'}": values[index]})
        for prev_index in range(index):
            step &= Q(**{fields[prev_index][0]: values[prev_index]})
        condition |= step
    return condition


def _fields(ordering: list[str]) -> tuple[list[tuple[str, bool]], str]:
    """(name, descending) pairs with the primary key as the last tie-breaker, and their key."""
    fields = [(name.lstrip("-"), name.startswith("-")) for name in ordering]
    if not any(name in {"id", "pk"} for name, _ in fields):
        fields.append(("id", fields[-1][1] if fields else False))
    return fields, ",".join(f"{'-' if d else ''}{n}" for n, d in fields)


def _walk(
    fields: list[tuple[str, bool]], ordering_key: str, cursor: str | None
) -> tuple[list[tuple[str, bool]], Q, bool]:
    """The order to read in, the condition "after the cursor" and whether it reads backwards."""
    if not cursor:
        return fields, Q(), False
    values, backwards = _read_cursor(cursor, ordering_key=ordering_key)
    if len(values) != len(fields):
        raise ApplicationError("The cursor is invalid.", code="invalid_cursor")
    walk = [(n, not d) for n, d in fields] if backwards else fields
    return walk, _after(walk, values), backwards


def _page(
    rows: list[Any],
    *,
    fields: list[tuple[str, bool]],
    ordering_key: str,
    page_size: int,
    cursor: str | None,
    backwards: bool,
) -> Page:
    """The page of ``rows`` (read in walk order, up to ``page_size + 1``) and its cursors."""
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    if backwards:
        rows.reverse()

    def key(row: Any) -> list[Any]:
        return [getattr(row, name) for name, _ in fields]

    next_cursor = previous_cursor = None
    if rows:
        more_after = True if backwards else has_more
        more_before = has_more if backwards else cursor is not None
        if more_after:
            next_cursor = _make_cursor(key(rows[-1]), reverse=False, ordering_key=ordering_key)
        if more_before:
            previous_cursor = _make_cursor(key(rows[0]), reverse=True, ordering_key=ordering_key)
    return Page(items=rows, next_cursor=next_cursor, previous_cursor=previous_cursor)


def paginate(
    queryset: QuerySet,
    *,
    ordering: list[str],
    cursor: str | None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """One keyset page of ``queryset``.

    ``ordering`` lists non-null model fields like ``["position", "-created_at"]``; the primary
    key is appended as the tie-breaker, so the order is total and no row is skipped or repeated
    when rows share a value.
    """
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    fields, ordering_key = _fields(ordering)
    walk, after, backwards = _walk(fields, ordering_key, cursor)
    order_by = [f"{'-' if d else ''}{n}" for n, d in walk]
    rows = list(queryset.filter(after).order_by(*order_by)[: page_size + 1])
    return _page(
        rows,
        fields=fields,
        ordering_key=ordering_key,
        page_size=page_size,
        cursor=cursor,
        backwards=backwards,
    )


def paginate_union(
    queryset: QuerySet,
    *,
    parts: list[Q],
    ordering: list[str],
    cursor: str | None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """One keyset page of the rows of ``queryset`` that match any of ``parts``, in the order
    and with the cursors ``paginate`` gives (a cursor of one serves the other).

    ``filter(a | b).order_by(...)`` over two indexes makes the database collect and sort every
    matching row before it can stop; here each part is read as its own index range scan, only
    the primary keys of its first ``page_size + 1`` rows after the cursor (a covering read
    when the index ends with the ordering), and the page's rows are loaded by those keys, in
    ``queryset``'s shape (``select_related``, ...), ordered by the database so ties break as
    ``paginate`` breaks them. One query whatever the depth or the number of parts; a row in
    several parts counts once.
    """
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    fields, ordering_key = _fields(ordering)
    walk, after, backwards = _walk(fields, ordering_key, cursor)
    order_by = [f"{'-' if d else ''}{n}" for n, d in walk]
    # One statement: each part a derived table of its first ids (MariaDB allows no LIMIT in an
    # IN subquery itself, but does in a derived table inside it), their union the IN list.
    selects, params = [], []
    for number, part in enumerate(parts):
        part_ids = queryset.filter(part).filter(after).order_by(*order_by).values_list("pk")
        sql, part_params = part_ids[: page_size + 1].query.sql_with_params()
        # Django's own compiled SQL, its values kept apart as parameters: nothing is spliced.
        selects.append(f"SELECT * FROM ({sql}) AS part{number}")  # noqa: S608
        params.extend(part_params)
    union = RawSQL(f"SELECT * FROM ({' UNION ALL '.join(selects)}) AS parts", params)  # noqa: S608, S611
    rows = list(queryset.filter(pk__in=union).order_by(*order_by)[: page_size + 1]) if parts else []
    return _page(
        rows,
        fields=fields,
        ordering_key=ordering_key,
        page_size=page_size,
        cursor=cursor,
        backwards=backwards,
    )


def first_page(rows: list[Any], *, ordering: list[str], page_size: int) -> Page:
    """The first page of rows the caller read itself (in ``ordering``, id appended; up to
    ``page_size + 1`` of them), with the cursor ``paginate`` gives for the next page. For
    answers that read several lists' first pages in one query (a board's columns); the next
    pages come from ``paginate`` with the same ordering."""
    fields = [(name.lstrip("-"), name.startswith("-")) for name in ordering]
    if not any(name in {"id", "pk"} for name, _ in fields):
        fields.append(("id", fields[-1][1] if fields else False))
    ordering_key = ",".join(f"{'-' if d else ''}{n}" for n, d in fields)
    items = list(rows)[:page_size]
    next_cursor = None
    if len(rows) > page_size and items:
        last = [getattr(items[-1], name) for name, _ in fields]
        next_cursor = _make_cursor(last, reverse=False, ordering_key=ordering_key)
    return Page(items=items, next_cursor=next_cursor, previous_cursor=None)


def page_body(page: Page, results: list) -> dict:
    """The one shape of every list answer: ``{"results", "next", "previous"}``."""
    return {"results": results, "next": page.next_cursor, "previous": page.previous_cursor}
