"""Every write of users, studios, memberships, invitations and usage totals, by sub-domain.

Lock order, wherever more than one kind of row is locked: the studio row first, then its
membership rows ordered by id, then the studio's usage row (then, in galleries, the gallery and
its albums: ``galleries.lock_objects``). Nothing locks in another order, so these writes cannot
deadlock each other.
"""

from accounts.services.members import (
    invitation_accept,
    invitation_create,
    invitation_revoke,
    member_remove,
    member_role_change,
    studio_leave,
)
from accounts.services.studios import (
    FACE_DATA_DELETE_CONFIRMATION,
    STUDIO_CHANGE_HOOKS,
    STUDIO_FACES_SWITCH_HOOKS,
    face_data_delete_confirm_check,
    studio_changed_notify,
    studio_create,
    studio_delete,
    studio_logo_key_set,
    studio_switch,
    studio_update,
)
from accounts.services.usage import (
    studio_usage_add,
    studio_usage_create,
    studio_usage_lock,
    studio_usage_set,
)
from accounts.services.users import (
    auth_login,
    password_reset_confirm,
    password_reset_request,
    user_logout_all,
    user_password_change,
    user_signup,
    user_update,
)

__all__ = [
    "FACE_DATA_DELETE_CONFIRMATION",
    "STUDIO_CHANGE_HOOKS",
    "STUDIO_FACES_SWITCH_HOOKS",
    "auth_login",
    "face_data_delete_confirm_check",
    "invitation_accept",
    "invitation_create",
    "invitation_revoke",
    "member_remove",
    "member_role_change",
    "password_reset_confirm",
    "password_reset_request",
    "studio_changed_notify",
    "studio_create",
    "studio_delete",
    "studio_leave",
    "studio_logo_key_set",
    "studio_switch",
    "studio_update",
    "studio_usage_add",
    "studio_usage_create",
    "studio_usage_lock",
    "studio_usage_set",
    "user_logout_all",
    "user_password_change",
    "user_signup",
    "user_update",
]
