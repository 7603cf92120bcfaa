"""The one scoped get: this studio's row, or a 404."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from django.db.models import Model, QuerySet

from picpick.core.errors import NotFound
from picpick.core.ids import uuid_or_404

M = TypeVar("M", bound=Model)


def studio_object_or_404(
    queryset: QuerySet[M], *, studio: Any, object_id: uuid.UUID | str, message: str
) -> M:
    """The row of ``queryset`` with this id in ``studio``; another studio's row, an unknown or a
    malformed id are all the same 404 (nobody learns which ids exist elsewhere). The row's
    ``studio`` is the one given, so reading it costs no query."""
    found = queryset.filter(studio=studio, id=uuid_or_404(object_id, message=message)).first()
    if found is None:
        raise NotFound(message)
    found.studio = studio
    return found
