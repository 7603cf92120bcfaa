"""Issuing, rotating and revoking JWT pairs that carry the active studio and the token version.

simplejwt's stock refresh serializer knows nothing of our ``ver`` claim, so a refresh token
issued before a password change would keep minting access tokens (each refused on use, but a
client would loop). Rotation here also checks the blacklist under a row lock: two concurrent
refreshes of one token cannot both succeed.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Studio, User
from picpick.core.errors import ApplicationError


class TokenInvalid(ApplicationError):
    status_code = 401
    default_code = "token_invalid"


class TokenRevoked(ApplicationError):
    status_code = 401
    default_code = "token_revoked"


class _RefreshTokenSignedOnly(RefreshToken):
    """Verifies signature, expiry and type but leaves the blacklist to the caller.

    The blacklist is checked again under a lock by the caller; checking it here too would only
    add a query and an unlocked (racy) answer.
    """

    def check_blacklist(self) -> None:
        return None


def token_pair_for(
    *, user: User, studio: Studio | None = None, studio_id: uuid.UUID | str | None = None
) -> dict[str, str]:
    if studio is not None:
        studio_id = studio.id
    refresh = RefreshToken.for_user(user)
    refresh["ver"] = user.token_version
    refresh["studio"] = str(studio_id) if studio_id else None
    # Claims of the refresh token are copied into every access token made from it.
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def refresh_token_parse(raw: str) -> RefreshToken:
    try:
        return _RefreshTokenSignedOnly(raw)
    except TokenError as exc:
        raise TokenInvalid("The refresh token is invalid or expired.") from exc


def _lock_outstanding(token: RefreshToken) -> OutstandingToken:
    outstanding = OutstandingToken.objects.select_for_update().filter(jti=token["jti"]).first()
    if outstanding is None:
        # Every refresh token we issue is recorded when issued; one that is signed but unknown
        # was not issued by this deployment's token service (or its row was purged).
        raise TokenInvalid("The refresh token is unknown.")
    return outstanding


@transaction.atomic
def token_refresh(*, raw_refresh: str) -> dict[str, str]:
    """A new pair for a valid refresh token; the given one is blacklisted (single use)."""
    token = refresh_token_parse(raw_refresh)
    outstanding = _lock_outstanding(token)
    if BlacklistedToken.objects.filter(token=outstanding).exists():
        raise TokenInvalid("The refresh token has already been used or revoked.")
    user = User.objects.filter(pk=token.get("sub")).first()
    if user is None or not user.is_active:
        raise TokenInvalid("The refresh token's user no longer exists or is inactive.")
    if token.get("ver") != user.token_version:
        raise TokenRevoked("The refresh token has been revoked.")
    BlacklistedToken.objects.create(token=outstanding)
    return token_pair_for(user=user, studio_id=token.get("studio"))


@transaction.atomic
def token_blacklist(*, raw_refresh: str) -> None:
    """Log one session out. Blacklisting an already-blacklisted token is a no-op."""
    token = refresh_token_parse(raw_refresh)
    outstanding = _lock_outstanding(token)
    BlacklistedToken.objects.get_or_create(token=outstanding)
