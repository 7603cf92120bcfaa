"""Issuing JWT pairs that carry the active studio and the user's token version."""

from __future__ import annotations

from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Studio, User


def token_pair_for(*, user: User, studio: Studio | None) -> dict[str, str]:
    refresh = RefreshToken.for_user(user)
    refresh["ver"] = user.token_version
    refresh["studio"] = str(studio.id) if studio else None
    # Claims of the refresh token are copied into every access token made from it.
    return {"access": str(refresh.access_token), "refresh": str(refresh)}
