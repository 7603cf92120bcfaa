"""Telling a gallery's listeners its progress changed (the event stream, ``picpick.core.events``).

One call at each point where the counts move -- an upload completed, a photo processed or
failed, faces stored, people grouped. It publishes after the current transaction commits (a
rolled-back change publishes nothing), is coalesced per gallery, reads the snapshot when it
actually publishes, and never raises into the caller's work.
"""

from __future__ import annotations

import uuid

from galleries.selectors.progress import gallery_progress, gallery_progress_topic
from picpick.core import events


def gallery_progress_changed(*, gallery_id: uuid.UUID | str) -> None:
    gallery_id = str(gallery_id)
    events.publish_after_commit(
        topic=gallery_progress_topic(gallery_id),
        snapshot=lambda: gallery_progress(gallery_id=gallery_id).as_dict(),
    )
