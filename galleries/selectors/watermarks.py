"""Reads of watermarks, scoped to the studio (another studio's watermark is "not found")."""

from __future__ import annotations

import uuid

from accounts.models import Studio
from galleries.models import Watermark
from picpick.core.selectors import studio_object_or_404

WATERMARK_LIST_MAX = 200


def watermark_list(*, studio: Studio) -> list[Watermark]:
    """The studio's watermarks by name (a studio has a handful; capped, not paginated)."""
    return list(Watermark.objects.filter(studio=studio).order_by("name", "id")[:WATERMARK_LIST_MAX])


def watermark_get(*, studio: Studio, watermark_id: uuid.UUID | str) -> Watermark:
    return studio_object_or_404(
        Watermark.objects.all(),
        studio=studio,
        object_id=watermark_id,
        message="Watermark not found.",
    )
