"""Reads for delivery: presigned URLs of photos, download jobs, what a ZIP contains.

Every presign here goes through ``get_storage()``, so the URLs are SigV4 bucket URLs or
CloudFront signed URLs as configured. A page of photos is signed with one
``presign_get_many`` call per derivative kind: the keys of one kind share the gallery's
``d/<kind>/`` folder (``galleries.keys``), which lets CloudFront sign the whole page with one
wildcard policy instead of one RSA signature per photo.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import Studio
from galleries.models import Album, DownloadJob, Gallery, Photo
from galleries.zipstream import sanitize_name, unique_name
from picpick.core.errors import Conflict
from picpick.core.selectors import studio_object_or_404
from picpick.core.storage import get_storage

# The derivatives the studio API shows. ``preview_wm`` is for guests (a later issue).
URL_KINDS = ("thumb", "preview")
RECENT_JOBS = 50

# What each ZIP size is made of: the original, or a derivative (JPEG) by name, in order of
# preference. "web" is what the gallery shows on the web: the watermarked preview when the
# gallery has a watermark, else the clean one.
ZIP_SOURCES: dict[str, tuple[str, ...]] = {
    DownloadJob.Size.ORIGINAL: ("original",),
    DownloadJob.Size.HIGH: ("preview",),
    DownloadJob.Size.WEB: ("preview_wm", "preview"),
}
# Originals exist (verified at upload completion) from "uploaded" on; a failed photo's
# original is the file that could not be decoded, so it is not delivered.
_ORIGINAL_STATES = (Photo.State.UPLOADED, Photo.State.PROCESSING, Photo.State.READY)


def _url_expiry() -> int:
    return settings.PICPICK_STORAGE_GET_EXPIRES


def _derivative_key(derivatives: dict | None, kind: str) -> str | None:
    entry = (derivatives or {}).get(kind)
    if isinstance(entry, dict) and entry.get("key"):
        return str(entry["key"])
    return None


# What guests see: the watermarked preview where the gallery has a watermark.
GUEST_URL_SOURCES: dict[str, tuple[str, ...]] = {
    "thumb": ("thumb",),
    "preview": ("preview_wm", "preview"),
}


def photo_urls_many(
    *, photos: Sequence[Photo], sources: dict[str, tuple[str, ...]] | None = None
) -> list[dict[str, str | None]]:
    """``{"thumb": url|None, "preview": url|None}`` per photo, in order; None until processed.

    ``sources`` maps each answer key to the derivatives to use, first present wins (default:
    the studio's clean thumb and preview). One ``presign_get_many`` per answer key that has at
    least one derivative on the page (no query: the keys are on the rows already).
    """
    sources = sources or {kind: (kind,) for kind in URL_KINDS}
    out: list[dict[str, str | None]] = [dict.fromkeys(sources) for _ in photos]
    storage = get_storage()
    for name, kinds in sources.items():
        positions: list[int] = []
        keys: list[str] = []
        for index, photo in enumerate(photos):
            key = next(
                (k for kind in kinds if (k := _derivative_key(photo.derivatives, kind))), None
            )
            if key is not None:
                positions.append(index)
                keys.append(key)
        if keys:
            urls = storage.presign_get_many(keys=keys, expires_in=_url_expiry())
            for index, url in zip(positions, urls, strict=True):
                out[index][name] = url
    return out


def gallery_cover_thumb_urls(*, galleries: Sequence[Gallery]) -> dict[uuid.UUID, str | None]:
    """The cover's thumbnail URL per gallery id: the chosen cover's, else the gallery's first
    photo a guest sees (ready, not hidden, in the studio's order). One query for the page
    (none for an empty one) and one presign call."""
    urls: dict[uuid.UUID, str | None] = {gallery.id: None for gallery in galleries}
    if not galleries:
        return urls
    chosen = [g.cover_photo_id for g in galleries if g.cover_photo_id is not None]
    without = [g.id for g in galleries if g.cover_photo_id is None]
    studio_ids = {gallery.studio_id for gallery in galleries}
    wanted = Q(id__in=chosen)
    if without:
        first = Photo.objects.filter(
            gallery_id=OuterRef("id"), state=Photo.State.READY, hidden=False
        ).order_by("position", "id")
        firsts = Gallery.objects.filter(id__in=without).annotate(
            first_photo=Subquery(first.values("id")[:1])
        )
        wanted |= Q(id__in=firsts.values("first_photo"))
    rows = Photo.objects.filter(wanted, studio_id__in=studio_ids).values_list(
        "gallery_id", "derivatives"
    )
    found = [(gallery_id, key) for gallery_id, d in rows if (key := _derivative_key(d, "thumb"))]
    if found:
        signed = get_storage().presign_get_many(
            keys=[key for _, key in found], expires_in=_url_expiry()
        )
        for (gallery_id, _), url in zip(found, signed, strict=True):
            urls[gallery_id] = url
    return urls


# --- Single downloads -----------------------------------------------------------------------
@dataclass(frozen=True)
class SignedUrl:
    url: str
    expires_at: dt.datetime


def _stem(filename: str) -> str:
    stem, dot, _ext = filename.rpartition(".")
    return stem if dot and stem else filename


def photo_download_url(*, photo: Photo, size: str) -> SignedUrl:
    """An attachment URL for the photo's original or preview, named after the original file.

    Raises ``Conflict(not_ready)`` when that file does not exist (yet).
    """
    if size == "original":
        key = photo.original_key if photo.state in _ORIGINAL_STATES else None
        filename = photo.filename
    else:
        key = _derivative_key(photo.derivatives, size)
        filename = f"{_stem(photo.filename)}.jpg"
    if not key:
        raise Conflict(
            f"The {size} of this photo is not available (state: {photo.state}).",
            code="not_ready",
            extra={"state": photo.state},
        )
    expires_in = _url_expiry()
    url = get_storage().presign_get(key=key, expires_in=expires_in, download_filename=filename)
    return SignedUrl(url=url, expires_at=timezone.now() + dt.timedelta(seconds=expires_in))


# --- Download jobs ----------------------------------------------------------------------------
def download_job_get(*, studio: Studio, job_id: uuid.UUID | str) -> DownloadJob:
    return studio_object_or_404(
        DownloadJob.objects.select_related("gallery", "album"),
        studio=studio,
        object_id=job_id,
        message="Download not found.",
    )


def download_job_list(*, studio: Studio, gallery: Gallery) -> QuerySet[DownloadJob]:
    return (
        DownloadJob.objects.filter(studio=studio, gallery=gallery)
        .select_related("gallery", "album")
        .order_by("-created_at", "-id")[:RECENT_JOBS]
    )


def download_job_reusable(
    *, gallery: Gallery, album_id: uuid.UUID | None, size: str, guests_only: bool = False
) -> DownloadJob | None:
    """A job that already answers this request: queued or running, or ready, unexpired, and
    made after the last change of any photo in the gallery (a photo added, edited, hidden or
    processed since makes a new ZIP)."""
    now = timezone.now()
    candidates = DownloadJob.objects.filter(
        gallery=gallery, album_id=album_id, size=size, state__in=["queued", "running", "ready"]
    ).order_by("-created_at")
    if guests_only:
        candidates = candidates.filter(requested_by__isnull=True)
    for job in candidates[:5]:
        if job.state == DownloadJob.State.READY:
            if job.expires_at is None or job.expires_at <= now:
                continue
            if Photo.objects.filter(gallery=gallery, updated_at__gt=job.created_at).exists():
                continue
        return job
    return None


def download_filename(*, job: DownloadJob) -> str:
    """``<gallery-slug>[-<album>].zip``."""
    name = job.gallery.slug
    if job.album_id is not None:
        name = f"{name}-{slugify(job.album.name) or 'album'}"
    return f"{name}.zip"


def download_job_url(*, job: DownloadJob) -> SignedUrl | None:
    """A fresh attachment URL for a ready job, valid at most until the job expires."""
    now = timezone.now()
    if job.state != DownloadJob.State.READY or not job.result_key:
        return None
    if job.expires_at is not None and job.expires_at <= now:
        return None
    expires_in = _url_expiry()
    if job.expires_at is not None:
        expires_in = max(1, min(expires_in, int((job.expires_at - now).total_seconds())))
    url = get_storage().presign_get(
        key=job.result_key, expires_in=expires_in, download_filename=download_filename(job=job)
    )
    return SignedUrl(url=url, expires_at=now + dt.timedelta(seconds=expires_in))


@dataclass(frozen=True, slots=True)
class ZipItem:
    name: str  # path inside the ZIP
    key: str
    size: int  # expected (declared) size; the ZIP records what was really read
    modified: dt.datetime | None


@dataclass
class ZipPlan:
    items: list[ZipItem]
    skipped: int

    @property
    def bytes_total(self) -> int:
        return sum(item.size for item in self.items)


def _source_key(row: dict, sources: tuple[str, ...]) -> tuple[str, int] | None:
    for source in sources:
        if source == "original":
            if row["state"] in _ORIGINAL_STATES and row["original_key"]:
                return row["original_key"], row["size"]
            continue
        entry = (row["derivatives"] or {}).get(source)
        if isinstance(entry, dict) and entry.get("key"):
            return str(entry["key"]), int(entry.get("bytes") or 0)
    return None


def _scope(job: DownloadJob) -> QuerySet[Photo]:
    photos = Photo.objects.filter(studio_id=job.studio_id, gallery_id=job.gallery_id, hidden=False)
    if job.album_id is not None:
        photos = photos.filter(album_id=job.album_id)
    return photos


def _deliverable(sources: tuple[str, ...]) -> Q:
    conditions = [
        Q(state__in=_ORIGINAL_STATES) & ~Q(original_key="")
        if source == "original"
        else Q(derivatives__has_key=source)
        for source in sources
    ]
    return functools.reduce(operator.or_, conditions)


def download_counts(*, job: DownloadJob) -> tuple[int, int, int]:
    """``(deliverable, skipped, original bytes)`` of a job's scope, in one aggregate query:
    what a request answers at once, before the worker lists the entries."""
    deliverable = _deliverable(ZIP_SOURCES[job.size])
    counts = _scope(job).aggregate(
        total=Count("id"),
        deliverable=Count("id", filter=deliverable),
        size=Sum("size", filter=deliverable),
    )
    bytes_total = (counts["size"] or 0) if job.size == DownloadJob.Size.ORIGINAL else 0
    return counts["deliverable"], counts["total"] - counts["deliverable"], bytes_total


def _rows(job: DownloadJob) -> Iterator[dict]:
    return (
        _scope(job)
        .order_by("position", "id")
        .values(
            "filename", "album_id", "state", "original_key", "derivatives", "size", "captured_at"
        )
        .iterator(chunk_size=2000)
    )


def download_plan(*, job: DownloadJob) -> ZipPlan:
    """The entries of the job's ZIP, in gallery order, with unique, safe names.

    A whole gallery is grouped in one folder per album (in album order; photos outside any
    album at the top level); an album's ZIP is flat. Hidden photos are left out silently
    (the studio hid them from delivery); photos without the requested file are skipped and
    counted.
    """
    sources = ZIP_SOURCES[job.size]
    folders: dict[uuid.UUID, str] = {}
    if job.album_id is None:
        taken_folders: set[str] = set()
        for album in Album.objects.filter(gallery_id=job.gallery_id).order_by("position", "id"):
            folders[album.id] = unique_name(
                sanitize_name(album.name, fallback="album"), taken_folders
            )
    by_folder: dict[str, list[ZipItem]] = {name: [] for name in ["", *folders.values()]}
    taken: set[str] = set()
    skipped = 0
    for row in _rows(job):
        found = _source_key(row, sources)
        if found is None:
            skipped += 1
            continue
        key, size = found
        filename = sanitize_name(row["filename"], fallback="photo")
        if sources[0] != "original":
            filename = f"{_stem(filename)}.jpg"
        folder = folders.get(row["album_id"], "") if job.album_id is None else ""
        name = unique_name(f"{folder}/{filename}" if folder else filename, taken)
        by_folder[folder].append(ZipItem(name, key, size, row["captured_at"]))
    items = [item for entries in by_folder.values() for item in entries]
    return ZipPlan(items=items, skipped=skipped)
