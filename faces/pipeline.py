"""The per-photo face step: faces found on the decoded working image replace the photo's faces.

Registered as a ``galleries.services.processing.DECODED_HOOKS`` entry, so it runs in the same
process right after the derivatives, on the same decode. Reprocessing a photo is idempotent and
keeps the studio's decisions: old and new boxes are matched (IoU ≥ 0.5, greedy, best pairs
first), and a matched face keeps its id -- so its person, manual assignment, hidden flag and
"not this person" rejections -- and only gets the new box, embedding and quality.

The photo is committed ``ready`` before the face step runs (guests see it as soon as its
previews exist), so the step can be lost: a worker killed between the two commits, or a step
that raised. The faces are therefore committed with a ``PhotoFaceScan`` row naming the step's
version; a ready photo without a current one is *due*. The hook's ``due`` lets the processing
``ensure`` step re-run it (decoding the original again), and ``photos_face_step_sweep`` (beat)
queues due photos for it, a few attempts each.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from accounts.models import Studio
from faces.embedding import FaceConfig, FoundFace, find_faces, to_bytes
from faces.models import Face, FaceRejection, GalleryFaceIndex, Person, PhotoFaceScan
from galleries.imaging import Decoded
from galleries.models import Gallery, Photo
from galleries.services.processing import photos_enqueue, stuck_after
from picpick.core.observability import metrics

logger = logging.getLogger(__name__)

MATCH_IOU = 0.5
# Bumped when detection or encoding changes which faces a photo gets (the detector settings,
# the models): every photo scanned by an older version becomes due, and the sweep re-runs
# them in batches.
# 2: the first pass at 1024 px instead of 800 (faces the selfie search found, missed here).
FACE_STEP_VERSION = 2
# The sweep's re-runs of one photo before it gives up (until the version changes), at most one
# per RETRY_AFTER: a re-run may wait behind a long media queue before it starts.
MAX_ATTEMPTS = 3
RETRY_AFTER = dt.timedelta(hours=1)
SWEEP_BATCH = 200


def face_config() -> FaceConfig:
    """The detector configuration from the ``PICPICK_FACES_*`` settings."""
    return FaceConfig(
        upsample=settings.PICPICK_FACES_UPSAMPLE,
        detect_long_edge=settings.PICPICK_FACES_DETECT_LONG_EDGE,
        landmarks=settings.PICPICK_FACES_LANDMARKS,
        jitters=settings.PICPICK_FACES_JITTERS,
        encoder=settings.PICPICK_FACES_ENCODER,
        small_faces=settings.PICPICK_FACES_SMALL_FACES,
        busy_max_pixels=settings.PICPICK_FACES_BUSY_MAX_PIXELS,
    )


def faces_enabled(*, photo: Photo) -> bool:
    return bool(photo.gallery.face_recognition_enabled and photo.studio.face_recognition_enabled)


def box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_boxes(
    old: list[tuple[int, int, int, int]], new: list[tuple[int, int, int, int]]
) -> list[tuple[int, int]]:
    """Pairs (old index, new index) with IoU ≥ 0.5, greedy from the best overlap down."""
    candidates = sorted(
        (
            (box_iou(a, b), i, j)
            for i, a in enumerate(old)
            for j, b in enumerate(new)
            if box_iou(a, b) >= MATCH_IOU
        ),
        key=lambda item: -item[0],
    )
    used_old: set[int] = set()
    used_new: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for _, i, j in candidates:
        if i not in used_old and j not in used_new:
            used_old.add(i)
            used_new.add(j)
            pairs.append((i, j))
    return pairs


def _initial_version() -> int:
    # A recreated index row (after face data was deleted) starts above any version the old
    # row can have reached, so a search cache keyed by (gallery, version) never serves the
    # deleted faces under a reused number.
    return int(time.time() * 1000)


def face_index_mark_dirty(*, gallery_id: uuid.UUID, studio_id: uuid.UUID) -> None:
    """Faces of the gallery changed: the search cache is stale and a re-cluster is due."""
    GalleryFaceIndex.objects.get_or_create(
        gallery_id=gallery_id, defaults={"studio_id": studio_id, "version": _initial_version()}
    )
    rows = GalleryFaceIndex.objects.filter(gallery_id=gallery_id)
    rows.filter(dirty_since__isnull=True).update(dirty_since=timezone.now())
    rows.update(dirty=True, version=F("version") + 1)


def _cluster_soon(gallery_id: uuid.UUID) -> None:
    from faces import tasks

    # The debounced clustering task belongs to the clustering side; until it exists the
    # dirty flag alone records that a re-cluster is due.
    queue = getattr(tasks, "gallery_cluster_soon", None)
    if queue is None:
        return
    try:
        queue(str(gallery_id))
    except Exception:
        # The faces are stored and the index is marked dirty: the clustering sweep picks the
        # gallery up later, so a broker hiccup here must not look like a failed face step.
        logger.exception("gallery %s: could not queue the clustering run", gallery_id)


def _apply(face: Face, found: FoundFace) -> None:
    face.left, face.top, face.right, face.bottom = found.box
    face.embedding = to_bytes(found.embedding)
    face.score = found.score
    face.size = found.size
    face.sharpness = found.sharpness


@transaction.atomic
def photo_faces_replace(*, photo: Photo, found: list[FoundFace]) -> dict[str, int]:
    """Replace the detected faces of ``photo`` with ``found``, keeping matched faces' ids.

    Nothing is written if face recognition was switched off meanwhile (detection takes a
    while): the gallery row is locked first -- the order ``gallery_update`` and
    ``gallery_delete`` use -- so a switch-off either ran before (seen here) or waits for this
    write and deletes it. Then the photo row, which serialises two reprocesses of one photo.
    """
    enabled = (
        Gallery.objects.select_for_update()
        .filter(id=photo.gallery_id)
        .values_list("face_recognition_enabled", flat=True)
        .first()
    )
    studio_enabled = (
        Studio.objects.filter(id=photo.studio_id)
        .values_list("face_recognition_enabled", flat=True)
        .first()
    )
    if not (enabled and studio_enabled):
        return {"kept": 0, "created": 0, "deleted": 0}
    Photo.objects.select_for_update().filter(id=photo.id).values_list("id", flat=True).first()
    old = list(Face.objects.filter(photo=photo, added_manually=False).order_by("id"))
    pairs = match_boxes([(f.left, f.top, f.right, f.bottom) for f in old], [f.box for f in found])
    kept_old = {i for i, _ in pairs}
    kept_new = {j for _, j in pairs}
    updated = []
    for i, j in pairs:
        _apply(old[i], found[j])
        updated.append(old[i])
    if updated:
        Face.objects.bulk_update(
            updated, ["left", "top", "right", "bottom", "embedding", "score", "size", "sharpness"]
        )
    vanished = [face.id for index, face in enumerate(old) if index not in kept_old]
    if vanished:
        FaceRejection.objects.filter(face_id__in=vanished).delete()
        Person.objects.filter(cover_face_id__in=vanished).update(cover_face=None)
        Face.objects.filter(id__in=vanished).delete()
    created = []
    for index, item in enumerate(found):
        if index in kept_new:
            continue
        face = Face(studio_id=photo.studio_id, gallery_id=photo.gallery_id, photo=photo)
        _apply(face, item)
        created.append(face)
    Face.objects.bulk_create(created)
    _scanned(photo)
    changed = bool(updated or vanished or created)
    if changed:
        face_index_mark_dirty(gallery_id=photo.gallery_id, studio_id=photo.studio_id)
        gallery_id = photo.gallery_id
        transaction.on_commit(lambda: _cluster_soon(gallery_id))
    return {"kept": len(updated), "created": len(created), "deleted": len(vanished)}


def _scanned(photo: Photo) -> None:
    """The photo's faces are stored by this version of the step (same transaction)."""
    PhotoFaceScan.objects.update_or_create(
        photo_id=photo.id,
        defaults={
            "studio_id": photo.studio_id,
            "gallery_id": photo.gallery_id,
            "version": FACE_STEP_VERSION,
            "scanned_at": timezone.now(),
            "attempts": 0,
        },
    )


def photo_faces_ensure(*, photo: Photo, decoded: Decoded) -> dict[str, int] | None:
    """The face step of one processed photo; ``None`` when face recognition is off."""
    if not faces_enabled(photo=photo):
        return None
    started = time.perf_counter()
    found = find_faces(decoded.image, scale=decoded.scale, config=face_config())
    metrics.faces_detected(count=len(found), seconds=time.perf_counter() - started)
    return photo_faces_replace(photo=photo, found=found)


def _face_step(photo: Photo, decoded: Decoded) -> None:
    """The face step of the hook: a failure is logged with its context, never fails the photo
    (the photo stays due, and the sweep tries again)."""
    started = time.perf_counter()
    try:
        result = photo_faces_ensure(photo=photo, decoded=decoded)
    except SoftTimeLimitExceeded:
        raise  # the task's own time limit: the processing service handles it
    except Exception:
        logger.exception(
            "face step failed: photo %s gallery %s studio %s (%dx%d working, scale %.3f)",
            photo.id,
            photo.gallery_id,
            photo.studio_id,
            decoded.image.width,
            decoded.image.height,
            decoded.scale,
        )
        return
    if result is not None:
        logger.info(
            "faces of photo %s: %s in %.2fs", photo.id, result, time.perf_counter() - started
        )


# --- Photos whose face step was lost ---------------------------------------------------------
def _not_current() -> Q:
    return Q(face_scan__isnull=True) | Q(face_scan__version__lt=FACE_STEP_VERSION)


def photos_faces_missing(*, gallery: Gallery | None = None) -> QuerySet[Photo]:
    """Ready photos of galleries with face recognition on whose faces are not stored by the
    current version of the step (not yet, lost, or an older version)."""
    photos = Photo.objects.filter(
        state=Photo.State.READY,
        gallery__face_recognition_enabled=True,
        studio__face_recognition_enabled=True,
    )
    if gallery is not None:
        photos = photos.filter(gallery=gallery)
    return photos.filter(_not_current())


def _settled(now: dt.datetime) -> dt.datetime:
    # A photo made ready less than a task's time limit ago may still be in its face step (the
    # same task runs it right after the ready commit): a worker killed there is told apart
    # from a slow one only by the time limit, as ``photos_sweep_stuck`` does.
    return now - stuck_after()


def photo_faces_due(*, photo: Photo, now: dt.datetime | None = None) -> bool:
    """Whether this ready photo needs the face step run again (see the module docstring)."""
    now = now or timezone.now()
    if photo.state != Photo.State.READY or not faces_enabled(photo=photo):
        return False
    if photo.processed_at is None or photo.processed_at > _settled(now):
        return False
    scan = PhotoFaceScan.objects.filter(photo_id=photo.id).values("version", "attempts").first()
    return scan is None or (
        scan["version"] < FACE_STEP_VERSION and scan["attempts"] <= MAX_ATTEMPTS
    )


def photos_face_step_sweep(*, now: dt.datetime | None = None) -> int:
    """Beat: queue the processing ``ensure`` step for ready photos whose face step was lost.

    Each queued photo counts one attempt on its scan row (created when missing) before the
    message leaves, so a photo the step keeps failing on -- or killing its worker on -- is
    given up after ``MAX_ATTEMPTS`` re-runs, until the step's version changes.
    """
    now = now or timezone.now()
    due = (
        photos_faces_missing()
        .filter(processed_at__lte=_settled(now))
        .filter(
            Q(face_scan__isnull=True)
            | Q(face_scan__attempts__lt=MAX_ATTEMPTS, face_scan__updated_at__lt=now - RETRY_AFTER)
        )
        .order_by("processed_at")
        .values_list("id", "studio_id", "gallery_id")[:SWEEP_BATCH]
    )
    rows = list(due)
    if not rows:
        return 0
    ids = [photo_id for photo_id, _, _ in rows]
    with transaction.atomic():
        PhotoFaceScan.objects.bulk_create(
            [
                PhotoFaceScan(photo_id=photo_id, studio_id=studio_id, gallery_id=gallery_id)
                for photo_id, studio_id, gallery_id in rows
            ],
            ignore_conflicts=True,
        )
        PhotoFaceScan.objects.filter(photo_id__in=ids, version__lt=FACE_STEP_VERSION).update(
            attempts=F("attempts") + 1, updated_at=now
        )
        photos_enqueue(ids)
    logger.warning("face step sweep: %s ready photos without current faces queued", len(ids))
    return len(ids)


class FaceStepHook:
    """The ``DECODED_HOOKS`` entry: the face step on the media step's decode, and ``due`` for
    the processing ``ensure`` step to re-run it on a ready photo that lacks it."""

    def __repr__(self) -> str:  # what the processing service's log names the hook by
        return "faces.pipeline.decoded_hook"

    def __call__(self, photo: Photo, decoded: Decoded) -> None:
        _face_step(photo, decoded)

    def due(self, photo: Photo) -> bool:
        return photo_faces_due(photo=photo)


decoded_hook = FaceStepHook()
