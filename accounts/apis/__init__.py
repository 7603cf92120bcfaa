"""Thin views for sign-up, sessions, the caller, studios, members and invitations.

Views parse input, call one service or selector and shape the output; rules live in services.
Endpoints that work without an access token (sign-up, login, refresh, logout, password reset)
skip authentication entirely, so a stale ``Authorization`` header cannot make them fail.
"""

from accounts.apis.auth import (
    LoginApi,
    LogoutAllApi,
    LogoutApi,
    MeApi,
    PasswordChangeApi,
    PasswordResetApi,
    PasswordResetConfirmApi,
    RefreshApi,
    SignupApi,
    StudioListApi,
    SwitchStudioApi,
)
from accounts.apis.members import (
    InvitationAcceptApi,
    InvitationDetailApi,
    InvitationListApi,
    MemberDetailApi,
    MemberListApi,
    StudioLeaveApi,
)
from accounts.apis.studio import (
    StudioApi,
)

__all__ = [
    "InvitationAcceptApi",
    "InvitationDetailApi",
    "InvitationListApi",
    "LoginApi",
    "LogoutAllApi",
    "LogoutApi",
    "MeApi",
    "MemberDetailApi",
    "MemberListApi",
    "PasswordChangeApi",
    "PasswordResetApi",
    "PasswordResetConfirmApi",
    "RefreshApi",
    "SignupApi",
    "StudioApi",
    "StudioLeaveApi",
    "StudioListApi",
    "SwitchStudioApi",
]
