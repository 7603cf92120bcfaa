"""Guest writes: unlocking a gallery, registering, favourites, downloads; and the studio's
guest-access settings of a gallery.

Wrong passwords and PINs are limited per gallery and client address, and per gallery from all
addresses (a ceiling), in fixed windows counted atomically in the cache
(``picpick.core.ratelimit``): every attempt takes a slot *before* the secret is checked, so
however many guesses arrive at once, at most the limit are evaluated.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Studio
from accounts.services import studio_logo_key_set
from galleries import keys
from galleries.models import DownloadJob, Gallery
from galleries.selectors.delivery import SignedUrl, photo_download_url
from galleries.services.downloads import download_job_request
from galleries.services.galleries import gallery_activity
from galleries.services.watermarks import logo_validate
from guests import selectors
from guests.access import Grant
from guests.models import Favourite, FavouriteList, Visitor
from picpick.core import ratelimit
from picpick.core.errors import (
    ApplicationError,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    Unprocessable,
)
from picpick.core.ids import uuid_or_404
from picpick.core.storage import get_storage

logger = logging.getLogger(__name__)

# A single photo's download per size: the original file, or a derivative.
_SINGLE_SOURCE = {"original": "original", "high": "preview", "web": "preview_wm"}

# (visitor): a guest ticked the marketing opt-in on a gallery (the apps above guests make them
# a contact). Run after the commit, each on its own: a failure is logged, never the guest's.
VISITOR_OPTED_IN_HOOKS: list[Callable[[Visitor], None]] = []
# A list's favourites are told to GALLERY_ACTIVITY_HOOKS at the first and every this many.
FAVOURITES_ACTIVITY_EVERY = 10


class GalleryExpired(ApplicationError):
    status_code = 410
    default_code = "gallery_expired"


# --- Opening a gallery ------------------------------------------------------------------------
def gallery_check_open(*, gallery: Gallery) -> None:
    if selectors.is_expired(gallery):
        raise GalleryExpired(
            "This gallery has expired. Contact the studio to have it extended.",
            extra={"studio": gallery.studio.name},
        )


def grant_current(*, gallery: Gallery, grant: Grant | None) -> Grant | None:
    """The grant that is valid on ``gallery`` now: the guest's own if it is for this gallery
    and its access version, a fresh one for a public gallery, else None (locked)."""
    if (
        grant is not None
        and grant.gallery_id == gallery.id
        and grant.access_version == gallery.access_version
    ):
        return grant
    if gallery.access == Gallery.Access.PUBLIC:
        return Grant(gallery_id=gallery.id, access_version=gallery.access_version)
    return None


def _locked(gallery: Gallery) -> Forbidden:
    return Forbidden(
        f"This gallery is protected by a {gallery.access}.",
        code="gallery_locked",
        extra={"access": gallery.access},
    )


def gallery_open(*, gallery: Gallery, secret: str, address: str) -> Grant:
    """A grant from the gallery's link alone (public) or with its password/PIN. Unlike
    ``grant_require`` it does not ask for the email: the token is what registering needs."""
    if secret:
        return gallery_unlock(gallery=gallery, secret=secret, address=address)
    gallery_check_open(gallery=gallery)
    grant = grant_current(gallery=gallery, grant=None)
    if grant is None:
        raise _locked(gallery)
    return grant


def grant_require(*, gallery: Gallery, grant: Grant | None) -> Grant:
    gallery_check_open(gallery=gallery)
    current = grant_current(gallery=gallery, grant=grant)
    if current is None:
        raise _locked(gallery)
    if gallery.require_registration and current.visitor_id is None:
        raise Forbidden(
            "The studio asks guests to give their email before viewing.",
            code="registration_required",
        )
    return current


def _attempt_keys(*, gallery: Gallery, address: str, what: str) -> tuple[str, str]:
    client = ratelimit.client_hash(address, purpose="guest")
    return f"{what}:{gallery.id}:{client}", f"{what}:{gallery.id}:all"


def _attempt(*, gallery: Gallery, address: str, what: str) -> tuple[str, str]:
    """Take a guess slot of the client address, then one of the gallery's ceiling, before the
    secret is checked; the keys, to give them back on success (only wrong guesses count:
    guests behind one venue address don't lock each other out).

    The address comes first: one that used up its own guesses takes nothing from the gallery's
    ceiling, so it cannot lock out the gallery's other guests; a guess the ceiling refuses was
    not evaluated and costs its address nothing."""
    window = settings.PICPICK_GUEST_UNLOCK_WINDOW_SECONDS
    per_address, per_gallery = _attempt_keys(gallery=gallery, address=address, what=what)
    wait = ratelimit.take([(per_address, settings.PICPICK_GUEST_UNLOCK_ATTEMPTS)], window=window)
    scope = "address"
    if wait is None:
        scope = "gallery"
        wait = ratelimit.take(
            [(per_gallery, settings.PICPICK_GUEST_UNLOCK_GALLERY_ATTEMPTS)], window=window
        )
        if wait is not None:
            ratelimit.give_back(per_address, window=window)
    if wait is not None:
        logger.warning(
            "guest %s attempts exhausted per %s on gallery %s from %s",
            what,
            scope,
            gallery.id,
            address,
        )
        raise RateLimited(
            "Too many attempts. Wait a few minutes and try again.",
            retry_after=wait,
            code="too_many_attempts",
        )
    return per_address, per_gallery


def _attempt_succeeded(keys: tuple[str, str]) -> None:
    for key in keys:
        ratelimit.give_back(key, window=settings.PICPICK_GUEST_UNLOCK_WINDOW_SECONDS)


def gallery_unlock(
    *, gallery: Gallery, secret: str, address: str, grant: Grant | None = None
) -> Grant:
    """A grant for ``gallery`` when ``secret`` is its password or PIN (a visitor the guest
    already registered as is kept)."""
    gallery_check_open(gallery=gallery)
    current = grant_current(gallery=gallery, grant=grant)
    if gallery.access == Gallery.Access.PUBLIC:
        return current  # type: ignore[return-value]  # never None for a public gallery
    keys = _attempt(gallery=gallery, address=address, what="unlock")
    if not secret or not check_password(secret, gallery.access_secret):
        raise Forbidden(f"Wrong {gallery.access}.", code=f"wrong_{gallery.access}")
    _attempt_succeeded(keys)
    visitor_id = grant.visitor_id if grant and grant.gallery_id == gallery.id else None
    return Grant(
        gallery_id=gallery.id, access_version=gallery.access_version, visitor_id=visitor_id
    )


def _visitor_opted_in(visitor: Visitor) -> None:
    def run() -> None:
        for hook in list(VISITOR_OPTED_IN_HOOKS):
            try:
                hook(visitor)
            except Exception:
                logger.exception(
                    "visitor opt-in listener %s failed (visitor %s, gallery %s, studio %s)",
                    getattr(hook, "__qualname__", hook),
                    visitor.id,
                    visitor.gallery_id,
                    visitor.studio_id,
                )

    if VISITOR_OPTED_IN_HOOKS:
        transaction.on_commit(run)


@transaction.atomic
def visitor_register(
    *,
    gallery: Gallery,
    grant: Grant | None,
    email: str,
    name: str = "",
    marketing_opt_in: bool = False,
) -> Grant:
    """Record the guest's email on the gallery (the studio sees who visited); a returning
    email counts one more visit. Needs access to the gallery already.

    ``marketing_opt_in`` records consent the first time it is given; an unticked box on a
    later visit withdraws nothing (the box starts unticked every time)."""
    gallery_check_open(gallery=gallery)
    current = grant_current(gallery=gallery, grant=grant)
    if current is None:
        raise Forbidden("Unlock the gallery first.", code="gallery_locked")
    email = email.strip().lower()
    # An upsert, not UPDATE-then-INSERT: a duplicate-key INSERT leaves InnoDB holding a shared
    # lock, so the same email registering twice at once lost a visit or deadlocked (as in
    # galleries.lock_objects.studio_usage_lock). This takes the row's exclusive lock at once.
    upsert: dict = {"update_conflicts": True, "update_fields": ["last_seen_at"]}
    if connection.features.supports_update_conflicts_with_target:
        upsert["unique_fields"] = ["gallery", "email"]
    Visitor.objects.bulk_create(
        [
            Visitor(
                studio_id=gallery.studio_id,
                gallery=gallery,
                email=email,
                name=name,
                visits=0,
                last_seen_at=timezone.now(),
            )
        ],
        **upsert,
    )
    Visitor.objects.filter(gallery=gallery, email=email).update(
        visits=F("visits") + 1, **({"name": name} if name else {})
    )
    visitor = Visitor.objects.get(gallery=gallery, email=email)
    if visitor.visits == 1:
        gallery_activity(gallery=gallery, activity="first_visit", data={"email": email})
    if marketing_opt_in and not visitor.marketing_opt_in:
        # Conditional, so two registrations at once tell the listeners once.
        opted_in = Visitor.objects.filter(id=visitor.id, marketing_opt_in=False).update(
            marketing_opt_in=True, marketing_opt_in_at=timezone.now()
        )
        if opted_in:
            visitor.refresh_from_db(fields=["marketing_opt_in", "marketing_opt_in_at"])
            visitor.gallery = gallery
            _visitor_opted_in(visitor)
    return current.with_visitor(visitor.id)


@transaction.atomic
def visitors_anonymise(*, studio: Studio, emails: Iterable[str]) -> int:
    """GDPR art. 17 for gallery guests: the studio's visitor rows of these emails lose the
    address (replaced by one that cannot receive mail, unique per row), the name and the
    marketing opt-in, and their favourites lose their comments. Visits and favourites stay:
    they are the studio's counts and a gallery's selections, no longer anyone's. The number of
    visitors anonymised."""
    wanted = {e.strip().lower() for e in emails if e and e.strip()}
    if not wanted:
        return 0
    visitors = list(
        Visitor.objects.select_for_update().filter(studio=studio, email__in=wanted).order_by("id")
    )
    for visitor in visitors:
        visitor.email = f"erased-{visitor.id.hex}@erased.invalid"
        visitor.name = ""
        visitor.marketing_opt_in = False
        visitor.marketing_opt_in_at = None
    Visitor.objects.bulk_update(
        visitors, ["email", "name", "marketing_opt_in", "marketing_opt_in_at"]
    )
    Favourite.objects.filter(studio=studio, favourite_list__visitor__in=visitors).exclude(
        comment=""
    ).update(comment="")
    return len(visitors)


def _visitor_of(gallery: Gallery, grant: Grant) -> Visitor:
    visitor = selectors.visitor_get(gallery=gallery, visitor_id=grant.visitor_id)
    if visitor is None:
        raise Forbidden(
            "Give your email first: favourites are kept under it.", code="email_required"
        )
    return visitor


# --- Favourites -------------------------------------------------------------------------------
@transaction.atomic
def favourite_list_create(*, gallery: Gallery, grant: Grant, name: str) -> FavouriteList:
    visitor = _visitor_of(gallery, grant)
    name = name.strip() or "Favourites"
    if FavouriteList.objects.filter(visitor=visitor, name=name).exists():
        raise Conflict("You already have a list with that name.", code="list_exists")
    if FavouriteList.objects.filter(visitor=visitor).count() >= settings.PICPICK_GUEST_MAX_LISTS:
        raise Unprocessable("You have too many lists.", code="too_many_lists")
    try:
        with transaction.atomic():
            return FavouriteList.objects.create(
                studio_id=gallery.studio_id, gallery=gallery, visitor=visitor, name=name
            )
    except IntegrityError:  # the same name created at the same moment (another device)
        raise Conflict("You already have a list with that name.", code="list_exists") from None


def _default_list(gallery: Gallery, visitor: Visitor) -> FavouriteList:
    found = FavouriteList.objects.filter(visitor=visitor).order_by("created_at", "id").first()
    if found is not None:
        return found
    favourite_list, _ = FavouriteList.objects.get_or_create(
        visitor=visitor,
        name="Favourites",
        defaults={"studio_id": gallery.studio_id, "gallery": gallery},
    )
    return favourite_list


@transaction.atomic
def favourite_set(
    *,
    gallery: Gallery,
    grant: Grant,
    photo_id: uuid.UUID | str,
    comment: str = "",
    list_id: uuid.UUID | str | None = None,
) -> Favourite:
    """Add a photo to a list (the first list when none is named), or change its comment."""
    visitor = _visitor_of(gallery, grant)
    photo = selectors.guest_photo_get(gallery=gallery, photo_id=photo_id)
    favourite_list = (
        selectors.visitor_list_get(visitor=visitor, list_id=list_id)
        if list_id
        else _default_list(gallery, visitor)
    )
    # The list row lock serialises adds to one list: the count stays exact, and the limit is
    # checked against the count read under the lock (not the one read before it).
    favourite_list = FavouriteList.objects.select_for_update().get(id=favourite_list.id)
    favourite = Favourite.objects.filter(favourite_list=favourite_list, photo=photo).first()
    if favourite is not None:
        favourite.comment = comment
        favourite.save(update_fields=["comment", "updated_at"])
        return favourite
    if favourite_list.item_count >= settings.PICPICK_GUEST_MAX_FAVOURITES:
        raise Unprocessable("This list is full.", code="list_full")
    favourite = Favourite.objects.create(
        studio_id=gallery.studio_id, favourite_list=favourite_list, photo=photo, comment=comment
    )
    FavouriteList.objects.filter(id=favourite_list.id).update(item_count=F("item_count") + 1)
    count = favourite_list.item_count + 1  # exact: read under the list's lock
    if count == 1 or count % FAVOURITES_ACTIVITY_EVERY == 0:
        gallery_activity(
            gallery=gallery,
            activity="favourites",
            data={"email": visitor.email, "list": favourite_list.name, "count": count},
        )
    return favourite


@transaction.atomic
def favourite_remove(
    *,
    gallery: Gallery,
    grant: Grant,
    photo_id: uuid.UUID | str,
    list_id: uuid.UUID | str | None = None,
) -> None:
    visitor = _visitor_of(gallery, grant)
    lists = FavouriteList.objects.select_for_update().filter(visitor=visitor)
    if list_id:
        lists = lists.filter(id=selectors.visitor_list_get(visitor=visitor, list_id=list_id).id)
    photo_uuid = uuid_or_404(photo_id, message="No such photo.")
    for favourite_list in lists:
        deleted, _ = Favourite.objects.filter(
            favourite_list=favourite_list, photo_id=photo_uuid
        ).delete()
        if deleted:
            FavouriteList.objects.filter(id=favourite_list.id).update(
                item_count=F("item_count") - deleted
            )


# --- Downloads --------------------------------------------------------------------------------
def _download_check(*, gallery: Gallery, grant: Grant, size: str) -> None:
    if size not in (gallery.download_sizes or []):
        raise Forbidden(
            "The studio does not offer this size for download.",
            code="download_not_allowed",
            extra={"allowed": list(gallery.download_sizes or [])},
        )
    if gallery.download_pin and not grant.downloads_unlocked:
        raise Forbidden("Enter the download PIN first.", code="download_pin_required")


def downloads_unlock(*, gallery: Gallery, grant: Grant, pin: str, address: str) -> Grant:
    if not gallery.download_pin:
        return grant.with_downloads()
    keys = _attempt(gallery=gallery, address=address, what="download-pin")
    if not pin or not check_password(pin, gallery.download_pin):
        raise Forbidden("Wrong download PIN.", code="wrong_download_pin")
    _attempt_succeeded(keys)
    return grant.with_downloads()


def photo_download(
    *, gallery: Gallery, grant: Grant, photo_id: uuid.UUID | str, size: str
) -> SignedUrl:
    _download_check(gallery=gallery, grant=grant, size=size)
    photo = selectors.guest_photo_get(gallery=gallery, photo_id=photo_id)
    source = _SINGLE_SOURCE[size]
    if source == "preview_wm" and not (photo.derivatives or {}).get("preview_wm"):
        source = "preview"  # no watermark on this gallery: web size is the plain preview
    return photo_download_url(photo=photo, size=source)


@transaction.atomic
def zip_request(
    *, gallery: Gallery, grant: Grant, size: str, album_id: uuid.UUID | None
) -> tuple[DownloadJob, bool]:
    _download_check(gallery=gallery, grant=grant, size=size)
    visitor = selectors.visitor_get(gallery=gallery, visitor_id=grant.visitor_id)
    # Guests never see members' jobs (zip_job_get), so only guests' jobs are reused: guests
    # asking at the same moment share one.
    email = visitor.email if visitor is not None else ""
    job, created = download_job_request(
        gallery=gallery, by=None, size=size, album_id=album_id, requested_by_email=email
    )
    # Every guest's ask, also one that shares a job another guest started.
    gallery_activity(
        gallery=gallery,
        activity="zip_requested",
        data={"email": email, "size": size, "album_id": str(album_id) if album_id else None},
    )
    return job, created


def zip_job_get(*, gallery: Gallery, grant: Grant, job_id: uuid.UUID | str) -> DownloadJob:
    """A ZIP job of this gallery (guests see only jobs without a studio member behind them),
    while the guest may download its size: guests share jobs, so a job id alone must not get
    round the download PIN or a size the studio stopped offering."""
    job_id = uuid_or_404(job_id, message="No such download.")
    job = DownloadJob.objects.filter(gallery=gallery, id=job_id, requested_by__isnull=True).first()
    if job is None:
        raise NotFound("No such download.")
    _download_check(gallery=gallery, grant=grant, size=job.size)
    return job


# --- The studio's site ------------------------------------------------------------------------
@transaction.atomic
def studio_logo_set(*, studio: Studio, data: bytes) -> Studio:
    """The logo on the studio's site: a PNG, checked like a watermark logo (size, pixels)."""
    logo_validate(data)
    key = keys.studio_logo_key(studio.id)
    # Written before the commit: a failed transaction leaves an object the next upload
    # replaces (the key is fixed per studio).
    get_storage().put_object(
        key=key, body=data, content_type="image/png", cache_control="private, max-age=300"
    )
    return studio_logo_key_set(studio=studio, key=key)


@transaction.atomic
def studio_logo_remove(*, studio: Studio) -> Studio:
    key = studio.logo_key
    studio_logo_key_set(studio=studio, key="")
    if key:
        transaction.on_commit(lambda: get_storage().delete_many(keys=[key]))
    return studio
