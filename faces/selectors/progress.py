"""What the faces app adds to a gallery's live progress (``galleries.selectors.progress``)."""

from __future__ import annotations

import uuid

from faces.models import Face, Person


def gallery_face_counts(gallery_id: uuid.UUID) -> dict[str, int]:
    """Faces found in the gallery's photos and the people they are grouped into; both counted
    from the gallery's own indexes (``face_gallery_person_idx``, ``person_gallery_idx``)."""
    return {
        "faces": Face.objects.filter(gallery_id=gallery_id).count(),
        # A person left without faces but kept for its name is not a group of anything.
        "people": Person.objects.filter(gallery_id=gallery_id, face_count__gt=0).count(),
    }
