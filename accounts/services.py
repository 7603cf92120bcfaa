"""Every write of users, studios, memberships and invitations.

Lock order, wherever more than one kind of row is locked: the studio row first, then its
membership rows ordered by id. Nothing here locks in another order, so these writes cannot
deadlock each other.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import secrets
import uuid
import zoneinfo
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.text import slugify
from django.utils.timezone import now

from accounts.currencies import ISO_4217
from accounts.models import Invitation, Membership, Role, Studio, User
from accounts.permissions import Perm, role_has
from accounts.selectors import user_default_membership, user_get_by_email, user_membership_get
from galleries.models import StudioUsage
from picpick.core import ratelimit
from picpick.core.clientaddr import client_address
from picpick.core.email import email_send, email_send_on_commit
from picpick.core.errors import ApplicationError, Conflict, Forbidden, NotFound, RateLimited

logger = logging.getLogger(__name__)

# Studio slugs become subdomains and path segments of the client-facing site; these would clash
# with our own hosts.
RESERVED_SLUGS = frozenset(
    {"admin", "api", "app", "assets", "billing", "docs", "help", "mail", "media", "static",
     "status", "support", "www"}
)  # fmt: skip
# A DNS label: lowercase letters, digits and inner hyphens, 3 to 63 characters.
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


# --- validation helpers --------------------------------------------------------------------


def _invalid(field: str, *messages: str) -> ApplicationError:
    return ApplicationError(
        "The request has invalid fields.", code="validation_error", fields={field: list(messages)}
    )


@functools.cache
def _known_timezones() -> frozenset[str]:
    # available_timezones() walks the tz database on disk on every call.
    return frozenset(zoneinfo.available_timezones())


def _clean_timezone(value: str, *, field: str = "timezone") -> str:
    if value not in _known_timezones():
        raise _invalid(field, f"{value!r} is not an IANA time zone (e.g. 'Europe/Paris').")
    return value


def _clean_currency(value: str, *, field: str = "default_currency") -> str:
    code = value.strip().upper()
    if code not in ISO_4217:
        raise _invalid(field, f"{value!r} is not an ISO 4217 currency code (e.g. 'EUR').")
    return code


def _clean_slug(value: str, *, field: str) -> str:
    slug = value.strip().lower()
    if not _SLUG_RE.match(slug) or "--" in slug:
        raise _invalid(field, "Use 3 to 63 lowercase letters, digits and single inner hyphens.")
    # A slug is also the studio's subdomain: names our own hosts use are never studios'.
    from domains.routing import RESERVED_SUBDOMAINS

    if slug in RESERVED_SLUGS or slug in RESERVED_SUBDOMAINS:
        raise _invalid(field, "This address is reserved.")
    return slug


def _clean_email(value: str) -> str:
    # Stored lower-case (see UserManager): "Alice@X" and "alice@x" are one account.
    return value.strip().lower()


def _check_password(password: str, *, user: User, field: str) -> None:
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise _invalid(field, *exc.messages) from exc


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
    from domains.routing import RESERVED_SUBDOMAINS

    if len(base) < 3 or base in RESERVED_SLUGS or base in RESERVED_SUBDOMAINS:
        base = f"studio-{base}".strip("-")
    candidates = [base] + [f"{base}-{n}" for n in range(2, 21)]
    taken = set(Studio.objects.filter(slug__in=candidates).values_list("slug", flat=True))
    free = next((slug for slug in candidates if slug not in taken), None)
    return free or f"{base}-{secrets.token_hex(3)}"


def _bump_token_version(user: User) -> None:
    # One UPDATE ... SET token_version = token_version + 1: the row lock of the UPDATE makes two
    # concurrent bumps both count, and every token carrying an older version is refused.
    User.objects.filter(pk=user.pk).update(token_version=F("token_version") + 1)
    user.refresh_from_db(fields=["token_version"])


def _app_link(path: str, **params: str) -> str:
    # Built from settings, never from the request's Host header: a forged Host would otherwise
    # send the victim a reset link to the attacker's site.
    return f"{settings.PICPICK_APP_URL}{path}?{urlencode(params)}"


def _remember_studio(user: User, studio: Studio) -> None:
    if user.last_studio_id != studio.id:
        user.last_studio = studio
        user.save(update_fields=["last_studio", "updated_at"])


# --- users and sign-up ---------------------------------------------------------------------


def _user_create(*, email: str, password: str, full_name: str) -> User:
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict("An account with this email already exists.", code="email_taken")
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, password=password, full_name=full_name)
    except IntegrityError as exc:  # a concurrent sign-up with the same email won
        raise Conflict("An account with this email already exists.", code="email_taken") from exc


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
    StudioUsage.objects.create(studio=studio)
    return membership


@transaction.atomic
def user_signup(
    *,
    email: str,
    password: str,
    full_name: str,
    studio_name: str | None = None,
    studio_slug: str | None = None,
    timezone: str | None = None,
    default_currency: str | None = None,
    invitation_token: str | None = None,
) -> tuple[User, Membership]:
    """A new user with either a new studio they own or a membership from an invitation."""
    email = _clean_email(email)
    studio_fields = {
        "studio_name": studio_name,
        "studio_slug": studio_slug,
        "timezone": timezone,
        "default_currency": default_currency,
    }
    if invitation_token:
        given = sorted(key for key, value in studio_fields.items() if value is not None)
        if given:
            raise ApplicationError(
                "Joining a studio by invitation does not create a studio.",
                code="validation_error",
                fields={key: ["Not allowed with invitation_token."] for key in given},
            )
    elif not studio_name:
        raise _invalid("studio_name", "Required unless an invitation_token is given.")
    _check_password(password, user=User(email=email, full_name=full_name), field="password")

    invitation = None
    if invitation_token:
        invitation = _invitation_lock_pending(invitation_token, field="invitation_token")
        if invitation.email != email:
            raise Forbidden(
                "This invitation was sent to another email address.", code="email_mismatch"
            )

    user = _user_create(email=email, password=password, full_name=full_name)
    if invitation is not None:
        membership = _invitation_consume(invitation=invitation, user=user)
    else:
        membership = studio_create(
            owner=user,
            name=studio_name or "",
            slug=studio_slug,
            timezone=timezone or "UTC",
            default_currency=default_currency or "USD",
        )
    _remember_studio(user, membership.studio)
    return user, membership


def _login_attempt(*, email: str, request: HttpRequest | None) -> str:
    """Take one of the account's failed-login slots before the password is checked (so
    simultaneous guesses cannot overrun the limit); the key, to give the slot back when the
    password turns out right. Keyed on the email alone: guesses spread over many addresses
    lock the account all the same, for the rest of the window."""
    key = f"login:{ratelimit.keyed_hash(email, purpose='login-account')}"
    wait = ratelimit.take(
        [(key, settings.PICPICK_LOGIN_LOCKOUT_ATTEMPTS)],
        window=settings.PICPICK_LOGIN_LOCKOUT_WINDOW_SECONDS,
    )
    if wait is not None:
        logger.warning(
            "login refused: account locked after failed logins (email hash %s, client %s)",
            key[6:18],
            client_address(request) if request is not None else "-",
        )
        raise RateLimited(
            "Too many failed logins for this account: wait, or reset the password.",
            retry_after=wait,
            code="account_locked",
        )
    return key


@transaction.atomic
def auth_login(
    *,
    email: str,
    password: str,
    studio_id: uuid.UUID | None = None,
    request: HttpRequest | None = None,
) -> tuple[User, Membership | None]:
    """Check credentials and pick the studio the token pair will be for.

    Unknown email, wrong password and inactive account get the same answer: telling them apart
    would let anyone test which addresses have accounts. Django's backend also runs the hasher
    for an unknown email, so the timing does not tell either; and the lockout counts unknown
    emails like known ones.
    """
    email = _clean_email(email)
    attempt = _login_attempt(email=email, request=request)
    user = authenticate(request, email=email, password=password)
    if user is None:
        raise ApplicationError(
            "The email or password is incorrect.", code="invalid_credentials", status=401
        )
    ratelimit.give_back(attempt, window=settings.PICPICK_LOGIN_LOCKOUT_WINDOW_SECONDS)
    if studio_id is not None:
        membership = user_membership_get(user=user, studio_id=studio_id)
        if membership is None:
            raise Forbidden("You are not a member of this studio.", code="not_a_member")
    else:
        membership = user_default_membership(user=user)
    user.last_login = now()
    update_fields = ["last_login"]
    if membership is not None and user.last_studio_id != membership.studio_id:
        user.last_studio = membership.studio
        update_fields.append("last_studio")
    user.save(update_fields=update_fields)
    return user, membership


@transaction.atomic
def user_logout_all(*, user: User) -> None:
    _bump_token_version(user)


@transaction.atomic
def user_update(*, user: User, full_name: str | None = None) -> User:
    if full_name is not None:
        user.full_name = full_name
        user.save(update_fields=["full_name", "updated_at"])
    return user


@transaction.atomic
def user_password_change(*, user: User, current_password: str, new_password: str) -> User:
    """Set a new password and revoke every token issued so far (other devices included)."""
    if not user.check_password(current_password):
        raise ApplicationError(
            "The current password is incorrect.",
            code="wrong_password",
            fields={"current_password": ["The current password is incorrect."]},
        )
    _check_password(new_password, user=user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password", "updated_at"])
    _bump_token_version(user)
    return user


def password_reset_request(*, email: str) -> None:
    """Email a reset link if the address has an account; the caller cannot tell either way."""
    user = user_get_by_email(email=email)
    if user is None or not user.is_active or not user.has_usable_password():
        return
    link = _app_link(
        "/reset-password",
        uid=urlsafe_base64_encode(force_bytes(user.pk)),
        token=default_token_generator.make_token(user),
    )
    hours = max(1, settings.PASSWORD_RESET_TIMEOUT // 3600)
    email_send(
        subject="Reset your PicPick password",
        body=(
            "Someone asked to reset the password of your PicPick account.\n\n"
            f"Choose a new password here (the link works for {hours} hour(s), once):\n"
            f"{link}\n\nIf it was not you, ignore this email: nothing changes.\n"
        ),
        to=[user.email],
    )


@transaction.atomic
def password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    invalid = ApplicationError(
        "The reset link is invalid, expired or already used.", code="invalid_token"
    )
    try:
        user_id = uuid.UUID(force_str(urlsafe_base64_decode(uid)))
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise invalid from exc
    # Locked so that two uses of one link cannot both pass the check: the token embeds the
    # password hash, so once the first use commits the second one no longer matches.
    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is None or not user.is_active or not default_token_generator.check_token(user, token):
        raise invalid
    _check_password(new_password, user=user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password", "updated_at"])
    _bump_token_version(user)
    return user


# --- studios -------------------------------------------------------------------------------


@transaction.atomic
def studio_switch(*, user: User, studio_id: uuid.UUID) -> Membership:
    membership = user_membership_get(user=user, studio_id=studio_id)
    if membership is None:
        raise Forbidden("You are not a member of this studio.", code="not_a_member")
    _remember_studio(user, membership.studio)
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
    face_recognition_enabled: bool | None = None,
    confirm: str | None = None,
    by: User | None = None,
) -> Studio:
    changed: list[str] = []
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
        from faces.services import faces_disable_studio, faces_enable_studio

        if studio.face_recognition_enabled:
            faces_enable_studio(studio=studio, by=by)
        else:
            faces_disable_studio(studio=studio, by=by)
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
    # Its site stops answering now, not when the cached routing expires.
    from domains.selectors import studio_hostnames
    from domains.services import hosts_forget

    hosts_forget(*studio_hostnames(studio=studio))


# --- members -------------------------------------------------------------------------------


def _lock_members(studio: Studio) -> list[Membership]:
    # Every membership row of the studio, always in id order: the owner count read under this
    # lock stays true until commit (no two demotions can both see "2 owners"), and a fixed
    # order means two such transactions queue instead of deadlocking.
    return list(Membership.objects.select_for_update().filter(studio=studio).order_by("id"))


def _owner_count(members: list[Membership]) -> int:
    return sum(1 for member in members if member.role == Role.OWNER)


def _locked_actor(members: list[Membership], actor: User, perm: Perm) -> Membership:
    # Re-read under the lock: the actor's own role may have changed since the request began.
    mine = next((member for member in members if member.user_id == actor.pk), None)
    if mine is None or not role_has(mine.role, perm):
        raise Forbidden("Your role may not do this.", code="permission_denied")
    return mine


def _locked_target(members: list[Membership], member_id: uuid.UUID) -> Membership:
    target = next((member for member in members if member.id == member_id), None)
    if target is None:
        raise NotFound("No such member in this studio.")
    return target


@transaction.atomic
def member_role_change(
    *, studio: Studio, actor: User, member_id: uuid.UUID, role: str
) -> Membership:
    members = _lock_members(studio)
    mine = _locked_actor(members, actor, Perm.MEMBER_MANAGE)
    target = _locked_target(members, member_id)
    if Role.OWNER in (target.role, role) and mine.role != Role.OWNER:
        raise Forbidden("Only an owner can change an owner or make one.", code="owner_required")
    if target.role == role:
        return target
    if target.role == Role.OWNER and _owner_count(members) == 1:
        raise Conflict("A studio needs at least one owner.", code="last_owner")
    target.role = role
    target.save(update_fields=["role", "updated_at"])
    return target


@transaction.atomic
def member_remove(*, studio: Studio, actor: User, member_id: uuid.UUID) -> None:
    members = _lock_members(studio)
    mine = _locked_actor(members, actor, Perm.MEMBER_MANAGE)
    target = _locked_target(members, member_id)
    if target.role == Role.OWNER and mine.role != Role.OWNER:
        raise Forbidden("Only an owner can remove an owner.", code="owner_required")
    if target.role == Role.OWNER and _owner_count(members) == 1:
        raise Conflict("A studio needs at least one owner.", code="last_owner")
    target.delete()


@transaction.atomic
def studio_leave(*, studio: Studio, user: User) -> None:
    members = _lock_members(studio)
    mine = next((member for member in members if member.user_id == user.pk), None)
    if mine is None:
        raise Forbidden("You are not a member of this studio.", code="not_a_member")
    if mine.role == Role.OWNER and _owner_count(members) == 1:
        raise Conflict("You are the last owner: make someone else owner first.", code="last_owner")
    mine.delete()
    if user.last_studio_id == studio.id:
        user.last_studio = None
        user.save(update_fields=["last_studio", "updated_at"])


# --- invitations ---------------------------------------------------------------------------


def _token_hash(raw: str) -> str:
    # The token has 256 random bits, so a fast unsalted hash is enough: nothing to brute-force.
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def invitation_create(*, studio: Studio, by: Membership, email: str, role: str) -> Invitation:
    """Invite an address; a pending invitation to the same address is replaced."""
    email = _clean_email(email)
    if role == Role.OWNER and by.role != Role.OWNER:
        raise Forbidden("Only an owner can invite an owner.", code="owner_required")
    # The studio row serialises invitation writes of one studio: two concurrent invitations to
    # one address cannot both stay pending.
    list(Studio.objects.select_for_update().filter(pk=studio.pk))
    if Membership.objects.filter(studio=studio, user__email__iexact=email).exists():
        raise Conflict("This person is already a member of the studio.", code="already_member")
    at = now()
    Invitation.objects.filter(
        studio=studio, email=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=at, updated_at=at)
    raw = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        studio=studio,
        email=email,
        role=role,
        invited_by=by.user,
        token_hash=_token_hash(raw),
        expires_at=at + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    link = _app_link("/invitations/accept", token=raw)
    inviter = by.user.full_name or by.user.email
    role_name = invitation.get_role_display()
    body = (
        f"{inviter} invited you to join {studio.name} on PicPick as {role_name}."
        f"\n\nAccept the invitation here (valid for {settings.INVITATION_TTL_DAYS} days):\n{link}\n"
    )
    email_send_on_commit(subject=f"Join {studio.name} on PicPick", body=body, to=[invitation.email])
    return invitation


@transaction.atomic
def invitation_revoke(*, studio: Studio, invitation_id: uuid.UUID) -> None:
    invitation = (
        Invitation.objects.select_for_update().filter(studio=studio, id=invitation_id).first()
    )
    if invitation is None:
        raise NotFound("No such invitation in this studio.")
    if invitation.accepted_at is not None:
        raise Conflict("This invitation has already been accepted.", code="invitation_accepted")
    if invitation.revoked_at is None:
        invitation.revoked_at = now()
        invitation.save(update_fields=["revoked_at", "updated_at"])


def _invitation_lock_pending(raw_token: str, *, field: str) -> Invitation:
    # No select_related here: MariaDB cannot restrict FOR UPDATE to one table, and locking the
    # studio row too would break the studio-then-memberships lock order.
    invitation = (
        Invitation.objects.select_for_update().filter(token_hash=_token_hash(raw_token)).first()
    )
    if invitation is None or not invitation.is_pending or invitation.studio.is_deleted:
        raise ApplicationError(
            "This invitation is invalid, expired, revoked or already used.",
            code="invalid_invitation",
            fields={field: ["Invalid invitation."]},
        )
    return invitation


def _invitation_consume(*, invitation: Invitation, user: User) -> Membership:
    already = Conflict("You are already a member of this studio.", code="already_member")
    if Membership.objects.filter(studio_id=invitation.studio_id, user=user).exists():
        raise already
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                studio=invitation.studio, user=user, role=invitation.role
            )
    except IntegrityError as exc:  # the unique (studio, user) constraint: a concurrent accept
        raise already from exc
    invitation.accepted_at = now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by", "updated_at"])
    return membership


@transaction.atomic
def invitation_accept(*, user: User, raw_token: str) -> Membership:
    invitation = _invitation_lock_pending(raw_token, field="token")
    if invitation.email != _clean_email(user.email):
        raise Forbidden("This invitation was sent to another email address.", code="email_mismatch")
    membership = _invitation_consume(invitation=invitation, user=user)
    _remember_studio(user, membership.studio)
    return membership
