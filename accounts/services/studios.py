"""Studios: creation, settings, switching, soft deletion."""

from __future__ import annotations

import functools
import re
import secrets
import uuid
import zoneinfo
from collections.abc import Callable

import babel
from django.db import IntegrityError, transaction
from django.utils.text import slugify
from django.utils.timezone import now

from accounts.currencies import ISO_4217
from accounts.models import Membership, Role, Studio, User
from accounts.selectors import user_membership_get
from accounts.services.common import invalid_field, remember_studio
from accounts.services.usage import studio_usage_create
from accounts.slugs import RESERVED_SUBDOMAINS
from picpick.core.errors import ApplicationError, Conflict, Forbidden

# Calls into the apps above accounts, registered from their ``AppConfig.ready``, so accounts
# never imports them. Both run inside the transaction of the change.
# (studio, enabled, by): face recognition was switched on or off for the whole studio (faces).
STUDIO_FACES_SWITCH_HOOKS: list[Callable[[Studio, bool, User | None], None]] = []
# (studio, slug it had before): a studio was created, changed or soft-deleted (domains forgets
# its cached hosts, old and new).
STUDIO_CHANGE_HOOKS: list[Callable[[Studio, str], None]] = []


def studio_changed_notify(*, studio: Studio, old_slug: str) -> None:
    """Run ``STUDIO_CHANGE_HOOKS``: for the services here and for staff edits in the admin."""
    for hook in STUDIO_CHANGE_HOOKS:
        hook(studio, old_slug)


# A DNS label: lowercase letters, digits and inner hyphens, 3 to 63 characters.
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


@functools.cache
def _known_timezones() -> frozenset[str]:
    # available_timezones() walks the tz database on disk on every call.
    return frozenset(zoneinfo.available_timezones())


def _clean_timezone(value: str, *, field: str = "timezone") -> str:
    if value not in _known_timezones():
        raise invalid_field(field, f"{value!r} is not an IANA time zone (e.g. 'Europe/Paris').")
    return value


def _clean_currency(value: str, *, field: str = "default_currency") -> str:
    code = value.strip().upper()
    if code not in ISO_4217:
        raise invalid_field(field, f"{value!r} is not an ISO 4217 currency code (e.g. 'EUR').")
    return code


def _clean_locale(value: str, *, field: str = "locale") -> str:
    """A locale Babel knows, in its canonical spelling ("de-de" -> "de_DE")."""
    try:
        return str(babel.Locale.parse(value.strip().replace("-", "_")))
    except (ValueError, TypeError, babel.UnknownLocaleError):
        message = f"{value!r} is not a known locale (e.g. 'en', 'de_DE')."
        raise invalid_field(field, message) from None


def _clean_slug(value: str, *, field: str) -> str:
    slug = value.strip().lower()
    if not _SLUG_RE.match(slug) or "--" in slug:
        raise invalid_field(
            field, "Use 3 to 63 lowercase letters, digits and single inner hyphens."
        )
    # A slug is also the studio's subdomain: names our own hosts use are never studios'.
    if slug in RESERVED_SUBDOMAINS:
        raise invalid_field(field, "This address is reserved.")
    return slug


def _slug_taken(slug: str, *, exclude: Studio | None = None) -> bool:
    # Soft-deleted studios keep their slug: they can be restored, and old links must not start
    # pointing at somebody else's studio.
    studios = Studio.objects.filter(slug=slug)
    if exclude is not None:
        studios = studios.exclude(pk=exclude.pk)
    return studios.exists()


def _derive_slug(name: str) -> str:
    base = slugify(name)[:55].strip("-")
    base = re.sub(r"-{2,}", "-", base)
    if len(base) < 3 or base in RESERVED_SUBDOMAINS:
        base = f"studio-{base}".strip("-")
    candidates = [base] + [f"{base}-{n}" for n in range(2, 21)]
    taken = set(Studio.objects.filter(slug__in=candidates).values_list("slug", flat=True))
    free = next((slug for slug in candidates if slug not in taken), None)
    return free or f"{base}-{secrets.token_hex(3)}"


@transaction.atomic
def studio_create(
    *,
    owner: User,
    name: str,
    slug: str | None = None,
    timezone: str = "UTC",
    default_currency: str = "USD",
) -> Membership:
    """A new studio with ``owner`` as its owner and its (empty) usage row."""
    timezone = _clean_timezone(timezone)
    default_currency = _clean_currency(default_currency)
    explicit_slug = slug is not None
    if explicit_slug:
        slug = _clean_slug(slug, field="studio_slug")
        if _slug_taken(slug):
            raise Conflict("This studio address is already taken.", code="slug_taken")
    else:
        slug = _derive_slug(name)
    studio = Studio(name=name, slug=slug, timezone=timezone, default_currency=default_currency)
    try:
        with transaction.atomic():
            studio.save()
    except IntegrityError as exc:
        if explicit_slug:
            raise Conflict("This studio address is already taken.", code="slug_taken") from exc
        # A concurrent sign-up took the derived slug between the check and the insert.
        studio.slug = f"{slug[:56]}-{secrets.token_hex(3)}"
        studio.save()
    membership = Membership.objects.create(studio=studio, user=owner, role=Role.OWNER)
    studio_usage_create(studio=studio)
    studio_changed_notify(studio=studio, old_slug=studio.slug)  # cached as unknown, maybe
    return membership


@transaction.atomic
def studio_switch(*, user: User, studio_id: uuid.UUID) -> Membership:
    membership = user_membership_get(user=user, studio_id=studio_id)
    if membership is None:
        raise Forbidden("You are not a member of this studio.", code="not_a_member")
    remember_studio(user, membership.studio)
    return membership


# What a request that switches face recognition off (studio or gallery) must send as ``confirm``.
FACE_DATA_DELETE_CONFIRMATION = "delete-face-data"


def face_data_delete_confirm_check(*, confirm: str | None) -> None:
    """Switching face recognition off deletes the people and every correction made to them, and
    nothing brings them back: the request has to say it means that, not just send ``false``."""
    if confirm != FACE_DATA_DELETE_CONFIRMATION:
        raise ApplicationError(
            "Switching face recognition off deletes the face data (people, names, corrections) "
            f'for good; send "confirm": "{FACE_DATA_DELETE_CONFIRMATION}" to go ahead.',
            code="confirmation_required",
            fields={"confirm": [f'Must be "{FACE_DATA_DELETE_CONFIRMATION}".']},
        )


@transaction.atomic
def studio_update(
    *,
    studio: Studio,
    name: str | None = None,
    slug: str | None = None,
    timezone: str | None = None,
    default_currency: str | None = None,
    locale: str | None = None,
    face_recognition_enabled: bool | None = None,
    confirm: str | None = None,
    by: User | None = None,
) -> Studio:
    changed: list[str] = []
    old_slug = studio.slug
    faces_switch = (
        face_recognition_enabled is not None
        and face_recognition_enabled != studio.face_recognition_enabled
    )
    if faces_switch and not face_recognition_enabled:
        face_data_delete_confirm_check(confirm=confirm)
    if faces_switch:
        studio.face_recognition_enabled = bool(face_recognition_enabled)
        changed.append("face_recognition_enabled")
    if name is not None and name != studio.name:
        studio.name = name
        changed.append("name")
    if timezone is not None:
        studio.timezone = _clean_timezone(timezone)
        changed.append("timezone")
    if default_currency is not None:
        studio.default_currency = _clean_currency(default_currency)
        changed.append("default_currency")
    if locale is not None:
        studio.locale = _clean_locale(locale)
        changed.append("locale")
    if slug is not None:
        slug = _clean_slug(slug, field="slug")
        if slug != studio.slug:
            if _slug_taken(slug, exclude=studio):
                raise Conflict("This studio address is already taken.", code="slug_taken")
            studio.slug = slug
            changed.append("slug")
    if changed:
        try:
            with transaction.atomic():
                studio.save(update_fields=[*changed, "updated_at"])
        except IntegrityError as exc:
            raise Conflict("This studio address is already taken.", code="slug_taken") from exc
    if faces_switch:
        for hook in STUDIO_FACES_SWITCH_HOOKS:
            hook(studio, studio.face_recognition_enabled, by)
    if changed:
        studio_changed_notify(studio=studio, old_slug=old_slug)
    return studio


@transaction.atomic
def studio_delete(*, studio: Studio, confirm_slug: str) -> None:
    """Soft-delete: the rows stay (billing, restore), every studio endpoint answers 403."""
    if confirm_slug != studio.slug:
        raise ApplicationError(
            "Type the studio's address to confirm the deletion.",
            code="confirmation_mismatch",
            fields={"confirm_slug": ["Does not match the studio's slug."]},
        )
    Studio.objects.filter(pk=studio.pk, deleted_at__isnull=True).update(deleted_at=now())
    studio.refresh_from_db(fields=["deleted_at"])
    # Its site stops answering now, not when the cached routing expires (domains' hook).
    studio_changed_notify(studio=studio, old_slug=studio.slug)


@transaction.atomic
def studio_logo_key_set(*, studio: Studio, key: str) -> Studio:
    """The storage key of the logo on the studio's site ("" for none); guests stores the image."""
    Studio.objects.filter(id=studio.id).update(logo_key=key)
    studio.logo_key = key
    return studio
