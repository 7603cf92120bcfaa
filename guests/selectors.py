"""Reads for guests: galleries a guest may open, their albums and photos, and the studio's
view of visitors and favourites. Every read is scoped — to the studio of the site a guest
is on, or to the studio of the logged-in user."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.models import Studio
from galleries.models import Album, Gallery, Photo
from galleries.selectors.delivery import GUEST_URL_SOURCES, photo_urls_many
from guests.models import Favourite, FavouriteList, Visitor
from picpick.core.errors import NotFound
from picpick.core.ids import uuid_or_404
from picpick.core.pagination import DEFAULT_PAGE_SIZE, Page, paginate
from picpick.core.selectors import studio_object_or_404
from picpick.core.storage import get_storage


def _published(studio_id: uuid.UUID | None) -> QuerySet[Gallery]:
    galleries = Gallery.objects.select_related("studio").filter(
        status=Gallery.Status.PUBLISHED, studio__deleted_at__isnull=True
    )
    return galleries if studio_id is None else galleries.filter(studio_id=studio_id)


def site_gallery_by_slug(*, studio_id: uuid.UUID, slug: str) -> Gallery:
    """A published gallery of the site's studio by its link; expired ones too (the page says so)."""
    gallery = _published(studio_id).filter(slug=slug).first()
    if gallery is None:
        raise NotFound("No such gallery.")
    return gallery


def guest_gallery_get(*, gallery_id: uuid.UUID | str, studio_id: uuid.UUID | None) -> Gallery:
    """A published gallery by id. On a studio's own domain ``studio_id`` is that studio: a
    gallery of another studio is a 404 there; on the API host any studio's gallery opens."""
    gallery_id = uuid_or_404(gallery_id, message="No such gallery.")
    gallery = _published(studio_id).filter(id=gallery_id).first()
    if gallery is None:
        raise NotFound("No such gallery.")
    return gallery


def is_expired(gallery: Gallery) -> bool:
    return gallery.expires_at is not None and gallery.expires_at <= timezone.now()


def studio_logo_url(*, studio: Studio) -> str | None:
    if not studio.logo_key:
        return None
    return get_storage().presign_get(
        key=studio.logo_key, expires_in=settings.PICPICK_STORAGE_GET_EXPIRES
    )


def studio_home_galleries(*, studio: Studio) -> list[Gallery]:
    """The studio's public, listed, unexpired galleries, newest event first."""
    now = timezone.now()
    return list(
        _published(studio.id)
        .filter(listed=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("-event_date", "-published_at")[:60]
    )


def guest_albums(*, gallery: Gallery) -> list[Album]:
    return list(Album.objects.filter(gallery=gallery, photo_count__gt=0).order_by("position", "id"))


def guest_photos(*, gallery: Gallery, album_id: uuid.UUID | None = None) -> QuerySet[Photo]:
    """What a guest sees: processed, not hidden."""
    photos = Photo.objects.filter(
        studio_id=gallery.studio_id, gallery=gallery, state=Photo.State.READY, hidden=False
    )
    if album_id is not None:
        photos = photos.filter(album_id=album_id)
    return photos


def guest_photo_counts(*, gallery: Gallery) -> dict[uuid.UUID | None, int]:
    """How many photos a guest sees, per album (``None``: outside any album); one query."""
    rows = guest_photos(gallery=gallery).order_by().values("album_id").annotate(n=Count("id"))
    return {row["album_id"]: row["n"] for row in rows}


def guest_photo_get(*, gallery: Gallery, photo_id: uuid.UUID | str) -> Photo:
    photo_id = uuid_or_404(photo_id, message="No such photo.")
    photo = guest_photos(gallery=gallery).filter(id=photo_id).first()
    if photo is None:
        raise NotFound("No such photo.")
    photo.gallery = gallery
    return photo


@dataclass(frozen=True)
class GuestPhoto:
    id: uuid.UUID
    filename: str
    width: int | None
    height: int | None
    album_id: uuid.UUID | None
    thumb_url: str | None
    preview_url: str | None


def guest_photos_page(
    *,
    gallery: Gallery,
    album_id: uuid.UUID | None = None,
    cursor: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> tuple[Page, list[GuestPhoto]]:
    """One page in the studio's order, with signed thumbnail and (watermarked) preview URLs:
    one query and one presign call per kind."""
    page = paginate(
        guest_photos(gallery=gallery, album_id=album_id).only(
            "id", "filename", "width", "height", "album_id", "derivatives", "position"
        ),
        ordering=["position"],
        cursor=cursor,
        page_size=page_size,
    )
    urls = photo_urls_many(photos=page.items, sources=GUEST_URL_SOURCES)
    items = [
        GuestPhoto(
            id=p.id,
            filename=p.filename,
            width=p.width,
            height=p.height,
            album_id=p.album_id,
            thumb_url=u["thumb"],
            preview_url=u["preview"],
        )
        for p, u in zip(page.items, urls, strict=True)
    ]
    return page, items


def visitor_get(*, gallery: Gallery, visitor_id: uuid.UUID | None) -> Visitor | None:
    if visitor_id is None:
        return None
    return Visitor.objects.filter(gallery=gallery, id=visitor_id).first()


def visitor_lists(*, visitor: Visitor) -> list[FavouriteList]:
    items = Favourite.objects.order_by("created_at", "id")
    return list(
        FavouriteList.objects.filter(visitor=visitor)
        .prefetch_related(Prefetch("items", queryset=items))
        .order_by("created_at", "id")
    )


def visitor_list_get(*, visitor: Visitor, list_id: uuid.UUID | str) -> FavouriteList:
    list_id = uuid_or_404(list_id, message="No such list.")
    found = FavouriteList.objects.filter(visitor=visitor, id=list_id).first()
    if found is None:
        raise NotFound("No such list.")
    return found


# --- The studio's side ------------------------------------------------------------------------
def studio_visitors_page(*, studio: Studio, gallery: Gallery, cursor: str | None) -> Page:
    return paginate(
        Visitor.objects.filter(studio=studio, gallery=gallery),
        ordering=["-last_seen_at"],
        cursor=cursor,
    )


def studio_favourite_lists(*, studio: Studio, gallery: Gallery) -> list[FavouriteList]:
    items = Favourite.objects.select_related("photo").only(
        "id", "favourite_list_id", "comment", "created_at", "photo__id", "photo__filename"
    )
    return list(
        FavouriteList.objects.filter(studio=studio, gallery=gallery)
        .select_related("visitor")
        .prefetch_related(Prefetch("items", queryset=items.order_by("created_at", "id")))
        .order_by("created_at", "id")
    )


def studio_favourite_list_get(*, studio: Studio, list_id: uuid.UUID | str) -> FavouriteList:
    return studio_object_or_404(
        FavouriteList.objects.select_related("visitor", "gallery"),
        studio=studio,
        object_id=list_id,
        message="No such favourite list.",
    )


def favourite_filenames(*, favourite_list: FavouriteList) -> list[str]:
    """The original filenames of a list, in the photos' gallery order: what Lightroom's
    filename filter takes."""
    return list(
        Photo.objects.filter(
            studio_id=favourite_list.studio_id,
            id__in=Favourite.objects.filter(favourite_list=favourite_list).values("photo_id"),
        )
        .order_by("position", "id")
        .values_list("filename", flat=True)
    )
