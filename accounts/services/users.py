"""Users: sign-up, login (with the per-account lockout), sessions and passwords."""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.tokens import default_token_generator
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.timezone import now

from accounts.models import Membership, User
from accounts.selectors import user_default_membership, user_get_by_email, user_membership_get
from accounts.services.common import (
    app_link,
    bump_token_version,
    check_password,
    clean_email,
    invalid_field,
    remember_studio,
)
from accounts.services.members import invitation_consume, invitation_lock_pending
from accounts.services.studios import studio_create
from picpick.core import ratelimit
from picpick.core.clientaddr import client_address
from picpick.core.email import email_send
from picpick.core.errors import ApplicationError, Conflict, Forbidden, RateLimited

logger = logging.getLogger(__name__)


def _user_create(*, email: str, password: str, full_name: str) -> User:
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict("An account with this email already exists.", code="email_taken")
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, password=password, full_name=full_name)
    except IntegrityError as exc:  # a concurrent sign-up with the same email won
        raise Conflict("An account with this email already exists.", code="email_taken") from exc


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
    email = clean_email(email)
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
        raise invalid_field("studio_name", "Required unless an invitation_token is given.")
    check_password(password, user=User(email=email, full_name=full_name), field="password")

    invitation = None
    if invitation_token:
        invitation = invitation_lock_pending(invitation_token, field="invitation_token")
        if invitation.email != email:
            raise Forbidden(
                "This invitation was sent to another email address.", code="email_mismatch"
            )

    user = _user_create(email=email, password=password, full_name=full_name)
    if invitation is not None:
        membership = invitation_consume(invitation=invitation, user=user)
    else:
        membership = studio_create(
            owner=user,
            name=studio_name or "",
            slug=studio_slug,
            timezone=timezone or "UTC",
            default_currency=default_currency or "USD",
        )
    remember_studio(user, membership.studio)
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
    email = clean_email(email)
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
    bump_token_version(user)


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
    check_password(new_password, user=user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password", "updated_at"])
    bump_token_version(user)
    return user


def password_reset_request(*, email: str) -> None:
    """Email a reset link if the address has an account; the caller cannot tell either way."""
    user = user_get_by_email(email=email)
    if user is None or not user.is_active or not user.has_usable_password():
        return
    link = app_link(
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
    check_password(new_password, user=user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password", "updated_at"])
    bump_token_version(user)
    return user
