"""The studio's members and invitations."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.apis.common import (
    AuthOutputSerializer,
    UserOutputSerializer,
    auth_response,
)
from accounts.models import Role
from accounts.permissions import Perm
from accounts.selectors import (
    invitation_list_pending,
    member_list,
)
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body, paginate
from picpick.core.serializers import InputSerializer

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
        return auth_response(request.user, membership)
