"""Writes of face data: deletion with photos and galleries, the on/off switches, retention.

Every deletion of face data is set-based (no instance loop) and leaves an audit row per gallery
(``FaceDataDeletion``, plain id references so it outlives the gallery) with what was deleted.
Deleting the gallery's ``GalleryFaceIndex`` row also retires every cached search matrix: a
recreated row starts at a version no earlier row can have reached (``faces.pipeline``).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from accounts.models import Studio, User
from faces.models import (
    Face,
    FaceDataDeletion,
    FaceRejection,
    GalleryFaceIndex,
    Person,
    PhotoFaceScan,
)
from galleries.models import Gallery, Photo

logger = logging.getLogger(__name__)

Reason = FaceDataDeletion.Reason


def faces_delete_for_photos(photos: QuerySet[Photo]) -> int:
    """Delete the face rows of ``photos`` set-based (called before the photos are deleted).

    One audit row per photo that had faces. The photo's people keep existing (other photos may
    show them); their counts are refreshed by the next clustering run, marked due here.
    """
    scans = PhotoFaceScan.objects.filter(photo__in=photos.values("id"))
    scans._raw_delete(scans.db)
    faces = Face.objects.filter(photo__in=photos.values("id"))
    per_photo = list(
        faces.values("photo_id", "gallery_id", "studio_id").annotate(n=Count("id")).order_by()
    )
    if not per_photo:
        return 0
    FaceRejection.objects.filter(face__in=faces.values("id"))._raw_delete(FaceRejection.objects.db)
    Person.objects.filter(cover_face__in=faces.values("id")).update(cover_face=None)
    deleted = faces._raw_delete(faces.db)
    FaceDataDeletion.objects.bulk_create(
        [
            FaceDataDeletion(
                studio_id=row["studio_id"],
                gallery_id_ref=row["gallery_id"],
                photo_id_ref=row["photo_id"],
                reason=Reason.PHOTO_DELETED,
                faces_deleted=row["n"],
            )
            for row in per_photo
        ]
    )
    from faces.pipeline import face_index_mark_dirty

    for gallery_id, studio_id in {(r["gallery_id"], r["studio_id"]) for r in per_photo}:
        face_index_mark_dirty(gallery_id=gallery_id, studio_id=studio_id)
    return deleted


def _galleries_face_data_delete(
    *, gallery_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """Delete every face row, rejection, person and index row of these galleries.

    Returns ``{gallery_id: (faces deleted, people deleted)}`` for galleries that had any.
    """
    if not gallery_ids:
        return {}
    faces = Face.objects.filter(gallery_id__in=gallery_ids)
    people = Person.objects.filter(gallery_id__in=gallery_ids)
    face_counts = dict(
        faces.values("gallery_id").annotate(n=Count("id")).order_by().values_list("gallery_id", "n")
    )
    people_counts = dict(
        people.values("gallery_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("gallery_id", "n")
    )
    indexed = set(
        GalleryFaceIndex.objects.filter(gallery_id__in=gallery_ids).values_list(
            "gallery_id", flat=True
        )
    )
    FaceRejection.objects.filter(person__in=people.values("id"))._raw_delete(
        FaceRejection.objects.db
    )
    FaceRejection.objects.filter(face__in=faces.values("id"))._raw_delete(FaceRejection.objects.db)
    # Person.cover_face and Face.person point at each other: cut one side, then both go raw.
    people.exclude(cover_face=None).update(cover_face=None)
    faces._raw_delete(faces.db)
    people._raw_delete(people.db)
    GalleryFaceIndex.objects.filter(gallery_id__in=gallery_ids).delete()
    # Switched back on, every photo is due again: its faces are gone with the scan rows.
    scans = PhotoFaceScan.objects.filter(gallery_id__in=gallery_ids)
    scans._raw_delete(scans.db)
    touched = set(face_counts) | set(people_counts) | indexed
    return {gid: (face_counts.get(gid, 0), people_counts.get(gid, 0)) for gid in touched}


def _audit(
    *, studio_id: uuid.UUID, gallery_id: uuid.UUID, counts: tuple[int, int], reason: str, by
) -> FaceDataDeletion:
    return FaceDataDeletion(
        studio_id=studio_id,
        gallery_id_ref=gallery_id,
        reason=reason,
        faces_deleted=counts[0],
        people_deleted=counts[1],
        actor=by,
    )


@transaction.atomic
def faces_delete_for_gallery(
    *, gallery: Gallery, by: User | None, reason: str = Reason.GALLERY_DELETED
) -> FaceDataDeletion:
    """Delete the gallery's face data (before the gallery itself, or when it is switched off)."""
    counts = _galleries_face_data_delete(gallery_ids=[gallery.id]).get(gallery.id, (0, 0))
    row = _audit(
        studio_id=gallery.studio_id, gallery_id=gallery.id, counts=counts, reason=reason, by=by
    )
    row.save(force_insert=True)
    logger.info("face data of gallery %s deleted (%s): %s", gallery.id, reason, counts)
    return row


def faces_disable_gallery(*, gallery: Gallery, by: User | None) -> FaceDataDeletion:
    """Face recognition switched off for the gallery: its face data goes now."""
    return faces_delete_for_gallery(gallery=gallery, by=by, reason=Reason.GALLERY_DISABLED)


def _galleries_with_face_data(studio_id: uuid.UUID) -> set[uuid.UUID]:
    return (
        set(Face.objects.filter(studio_id=studio_id).values_list("gallery_id", flat=True))
        | set(Person.objects.filter(studio_id=studio_id).values_list("gallery_id", flat=True))
        | set(
            GalleryFaceIndex.objects.filter(studio_id=studio_id).values_list(
                "gallery_id", flat=True
            )
        )
    )


@transaction.atomic
def faces_disable_studio(*, studio: Studio, by: User | None) -> list[FaceDataDeletion]:
    """Face recognition switched off for the studio: the face data of every gallery goes."""
    gallery_ids = sorted(_galleries_with_face_data(studio.id))
    deleted = _galleries_face_data_delete(gallery_ids=gallery_ids)
    rows = [
        _audit(
            studio_id=studio.id,
            gallery_id=gid,
            counts=counts,
            reason=Reason.STUDIO_DISABLED,
            by=by,
        )
        for gid, counts in sorted(deleted.items())
    ]
    FaceDataDeletion.objects.bulk_create(rows)
    return rows


def faces_enable_gallery(*, gallery: Gallery, by: User | None) -> int:
    """Face recognition switched back on: the gallery's photos are processed again.

    Reuses the processing service's full reprocess (scope ``all``): one decode per photo feeds
    the derivatives and the face step alike. Returns how many photos were queued.
    """
    if not (gallery.face_recognition_enabled and gallery.studio.face_recognition_enabled):
        return 0
    from galleries.services.processing import gallery_reprocess

    return gallery_reprocess(gallery=gallery, by=by, scope="all")


def gallery_faces_switched(gallery: Gallery, enabled: bool, by: User | None) -> None:
    """The ``GALLERY_FACES_SWITCH_HOOKS`` entry (galleries calls it; see faces.apps)."""
    if enabled:
        faces_enable_gallery(gallery=gallery, by=by)
    else:
        faces_disable_gallery(gallery=gallery, by=by)


def gallery_deleting(gallery: Gallery, by: User | None) -> None:
    """The ``GALLERY_DELETE_HOOKS`` entry: one audit row for the whole gallery."""
    faces_delete_for_gallery(gallery=gallery, by=by)


def studio_faces_switched(studio: Studio, enabled: bool, by: User | None) -> None:
    """The ``STUDIO_FACES_SWITCH_HOOKS`` entry (accounts calls it; see faces.apps)."""
    if enabled:
        faces_enable_studio(studio=studio, by=by)
    else:
        faces_disable_studio(studio=studio, by=by)


def faces_enable_studio(*, studio: Studio, by: User | None) -> int:
    queued = 0
    for gallery in Gallery.objects.filter(studio=studio, face_recognition_enabled=True):
        gallery.studio = studio
        queued += faces_enable_gallery(gallery=gallery, by=by)
    return queued


def faces_retention_sweep(*, now: dt.datetime | None = None) -> int:
    """Delete the face data of galleries expired more than their studio's retention ago.

    Returns how many galleries had their face data deleted.
    """
    now = now or timezone.now()
    done = 0
    retention_days = Studio.objects.values_list("face_retention_days", flat=True).distinct()
    for days in sorted(set(retention_days)):
        expired = Gallery.objects.filter(
            studio__face_retention_days=days,
            expires_at__lt=now - dt.timedelta(days=days),
        )
        with_data = (
            set(Face.objects.filter(gallery__in=expired).values_list("gallery_id", flat=True))
            | set(Person.objects.filter(gallery__in=expired).values_list("gallery_id", flat=True))
            | set(
                GalleryFaceIndex.objects.filter(gallery__in=expired).values_list(
                    "gallery_id", flat=True
                )
            )
        )
        for gallery in Gallery.objects.filter(id__in=with_data).order_by("id"):
            faces_delete_for_gallery(gallery=gallery, by=None, reason=Reason.RETENTION)
            done += 1
    return done
