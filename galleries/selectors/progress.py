"""A gallery's live progress: the snapshot the event stream and its polling twin carry.

Counts are absolute (never deltas), read in one GROUP BY over the gallery's photos (the
gallery's index range, the row's state and size) plus what the apps above contribute through
``PROGRESS_HOOKS`` -- the faces app adds faces found and people grouped from its own indexes, as
galleries may not import faces. Nothing here is scoped to a studio: the views scope the gallery
before they ask, and the workers publish for a gallery they already hold.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Callable

from django.db.models import Count, Sum
from django.utils import timezone

from galleries.models import Photo

logger = logging.getLogger(__name__)

# (gallery id) -> extra counts, e.g. {"faces": 12, "people": 3}; registered in AppConfig.ready.
ProgressHook = Callable[[uuid.UUID], dict[str, int]]
PROGRESS_HOOKS: list[ProgressHook] = []

# A photo's bytes are in once its upload was verified, whatever happened to it next.
_BYTES_IN = (Photo.State.UPLOADED, Photo.State.PROCESSING, Photo.State.READY, Photo.State.FAILED)


@dataclasses.dataclass(frozen=True)
class GalleryProgress:
    gallery_id: uuid.UUID
    photos: int
    uploaded: int
    processing: int
    processed: int
    failed: int
    faces: int
    people: int
    bytes_uploaded: int
    updated_at: dt.datetime

    def as_dict(self) -> dict:
        return {
            **dataclasses.asdict(self),
            "gallery_id": str(self.gallery_id),
            "updated_at": self.updated_at.isoformat(),
        }


def gallery_progress(*, gallery_id: uuid.UUID | str) -> GalleryProgress:
    """The gallery's counts now (see the module docstring)."""
    gallery_id = uuid.UUID(str(gallery_id))
    by_state = {
        row["state"]: row
        for row in Photo.objects.filter(gallery_id=gallery_id)
        .values("state")
        .annotate(n=Count("id"), size=Sum("size"))
        .order_by()
    }

    def count(*states: str) -> int:
        return sum(by_state[s]["n"] for s in states if s in by_state)

    extra = {"faces": 0, "people": 0}
    for hook in list(PROGRESS_HOOKS):
        extra.update(hook(gallery_id))
    return GalleryProgress(
        gallery_id=gallery_id,
        photos=sum(row["n"] for row in by_state.values()),
        uploaded=count(*_BYTES_IN),
        processing=count(Photo.State.UPLOADED, Photo.State.PROCESSING),
        processed=count(Photo.State.READY),
        failed=count(Photo.State.FAILED),
        faces=int(extra["faces"]),
        people=int(extra["people"]),
        bytes_uploaded=sum(int(by_state[s]["size"] or 0) for s in _BYTES_IN if s in by_state),
        updated_at=timezone.now(),
    )


def gallery_progress_topic(gallery_id: uuid.UUID | str) -> str:
    """The event topic of a gallery's progress."""
    return f"gallery:{gallery_id}"
