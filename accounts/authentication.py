"""JWT authentication that also refuses revoked tokens.

Tokens carry ``ver`` (the user's token_version when issued) and ``studio`` (the active studio).
Bumping ``User.token_version`` (password change, "log out everywhere") revokes every token at
once, short-lived access tokens included, at no extra query: the user row is loaded anyway.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed


class StudioJWTAuthentication(JWTAuthentication):
    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        if validated_token.get("ver") != user.token_version:
            raise AuthenticationFailed("The token has been revoked.", code="token_revoked")
        return user


class StudioJWTAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.StudioJWTAuthentication"
    name = "jwtAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
