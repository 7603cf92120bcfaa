"""What the accounts services share: input checks, token revocation, links, the last studio."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F

from accounts.models import Studio, User
from picpick.core.errors import ApplicationError


def invalid_field(field: str, *messages: str) -> ApplicationError:
    return ApplicationError(
        "The request has invalid fields.", code="validation_error", fields={field: list(messages)}
    )


def clean_email(value: str) -> str:
    # Stored lower-case (see UserManager): "Alice@X" and "alice@x" are one account.
    return value.strip().lower()


def check_password(password: str, *, user: User, field: str) -> None:
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise invalid_field(field, *exc.messages) from exc


def bump_token_version(user: User) -> None:
    # One UPDATE ... SET token_version = token_version + 1: the row lock of the UPDATE makes two
    # concurrent bumps both count, and every token carrying an older version is refused.
    User.objects.filter(pk=user.pk).update(token_version=F("token_version") + 1)
    user.refresh_from_db(fields=["token_version"])


def app_link(path: str, **params: str) -> str:
    # Built from settings, never from the request's Host header: a forged Host would otherwise
    # send the victim a reset link to the attacker's site.
    return f"{settings.PICPICK_APP_URL}{path}?{urlencode(params)}"


def remember_studio(user: User, studio: Studio) -> None:
    if user.last_studio_id != studio.id:
        user.last_studio = studio
        user.save(update_fields=["last_studio", "updated_at"])
