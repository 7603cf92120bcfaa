"""The API's JSON parser: orjson, refusing bodies nested deeper than any request of ours needs.

orjson itself accepts 1024 levels, but Python code that later walks a value recursively (``str()``
of a list in a serializer field, a validator, an error renderer) overflows the interpreter's
stack long before that: a 960-level list sent as a login email was a 500. One limit here, far
above any real body and far below the stack, keeps every consumer safe.
"""

from __future__ import annotations

from typing import Any

from drf_orjson_renderer.parsers import ORJSONParser
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether lists/objects in ``value`` nest more than ``limit`` levels (iterative: no stack)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class JSONParser(ORJSONParser):
    max_depth = MAX_DEPTH

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:  # a parser that recurses in Python would end here
            raise ParseError(self._too_deep()) from exc
        if json_depth_exceeds(data, self.max_depth):
            raise ParseError(self._too_deep())
        return data

    def _too_deep(self) -> str:
        return f"JSON parse error - nested deeper than {self.max_depth} levels."
