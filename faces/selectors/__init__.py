"""Reads of people and faces, always scoped to the studio (another studio's id is a 404).

The selfie-search index (built from the faces, cached per process) is ``faces.selectors.index``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from accounts.models import Studio
from faces.clustering import DEFAULT_THRESHOLD
from faces.models import Face, GalleryFaceIndex, HideRequest, Person
from faces.pipeline import MAX_ATTEMPTS, photos_faces_missing
from faces.services.clustering import gallery_cluster_running
from galleries.models import Gallery, Photo
from galleries.selectors.delivery import photo_urls_many
from picpick.core.errors import NotFound, Unprocessable
from picpick.core.pagination import DEFAULT_PAGE_SIZE, Page, paginate
from picpick.core.selectors import studio_object_or_404

# The review queue shows automatic assignments whose distance to their person's centre is
# within this margin of the threshold: the ones a human should glance at.
REVIEW_MARGIN = 0.1


def person_get(*, studio: Studio, person_id: uuid.UUID | str) -> Person:
    return studio_object_or_404(
        Person.objects.select_related("gallery"),
        studio=studio,
        object_id=person_id,
        message="Person not found.",
    )


def face_get(*, studio: Studio, face_id: uuid.UUID | str) -> Face:
    return studio_object_or_404(
        Face.objects.select_related("gallery"),
        studio=studio,
        object_id=face_id,
        message="Face not found.",
    )


def people_page(
    *, gallery: Gallery, hidden: bool | None, cursor: str | None, page_size: int = DEFAULT_PAGE_SIZE
) -> Page:
    queryset = Person.objects.filter(gallery=gallery).select_related("cover_face__photo")
    if hidden is not None:
        queryset = queryset.filter(hidden=hidden)
    return paginate(queryset, ordering=["-face_count"], cursor=cursor, page_size=page_size)


def _photos_of(person_ids: Sequence[uuid.UUID]) -> QuerySet[Face]:
    return Face.objects.filter(person_id__in=person_ids, hidden=False).values("photo_id")


def person_photos_page(
    *, person: Person, cursor: str | None, page_size: int = DEFAULT_PAGE_SIZE
) -> Page:
    queryset = Photo.objects.filter(gallery_id=person.gallery_id, id__in=_photos_of([person.id]))
    return paginate(queryset, ordering=["position"], cursor=cursor, page_size=page_size)


def photos_with_people_page(
    *,
    gallery: Gallery,
    person_ids: list[uuid.UUID],
    cursor: str | None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """Photos in which every one of ``person_ids`` appears (A AND B), one subquery each."""
    found = set(
        Person.objects.filter(gallery=gallery, id__in=person_ids).values_list("id", flat=True)
    )
    if found != set(person_ids):
        raise NotFound("Person not found.")
    queryset = Photo.objects.filter(gallery=gallery)
    for person_id in person_ids:
        queryset = queryset.filter(id__in=_photos_of([person_id]))
    return paginate(queryset, ordering=["position"], cursor=cursor, page_size=page_size)


def review_page(
    *, gallery: Gallery, cursor: str | None, page_size: int = DEFAULT_PAGE_SIZE
) -> Page:
    """Automatic assignments near the threshold, the most doubtful (farthest) first."""
    queryset = Face.objects.filter(
        gallery=gallery,
        hidden=False,
        assignment=Face.Assignment.AUTO,
        distance__gte=DEFAULT_THRESHOLD - REVIEW_MARGIN,
    ).select_related("photo")
    return paginate(queryset, ordering=["-distance"], cursor=cursor, page_size=page_size)


def unassigned_page(
    *, gallery: Gallery, cursor: str | None, page_size: int = DEFAULT_PAGE_SIZE
) -> Page:
    queryset = Face.objects.filter(gallery=gallery, hidden=False, person__isnull=True)
    return paginate(
        queryset.select_related("photo"), ordering=["-size"], cursor=cursor, page_size=page_size
    )


def thumb_urls(photos: Sequence[Photo | None]) -> list[str | None]:
    """Signed thumbnail URLs in order (one presign call per page, no image work)."""
    present = [p for p in photos if p is not None]
    urls = iter(u["thumb"] for u in photo_urls_many(photos=present))
    return [next(urls) if p is not None else None for p in photos]


def parse_people_param(raw: str) -> list[uuid.UUID]:
    try:
        ids = [uuid.UUID(part.strip()) for part in raw.split(",") if part.strip()]
    except ValueError as exc:
        raise Unprocessable(
            "people must be comma-separated person ids.",
            code="invalid_people",
            fields={"people": ["Comma-separated person ids."]},
        ) from exc
    if not 1 <= len(ids) <= 10:
        raise Unprocessable(
            "Give between 1 and 10 people.",
            code="invalid_people",
            fields={"people": ["Between 1 and 10 ids."]},
        )
    return list(dict.fromkeys(ids))


def hide_requests_page(
    *, gallery: Gallery, cursor: str | None, page_size: int = DEFAULT_PAGE_SIZE
) -> Page:
    """The guests' "hide me" requests of a gallery, newest first.

    ``gallery`` comes from the studio-scoped ``gallery_get``; the studio filter is repeated
    so the rows can never be another studio's even if a caller passes a foreign gallery.
    """
    queryset = HideRequest.objects.filter(studio_id=gallery.studio_id, gallery=gallery)
    return paginate(queryset, ordering=["-created_at"], cursor=cursor, page_size=page_size)


# --- Grouping state ----------------------------------------------------------------------------
@dataclass(frozen=True)
class GroupingStatus:
    """Where the gallery's faces are on their way to people (the People API shows it).

    ``off``: face recognition is switched off for the gallery or the studio. ``running``: a
    clustering run is grouping the faces now. ``pending``: photos are still on their way to the
    face step, or faces were stored since the last run (the run is debounced: it starts a
    little after the last photo of a burst). ``done``: every face of every processed photo was
    seen by a clustering run; a face it left alone stays ungrouped (seen once only, or told
    apart by the studio).
    """

    state: str
    photos_waiting: int  # uploaded or processing, or ready without their face step yet
    faces_waiting: int  # stored, not yet seen by a clustering run


def grouping_status(*, gallery: Gallery) -> GroupingStatus:
    if not (gallery.face_recognition_enabled and gallery.studio.face_recognition_enabled):
        return GroupingStatus(state="off", photos_waiting=0, faces_waiting=0)
    in_processing = Photo.objects.filter(
        gallery=gallery, state__in=[Photo.State.UPLOADED, Photo.State.PROCESSING]
    ).count()
    # Photos whose face step never committed. One scanned by an older version has its faces
    # (grouped already) while the sweep refreshes it; one the step was given up on
    # (``pipeline.MAX_ATTEMPTS``) waits for nothing.
    without_faces = (
        photos_faces_missing(gallery=gallery)
        .filter(Q(face_scan__isnull=True) | Q(face_scan__version=0))
        .exclude(face_scan__attempts__gte=MAX_ATTEMPTS)
        .count()
    )
    index = GalleryFaceIndex.objects.filter(gallery=gallery).first()
    faces_waiting = 0
    if index is not None and index.dirty:
        faces = Face.objects.filter(
            gallery=gallery, hidden=False, person__isnull=True, assignment=Face.Assignment.NONE
        )
        # Faces and the dirty flag commit together, under the gallery lock a run also takes,
        # so a face created after the last run finished is one that run did not see.
        if index.clustered_at is not None:
            faces = faces.filter(created_at__gt=index.clustered_at)
        faces_waiting = faces.count()
    photos_waiting = in_processing + without_faces
    if gallery_cluster_running(gallery_id=gallery.id):
        state = "running"
    elif photos_waiting or (index is not None and index.dirty):
        state = "pending"
    else:
        state = "done"
    return GroupingStatus(state=state, photos_waiting=photos_waiting, faces_waiting=faces_waiting)
