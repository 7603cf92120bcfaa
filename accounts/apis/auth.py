"""Sign-up, sessions (login, refresh, logout), passwords, the caller and their studios."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.apis.common import (
    AuthOutputSerializer,
    MyStudioOutputSerializer,
    TokenPairOutputSerializer,
    UserOutputSerializer,
    auth_response,
)
from accounts.selectors import (
    user_membership_get,
    user_memberships,
)
from accounts.tokens import token_blacklist, token_refresh
from picpick.core.apis import PublicAPIView
from picpick.core.openapi import error_responses
from picpick.core.serializers import InputSerializer

# --- sign-up and sessions ------------------------------------------------------------------


class SignupApi(PublicAPIView):
    throttle_scope = "auth"

    class SignupInputSerializer(InputSerializer):
        email = serializers.EmailField()
        password = serializers.CharField(max_length=128, trim_whitespace=False)
        full_name = serializers.CharField(max_length=150)
        studio_name = serializers.CharField(max_length=120, required=False)
        studio_slug = serializers.CharField(max_length=63, required=False)
        timezone = serializers.CharField(max_length=64, required=False)
        default_currency = serializers.CharField(max_length=3, required=False)
        invitation_token = serializers.CharField(
            max_length=200,
            required=False,
            help_text="Join the inviting studio instead of creating one (no studio_* fields).",
        )

    @extend_schema(
        operation_id="auth_signup",
        auth=[],
        request=SignupInputSerializer,
        responses={
            201: AuthOutputSerializer,
            **error_responses(
                400,
                403,
                409,
                413,
                429,
                e400="`validation_error` (`fields.password`, `fields.timezone`, ...) or "
                "`invalid_invitation`.",
                e403="`email_mismatch`: the invitation was sent to another address.",
                e409="`email_taken`, `slug_taken` or `already_member`.",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.SignupInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, membership = services.user_signup(**data.validated_data)
        return auth_response(user, membership, status_code=status.HTTP_201_CREATED)


class LoginApi(PublicAPIView):
    throttle_scope = "auth"

    class LoginInputSerializer(InputSerializer):
        email = serializers.EmailField()
        password = serializers.CharField(max_length=128, trim_whitespace=False)
        studio_id = serializers.UUIDField(required=False)

    @extend_schema(
        operation_id="auth_login",
        auth=[],
        request=LoginInputSerializer,
        responses={
            200: AuthOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                429,
                e401="`invalid_credentials` (also for an unknown email).",
                e403="`not_a_member` of the requested studio.",
                e429="`rate_limited`: too many logins from this client; `account_locked`: too "
                "many failed logins for this email, from anywhere (also for an unknown email). "
                "See Retry-After.",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.LoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, membership = services.auth_login(**data.validated_data, request=request)
        return auth_response(user, membership)


class RefreshInputSerializer(InputSerializer):
    refresh = serializers.CharField(max_length=2000)


class RefreshApi(PublicAPIView):
    @extend_schema(
        operation_id="auth_refresh",
        auth=[],
        request=RefreshInputSerializer,
        responses={
            200: TokenPairOutputSerializer,
            **error_responses(
                400,
                401,
                e401="`token_invalid` (expired, tampered or already used) or `token_revoked`.",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tokens = token_refresh(raw_refresh=data.validated_data["refresh"])
        return Response(TokenPairOutputSerializer(tokens).data)


class LogoutApi(PublicAPIView):
    """Needs no access token: a client whose access token expired must still be able to log out."""

    @extend_schema(
        operation_id="auth_logout",
        auth=[],
        request=RefreshInputSerializer,
        responses={
            204: OpenApiResponse(description="The refresh token can no longer be used."),
            **error_responses(400, 401, e401="`token_invalid`: not a valid refresh token."),
        },
    )
    def post(self, request: Request) -> Response:
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token_blacklist(raw_refresh=data.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="auth_logout_all",
        request=None,
        responses={
            204: OpenApiResponse(description="Every access and refresh token is revoked."),
            **error_responses(401),
        },
    )
    def post(self, request: Request) -> Response:
        services.user_logout_all(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetApi(PublicAPIView):
    throttle_scope = "password_reset"

    class PasswordResetInputSerializer(InputSerializer):
        email = serializers.EmailField()

    @extend_schema(
        operation_id="auth_password_reset",
        auth=[],
        request=PasswordResetInputSerializer,
        responses={
            202: OpenApiResponse(
                description="Accepted; an email is sent if the address has an account."
            ),
            **error_responses(400, 429),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.PasswordResetInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_request(email=data.validated_data["email"])
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(PublicAPIView):
    throttle_scope = "auth"

    class PasswordResetConfirmInputSerializer(InputSerializer):
        uid = serializers.CharField(max_length=100)
        token = serializers.CharField(max_length=100)
        new_password = serializers.CharField(max_length=128, trim_whitespace=False)

    @extend_schema(
        operation_id="auth_password_reset_confirm",
        auth=[],
        request=PasswordResetConfirmInputSerializer,
        responses={
            204: OpenApiResponse(description="Password set; every older token is revoked."),
            **error_responses(
                400,
                429,
                e400="`invalid_token` (bad, expired or used link) or `validation_error` "
                "(`fields.new_password`).",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.PasswordResetConfirmInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_confirm(**data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SwitchStudioApi(APIView):
    permission_classes = [IsAuthenticated]

    class SwitchStudioInputSerializer(InputSerializer):
        studio_id = serializers.UUIDField()

    # Not a member answers 403 `not_a_member`, whether the studio exists (somebody else's) or
    # not (a random id): the answer is the same in both cases, so it reveals nothing, and it is
    # the code StudioAPIView gives for a token whose studio the caller has left.
    @extend_schema(
        operation_id="auth_switch_studio",
        request=SwitchStudioInputSerializer,
        responses={
            200: AuthOutputSerializer,
            **error_responses(
                400, 401, 403, e403="`not_a_member` (also for an unknown or deleted studio)."
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.SwitchStudioInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.studio_switch(
            user=request.user, studio_id=data.validated_data["studio_id"]
        )
        return auth_response(request.user, membership)


# --- the caller ----------------------------------------------------------------------------


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    class MeOutputSerializer(serializers.Serializer):
        user = UserOutputSerializer()
        studios = MyStudioOutputSerializer(many=True)
        active_studio_id = serializers.UUIDField(
            allow_null=True, help_text="The studio of the access token, if still a member."
        )

    class MeUpdateInputSerializer(InputSerializer):
        full_name = serializers.CharField(max_length=150, allow_blank=True, required=False)

    def _me(self, request: Request) -> Response:
        memberships = user_memberships(user=request.user)
        token_studio = str((request.auth or {}).get("studio") or "")
        active = next((m.studio_id for m in memberships if str(m.studio_id) == token_studio), None)
        data = {"user": request.user, "studios": memberships, "active_studio_id": active}
        return Response(self.MeOutputSerializer(data).data)

    @extend_schema(
        operation_id="me_get",
        responses={200: MeOutputSerializer, **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        return self._me(request)

    @extend_schema(
        operation_id="me_update",
        request=MeUpdateInputSerializer,
        responses={200: MeOutputSerializer, **error_responses(400, 401)},
    )
    def patch(self, request: Request) -> Response:
        data = self.MeUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_update(user=request.user, **data.validated_data)
        return self._me(request)


class PasswordChangeApi(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "auth"

    class PasswordChangeInputSerializer(InputSerializer):
        current_password = serializers.CharField(max_length=128, trim_whitespace=False)
        new_password = serializers.CharField(max_length=128, trim_whitespace=False)

    @extend_schema(
        operation_id="me_password_change",
        request=PasswordChangeInputSerializer,
        responses={
            200: AuthOutputSerializer,
            **error_responses(
                400,
                401,
                429,
                e400="`wrong_password` (`fields.current_password`) or `validation_error` "
                "(`fields.new_password`).",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.PasswordChangeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_password_change(user=request.user, **data.validated_data)
        # Every token is now revoked, this one too: hand back a pair for the same studio.
        membership = user_membership_get(user=user, studio_id=(request.auth or {}).get("studio"))
        return auth_response(user, membership)


class StudioListApi(APIView):
    permission_classes = [IsAuthenticated]

    class StudioListOutputSerializer(serializers.Serializer):
        results = MyStudioOutputSerializer(many=True)

    @extend_schema(
        operation_id="studios_list",
        responses={200: StudioListOutputSerializer, **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        memberships = user_memberships(user=request.user)
        return Response(self.StudioListOutputSerializer({"results": memberships}).data)
