"""Writes of face data: faces of photos, people, corrections, deletion."""

from __future__ import annotations

from django.db.models import QuerySet

from faces.models import Face, FaceRejection, Person
from galleries.models import Photo


def faces_delete_for_photos(photos: QuerySet[Photo]) -> int:
    """Delete the face rows of ``photos`` set-based (called before the photos are deleted)."""
    faces = Face.objects.filter(photo__in=photos.values("id"))
    FaceRejection.objects.filter(face__in=faces.values("id"))._raw_delete(FaceRejection.objects.db)
    Person.objects.filter(cover_face__in=faces.values("id")).update(cover_face=None)
    return faces._raw_delete(faces.db)
