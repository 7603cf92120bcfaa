"""Grouping a gallery's faces into people, and the studio's corrections to it.

Every correction is stored as data the clustering starts from (see ``faces.models``): a manual
assignment is an anchor that never moves, a ``FaceRejection`` is a cannot-link, names and
hidden flags live on the person row, which is kept across re-clusters by matching new groups
to old people by overlap. So a re-cluster, full or incremental, never undoes a correction.

Concurrency: a run holds the gallery's ``GalleryFaceIndex`` row lock from reading the faces to
bumping the version, and every correction takes the same lock first, so a correction and a
run never interleave (one waits for the other). Lock order: index row, then faces/people.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from faces import clustering
from faces.embedding import matrix_from_bytes, to_bytes
from faces.lock_objects import face_index_lock
from faces.models import Face, FaceRejection, GalleryFaceIndex, Person
from galleries.models import Gallery, Photo
from galleries.services.progress import gallery_progress_changed
from picpick.core.errors import Conflict, Unprocessable

THRESHOLD = clustering.DEFAULT_THRESHOLD
RUN_TIME_LIMIT = 660  # faces.tasks.gallery_cluster_run's hard time limit


def _bump(index: GalleryFaceIndex, *, clustered: bool = False) -> None:
    fields = {"version": F("version") + 1}
    if clustered:
        fields.update(dirty=False, dirty_since=None, clustered_at=timezone.now())
    GalleryFaceIndex.objects.filter(pk=index.pk).update(**fields)


@dataclass
class _Faces:
    ids: list[uuid.UUID]
    matrix: np.ndarray
    person: list[uuid.UUID | None]
    assignment: list[str]
    photo: list[uuid.UUID]
    size: list[int]
    sharpness: list[float]
    distance: list[float | None]


def _load_faces(gallery: Gallery, **filters) -> _Faces:
    rows = list(
        Face.objects.filter(gallery=gallery, hidden=False, **filters)
        .order_by("id")
        .values_list(
            "id",
            "embedding",
            "person_id",
            "assignment",
            "photo_id",
            "size",
            "sharpness",
            "distance",
        )
    )
    return _Faces(
        ids=[r[0] for r in rows],
        matrix=matrix_from_bytes([bytes(r[1]) for r in rows]),
        person=[r[2] for r in rows],
        assignment=[r[3] for r in rows],
        photo=[r[4] for r in rows],
        size=[r[5] for r in rows],
        sharpness=[r[6] for r in rows],
        distance=[r[7] for r in rows],
    )  # fmt: skip


def _rejections(gallery: Gallery) -> dict[uuid.UUID, set[uuid.UUID]]:
    out: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for face_id, person_id in FaceRejection.objects.filter(face__gallery=gallery).values_list(
        "face_id", "person_id"
    ):
        out[face_id].add(person_id)
    return out


def _centres(matrix: np.ndarray, labels: list) -> dict:
    groups: dict = defaultdict(list)
    for i, key in enumerate(labels):
        if key is not None:
            groups[key].append(i)
    return {key: matrix[idx].mean(axis=0) for key, idx in groups.items()}


def _write(
    gallery: Gallery,
    faces: _Faces,
    new_person: list[uuid.UUID | None],
    new_assignment: list[str],
    touched: set[uuid.UUID],
) -> None:
    """Store the faces' people and distances in bulk, then refresh the touched people."""
    distances: list[float | None] = [None] * len(faces.ids)
    centres = _centres(faces.matrix, new_person)
    for i, key in enumerate(new_person):
        if key is not None:
            distances[i] = round(float(np.linalg.norm(faces.matrix[i] - centres[key])), 4)
    changed = []
    for i, face_id in enumerate(faces.ids):
        if (
            new_person[i] != faces.person[i]
            or new_assignment[i] != faces.assignment[i]
            or distances[i] != faces.distance[i]
        ):
            changed.append(
                Face(
                    id=face_id,
                    person_id=new_person[i],
                    assignment=new_assignment[i],
                    distance=distances[i],
                )
            )
            touched.update(p for p in (new_person[i], faces.person[i]) if p is not None)
    Face.objects.bulk_update(changed, ["person", "assignment", "distance"], batch_size=1000)
    people_refresh(gallery=gallery, person_ids=touched)


def people_refresh(*, gallery: Gallery, person_ids: set[uuid.UUID] | None = None) -> None:
    """Recount faces/photos, pick covers, and delete people left empty and unnamed."""
    people = Person.objects.filter(gallery=gallery)
    if person_ids is not None:
        people = people.filter(id__in=person_ids)
    people = list(people)
    if not people:
        return
    faces = Face.objects.filter(person__in=people, hidden=False).values_list(
        "id", "person_id", "photo_id", "size", "sharpness"
    )
    counts: Counter = Counter()
    photos: dict = defaultdict(set)
    best: dict = {}
    for face_id, person_id, photo_id, size, sharpness in faces:
        counts[person_id] += 1
        photos[person_id].add(photo_id)
        # The cover is the largest face, the sharper one among equals: what reads best small.
        rank = (size, sharpness)
        if person_id not in best or rank > best[person_id][0]:
            best[person_id] = (rank, face_id)
    empty, update = [], []
    for person in people:
        if not counts[person.id] and not person.name:
            empty.append(person.id)
            continue
        person.face_count = counts[person.id]
        person.photo_count = len(photos[person.id])
        person.cover_face_id = best[person.id][1] if person.id in best else None
        update.append(person)
    Person.objects.bulk_update(update, ["face_count", "photo_count", "cover_face"], batch_size=500)
    if empty:
        # Their faces already moved; rejections naming them die with them (a cannot-link
        # against a person who no longer exists constrains nothing).
        Person.objects.filter(id__in=empty).delete()


def _new_people(gallery: Gallery, count: int) -> list[Person]:
    people = [Person(studio_id=gallery.studio_id, gallery=gallery) for _ in range(count)]
    Person.objects.bulk_create(people)
    return people


@transaction.atomic
def gallery_cluster(*, gallery: Gallery) -> GalleryFaceIndex:
    """Full re-cluster of the gallery's faces, with every manual decision as a constraint."""
    index = face_index_lock(gallery=gallery)
    faces = _load_faces(gallery)
    rejected = _rejections(gallery)
    anchors = {
        i: str(faces.person[i])
        for i in range(len(faces.ids))
        if faces.assignment[i] == Face.Assignment.MANUAL and faces.person[i] is not None
    }
    cannot = {(i, str(p)) for i, fid in enumerate(faces.ids) for p in rejected.get(fid, ())}
    # Automatic faces remember their person: a group found again keeps its row (name, hidden).
    previous = {
        i: str(faces.person[i])
        for i in range(len(faces.ids))
        if i not in anchors and faces.person[i] is not None
    }
    labels = clustering.cluster(
        faces.matrix, threshold=THRESHOLD, anchors=anchors, cannot_link=cannot, previous=previous
    )
    existing = set(Person.objects.filter(gallery=gallery).values_list("id", flat=True))
    fresh = sorted({k for k in labels if k and k.startswith("new:")})
    mapping = {k: p.id for k, p in zip(fresh, _new_people(gallery, len(fresh)), strict=True)}

    new_person: list[uuid.UUID | None] = []
    new_assignment: list[str] = []
    for i, key in enumerate(labels):
        person_id = None if key is None else mapping.get(key) or uuid.UUID(key)
        if person_id is not None and person_id in rejected.get(faces.ids[i], ()):
            person_id = None  # a group matched to a person this face was rejected from
        new_person.append(person_id)
        if i in anchors:
            new_assignment.append(Face.Assignment.MANUAL)
        else:
            new_assignment.append(Face.Assignment.AUTO if person_id else Face.Assignment.NONE)
    _write(gallery, faces, new_person, new_assignment, touched=set(existing))
    _bump(index, clustered=True)
    return index


@transaction.atomic
def gallery_cluster_incremental(*, gallery: Gallery) -> GalleryFaceIndex:
    """New faces join the nearest person within the threshold; the rest group among themselves."""
    index = face_index_lock(gallery=gallery)
    faces = _load_faces(gallery)
    is_new = [
        faces.person[i] is None and faces.assignment[i] == Face.Assignment.NONE
        for i in range(len(faces.ids))
    ]
    new_idx = [i for i, flag in enumerate(is_new) if flag]
    new_person = list(faces.person)
    new_assignment = list(faces.assignment)
    if new_idx:
        rejected = _rejections(gallery)
        centres = _centres(faces.matrix, faces.person)
        keys = list(centres)
        leftover = []
        if keys:
            centre_matrix = np.stack([centres[k] for k in keys])
            diff = faces.matrix[new_idx][:, None, :] - centre_matrix[None, :, :]
            dist = np.sqrt((diff * diff).sum(axis=2))
            for row, i in enumerate(new_idx):
                banned = rejected.get(faces.ids[i], set())
                order = np.argsort(dist[row])
                choice = next(
                    (keys[c] for c in order if dist[row, c] < THRESHOLD and keys[c] not in banned),
                    None,
                )
                if choice is None:
                    leftover.append(i)
                else:
                    new_person[i] = choice
                    new_assignment[i] = Face.Assignment.AUTO
        else:
            leftover = new_idx
        if leftover:
            labels = clustering.cluster(faces.matrix[leftover], threshold=THRESHOLD)
            fresh = sorted({k for k in labels if k is not None})
            mapping = {
                k: p.id for k, p in zip(fresh, _new_people(gallery, len(fresh)), strict=True)
            }
            for i, key in zip(leftover, labels, strict=True):
                if key is not None:
                    new_person[i] = mapping[key]
                    new_assignment[i] = Face.Assignment.AUTO
    _write(gallery, faces, new_person, new_assignment, touched=set())
    _bump(index, clustered=True)
    return index


# --- Debounce --------------------------------------------------------------------------------
def _scheduled_key(gallery_id) -> str:
    return f"faces:cluster-scheduled:{gallery_id}"


def _full_key(gallery_id) -> str:
    return f"faces:cluster-full:{gallery_id}"


def _running_key(gallery_id) -> str:
    return f"faces:cluster-running:{gallery_id}"


def gallery_cluster_running(*, gallery_id: uuid.UUID | str) -> bool:
    """Whether a clustering run of the gallery is under way (for the People API's state)."""
    return bool(cache.get(_running_key(gallery_id)))


def cluster_delay() -> int:
    return settings.PICPICK_FACE_CLUSTER_DELAY_SECONDS


def gallery_cluster_schedule(*, gallery_id: uuid.UUID | str, full: bool = False) -> bool:
    """Queue one clustering run ``cluster_delay()`` seconds from now, unless one is pending.

    Called after every photo's faces are stored: the first call of a burst queues the run,
    the others find the key and do nothing, so 200 photos make a handful of runs. The key
    expires by itself, so a lost message costs one delay, and the beat sweep catches the rest.
    """
    from faces import tasks

    if full:
        cache.set(_full_key(gallery_id), 1, timeout=24 * 3600)
    delay = cluster_delay()
    if not cache.add(_scheduled_key(gallery_id), 1, timeout=delay + 60):
        return False
    transaction.on_commit(
        lambda: tasks.gallery_cluster_run.apply_async((str(gallery_id),), countdown=delay)
    )
    return True


def gallery_cluster_run(*, gallery_id: uuid.UUID | str) -> str:
    """The debounced run: full if asked for, else incremental; skipped if nothing changed."""
    # Cleared before the run reads the faces: a photo finishing meanwhile schedules the next run.
    cache.delete(_scheduled_key(gallery_id))
    gallery = Gallery.objects.filter(id=gallery_id).first()
    if gallery is None:
        return "gone"
    full = bool(cache.get(_full_key(gallery_id)))
    if not full and not GalleryFaceIndex.objects.filter(gallery=gallery, dirty=True).exists():
        return "clean"
    cache.delete(_full_key(gallery_id))
    # Expires with the task's hard time limit: a killed run does not say "running" for long.
    cache.set(_running_key(gallery_id), 1, timeout=RUN_TIME_LIMIT)
    try:
        if full:
            gallery_cluster(gallery=gallery)
            return "full"
        gallery_cluster_incremental(gallery=gallery)
        return "incremental"
    finally:
        cache.delete(_running_key(gallery_id))
        gallery_progress_changed(gallery_id=gallery.id)  # people grouped


def galleries_cluster_sweep() -> int:
    """Safety net for lost messages: schedule every gallery dirty for longer than a few delays."""
    cutoff = timezone.now() - timezone.timedelta(seconds=4 * cluster_delay())
    ids = list(
        GalleryFaceIndex.objects.filter(dirty=True, dirty_since__lt=cutoff).values_list(
            "gallery_id", flat=True
        )[:1000]
    )
    for gallery_id in ids:
        gallery_cluster_schedule(gallery_id=gallery_id)
    return len(ids)


# --- Corrections -----------------------------------------------------------------------------
# Each takes the index lock first (same order as a run), stores the decision as data and bumps
# the version: the search cache and the next re-cluster both see it.


@transaction.atomic
def person_rename(*, person: Person, name: str) -> Person:
    index = face_index_lock(gallery=person.gallery)
    person.name = name.strip()
    person.save(update_fields=["name", "updated_at"])
    _bump(index)
    return person


@transaction.atomic
def person_set_hidden(*, person: Person, hidden: bool) -> Person:
    index = face_index_lock(gallery=person.gallery)
    person.hidden = hidden
    person.save(update_fields=["hidden", "updated_at"])
    _bump(index)
    return person


def _manual(faces, person: Person) -> set[uuid.UUID]:
    """Make ``faces`` manual members of ``person``; returns the people they left."""
    faces = list(faces)
    previous = {f.person_id for f in faces if f.person_id and f.person_id != person.id}
    Face.objects.filter(id__in=[f.id for f in faces]).update(
        person=person, assignment=Face.Assignment.MANUAL
    )
    # Joining by hand overrides an earlier "not this person" for the same pair.
    FaceRejection.objects.filter(face__in=[f.id for f in faces], person=person).delete()
    return previous


@transaction.atomic
def person_merge(*, source: Person, target: Person) -> Person:
    """Every face of ``source`` becomes a manual face of ``target``; ``source`` goes away."""
    if source.gallery_id != target.gallery_id:
        raise Unprocessable(
            "People of two different galleries cannot be merged.", code="different_galleries"
        )
    if source.id == target.id:
        raise Unprocessable("A person cannot be merged into itself.", code="same_person")
    index = face_index_lock(gallery=target.gallery)
    _manual(Face.objects.filter(person=source), target)
    if not target.name and source.name:
        target.name = source.name
        target.save(update_fields=["name", "updated_at"])
    # Rejections against the source now speak of the target: "not this person" still holds.
    for face_id in FaceRejection.objects.filter(person=source).values_list("face_id", flat=True):
        FaceRejection.objects.get_or_create(
            face_id=face_id, person=target, defaults={"studio_id": target.studio_id}
        )
    rejected = FaceRejection.objects.filter(person=target).values("face_id")
    Face.objects.filter(id__in=rejected, person=target).update(
        person=None, assignment=Face.Assignment.NONE
    )
    source.delete()
    people_refresh(gallery=target.gallery, person_ids={target.id})
    _bump(index)
    target.refresh_from_db()
    return target


def _faces_of(gallery: Gallery, face_ids: list) -> list[Face]:
    from picpick.core.errors import NotFound

    faces = list(Face.objects.filter(gallery=gallery, id__in=face_ids))
    if len(faces) != len(set(face_ids)):
        raise NotFound("Face not found.")
    return faces


@transaction.atomic
def person_split(*, person: Person, face_ids: list[uuid.UUID]) -> Person:
    """The given faces of ``person`` become a new person (manual, so they stay apart)."""
    index = face_index_lock(gallery=person.gallery)
    faces = _faces_of(person.gallery, face_ids)
    if any(f.person_id != person.id for f in faces):
        raise Unprocessable("Every face must belong to the person.", code="face_not_in_person")
    new = Person.objects.create(studio_id=person.studio_id, gallery_id=person.gallery_id)
    _manual(faces, new)
    # A split is a judgement on both sides: the studio looked at the whole person. The faces
    # left behind become manual too, or the next re-cluster would let the split-off anchors
    # pull them over (they look alike, that is why they were grouped).
    Face.objects.filter(person=person, hidden=False).update(assignment=Face.Assignment.MANUAL)
    people_refresh(gallery=person.gallery, person_ids={person.id, new.id})
    _bump(index)
    new.refresh_from_db()
    return new


@transaction.atomic
def face_remove_from_person(*, face: Face) -> Face:
    """ "Not this person": a cannot-link for the pair, and the face becomes unassigned."""
    index = face_index_lock(gallery=face.gallery)
    if face.person_id is None:
        raise Unprocessable("The face has no person.", code="face_not_assigned")
    person_id = face.person_id
    FaceRejection.objects.get_or_create(
        face=face, person_id=person_id, defaults={"studio_id": face.studio_id}
    )
    face.person = None
    face.assignment = Face.Assignment.NONE
    face.distance = None
    face.save(update_fields=["person", "assignment", "distance", "updated_at"])
    people_refresh(gallery=face.gallery, person_ids={person_id})
    _bump(index)
    return face


@transaction.atomic
def face_assign(*, face: Face, person: Person) -> Face:
    """Assign a face to a person by hand (an anchor: no re-cluster moves it)."""
    if face.gallery_id != person.gallery_id:
        raise Unprocessable("The face and the person are in different galleries.",
                            code="different_galleries")  # fmt: skip
    if person.hidden:
        raise Conflict("The person is hidden; unhide them first.", code="person_hidden")
    index = face_index_lock(gallery=person.gallery)
    previous = _manual([face], person)
    people_refresh(gallery=person.gallery, person_ids=previous | {person.id})
    _bump(index)
    face.refresh_from_db()
    return face


@transaction.atomic
def face_confirm(*, face: Face) -> Face:
    """Review queue: the automatic assignment is right; keep it for good."""
    if face.person_id is None:
        raise Unprocessable("The face has no person.", code="face_not_assigned")
    index = face_index_lock(gallery=face.gallery)
    face.assignment = Face.Assignment.MANUAL
    face.save(update_fields=["assignment", "updated_at"])
    _bump(index)
    return face


def face_add_manual(
    *, photo: Photo, box: tuple[int, int, int, int], person: Person | None = None
) -> Face:
    """A face the detector missed, drawn by the studio on the photo: encoded from the preview.

    The preview (not the original) is read: it is a few hundred kB instead of 24 MP, and the
    box is scaled by preview width / photo width. The slow part (download, encoding) runs
    before the lock is taken.
    """
    from faces.embedding import encode_box
    from picpick.core.storage import get_storage

    left, top, right, bottom = box
    width, height = photo.width or 0, photo.height or 0
    preview = (photo.derivatives or {}).get("preview") or {}
    if not width or not height or not preview.get("key"):
        raise Conflict("The photo has not been processed yet.", code="photo_not_processed")
    if not (0 <= left < right <= width and 0 <= top < bottom <= height):
        raise Unprocessable(
            "The box must lie inside the photo.", code="box_outside_photo",
            fields={"box": [f"Must be inside 0..{width} x 0..{height}."]},
        )  # fmt: skip
    if person is not None and person.gallery_id != photo.gallery_id:
        raise Unprocessable("The person is in another gallery.", code="different_galleries")
    if person is not None and person.hidden:
        raise Conflict("The person is hidden; unhide them first.", code="person_hidden")
    from PIL import Image

    with get_storage().open(key=preview["key"]) as stream:
        image = Image.open(stream)
        image.load()
    image = image.convert("RGB")
    try:
        found = encode_box(image, scale=image.width / width, box=box)
    except ValueError as exc:
        raise Unprocessable(
            "No face could be encoded in that box.", code="box_outside_photo"
        ) from exc
    with transaction.atomic():
        index = face_index_lock(gallery=photo.gallery)
        face = Face.objects.create(
            studio_id=photo.studio_id,
            gallery_id=photo.gallery_id,
            photo=photo,
            left=left, top=top, right=right, bottom=bottom,
            embedding=to_bytes(found.embedding),
            score=0.0,
            size=bottom - top,
            sharpness=found.sharpness,
            person=person,
            assignment=Face.Assignment.MANUAL if person else Face.Assignment.NONE,
            added_manually=True,
        )  # fmt: skip
        if person is not None:
            people_refresh(gallery=photo.gallery, person_ids={person.id})
        _bump(index)
    return face
