"""Writes of galleries: create, edit, status changes, delete."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import TypedDict

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import Studio, User
from accounts.services import face_data_delete_confirm_check, studio_usage_lock
from galleries.lock_objects import gallery_lock
from galleries.models import Gallery, Photo, Tag, Watermark
from galleries.services.counters import counters_apply
from galleries.services.photos import photo_rows_delete
from galleries.services.storage_lifecycle import (
    gallery_archive_tags_sync_later,
    gallery_objects_delete_later,
)
from picpick.core.errors import Conflict, Unprocessable

# Calls into the apps above galleries, registered from their ``AppConfig.ready`` (faces does),
# so galleries never imports them. Both run inside the transaction of the change.
# (gallery, enabled, by): face recognition was switched on or off for the gallery.
GALLERY_FACES_SWITCH_HOOKS: list[Callable[[Gallery, bool, User | None], None]] = []
# (gallery, by): the gallery is about to be deleted, its rows still there.
GALLERY_DELETE_HOOKS: list[Callable[[Gallery, User | None], None]] = []
# (gallery, activity, data): something the studio may want on its records happened on the
# gallery: "published" here; "first_visit", "favourites", "zip_requested" from guests (see
# ``gallery_activity``). Run after the commit, each on its own.
GALLERY_ACTIVITY_HOOKS: list[Callable[[Gallery, str, dict], None]] = []

SLUG_MAX_LENGTH = 80

logger = logging.getLogger(__name__)


def gallery_activity(*, gallery: Gallery, activity: str, data: dict) -> None:
    """Tell ``GALLERY_ACTIVITY_HOOKS`` once the current transaction commits (at once outside
    one). After the commit, so a listener's work neither holds this transaction's locks nor
    sees a change that is then rolled back; a listener that fails is logged, never the
    caller's error: a guest's favourite must not fail because the studio's records did."""
    if not GALLERY_ACTIVITY_HOOKS:
        return

    def run() -> None:
        for hook in list(GALLERY_ACTIVITY_HOOKS):
            try:
                hook(gallery, activity, data)
            except Exception:
                logger.exception(
                    "gallery activity listener %s failed (gallery %s, studio %s, %s)",
                    getattr(hook, "__qualname__", hook),
                    gallery.id,
                    gallery.studio_id,
                    activity,
                )

    transaction.on_commit(run)


class GalleryChanges(TypedDict, total=False):
    name: str
    slug: str
    event_date: dt.date | None
    cover_photo_id: uuid.UUID | None
    expires_at: dt.datetime | None
    tags: list[str]
    notes: str
    watermark_id: uuid.UUID | None
    face_recognition_enabled: bool


def tag_names_normalize(names: list[str]) -> list[str]:
    """Lower-cased, whitespace-collapsed, de-duplicated, in first-seen order.

    Lower case because MariaDB's collation compares case-insensitively: "Wedding" and
    "wedding" are one row under the unique constraint there, so they must be one tag everywhere.
    """
    seen: dict[str, None] = {}
    for name in names:
        cleaned = " ".join(name.split()).lower()
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)


def tags_get_or_create(*, studio: Studio, names: list[str]) -> list[Tag]:
    """The studio's tags with these names, creating the missing ones in one statement."""
    names = tag_names_normalize(names)
    if not names:
        return []
    # ignore_conflicts: a tag made concurrently by another request is simply reused.
    Tag.objects.bulk_create(
        [Tag(studio=studio, name=name) for name in names], ignore_conflicts=True
    )
    return list(Tag.objects.filter(studio=studio, name__in=names).order_by("name"))


def _slug_taken(*, studio: Studio, slug: str, exclude_id: uuid.UUID | None = None) -> bool:
    return Gallery.objects.filter(studio=studio, slug=slug).exclude(id=exclude_id).exists()


def _slug_derive(*, studio: Studio, name: str) -> str:
    """A free slug from the name: "smith-wedding", then "smith-wedding-2", ...

    A derived slug is made unique instead of answering 409: the client never sent it, so a
    conflict on it would be an error about a field it cannot see.
    """
    base = slugify(name)[: SLUG_MAX_LENGTH - 8].strip("-") or "gallery"
    taken = set(
        Gallery.objects.filter(studio=studio, slug__startswith=base).values_list("slug", flat=True)
    )
    candidate, number = base, 2
    while candidate in taken:
        candidate = f"{base}-{number}"
        number += 1
    return candidate


def _slug_conflict(slug: str) -> Conflict:
    return Conflict(
        f"The slug {slug!r} is already used by another gallery of this studio.",
        code="slug_taken",
        fields={"slug": ["This slug is already taken."]},
    )


def _cover_check(*, gallery: Gallery, cover_photo_id: uuid.UUID | None) -> None:
    if cover_photo_id is None:
        return
    if not Photo.objects.filter(gallery=gallery, id=cover_photo_id).exists():
        raise Unprocessable(
            "The cover photo must be a photo of this gallery.",
            code="invalid_cover",
            fields={"cover_photo_id": ["Not a photo of this gallery."]},
        )


def _watermark_check(*, gallery: Gallery, watermark_id: uuid.UUID | None) -> None:
    if watermark_id is None:
        return
    if not Watermark.objects.filter(studio=gallery.studio, id=watermark_id).exists():
        raise Unprocessable(
            "The watermark must be a watermark of this studio.",
            code="invalid_watermark",
            fields={"watermark_id": ["Not a watermark of this studio."]},
        )


def _save_or_conflict(gallery: Gallery, **save_kwargs) -> None:
    try:
        # A savepoint, so a lost race on the unique slug leaves the outer transaction usable.
        with transaction.atomic():
            gallery.save(**save_kwargs)
    except IntegrityError as exc:
        if _slug_taken(studio=gallery.studio, slug=gallery.slug, exclude_id=gallery.id):
            raise _slug_conflict(gallery.slug) from exc
        raise


@transaction.atomic
def gallery_create(
    *,
    studio: Studio,
    by: User,
    name: str,
    slug: str | None = None,
    event_date: dt.date | None = None,
    cover_photo_id: uuid.UUID | None = None,
    expires_at: dt.datetime | None = None,
    tags: list[str] | None = None,
    notes: str = "",
) -> Gallery:
    studio_usage_lock(studio=studio)
    if slug:
        if _slug_taken(studio=studio, slug=slug):
            raise _slug_conflict(slug)
    else:
        slug = _slug_derive(studio=studio, name=name)
    gallery = Gallery(
        studio=studio,
        name=name,
        slug=slug,
        event_date=event_date,
        expires_at=expires_at,
        notes=notes,
    )
    # A new gallery has no photos, so any cover is invalid; checked for the same error answer.
    _cover_check(gallery=gallery, cover_photo_id=cover_photo_id)
    _save_or_conflict(gallery, force_insert=True)
    if tags:
        gallery.tags.set(tags_get_or_create(studio=studio, names=tags))
    counters_apply(studio=studio, galleries=1)
    return gallery


@transaction.atomic
def gallery_update(
    *, gallery: Gallery, by: User, changes: GalleryChanges, confirm: str | None = None
) -> Gallery:
    """``confirm`` must be ``FACE_DATA_DELETE_CONFIRMATION`` when face recognition goes off."""
    gallery = gallery_lock(studio=gallery.studio, gallery_id=gallery.id)
    if changes.get("face_recognition_enabled") is False and gallery.face_recognition_enabled:
        face_data_delete_confirm_check(confirm=confirm)
    fields: list[str] = []
    slug = changes.get("slug")
    if slug and _slug_taken(studio=gallery.studio, slug=slug, exclude_id=gallery.id):
        raise _slug_conflict(slug)
    if "cover_photo_id" in changes:
        _cover_check(gallery=gallery, cover_photo_id=changes["cover_photo_id"])
    rewatermark = False
    if "watermark_id" in changes:
        _watermark_check(gallery=gallery, watermark_id=changes["watermark_id"])
        rewatermark = changes["watermark_id"] != gallery.watermark_id
    for name in (
        "name",
        "slug",
        "event_date",
        "cover_photo_id",
        "expires_at",
        "notes",
        "watermark_id",
    ):
        if name in changes:
            setattr(gallery, name, changes[name])  # type: ignore[literal-required]
            fields.append(name)
    faces_switch = (
        "face_recognition_enabled" in changes
        and changes["face_recognition_enabled"] != gallery.face_recognition_enabled
    )
    if faces_switch:
        gallery.face_recognition_enabled = changes["face_recognition_enabled"]
        fields.append("face_recognition_enabled")
    if fields:
        _save_or_conflict(gallery, update_fields=[*fields, "updated_at"])
    if faces_switch:
        for hook in GALLERY_FACES_SWITCH_HOOKS:
            hook(gallery, gallery.face_recognition_enabled, by)
    if rewatermark:
        # Only the watermarked previews change: re-rendered once per ready photo, after commit.
        from galleries.services.processing import galleries_rewatermark

        galleries_rewatermark(gallery_ids=[gallery.id])
    if "tags" in changes:
        gallery.tags.set(tags_get_or_create(studio=gallery.studio, names=changes["tags"]))
    return gallery


def _transition_error(gallery: Gallery, action: str) -> Conflict:
    return Conflict(
        f"A {gallery.status} gallery cannot be {action}.",
        code="invalid_transition",
        extra={"status": gallery.status},
    )


@transaction.atomic
def gallery_publish(*, gallery: Gallery, by: User) -> Gallery:
    """draft -> published. An archived gallery must be unarchived first."""
    gallery = gallery_lock(studio=gallery.studio, gallery_id=gallery.id)
    if gallery.status != Gallery.Status.DRAFT:
        raise _transition_error(gallery, "published")
    gallery.status = Gallery.Status.PUBLISHED
    gallery.published_at = timezone.now()
    gallery.save(update_fields=["status", "published_at", "updated_at"])
    gallery_activity(gallery=gallery, activity="published", data={})
    return gallery


@transaction.atomic
def gallery_archive(*, gallery: Gallery, by: User) -> Gallery:
    """draft or published -> archived (read-only for photos and albums)."""
    gallery = gallery_lock(studio=gallery.studio, gallery_id=gallery.id)
    if gallery.status == Gallery.Status.ARCHIVED:
        raise _transition_error(gallery, "archived")
    gallery.status = Gallery.Status.ARCHIVED
    gallery.archived_at = timezone.now()
    gallery.save(update_fields=["status", "archived_at", "updated_at"])
    gallery_archive_tags_sync_later(gallery=gallery)  # originals tagged for the cold class
    return gallery


@transaction.atomic
def gallery_unarchive(*, gallery: Gallery, by: User) -> Gallery:
    """archived -> the status it had before archiving.

    Published if it was ever published (``published_at`` is set, and there is no unpublish),
    else draft: unarchiving must not expose to clients a gallery nobody chose to publish, nor
    hide one that clients already had.
    """
    gallery = gallery_lock(studio=gallery.studio, gallery_id=gallery.id)
    if gallery.status != Gallery.Status.ARCHIVED:
        raise _transition_error(gallery, "unarchived")
    was_published = gallery.published_at is not None
    gallery.status = Gallery.Status.PUBLISHED if was_published else Gallery.Status.DRAFT
    gallery.archived_at = None
    gallery.save(update_fields=["status", "archived_at", "updated_at"])
    gallery_archive_tags_sync_later(gallery=gallery)  # the archive tags removed
    return gallery


@transaction.atomic
def gallery_delete(*, gallery: Gallery, by: User) -> None:
    """Delete the gallery with its albums and photo rows, and take them off the studio's usage."""
    studio = gallery.studio
    studio_usage_lock(studio=studio)
    gallery = gallery_lock(studio=studio, gallery_id=gallery.id)
    # The locked gallery's counters are exact: nothing can add a photo while we hold it.
    counters_apply(
        studio=studio, galleries=-1, photos=-gallery.photo_count, size=-gallery.storage_bytes
    )
    # Photos first, set-based; the collector then only has albums and tag links left.
    # Its objects (originals, derivatives, ZIPs) go once the rows are surely gone.
    gallery_objects_delete_later(gallery=gallery)
    for hook in GALLERY_DELETE_HOOKS:
        hook(gallery, by)  # faces: one audit row for the whole gallery
    photo_rows_delete(gallery=gallery)
    gallery.delete()
