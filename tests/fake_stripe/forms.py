"""Stripe's form encoding, read back: ``metadata[k]=v``, ``expand[0]=a``, ``a[b][c]=d``.

The SDK encodes every request (body for POST, query for GET) as flat ``key=value`` pairs with
bracketed paths; lists are indexed (``expand[0]``), booleans ``true``/``false``. This rebuilds
the nested dicts and lists the SDK started from, values left as strings.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_PART = re.compile(r"\[([^\[\]]*)\]")


class FormError(ValueError):
    pass


def parse_form(text: str) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        head, _, rest = key.partition("[")
        path = [head] + (_PART.findall("[" + rest) if rest else [])
        if not head or (rest and "[" + rest != "".join(f"[{p}]" for p in path[1:])):
            raise FormError(f"Invalid parameter name: {key}")
        node = root
        for index, part in enumerate(path):
            last = index == len(path) - 1
            if part == "":  # "expand[]": append
                part = str(len(node))
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise FormError(f"Invalid parameter name: {key}")
    return _lists(root)


def _lists(node: Any) -> Any:
    """Dicts keyed 0..n-1 were lists."""
    if not isinstance(node, dict):
        return node
    items = {key: _lists(value) for key, value in node.items()}
    if items and all(key.isdigit() for key in items):
        indexes = sorted(int(key) for key in items)
        if indexes == list(range(len(indexes))):
            return [items[str(i)] for i in indexes]
    return items
