"""Writes of albums. Every one locks the gallery first (see ``galleries.lock_objects``)."""

from __future__ import annotations

import uuid
from typing import TypedDict

from django.db import transaction
from django.db.models import Max

from accounts.models import User
from galleries.lock_objects import albums_lock, gallery_lock
from galleries.models import Album, Gallery, Photo
from picpick.core.errors import Conflict, Unprocessable


class AlbumChanges(TypedDict, total=False):
    name: str
    description: str


def gallery_writable_check(gallery: Gallery) -> None:
    """Archived galleries are read-only for their photos and albums."""
    if gallery.status == Gallery.Status.ARCHIVED:
        raise Conflict(
            "This gallery is archived; unarchive it to change its photos or albums.",
            code="gallery_archived",
        )


@transaction.atomic
def album_create(*, gallery: Gallery, by: User, name: str, description: str = "") -> Album:
    gallery = gallery_lock(studio=gallery.studio, gallery_id=gallery.id)
    gallery_writable_check(gallery)
    last = Album.objects.filter(gallery=gallery).aggregate(last=Max("position"))["last"]
    return Album.objects.create(
        studio=gallery.studio,
        gallery=gallery,
        name=name,
        description=description,
        position=0 if last is None else last + 1,
    )


@transaction.atomic
def album_update(*, album: Album, by: User, changes: AlbumChanges) -> Album:
    gallery = gallery_lock(studio=album.studio, gallery_id=album.gallery_id)
    gallery_writable_check(gallery)
    fields = [name for name in ("name", "description") if name in changes]
    for name in fields:
        setattr(album, name, changes[name])  # type: ignore[literal-required]
    if fields:
        album.save(update_fields=[*fields, "updated_at"])
    return album


@transaction.atomic
def album_delete(*, album: Album, by: User) -> None:
    """Delete the album; its photos stay in the gallery, outside any album."""
    gallery = gallery_lock(studio=album.studio, gallery_id=album.gallery_id)
    gallery_writable_check(gallery)
    albums_lock(gallery=gallery, album_ids=[album.id])
    # One UPDATE instead of letting the delete collector load every photo to SET NULL it.
    Photo.objects.filter(album=album).update(album=None)
    album.delete()


@transaction.atomic
def album_reorder(*, gallery: Gallery, by: User, album_ids: list[uuid.UUID]) -> list[Album]:
    """Give the gallery's albums the positions 0..n-1 in the order of ``album_ids``.

    The list must name exactly the gallery's albums: a partial list would leave the others'
    positions ambiguous, and a stale client (an album added meanwhile) must find out.
    """
    gallery = gallery_lock(studio=gallery.studio, gallery_id=gallery.id)
    gallery_writable_check(gallery)
    albums = albums_lock(gallery=gallery, album_ids=album_ids)
    existing = set(Album.objects.filter(gallery=gallery).values_list("id", flat=True))
    if len(album_ids) != len(set(album_ids)) or set(album_ids) != existing:
        raise Unprocessable(
            "album_ids must list every album of this gallery exactly once.",
            code="album_set_mismatch",
            fields={"album_ids": ["Must list every album of this gallery exactly once."]},
        )
    ordered = [albums[album_id] for album_id in album_ids]
    for position, album in enumerate(ordered):
        album.position = position
    Album.objects.bulk_update(ordered, ["position"])
    return ordered
