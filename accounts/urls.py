from django.urls import path

from accounts import apis

app_name = "accounts"
urlpatterns = [
    path("auth/signup/", apis.SignupApi.as_view(), name="signup"),
    path("auth/login/", apis.LoginApi.as_view(), name="login"),
    path("auth/refresh/", apis.RefreshApi.as_view(), name="refresh"),
    path("auth/logout/", apis.LogoutApi.as_view(), name="logout"),
    path("auth/logout-all/", apis.LogoutAllApi.as_view(), name="logout-all"),
    path("auth/password-reset/", apis.PasswordResetApi.as_view(), name="password-reset"),
    path(
        "auth/password-reset/confirm/",
        apis.PasswordResetConfirmApi.as_view(),
        name="password-reset-confirm",
    ),
    path("auth/switch-studio/", apis.SwitchStudioApi.as_view(), name="switch-studio"),
    path("me/", apis.MeApi.as_view(), name="me"),
    path("me/password/", apis.PasswordChangeApi.as_view(), name="password-change"),
    path("studios/", apis.StudioListApi.as_view(), name="studios"),
    path("studio/", apis.StudioApi.as_view(), name="studio"),
    path("studio/leave/", apis.StudioLeaveApi.as_view(), name="studio-leave"),
    path("studio/members/", apis.MemberListApi.as_view(), name="members"),
    path("studio/members/<uuid:member_id>/", apis.MemberDetailApi.as_view(), name="member"),
    path("studio/invitations/", apis.InvitationListApi.as_view(), name="invitations"),
    path(
        "studio/invitations/<uuid:invitation_id>/",
        apis.InvitationDetailApi.as_view(),
        name="invitation",
    ),
    path("invitations/accept/", apis.InvitationAcceptApi.as_view(), name="invitation-accept"),
]
