"""Output shapes the accounts endpoints share."""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.models import Membership, Role, User
from accounts.tokens import token_pair_for

# --- shared output shapes ------------------------------------------------------------------


class UserOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    full_name = serializers.CharField()
    created_at = serializers.DateTimeField()


class MyStudioOutputSerializer(serializers.Serializer):
    """A studio as seen by one of its members (built from the membership)."""

    id = serializers.UUIDField(source="studio.id")
    name = serializers.CharField(source="studio.name")
    slug = serializers.CharField(source="studio.slug")
    role = serializers.ChoiceField(choices=Role.choices)


class TokenPairOutputSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class AuthOutputSerializer(serializers.Serializer):
    user = UserOutputSerializer()
    studio = MyStudioOutputSerializer(
        allow_null=True, help_text="The studio the tokens are for; null if the user has none."
    )
    access = serializers.CharField()
    refresh = serializers.CharField()


def auth_response(
    user: User, membership: Membership | None, *, status_code: int = status.HTTP_200_OK
) -> Response:
    tokens = token_pair_for(user=user, studio=membership.studio if membership else None)
    data = {"user": user, "studio": membership, **tokens}
    return Response(AuthOutputSerializer(data).data, status=status_code)
