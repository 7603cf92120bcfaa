"""Writes of photo rows (metadata): register, edit, delete, reorder, bulk actions.

Lock order (``galleries.lock_objects``): studio usage (only when storage/photo totals change),
then the gallery, then the albums involved. The gallery lock serialises every write to the
gallery's photos, so photo rows read after it cannot change before the commit.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypedDict

from django.db import transaction
from django.db.models import F, Max, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.services import studio_usage_lock
from galleries.lock_objects import albums_lock, gallery_lock
from galleries.models import Album, Gallery, Photo, Upload
from galleries.services.albums import gallery_writable_check
from galleries.services.counters import counters_apply
from galleries.services.storage_lifecycle import objects_delete_later, photo_object_keys
from picpick.core.errors import NotFound, Unprocessable

BULK_MAX_IDS = 1000
BulkAction = Literal["move", "hide", "unhide", "delete"]


class PhotoChanges(TypedDict, total=False):
    filename: str
    hidden: bool
    album_id: uuid.UUID | None
    position: int
    captured_at: dt.datetime | None
    camera: str


@dataclass
class BulkResult:
    succeeded: list[uuid.UUID] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)


def _album_check(*, gallery: Gallery, albums: dict[uuid.UUID, Album], album_id) -> None:
    if album_id is not None and album_id not in albums:
        raise Unprocessable(
            "The album must be an album of this gallery.",
            code="invalid_album",
            fields={"album_id": ["Not an album of this gallery."]},
        )


# The relations to Photo that ``photo_rows_delete`` handles itself.
_HANDLED_PHOTO_RELATIONS = {("galleries.gallery", "cover_photo"), ("galleries.upload", "photo")}


@dataclass(frozen=True)
class PhotoDeleteHook:
    """How another app removes its rows that point at photos, set-based, before they go.

    Registered from the app's ``AppConfig.ready`` (faces does), so galleries never imports it.
    ``relations`` names the (model label, field) pairs the hook takes care of.
    """

    relations: frozenset[tuple[str, str]]
    delete: Callable[[QuerySet[Photo]], None]


PHOTO_DELETE_HOOKS: list[PhotoDeleteHook] = []


def photo_rows_delete(*, gallery: Gallery, photo_ids: list[uuid.UUID] | None = None) -> int:
    """Delete photo rows of ``gallery`` (all of them when ``photo_ids`` is None) set-based.

    Django's delete collector would load every photo as a model instance to find the galleries
    whose cover it is, then delete in chunks of 100. The only relation to a photo is a cover,
    and a cover is always a photo of its own gallery, so one UPDATE clears it and one DELETE
    removes the rows. When a new model points at Photo, the guard below falls back to the
    collector, which knows how to cascade to it, instead of leaving dangling rows.
    """
    photos = Photo.objects.filter(gallery=gallery)
    covers = Gallery.objects.filter(id=gallery.id)
    if photo_ids is not None:
        photos = photos.filter(id__in=photo_ids)
        covers = covers.filter(cover_photo_id__in=photo_ids)
    covers.exclude(cover_photo=None).update(cover_photo=None)
    # Upload rows outlive their photo (the batch keeps its history); unlink them in one UPDATE.
    Upload.objects.filter(photo__in=photos.values("id")).update(photo=None)
    handled = set(_HANDLED_PHOTO_RELATIONS)
    for hook in PHOTO_DELETE_HOOKS:
        hook.delete(photos)
        handled |= hook.relations
    relations = {
        (rel.related_model._meta.label_lower, rel.field.name) for rel in Photo._meta.related_objects
    }
    if relations <= handled:
        return photos._raw_delete(photos.db)
    return photos.delete()[0]


@transaction.atomic
def photo_create(
    *,
    gallery: Gallery,
    by: User,
    filename: str,
    size: int,
    content_type: str,
    width: int | None = None,
    height: int | None = None,
    captured_at: dt.datetime | None = None,
    camera: str = "",
    checksum: str = "",
    album_id: uuid.UUID | None = None,
    state: str = Photo.State.PENDING,
) -> Photo:
    """Register a photo's metadata at the end of the gallery; its bytes arrive later."""
    studio = gallery.studio
    studio_usage_lock(studio=studio)
    gallery = gallery_lock(studio=studio, gallery_id=gallery.id)
    gallery_writable_check(gallery)
    albums = albums_lock(gallery=gallery, album_ids=[album_id])
    _album_check(gallery=gallery, albums=albums, album_id=album_id)
    # Safe under the gallery lock: no other transaction can take the same position meanwhile.
    last = Photo.objects.filter(gallery=gallery).aggregate(last=Max("position"))["last"]
    photo = Photo.objects.create(
        studio=studio,
        gallery=gallery,
        album_id=album_id,
        filename=filename,
        size=size,
        content_type=content_type,
        width=width,
        height=height,
        captured_at=captured_at,
        camera=camera,
        checksum=checksum,
        state=state,
        position=0 if last is None else last + 1,
    )
    counters_apply(studio=studio, gallery=gallery, photos=1, size=size, albums={album_id: 1})
    return photo


@transaction.atomic
def photo_update(*, photo: Photo, by: User, changes: PhotoChanges) -> Photo:
    gallery = gallery_lock(studio=photo.studio, gallery_id=photo.gallery_id)
    gallery_writable_check(gallery)
    current = Photo.objects.filter(id=photo.id, gallery=gallery).first()
    if current is None:
        raise NotFound("Photo not found.")  # deleted while we waited for the lock
    current.studio = gallery.studio
    fields = [name for name in PhotoChanges.__annotations__ if name in changes]
    if "album_id" in changes and changes["album_id"] != current.album_id:
        new_album = changes["album_id"]
        albums = albums_lock(gallery=gallery, album_ids=[current.album_id, new_album])
        _album_check(gallery=gallery, albums=albums, album_id=new_album)
        counters_apply(studio=gallery.studio, albums={current.album_id: -1, new_album: +1})
    for name in fields:
        setattr(current, name, changes[name])  # type: ignore[literal-required]
    if fields:
        current.save(update_fields=[*fields, "updated_at"])
    return current


@transaction.atomic
def photo_delete(*, photo: Photo, by: User) -> None:
    result = photos_bulk_action(
        gallery=photo.gallery, by=by, action="delete", photo_ids=[str(photo.id)]
    )
    if not result.succeeded:
        raise NotFound("Photo not found.")


def _parse_ids(raw_ids: list[str]) -> tuple[list[uuid.UUID], list[str]]:
    """Valid uuids (de-duplicated, in order) and the strings that are not uuids."""
    valid: dict[uuid.UUID, None] = {}
    malformed: list[str] = []
    for raw in raw_ids:
        try:
            valid.setdefault(uuid.UUID(str(raw)), None)
        except ValueError:
            malformed.append(str(raw))
    return list(valid), malformed


def _not_found(raw_id: str) -> dict[str, str]:
    return {"id": raw_id, "code": "not_found", "message": "No such photo in this gallery."}


@transaction.atomic
def photos_bulk_action(
    *,
    gallery: Gallery,
    by: User,
    action: BulkAction,
    photo_ids: list[str],
    album_id: uuid.UUID | None = None,
) -> BulkResult:
    """Apply ``action`` to the photos of ``gallery`` among ``photo_ids``, set-based.

    Ids that are not photos of this gallery (another gallery's, another studio's, malformed)
    are reported as failed ``not_found``; the others change together in this transaction, with
    one UPDATE or DELETE and one F() update per counter row.
    """
    studio = gallery.studio
    if action == "delete":
        studio_usage_lock(studio=studio)
    gallery = gallery_lock(studio=studio, gallery_id=gallery.id)
    gallery_writable_check(gallery)

    wanted, malformed = _parse_ids(photo_ids)
    rows = {
        row["id"]: row
        for row in Photo.objects.filter(gallery=gallery, id__in=wanted).values(
            "id", "album_id", "size", "original_key", "derivatives"
        )
    }
    result = BulkResult(
        succeeded=[photo_id for photo_id in wanted if photo_id in rows],
        failed=[_not_found(raw) for raw in malformed]
        + [_not_found(str(photo_id)) for photo_id in wanted if photo_id not in rows],
    )
    if action == "move":
        # Validate the target even when nothing would move: a bad album is the caller's error.
        albums = albums_lock(
            gallery=gallery, album_ids=[album_id, *(row["album_id"] for row in rows.values())]
        )
        _album_check(gallery=gallery, albums=albums, album_id=album_id)
    if not rows:
        return result

    selected = Photo.objects.filter(gallery=gallery, id__in=list(rows))
    now = timezone.now()
    if action in ("hide", "unhide"):
        selected.update(hidden=action == "hide", updated_at=now)
    elif action == "move":
        moving = [row for row in rows.values() if row["album_id"] != album_id]
        if moving:
            leaving = Counter(row["album_id"] for row in moving)
            deltas: dict[uuid.UUID | None, int] = {key: -n for key, n in leaving.items()}
            deltas[album_id] = deltas.get(album_id, 0) + len(moving)
            counters_apply(studio=studio, albums=deltas)
            Photo.objects.filter(id__in=[row["id"] for row in moving]).update(
                album_id=album_id, updated_at=now
            )
    elif action == "delete":
        albums_lock(gallery=gallery, album_ids=[row["album_id"] for row in rows.values()])
        leaving = Counter(row["album_id"] for row in rows.values())
        counters_apply(
            studio=studio,
            gallery=gallery,
            photos=-len(rows),
            size=-sum(row["size"] for row in rows.values()),
            albums={key: -n for key, n in leaving.items()},
        )
        photo_rows_delete(gallery=gallery, photo_ids=list(rows))
        # The files go after the commit, batched (a rollback must not lose them).
        objects_delete_later(
            object_keys=[
                key
                for row in rows.values()
                for key in photo_object_keys(
                    original_key=row["original_key"], derivatives=row["derivatives"]
                )
            ],
            context=f"photos deleted from gallery {gallery.id}",
        )
    else:  # pragma: no cover - the API validates the action
        raise ValueError(f"unknown bulk action {action!r}")
    return result


@transaction.atomic
def photo_reorder(
    *,
    gallery: Gallery,
    by: User,
    photo_ids: list[uuid.UUID],
    before_id: uuid.UUID | None = None,
    after_id: uuid.UUID | None = None,
) -> None:
    """Move ``photo_ids`` as one block, in the given order, just before or after an anchor.

    The order is (position, id), and positions need not be dense or distinct. With the anchor
    at (P, A), the block takes positions P+1 .. P+k and every row that must come after it
    (the anchor itself for ``before``, and anything ordered after the anchor) is shifted by
    k+1 with one ``UPDATE ... SET position = position + k + 1``. Rows tied with the anchor at P
    keep their relative order because they all shift or all stay. Cost: one UPDATE over the
    shifted rows plus one bulk_update of the k moved rows, O(moved + shifted); rows before the
    anchor are never touched, so moving photos towards the end of a gallery is cheap.
    """
    if (before_id is None) == (after_id is None):
        raise Unprocessable(
            "Give exactly one of before_id and after_id.",
            code="invalid_anchor",
            fields={"before_id": ["Give exactly one of before_id and after_id."]},
        )
    gallery = gallery_lock(studio=gallery.studio, gallery_id=gallery.id)
    gallery_writable_check(gallery)
    anchor_id = before_id or after_id
    moved = list(dict.fromkeys(photo_ids))
    known = set(Photo.objects.filter(gallery=gallery, id__in=moved).values_list("id", flat=True))
    unknown = [str(photo_id) for photo_id in moved if photo_id not in known]
    if unknown:
        raise Unprocessable(
            "Some photos are not photos of this gallery.",
            code="unknown_photos",
            fields={"photo_ids": [f"Not a photo of this gallery: {pid}" for pid in unknown]},
        )
    anchor = Photo.objects.filter(gallery=gallery, id=anchor_id).values("id", "position").first()
    anchor_field = "before_id" if before_id else "after_id"
    if anchor is None or anchor_id in known:
        raise Unprocessable(
            "The anchor must be a photo of this gallery that is not being moved.",
            code="invalid_anchor",
            fields={anchor_field: ["Must be a photo of this gallery that is not being moved."]},
        )
    start, k = anchor["position"], len(moved)
    at_or_after = Q(position__gt=start) | Q(position=start, id__gte=anchor["id"])
    strictly_after = Q(position__gt=start) | Q(position=start, id__gt=anchor["id"])
    shifted = Photo.objects.filter(gallery=gallery).filter(
        at_or_after if before_id else strictly_after
    )
    shifted.exclude(id__in=moved).update(position=F("position") + k + 1)
    block = [Photo(id=photo_id, position=start + 1 + index) for index, photo_id in enumerate(moved)]
    Photo.objects.bulk_update(block, ["position"])
