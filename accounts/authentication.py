"""JWT authentication that also refuses revoked tokens.

Tokens carry ``ver`` (the user's token_version when issued) and ``studio`` (the active studio).
Bumping ``User.token_version`` (password change, "log out everywhere") revokes every token at
once, short-lived access tokens included, at no extra query: the user row is loaded anyway.

A token naming a studio loads the user with their membership of it (and the studio) in one
query; the membership is kept on the user for ``accounts.selectors.membership_for_request``,
which every studio API view asks next (two queries a request became one). A user who is not a
member of the token's studio is loaded alone, as before, and then refused by the view.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from rest_framework_simplejwt.settings import api_settings

from accounts.models import Membership

# The attribute a user loaded with its membership carries it under.
LOADED_MEMBERSHIP = "_token_membership"


class StudioJWTAuthentication(JWTAuthentication):
    def get_user(self, validated_token):
        studio_id = validated_token.get("studio")
        user_id = validated_token.get(api_settings.USER_ID_CLAIM)
        membership = None
        simple = api_settings.USER_ID_FIELD == "id" and not api_settings.CHECK_REVOKE_TOKEN
        if studio_id and user_id and simple:
            try:
                membership = (
                    Membership.objects.select_related("user", "studio")
                    .filter(user_id=user_id, studio_id=studio_id)
                    .first()
                )
            except (ValueError, TypeError, ValidationError):  # not an id: the usual path says why
                membership = None
        if membership is None:
            user = super().get_user(validated_token)
        else:
            user = membership.user
            if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
                raise AuthenticationFailed("User is inactive", code="user_inactive")
            setattr(user, LOADED_MEMBERSHIP, membership)
        if validated_token.get("ver") != user.token_version:
            raise AuthenticationFailed("The token has been revoked.", code="token_revoked")
        return user


class StudioJWTAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.StudioJWTAuthentication"
    name = "jwtAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
