"""Thin views for sign-up, sessions, the caller, studios, members and invitations.

Views parse input, call one service or selector and shape the output; rules live in services.
Endpoints that work without an access token (sign-up, login, refresh, logout, password reset)
skip authentication entirely, so a stale ``Authorization`` header cannot make them fail.
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.models import Membership, Role, User
from accounts.permissions import Perm
from accounts.selectors import (
    invitation_list_pending,
    member_list,
    studio_usage_get,
    user_membership_get,
    user_memberships,
)
from accounts.tokens import token_blacklist, token_pair_for, token_refresh
from picpick.core.apis import PublicAPIView, StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body, paginate
from picpick.core.serializers import InputSerializer

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


def _auth_response(
    user: User, membership: Membership | None, *, status_code: int = status.HTTP_200_OK
) -> Response:
    tokens = token_pair_for(user=user, studio=membership.studio if membership else None)
    data = {"user": user, "studio": membership, **tokens}
    return Response(AuthOutputSerializer(data).data, status=status_code)


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
        return _auth_response(user, membership, status_code=status.HTTP_201_CREATED)


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
        return _auth_response(user, membership)


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
        return _auth_response(request.user, membership)


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
        return _auth_response(user, membership)


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


# --- the current studio --------------------------------------------------------------------


class StudioUsageOutputSerializer(serializers.Serializer):
    gallery_count = serializers.IntegerField()
    photo_count = serializers.IntegerField()
    storage_bytes = serializers.IntegerField()


class StudioOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.CharField()
    timezone = serializers.CharField()
    default_currency = serializers.CharField()
    plan = serializers.CharField()
    face_recognition_enabled = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    role = serializers.ChoiceField(choices=Role.choices, help_text="The caller's role.")
    usage = StudioUsageOutputSerializer()


class _DeleteWithBodySchema(AutoSchema):
    """Documents the DELETE body too (spectacular only documents PUT/PATCH/POST bodies).

    Deleting a studio takes a typed confirmation, like GitHub's "type the repository name".
    """

    def _get_request_body(self, direction="request"):
        if self.method != "DELETE":
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"


class StudioApi(StudioAPIView):
    schema = _DeleteWithBodySchema()
    permissions = {"GET": Perm.STUDIO_VIEW, "PATCH": Perm.STUDIO_EDIT, "DELETE": Perm.STUDIO_DELETE}

    class StudioUpdateInputSerializer(InputSerializer):
        name = serializers.CharField(max_length=120, required=False)
        slug = serializers.CharField(max_length=63, required=False)
        timezone = serializers.CharField(max_length=64, required=False)
        default_currency = serializers.CharField(max_length=3, required=False)
        face_recognition_enabled = serializers.BooleanField(
            required=False,
            help_text="Off deletes the face data of every gallery at once (and needs `confirm`); "
            "on again queues the photos of galleries that have it on for processing.",
        )
        confirm = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=32,
            help_text='`"delete-face-data"`: required to switch face recognition off.',
        )

    class StudioDeleteInputSerializer(InputSerializer):
        confirm_slug = serializers.CharField(max_length=63)

    def _studio(self) -> Response:
        studio = self.studio
        fields = (
            "id",
            "name",
            "slug",
            "timezone",
            "default_currency",
            "plan",
            "face_recognition_enabled",
            "created_at",
        )
        data = {name: getattr(studio, name) for name in fields}
        data.update(role=self.membership.role, usage=studio_usage_get(studio=studio))
        return Response(StudioOutputSerializer(data).data)

    @extend_schema(
        operation_id="studio_get",
        responses={200: StudioOutputSerializer, **error_responses(401, 403)},
    )
    def get(self, request: Request) -> Response:
        return self._studio()

    @extend_schema(
        operation_id="studio_update",
        request=StudioUpdateInputSerializer,
        responses={
            200: StudioOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                409,
                e400="`validation_error`; `confirmation_required`: face recognition switched "
                "off without `confirm`.",
                e409="`slug_taken`.",
            ),
        },
    )
    def patch(self, request: Request) -> Response:
        data = self.StudioUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.studio_update(studio=self.studio, by=request.user, **data.validated_data)
        return self._studio()

    @extend_schema(
        operation_id="studio_delete",
        request=StudioDeleteInputSerializer,
        responses={
            204: OpenApiResponse(description="Soft-deleted; studio endpoints now answer 403."),
            **error_responses(
                400,
                401,
                403,
                e400="`confirmation_mismatch`: `confirm_slug` is not the studio's slug.",
            ),
        },
    )
    def delete(self, request: Request) -> Response:
        data = self.StudioDeleteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.studio_delete(studio=self.studio, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- members -------------------------------------------------------------------------------


class MemberOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The membership id (used in member URLs).")
    user = UserOutputSerializer()
    role = serializers.ChoiceField(choices=Role.choices)
    created_at = serializers.DateTimeField(help_text="When the member joined.")


class MemberPageSerializer(serializers.Serializer):
    results = MemberOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


def _page_response(
    queryset: QuerySet,
    request: Request,
    *,
    ordering: list[str],
    output: type[serializers.Serializer],
) -> Response:
    query = PageParams(data=request.query_params)
    query.is_valid(raise_exception=True)
    page = paginate(
        queryset,
        ordering=ordering,
        cursor=query.validated_data.get("cursor"),
        page_size=query.validated_data["page_size"],
    )
    return Response(page_body(page, output(page.items, many=True).data))


class MemberListApi(StudioAPIView):
    permissions = {"GET": Perm.MEMBER_VIEW}

    @extend_schema(
        operation_id="studio_members_list",
        parameters=[PageParams],
        responses={200: MemberPageSerializer, **error_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        return _page_response(
            member_list(studio=self.studio),
            request,
            ordering=["created_at"],
            output=MemberOutputSerializer,
        )


class MemberDetailApi(StudioAPIView):
    permissions = {"PATCH": Perm.MEMBER_MANAGE, "DELETE": Perm.MEMBER_MANAGE}

    class MemberUpdateInputSerializer(InputSerializer):
        role = serializers.ChoiceField(choices=Role.choices)

    @extend_schema(
        operation_id="studio_member_update",
        request=MemberUpdateInputSerializer,
        responses={
            200: MemberOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e403="`permission_denied`, or `owner_required` (only an owner changes or makes "
                "an owner).",
                e409="`last_owner`: the studio would have no owner left.",
            ),
        },
    )
    def patch(self, request: Request, member_id: uuid.UUID) -> Response:
        data = self.MemberUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.member_role_change(
            studio=self.studio, actor=request.user, member_id=member_id, **data.validated_data
        )
        return Response(MemberOutputSerializer(membership).data)

    @extend_schema(
        operation_id="studio_member_remove",
        responses={
            204: OpenApiResponse(description="Removed from the studio."),
            **error_responses(
                401,
                403,
                404,
                409,
                e403="`permission_denied`, or `owner_required` (only an owner removes an owner).",
                e409="`last_owner`: the studio would have no owner left.",
            ),
        },
    )
    def delete(self, request: Request, member_id: uuid.UUID) -> Response:
        services.member_remove(studio=self.studio, actor=request.user, member_id=member_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StudioLeaveApi(StudioAPIView):
    permissions = {"POST": Perm.STUDIO_VIEW}

    @extend_schema(
        operation_id="studio_leave",
        request=None,
        responses={
            204: OpenApiResponse(description="The caller is no longer a member."),
            **error_responses(401, 403, 409, e409="`last_owner`: name another owner first."),
        },
    )
    def post(self, request: Request) -> Response:
        services.studio_leave(studio=self.studio, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- invitations ---------------------------------------------------------------------------


class InvitationOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)
    invited_by = serializers.EmailField(source="invited_by.email", allow_null=True, default=None)
    expires_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()


class InvitationPageSerializer(serializers.Serializer):
    results = InvitationOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class InvitationListApi(StudioAPIView):
    permissions = {"GET": Perm.MEMBER_VIEW, "POST": Perm.MEMBER_INVITE}

    class InvitationCreateInputSerializer(InputSerializer):
        email = serializers.EmailField()
        role = serializers.ChoiceField(choices=Role.choices)

    @extend_schema(
        operation_id="studio_invitations_list",
        parameters=[PageParams],
        responses={200: InvitationPageSerializer, **error_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        return _page_response(
            invitation_list_pending(studio=self.studio),
            request,
            ordering=["-created_at"],
            output=InvitationOutputSerializer,
        )

    @extend_schema(
        operation_id="studio_invitation_create",
        request=InvitationCreateInputSerializer,
        responses={
            201: InvitationOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                409,
                e403="`permission_denied`, or `owner_required` (only owners invite owners).",
                e409="`already_member`.",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InvitationCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = services.invitation_create(
            studio=self.studio, by=self.membership, **data.validated_data
        )
        return Response(InvitationOutputSerializer(invitation).data, status=status.HTTP_201_CREATED)


class InvitationDetailApi(StudioAPIView):
    permissions = {"DELETE": Perm.MEMBER_INVITE}

    @extend_schema(
        operation_id="studio_invitation_revoke",
        responses={
            204: OpenApiResponse(description="Revoked (also if it already was)."),
            **error_responses(
                401, 403, 404, 409, e409="`invitation_accepted`: too late to revoke."
            ),
        },
    )
    def delete(self, request: Request, invitation_id: uuid.UUID) -> Response:
        services.invitation_revoke(studio=self.studio, invitation_id=invitation_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationAcceptApi(APIView):
    permission_classes = [IsAuthenticated]

    class InvitationAcceptInputSerializer(InputSerializer):
        token = serializers.CharField(max_length=200)

    @extend_schema(
        operation_id="invitation_accept",
        request=InvitationAcceptInputSerializer,
        responses={
            200: AuthOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                409,
                e400="`invalid_invitation`: unknown, expired, revoked or already used.",
                e403="`email_mismatch`: the invitation was sent to another address.",
                e409="`already_member`.",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InvitationAcceptInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.invitation_accept(
            user=request.user, raw_token=data.validated_data["token"]
        )
        return _auth_response(request.user, membership)
