"""Selfie search and "hide me": a guest's selfie in, the gallery's photos of that person out.

Privacy: the selfie is decoded from memory (never written to disk), its embedding lives only
in local variables of one request, and neither is logged or stored. "Hide me" stores the count
of faces it hid, the optional e-mail and a salted hash of the client address, nothing else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from PIL import Image

from faces.embedding import FaceConfig, detect, encode_boxes
from faces.lock_objects import face_index_lock
from faces.matching import FaceIndex, Hit, best_per_photo, majority_person, search
from faces.models import Face, GalleryFaceIndex, HideRequest, Person
from faces.pipeline import face_config
from faces.selectors.index import index_for_gallery
from galleries import imaging
from galleries.models import Gallery, Photo
from picpick.core import ratelimit
from picpick.core.errors import ApplicationError, Conflict, Unprocessable
from picpick.core.observability import metrics
from picpick.core.storage import get_storage


class SelfieTooLarge(ApplicationError):
    status_code = 413
    default_code = "payload_too_large"


# --- Access -----------------------------------------------------------------------------------
def face_search_check(*, gallery: Gallery) -> None:
    """Conflict ``face_search_off`` when the studio or the gallery switched face recognition off.

    409, not 404: the gallery itself is visible to the caller, only the feature is off, and the
    client can say so instead of "gallery not found".
    """
    if not (gallery.face_recognition_enabled and gallery.studio.face_recognition_enabled):
        raise Conflict("Face search is switched off for this gallery.", code="face_search_off")


# --- Rate limits ------------------------------------------------------------------------------
def client_hash(address: str) -> str:
    """A salted hash of the client address: rate-limit keys and hide requests never hold it."""
    return ratelimit.client_hash(address, purpose="selfie-client")


def selfie_rate_limit_take(*, gallery_id: uuid.UUID, address: str) -> int | None:
    """Count one guest request; the seconds to wait when a limit is exceeded, else None.

    The address is checked first: one abusive client does not use up the gallery's share.
    """
    return ratelimit.take(
        [
            (f"selfie:a:{client_hash(address)}", settings.PICPICK_SELFIE_RATE_PER_ADDRESS),
            (f"selfie:g:{gallery_id}", settings.PICPICK_SELFIE_RATE_PER_GALLERY),
        ],
        window=settings.PICPICK_SELFIE_RATE_WINDOW_SECONDS,
    )


# --- The selfie -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SelfieFace:
    embedding: np.ndarray
    faces_in_selfie: int


def _selfie_config(edge: int) -> FaceConfig:
    """The gallery's detection (``pipeline.face_config``) without its second pass.

    One configuration, one difference. A selfie's face fills much of the frame, and the
    second pass looks only for faces smaller than the first pass sees (under ~8% of the long
    edge: crowd-sized, in skin blobs and busy regions), at ~2× the first pass's time per
    request. The first pass is the gallery's own, never finer (``detect_long_edge`` at most
    the gallery's), so every face a selfie search finds in a photo, the gallery path finds in
    the same photo -- the photos people try as a selfie are often gallery photos, and a face
    found in one path and not the other reads as a bug (measured in ``bench/bench_faces.py``).
    """
    gallery = face_config()
    return replace(gallery, detect_long_edge=min(edge, gallery.detect_long_edge), small_faces=False)


def selfie_face(*, data: bytes) -> SelfieFace:
    """The largest face of the selfie, decoded with the media pipeline's limits."""
    if len(data) > settings.PICPICK_SELFIE_MAX_BYTES:
        raise SelfieTooLarge(
            f"The selfie is larger than {settings.PICPICK_SELFIE_MAX_BYTES // (1024 * 1024)} MB."
        )
    edge = settings.PICPICK_SELFIE_DETECT_EDGE
    try:
        decoded = imaging.decode_bytes(
            data, min_long_edge=edge, max_pixels=settings.PICPICK_SELFIE_MAX_PIXELS
        )
    except imaging.ImageRejected as exc:
        if exc.code == "too_many_pixels":
            raise Unprocessable(exc.message, code="too_many_pixels") from exc
        raise ApplicationError(
            "The selfie is not a readable JPEG, PNG or HEIC image.", code="unreadable_image"
        ) from exc
    if min(decoded.original_width, decoded.original_height) < settings.PICPICK_SELFIE_MIN_EDGE:
        raise Unprocessable(
            f"The selfie must be at least {settings.PICPICK_SELFIE_MIN_EDGE} pixels on each side.",
            code="image_too_small",
        )
    image, scale = decoded.image, decoded.scale
    if max(image.size) > edge:
        ratio = edge / max(image.size)
        size = (max(1, round(image.width * ratio)), max(1, round(image.height * ratio)))
        image = image.resize(size, Image.Resampling.BILINEAR)
        scale *= ratio
    if image.mode != "RGB":
        image = image.convert("RGB")
    config = _selfie_config(edge)
    boxes, scores = detect(image, scale=scale, config=config)
    # Only the largest face is searched, and encoding costs ~90 ms a face: encode just that
    # one. Tallest box, as ``largest_face`` measures size.
    order = sorted(range(len(boxes)), key=lambda i: boxes[i][3] - boxes[i][1], reverse=True)
    for i in order:
        # A box encode_boxes cannot use (empty once clipped to the image) falls to the next.
        found = encode_boxes(
            image, boxes=[boxes[i]], scores=[scores[i]], scale=scale, config=config
        )
        if found:
            return SelfieFace(embedding=found[0].embedding, faces_in_selfie=len(boxes))
    raise Unprocessable("No face was found in the selfie.", code="no_face")


def match_distance() -> float:
    return settings.PICPICK_SELFIE_MATCH_MILLI / 1000


# --- Search -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PhotoMatch:
    photo_id: uuid.UUID
    distance: float
    width: int | None
    height: int | None
    thumb_url: str | None
    preview_url: str | None


@dataclass(frozen=True)
class SelfieSearchResult:
    photos: list[PhotoMatch]
    matched_person: Person | None
    faces_in_selfie: int

    @property
    def count(self) -> int:
        return len(self.photos)


def _key(derivatives: dict | None, kind: str) -> str | None:
    entry = (derivatives or {}).get(kind)
    return str(entry["key"]) if isinstance(entry, dict) and entry.get("key") else None


def _photo_matches(
    *, gallery: Gallery, index: FaceIndex, hits: list[Hit], for_guest: bool
) -> list[PhotoMatch]:
    """Ranked photos with signed URLs: one query for the rows, one presign call for all keys."""
    distance_of = {index.photo_ids[index.photo_codes[hit.face_index]]: hit.distance for hit in hits}
    rows = {
        row[0]: row
        for row in Photo.objects.filter(
            gallery=gallery, id__in=list(distance_of), state=Photo.State.READY
        ).values_list("id", "derivatives", "width", "height")
    }
    # Guests see the watermarked preview when the gallery has one; the studio the clean one.
    preview_kinds = (
        ("preview_wm", "preview") if for_guest and gallery.watermark_id else ("preview",)
    )
    ordered = [rows[pid] for pid in distance_of if pid in rows]
    keys: list[str] = []
    wanted: list[tuple[str | None, str | None]] = []
    for _, derivatives, _, _ in ordered:
        thumb = _key(derivatives, "thumb")
        preview = next((k for kind in preview_kinds if (k := _key(derivatives, kind))), None)
        wanted.append((thumb, preview))
        keys.extend(key for key in (thumb, preview) if key)
    signed = (
        get_storage().presign_get_many(keys=keys, expires_in=settings.PICPICK_STORAGE_GET_EXPIRES)
        if keys
        else []
    )
    url_of = dict(zip(keys, signed, strict=True))
    return [
        PhotoMatch(
            photo_id=photo_id,
            distance=round(distance_of[photo_id], 4),
            width=width,
            height=height,
            thumb_url=url_of.get(thumb) if thumb else None,
            preview_url=url_of.get(preview) if preview else None,
        )
        for (photo_id, _, width, height), (thumb, preview) in zip(ordered, wanted, strict=True)
    ]


def selfie_search(*, gallery: Gallery, data: bytes, for_guest: bool) -> SelfieSearchResult:
    """The gallery's photos containing the selfie's person, nearest first."""
    face_search_check(gallery=gallery)
    selfie = selfie_face(data=data)
    index = index_for_gallery(gallery_id=gallery.id)
    hits = search(index, selfie.embedding, threshold=match_distance())
    person_id = majority_person(index, hits)
    per_photo = best_per_photo(index, hits)[: settings.PICPICK_SELFIE_MAX_RESULTS]
    metrics.selfie_searched(matched=bool(per_photo))
    person = None
    if person_id is not None:
        person = Person.objects.filter(id=person_id, gallery=gallery, hidden=False).first()
    return SelfieSearchResult(
        photos=_photo_matches(gallery=gallery, index=index, hits=per_photo, for_guest=for_guest),
        matched_person=person,
        faces_in_selfie=selfie.faces_in_selfie,
    )


# --- Hide me ----------------------------------------------------------------------------------
def hide_me(*, gallery: Gallery, data: bytes, email: str = "", address: str) -> HideRequest:
    """Hide every face of the gallery within the match distance of the selfie's face.

    The faces are flagged, not deleted, so the request keeps working when a photo is
    reprocessed; the index version is bumped in the same transaction, so no process serves
    them from a cached matrix afterwards, and the gallery is marked for re-clustering so the
    people's counts and covers follow.
    """
    face_search_check(gallery=gallery)
    selfie = selfie_face(data=data)
    index = index_for_gallery(gallery_id=gallery.id)
    hits = search(index, selfie.embedding, threshold=match_distance())
    face_ids = [index.face_ids[hit.face_index] for hit in hits]
    now = timezone.now()
    with transaction.atomic():
        state = face_index_lock(gallery=gallery)
        hidden = 0
        if face_ids:
            hidden = Face.objects.filter(gallery=gallery, id__in=face_ids, hidden=False).update(
                hidden=True
            )
        request = HideRequest.objects.create(
            studio_id=gallery.studio_id,
            gallery=gallery,
            faces_hidden=hidden,
            email=email,
            client_hash=client_hash(address),
        )
        GalleryFaceIndex.objects.filter(pk=state.pk).update(
            version=F("version") + 1,
            dirty=True,
            dirty_since=state.dirty_since if state.dirty else now,
        )
    return request
