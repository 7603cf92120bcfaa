"""Processing of one photo: decode once, render every derivative, fill the photo row.

``photo_process_ensure`` is what the ``photo_process`` task (and ``load_demo``) calls. It works
out what is missing and does only that:

- an ``uploaded`` photo is claimed with a conditional ``UPDATE`` (uploaded -> processing) and
  fully processed: download the original, check it is the file verified at upload (its size,
  and its SHA-256 where one was declared: ``original_changed`` otherwise), decode it once
  (``galleries.imaging``), render the thumbnail, the preview and, when the gallery has a
  watermark, the watermarked preview, upload them, then write the row in one
  ``save(update_fields=...)`` and hand the decoded working image to ``DECODED_HOOKS`` (the
  faces step plugs in there);
- a ``ready`` photo whose watermarked preview does not match its gallery's watermark gets only
  that one derivative re-rendered (from the stored preview: a few hundred KB, not a 60 MB RAW);
- a ``ready`` photo that a decoded hook says is still *due* (its step never committed: the
  worker was killed after the ready commit, or the hook raised) gets the original decoded
  again for the due hooks only (``faces.pipeline`` sweeps for such photos and queues them);
- anything else (already ``processing``, ``ready`` and current, ``failed``, deleted) is left
  alone, so a duplicate message or a retry changes nothing twice.

Crash safety. Tasks are acknowledged late and rejected when their worker is lost, so a worker
killed mid-photo gets its message redelivered. The redelivered task finds the photo
``processing`` with a recent start and leaves it: it cannot tell a dead worker from a slow one,
and processing twice is what the claim exists to prevent. ``photos_sweep_stuck`` (beat, every
few minutes) resets ``processing`` rows older than the hard time limit plus a margin -- by then
the task is certainly dead -- to ``uploaded`` and queues them again, and fails them with
``too_many_attempts`` once ``attempts`` reaches the limit. It also queues ``uploaded`` photos
whose message was lost. Derivative keys are deterministic (``galleries.keys``), so a rerun
overwrites objects, never duplicates them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import re
import tempfile
import uuid
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Literal, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from galleries import imaging, keys
from galleries.imaging import Decoded, DerivativeSpec, ImageRejected
from galleries.lock_objects import gallery_lock
from galleries.models import Gallery, Photo, Watermark
from galleries.services.progress import gallery_progress_changed
from picpick.core.observability import metrics
from picpick.core.storage import ObjectNotFound, ObjectStorage, StorageError, get_storage

logger = logging.getLogger(__name__)

# The faces step registers here: called with the photo (already ``ready``) and the decoded
# working image of the same pass, so nothing is downloaded or decoded twice. A hook that raises
# is logged and skipped; it never fails the photo. A hook with a ``due(photo) -> bool`` method
# (``RerunnableHook``) can be lost with no harm to the photo -- the ready commit comes first --
# so ``photo_process_ensure`` asks it about a ready photo and re-runs it when due.
DecodedHook = Callable[[Photo, Decoded], None]
DECODED_HOOKS: list[DecodedHook] = []


class RerunnableHook(Protocol):
    def __call__(self, photo: Photo, decoded: Decoded) -> None: ...

    def due(self, photo: Photo) -> bool: ...


THUMB = DerivativeSpec("thumb", 400, 80)
PREVIEW = DerivativeSpec("preview", 2048, 82)
PREVIEW_WM = DerivativeSpec("preview_wm", 2048, 82, watermark=True)

# Thumbnails and previews of a photo never change at their key (a reprocess renders the same
# pixels), so browsers and CDNs may keep them. The watermarked preview is re-rendered at the
# same key when the watermark changes, so it is cached for a day only.
CACHE_IMMUTABLE = "public, max-age=31536000, immutable"
CACHE_WATERMARKED = "public, max-age=86400"

# Seconds after the hard time limit before a ``processing`` row is surely abandoned: covers
# the worker's clock skew and the time between the claim and the task's start.
STUCK_MARGIN_SECONDS = 60
SWEEP_BATCH = 1000
ENQUEUE_CHUNK = 500
# Storage failures worth another try (network, throttling, a full disk on the worker).
TRANSIENT_ERRORS = (StorageError, BotoCoreError, ClientError, OSError)

ReprocessScope = Literal["all", "failed", "watermark"]
REPROCESS_SCOPES: tuple[str, ...] = ("all", "failed", "watermark")


class Outcome(StrEnum):
    PROCESSED = "processed"
    WATERMARK_UPDATED = "watermark_updated"
    STEPS_RERUN = "steps_rerun"
    FAILED = "failed"
    SKIPPED = "skipped"
    MISSING = "missing"


class ProcessingRetry(Exception):
    """A transient failure: the photo was put back to ``uploaded``; the task retries later."""


@dataclass(frozen=True)
class SweepResult:
    requeued_uploaded: int
    reset_processing: int
    failed: int


# --- Helpers ---------------------------------------------------------------------------------
def _now() -> dt.datetime:
    return timezone.now()


def stuck_after() -> dt.timedelta:
    """How long a task may hold a photo before it is surely dead."""
    return dt.timedelta(seconds=settings.PICPICK_PROCESSING_TIME_LIMIT + STUCK_MARGIN_SECONDS)


def _photo_load(photo_id: uuid.UUID | str) -> Photo | None:
    return Photo.objects.select_related("gallery__watermark", "studio").filter(id=photo_id).first()


def wanted_watermark(gallery: Gallery) -> Watermark | None:
    """The watermark to burn into the gallery's guest previews; one with nothing to stamp (no
    text and no logo yet) counts as none."""
    mark = gallery.watermark
    if mark is None or not (mark.text or mark.logo_key):
        return None
    return mark


def watermark_current(photo: Photo, mark: Watermark | None) -> bool:
    """Whether ``preview_wm`` shows exactly ``mark`` (or is absent when there is none).

    The id is compared as well as the version: two watermarks can both be at version 3.
    """
    stamped = photo.derivatives.get("preview_wm")
    if mark is None:
        return stamped is None and photo.watermark_version == 0
    return (
        stamped is not None
        and stamped.get("watermark_id") == str(mark.id)
        and photo.watermark_version == mark.version
    )


def _logo_bytes(storage: ObjectStorage, mark: Watermark | None) -> bytes | None:
    if mark is None or not mark.logo_key:
        return None
    with storage.open(key=mark.logo_key) as stream:
        return stream.read()


def _imaging_mark(mark: Watermark | None, logo: bytes | None) -> imaging.Watermark | None:
    if mark is None:
        return None
    return imaging.Watermark(
        text=mark.text,
        logo=logo,
        position=mark.position,
        opacity=mark.opacity,
        scale=mark.scale,
    )


def _decode(path: Path, *, filename: str, working_edge: int | None = None) -> Decoded:
    """``imaging.decode`` with every unexpected decoder error turned into a rejection: a hostile
    file may make Pillow or LibRaw raise anything, and it must end ``failed``, not crash."""
    try:
        return imaging.decode(
            path,
            filename=filename,
            min_long_edge=working_edge or settings.PICPICK_PROCESSING_WORKING_EDGE,
            max_pixels=settings.PICPICK_MAX_IMAGE_PIXELS,
        )
    except (ImageRejected, SoftTimeLimitExceeded):
        raise
    except MemoryError as exc:
        raise ImageRejected("too_large", "The image needs too much memory to decode.") from exc
    except Exception as exc:  # a hostile file may make the decoder raise anything
        raise ImageRejected("unreadable", f"The image could not be decoded: {exc}") from exc


def _captured_at(meta_time: dt.datetime | None, studio_tz: str) -> dt.datetime | None:
    """Aware capture time: the camera's offset when it wrote one, else the studio's zone (the
    camera clock is set to local time where the studio works)."""
    if meta_time is None:
        return None
    if meta_time.tzinfo is not None:
        return meta_time
    try:
        zone = zoneinfo.ZoneInfo(studio_tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return meta_time.replace(tzinfo=zone)


def _derivative_keys(photo: Photo, names: Iterable[str] = keys.DERIVATIVE_NAMES) -> list[str]:
    return [keys.derivative_key(photo.studio_id, photo.gallery_id, photo.id, n) for n in names]


def _delete_objects(storage: ObjectStorage, object_keys: list[str], *, photo: Photo) -> None:
    """Best effort: a leftover derivative is overwritten by the next run or removed with its
    gallery's folder, so a storage hiccup here must not fail anything."""
    if not object_keys:
        return
    try:
        failed = storage.delete_many(keys=object_keys)
    except TRANSIENT_ERRORS:
        failed = object_keys
    if failed:
        logger.warning("photo %s: could not delete derivatives %s", photo.id, failed)


def _save(photo: Photo, fields: list[str]) -> bool:
    """``save(update_fields=...)``; False when the row was deleted meanwhile (a user deleted
    the photo while it was being processed)."""
    try:
        # A savepoint: the failed save must not break a caller's transaction (load_demo, tests).
        with transaction.atomic():
            photo.save(update_fields=[*fields, "updated_at"])
    except DatabaseError:
        if Photo.objects.filter(id=photo.id).exists():
            raise
        return False
    return True


# Decoders and storage clients name the files they failed on, and those are the worker's own
# temporary copies (its temp folder, "original.jpg"): the studio reads the photo's name instead.
_LOCAL_PATH = re.compile(
    r"(?<![\w.:/\\])/(?:[^\s'\"/\\]+/)+[^\s'\"/\\,;)]*"  # /any/dir/file
    r"|\b[A-Za-z]:\\(?:[^\s'\"\\]+\\)*[^\s'\"\\,;)]*"  # C:\dir\file
)


def _public_message(message: str, *, filename: str) -> str:
    return _LOCAL_PATH.sub(lambda _: filename, message)


def _fail(photo: Photo, code: str, message: str, storage: ObjectStorage | None = None) -> Outcome:
    """Mark the photo failed with a readable reason; derivatives of a previous run go."""
    logger.info("photo %s failed: %s (%s)", photo.id, code, message)
    _delete_objects(storage or get_storage(), _derivative_keys(photo), photo=photo)
    photo.state = Photo.State.FAILED
    photo.failure_code = code[:50]
    photo.failure_message = _public_message(message, filename=photo.filename)[:500]
    photo.derivatives = {}
    photo.watermark_version = 0
    photo.processing_started_at = None
    photo.processed_at = _now()
    _save(
        photo,
        [
            "state",
            "failure_code",
            "failure_message",
            "derivatives",
            "watermark_version",
            "processing_started_at",
            "processed_at",
        ],
    )
    metrics.photo_processed(outcome="failed", source=_file_kind(photo))
    return Outcome.FAILED


def _file_kind(photo: Photo) -> str:
    """What a failed photo was, for the metrics: "raw" or its extension (a bounded set)."""
    ext = imaging.extension_of(photo.filename)
    if ext in imaging.RAW_EXTENSIONS:
        return "raw"
    return imaging.FORMATS[ext][0] if ext in imaging.FORMATS else "other"


def _retry_or_fail(photo: Photo, exc: Exception, storage: ObjectStorage) -> Outcome:
    """A transient error: back to ``uploaded`` for the task's retry, or failed for good once
    the photo used up its attempts."""
    if photo.attempts >= settings.PICPICK_PROCESSING_MAX_ATTEMPTS:
        return _fail(
            photo,
            "storage_error",
            f"Storage failed {photo.attempts} times while processing the photo: {exc}",
            storage,
        )
    logger.warning("photo %s: transient error, will retry: %s", photo.id, exc)
    Photo.objects.filter(id=photo.id, state=Photo.State.PROCESSING).update(
        state=Photo.State.UPLOADED, processing_started_at=None, updated_at=_now()
    )
    raise ProcessingRetry(str(exc)) from exc


def _upload(
    storage: ObjectStorage, photo: Photo, rendered: Sequence[imaging.Derivative], mark
) -> dict:
    out: dict[str, dict] = {}
    for item in rendered:
        key = keys.derivative_key(photo.studio_id, photo.gallery_id, photo.id, item.name)
        watermarked = item.name == PREVIEW_WM.name
        storage.put_object(
            key=key,
            body=item.data,
            content_type=item.content_type,
            cache_control=CACHE_WATERMARKED if watermarked else CACHE_IMMUTABLE,
        )
        entry = {"key": key, "width": item.width, "height": item.height, "bytes": len(item.data)}
        if watermarked:
            entry["watermark_id"] = str(mark.id)
        out[item.name] = entry
    return out


def _run_hooks(photo: Photo, decoded: Decoded, hooks: Sequence[DecodedHook] | None = None) -> None:
    for hook in list(DECODED_HOOKS if hooks is None else hooks):
        try:
            hook(photo, decoded)
        except SoftTimeLimitExceeded:
            logger.error("photo %s: hook %r ran out of time", photo.id, hook)
            raise
        except Exception:
            logger.exception(
                "photo %s (gallery %s, studio %s): decoded hook %r failed",
                photo.id,
                photo.gallery_id,
                photo.studio_id,
                getattr(hook, "__qualname__", hook),
            )


# --- The work --------------------------------------------------------------------------------
def photo_process_ensure(*, photo_id: uuid.UUID | str) -> Outcome:
    """Bring one photo to ``ready`` (or ``failed``), doing only what is missing."""
    now = _now()
    claimed = Photo.objects.filter(id=photo_id, state=Photo.State.UPLOADED).update(
        state=Photo.State.PROCESSING,
        processing_started_at=now,
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    photo = _photo_load(photo_id)
    if photo is None:
        return Outcome.MISSING
    if claimed:
        outcome = _process(photo)  # a transient error raises: the counts did not move
        gallery_progress_changed(gallery_id=photo.gallery_id)
        return outcome
    if photo.state != Photo.State.READY:
        return Outcome.SKIPPED
    outcome = Outcome.SKIPPED
    if not watermark_current(photo, wanted_watermark(photo.gallery)):
        outcome = _rewatermark(photo)
    if outcome in (Outcome.SKIPPED, Outcome.WATERMARK_UPDATED):
        due = _due_hooks(photo)
        if due:
            rerun = _rerun_hooks(photo, due)
            outcome = rerun if rerun != Outcome.SKIPPED else outcome
            gallery_progress_changed(gallery_id=photo.gallery_id)  # faces found again
    return outcome


def _sha256_base64(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode()


def _original_fetch(storage: ObjectStorage, photo: Photo, path: Path) -> str | None:
    """Download the original to ``path`` unless it is not the file verified at upload; then
    say how it differs.

    Presigned PUTs cannot replace an object (``picpick.core.storage``), so a difference means
    the bucket was written some other way, or a multipart file's bytes never matched their
    declared SHA-256 (completion cannot hash them; see ``uploads.complete``). The size is
    checked before the download (a HEAD), the SHA-256 after it: ~55 ms per 64 MiB, small
    beside the decode. Photos from before checksums were required have none to compare.
    """
    info = storage.head(key=photo.original_key)
    if info is None:
        raise ObjectNotFound("No such object.")
    if info.size != photo.size:
        return f"The stored original has {info.size} bytes; {photo.size} were verified."
    if photo.checksum and info.checksum_sha256 and info.checksum_sha256 != photo.checksum:
        return "The stored original's SHA-256 is not the one verified at upload."
    storage.download_to_file(key=photo.original_key, path=path)
    if photo.checksum and _sha256_base64(path) != photo.checksum:
        return "The stored original's SHA-256 is not the one declared at upload."
    return None


def _process(photo: Photo) -> Outcome:
    storage = get_storage()
    mark = wanted_watermark(photo.gallery)
    name = PurePosixPath(photo.original_key).name or photo.filename
    try:
        with tempfile.TemporaryDirectory(prefix="picpick-photo-") as folder:
            path = Path(folder) / f"original.{imaging.extension_of(name)}"
            changed = _original_fetch(storage, photo, path)
            if changed is not None:
                return _fail(photo, "original_changed", changed, storage)
            decoded = _decode(path, filename=name)
        logo = _logo_bytes(storage, mark)
        specs = [PREVIEW, THUMB] + ([PREVIEW_WM] if mark else [])
        rendered = imaging.render_derivatives(decoded, specs, watermark=_imaging_mark(mark, logo))
        derivatives = _upload(storage, photo, rendered, mark)
    except ImageRejected as exc:
        return _fail(photo, exc.code, exc.message, storage)
    except SoftTimeLimitExceeded:
        return _fail(
            photo,
            "timeout",
            f"Processing took longer than {settings.PICPICK_PROCESSING_SOFT_TIME_LIMIT} s.",
            storage,
        )
    except ObjectNotFound:
        return _fail(photo, "original_missing", "The original file is not in storage.", storage)
    except TRANSIENT_ERRORS as exc:
        return _retry_or_fail(photo, exc, storage)

    meta = decoded.metadata
    photo.width = decoded.original_width
    photo.height = decoded.original_height
    photo.captured_at = _captured_at(meta.captured_at, photo.studio.timezone)
    photo.camera = meta.camera[:120]
    photo.exif = meta.as_dict()
    photo.derivatives = derivatives
    photo.watermark_version = mark.version if mark else 0
    photo.processed_at = _now()
    photo.processing_started_at = None
    photo.state = Photo.State.READY
    photo.failure_code = ""
    photo.failure_message = ""
    saved = _save(
        photo,
        [
            "width",
            "height",
            "captured_at",
            "camera",
            "exif",
            "derivatives",
            "watermark_version",
            "processed_at",
            "processing_started_at",
            "state",
            "failure_code",
            "failure_message",
        ],
    )
    if not saved:
        # Deleted while we worked: whoever deleted it may have cleaned up before we uploaded.
        _delete_objects(storage, _derivative_keys(photo), photo=photo)
        return Outcome.MISSING
    if not mark:  # a watermarked preview of a previous run must not outlive its watermark
        _delete_objects(storage, _derivative_keys(photo, [PREVIEW_WM.name]), photo=photo)
    _run_hooks(photo, decoded)
    metrics.photo_processed(outcome="ready", source=decoded.source)
    return Outcome.PROCESSED


def _rewatermark(photo: Photo) -> Outcome:
    """Re-render only ``preview_wm`` (or remove it) for a ``ready`` photo.

    ``processing_started_at`` serves as a lease so two deliveries do not render it twice; the
    photo stays ``ready`` (and visible) throughout. The source is the stored clean preview, the
    same pixels the watermark would be drawn on; the original is used only if it is missing.
    """
    now = _now()
    expired = now - stuck_after()
    leased = (
        Photo.objects.filter(id=photo.id, state=Photo.State.READY)
        .filter(Q(processing_started_at__isnull=True) | Q(processing_started_at__lt=expired))
        .update(processing_started_at=now)
    )
    if not leased:
        return Outcome.SKIPPED
    photo.processing_started_at = now
    mark = wanted_watermark(photo.gallery)
    storage = get_storage()
    derivatives = dict(photo.derivatives)
    try:
        if mark is None:
            _delete_objects(storage, _derivative_keys(photo, [PREVIEW_WM.name]), photo=photo)
            derivatives.pop(PREVIEW_WM.name, None)
        else:
            preview = derivatives.get(PREVIEW.name)
            with tempfile.TemporaryDirectory(prefix="picpick-wm-") as folder:
                if preview:
                    source, name = preview["key"], "preview.jpg"
                else:
                    source = photo.original_key
                    name = PurePosixPath(source).name or photo.filename
                path = Path(folder) / f"source.{imaging.extension_of(name)}"
                storage.download_to_file(key=source, path=path)
                decoded = _decode(path, filename=name, working_edge=PREVIEW_WM.long_edge)
            logo = _logo_bytes(storage, mark)
            rendered = imaging.render_derivatives(
                decoded, [PREVIEW_WM], watermark=_imaging_mark(mark, logo)
            )
            derivatives.update(_upload(storage, photo, rendered, mark))
    except (ImageRejected, ObjectNotFound, SoftTimeLimitExceeded, *TRANSIENT_ERRORS) as exc:
        # The photo keeps its clean preview; release the lease so a later run can try again.
        logger.warning("photo %s: watermarked preview not rendered: %s", photo.id, exc)
        Photo.objects.filter(id=photo.id).update(processing_started_at=None)
        if isinstance(exc, TRANSIENT_ERRORS):
            raise ProcessingRetry(str(exc)) from exc
        return Outcome.FAILED
    photo.derivatives = derivatives
    photo.watermark_version = mark.version if mark else 0
    photo.processing_started_at = None
    if not _save(photo, ["derivatives", "watermark_version", "processing_started_at"]):
        _delete_objects(storage, _derivative_keys(photo), photo=photo)
        return Outcome.MISSING
    return Outcome.WATERMARK_UPDATED


def _due_hooks(photo: Photo) -> list[DecodedHook]:
    due = []
    for hook in list(DECODED_HOOKS):
        check = getattr(hook, "due", None)
        if check is None:
            continue
        try:
            if check(photo):
                due.append(hook)
        except Exception:  # one broken check must not keep the photo from its watermark
            logger.exception("photo %s: decoded hook %r could not say if it is due", photo.id, hook)
    return due


def _rerun_hooks(photo: Photo, hooks: list[DecodedHook]) -> Outcome:
    """Decode the original again for the decoded hooks a ready photo still lacks.

    ``processing_started_at`` is the lease, as for the watermark (two deliveries do not decode
    twice; the photo stays ``ready`` and visible). The original is decoded with the settings of
    the first pass, so a hook sees the working image it would have seen then.
    """
    now = _now()
    leased = (
        Photo.objects.filter(id=photo.id, state=Photo.State.READY)
        .filter(
            Q(processing_started_at__isnull=True) | Q(processing_started_at__lt=now - stuck_after())
        )
        .update(processing_started_at=now)
    )
    if not leased:
        return Outcome.SKIPPED
    storage = get_storage()
    name = PurePosixPath(photo.original_key).name or photo.filename
    try:
        with tempfile.TemporaryDirectory(prefix="picpick-steps-") as folder:
            path = Path(folder) / f"original.{imaging.extension_of(name)}"
            changed = _original_fetch(storage, photo, path)
            if changed is not None:
                # Not the file the photo was made from: its faces must not come from it.
                logger.warning("photo %s: decoded hooks not re-run: %s", photo.id, changed)
                return Outcome.FAILED
            decoded = _decode(path, filename=name)
        _run_hooks(photo, decoded, hooks)
    except (ImageRejected, ObjectNotFound, *TRANSIENT_ERRORS) as exc:
        # The photo keeps what it has. No task retry: the hook's own sweep tries again later,
        # and its bookkeeping (the face sweep counts attempts) bounds how often.
        logger.warning("photo %s: decoded hooks not re-run: %s", photo.id, exc)
        return Outcome.FAILED
    finally:
        Photo.objects.filter(id=photo.id, processing_started_at=now).update(
            processing_started_at=None
        )
    return Outcome.STEPS_RERUN


# --- Queueing --------------------------------------------------------------------------------
def photos_enqueue(photo_ids: Sequence[uuid.UUID | str]) -> None:
    """Queue ``photo_process`` for these photos, after the current transaction commits.

    A few hundred ids per fan-out message keep a 2,000-photo reprocess to a handful of broker
    round trips in the request; the fan-out task sends one message per photo.
    """
    ids = [str(photo_id) for photo_id in photo_ids]
    if not ids:
        return

    def send() -> None:
        from galleries.tasks import photos_process_many

        for start in range(0, len(ids), ENQUEUE_CHUNK):
            photos_process_many.delay(ids[start : start + ENQUEUE_CHUNK])

    transaction.on_commit(send)


@transaction.atomic
def gallery_reprocess(*, gallery: Gallery, by: User | None, scope: ReprocessScope) -> int:
    """Queue the gallery's photos for processing again; returns how many were queued.

    ``all`` and ``failed`` put photos back to ``uploaded`` (set-based, photos being processed
    right now are left alone) so the task processes them from scratch; ``watermark`` keeps
    ``ready`` photos visible and only re-renders their watermarked preview where it is stale.
    """
    if scope not in REPROCESS_SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    gallery = gallery_lock(studio=gallery.studio, gallery_id=gallery.id)
    photos = Photo.objects.filter(gallery=gallery)
    if scope == "watermark":
        ids = list(photos.filter(state=Photo.State.READY).values_list("id", flat=True))
    else:
        states = (
            [Photo.State.READY, Photo.State.FAILED, Photo.State.UPLOADED]
            if scope == "all"
            else [Photo.State.FAILED]
        )
        ids = list(photos.filter(state__in=states).values_list("id", flat=True))
        now = _now()
        for start in range(0, len(ids), SWEEP_BATCH):
            Photo.objects.filter(id__in=ids[start : start + SWEEP_BATCH], state__in=states).update(
                state=Photo.State.UPLOADED,
                failure_code="",
                failure_message="",
                attempts=0,
                processing_started_at=None,
                updated_at=now,
            )
    photos_enqueue(ids)
    gallery_progress_changed(gallery_id=gallery.id)
    return len(ids)


def galleries_rewatermark(*, gallery_ids: Iterable[uuid.UUID]) -> int:
    """After a gallery's watermark changed or a watermark was edited: re-render ``preview_wm``
    of the ready photos of these galleries (queued after commit)."""
    ids = list(
        Photo.objects.filter(gallery_id__in=list(gallery_ids), state=Photo.State.READY).values_list(
            "id", flat=True
        )
    )
    photos_enqueue(ids)
    return len(ids)


# --- The sweeper -----------------------------------------------------------------------------
@transaction.atomic
def photos_sweep_stuck() -> SweepResult:
    """Requeue lost work and unstick photos whose task died (see the module docstring)."""
    now = _now()
    max_attempts = settings.PICPICK_PROCESSING_MAX_ATTEMPTS
    cutoff = now - stuck_after()
    stuck = Photo.objects.filter(state=Photo.State.PROCESSING, processing_started_at__lt=cutoff)
    failed = stuck.filter(attempts__gte=max_attempts).update(
        state=Photo.State.FAILED,
        failure_code="too_many_attempts",
        failure_message=(
            f"Processing did not finish after {max_attempts} attempts "
            "(the worker was lost or ran out of time)."
        ),
        derivatives={},
        watermark_version=0,
        processing_started_at=None,
        processed_at=now,
        updated_at=now,
    )
    reset_ids = list(
        stuck.filter(attempts__lt=max_attempts).values_list("id", flat=True)[:SWEEP_BATCH]
    )
    reset = Photo.objects.filter(
        id__in=reset_ids, state=Photo.State.PROCESSING, processing_started_at__lt=cutoff
    ).update(state=Photo.State.UPLOADED, processing_started_at=None, updated_at=now)
    lost_ids = list(
        Photo.objects.filter(
            state=Photo.State.UPLOADED,
            updated_at__lt=now - dt.timedelta(minutes=settings.PICPICK_PROCESSING_REQUEUE_MINUTES),
        )
        .exclude(id__in=reset_ids)
        .values_list("id", flat=True)[:SWEEP_BATCH]
    )
    # Touched so the next sweep waits a full period again before queueing them once more.
    Photo.objects.filter(id__in=lost_ids, state=Photo.State.UPLOADED).update(updated_at=now)
    photos_enqueue([*reset_ids, *lost_ids])
    if failed or reset or lost_ids:
        logger.warning(
            "photo sweep: %s requeued (lost), %s reset (stuck), %s failed",
            len(lost_ids),
            reset,
            failed,
        )
    return SweepResult(requeued_uploaded=len(lost_ids), reset_processing=reset, failed=failed)
