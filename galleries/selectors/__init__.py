"""Every read of the galleries app, always scoped to a studio.

A row of another studio is "not found", exactly like a row that does not exist: an id from
studio B must not even reveal that it exists to studio A.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import DateField, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Coalesce

from accounts.models import Studio
from galleries.models import Album, Gallery, Photo, Tag
from picpick.core.pagination import DEFAULT_PAGE_SIZE, Page, paginate
from picpick.core.selectors import studio_object_or_404

# Keyset pagination needs non-null keys: galleries without an event date sort as if dated at
# the end of time, i.e. last in ascending and first in descending order.
_NO_EVENT_DATE = dt.date(9999, 12, 31)
_GALLERY_ORDERINGS: dict[str, list[str]] = {
    "-created_at": ["-created_at"],
    "created_at": ["created_at"],
    "event_date": ["event_sort"],
    "-event_date": ["-event_sort"],
    "name": ["name"],
    "-name": ["-name"],
}


def _tags_prefetch() -> Prefetch:
    return Prefetch("tags", queryset=Tag.objects.order_by("name"))


def gallery_get(*, studio: Studio, gallery_id: uuid.UUID | str, with_tags: bool = False) -> Gallery:
    """The studio's gallery or NotFound. ``with_tags`` prefetches the tags (for output only:
    the photo and album endpoints skip that query)."""
    queryset = Gallery.objects.all()
    if with_tags:
        queryset = queryset.prefetch_related(_tags_prefetch())
    return studio_object_or_404(
        queryset, studio=studio, object_id=gallery_id, message="Gallery not found."
    )


def gallery_list(*, studio: Studio, filters: dict | None = None) -> QuerySet[Gallery]:
    filters = filters or {}
    queryset = Gallery.objects.filter(studio=studio)
    if filters.get("status"):
        queryset = queryset.filter(status=filters["status"])
    if filters.get("event_date_from"):
        queryset = queryset.filter(event_date__gte=filters["event_date_from"])
    if filters.get("event_date_to"):
        queryset = queryset.filter(event_date__lte=filters["event_date_to"])
    if filters.get("tag"):
        tag = " ".join(filters["tag"].split()).lower()  # tags are stored normalised
        queryset = queryset.filter(tags__name=tag)
    if filters.get("q"):
        queryset = queryset.filter(
            Q(name__icontains=filters["q"]) | Q(notes__icontains=filters["q"])
        )
    return queryset.prefetch_related(_tags_prefetch())


def gallery_list_page(*, studio: Studio, filters: dict) -> Page:
    queryset = gallery_list(studio=studio, filters=filters).annotate(
        event_sort=Coalesce("event_date", Value(_NO_EVENT_DATE), output_field=DateField())
    )
    return paginate(
        queryset,
        ordering=_GALLERY_ORDERINGS[filters.get("ordering", "-created_at")],
        cursor=filters.get("cursor") or None,
        page_size=filters.get("page_size", DEFAULT_PAGE_SIZE),
    )


def album_list(*, studio: Studio, gallery: Gallery) -> list[Album]:
    return list(Album.objects.filter(studio=studio, gallery=gallery).order_by("position", "id"))


def album_get(*, studio: Studio, album_id: uuid.UUID | str) -> Album:
    return studio_object_or_404(
        Album.objects.all(), studio=studio, object_id=album_id, message="Album not found."
    )


def photo_list(*, studio: Studio, gallery: Gallery, filters: dict | None = None) -> QuerySet[Photo]:
    filters = filters or {}
    queryset = Photo.objects.filter(studio=studio, gallery=gallery)
    album = filters.get("album")
    if album == "none":
        queryset = queryset.filter(album__isnull=True)
    elif album is not None:
        queryset = queryset.filter(album_id=album)
    if filters.get("state"):
        queryset = queryset.filter(state=filters["state"])
    if filters.get("hidden") is not None:
        queryset = queryset.filter(hidden=filters["hidden"])
    if filters.get("q"):
        queryset = queryset.filter(filename__icontains=filters["q"])
    return queryset


def photo_list_page(*, studio: Studio, gallery: Gallery, filters: dict) -> Page:
    return paginate(
        photo_list(studio=studio, gallery=gallery, filters=filters),
        ordering=[filters.get("ordering", "position")],
        cursor=filters.get("cursor") or None,
        page_size=filters.get("page_size", DEFAULT_PAGE_SIZE),
    )


def photo_get(*, studio: Studio, photo_id: uuid.UUID | str) -> Photo:
    photo = studio_object_or_404(
        Photo.objects.select_related("gallery"),
        studio=studio,
        object_id=photo_id,
        message="Photo not found.",
    )
    photo.gallery.studio = studio
    return photo
