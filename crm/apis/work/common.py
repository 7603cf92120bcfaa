"""What the work APIs share: the tag, limits and a page example."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
)

TAGS = ["crm"]
MAX_RECIPIENTS = 50
TEMPLATE_400 = "`invalid_template` (the field and the placeholder named), `validation_error`"


def page_example(item: dict) -> OpenApiExample:
    return OpenApiExample(
        "A page", value={"results": [item], "next": None, "previous": None}, response_only=True
    )
