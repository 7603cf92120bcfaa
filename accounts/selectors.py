"""Reads of users, studios, memberships and invitations. Studio-side reads take the studio."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Invitation, Membership, Studio, StudioUsage, User
from picpick.core.selectors import studio_object_or_404


def membership_for_request(*, user: User, studio_id: str | uuid.UUID | None) -> Membership | None:
    """The caller's membership in the token's studio, with the studio, in one query (none
    when authentication loaded it with the user already)."""
    if not studio_id:
        return None
    loaded = getattr(user, "_token_membership", None)
    if loaded is not None and str(loaded.studio_id) == str(studio_id):
        return loaded
    return (
        Membership.objects.select_related("studio").filter(user=user, studio_id=studio_id).first()
    )


def user_memberships(*, user: User) -> list[Membership]:
    """The caller's memberships in studios that still exist, with the studio, by studio name."""
    return list(
        Membership.objects.select_related("studio")
        .filter(user=user, studio__deleted_at__isnull=True)
        .order_by("studio__name", "studio_id")
    )


def user_membership_get(*, user: User, studio_id: uuid.UUID | str | None) -> Membership | None:
    """The caller's membership in a live studio, or None (not a member, deleted, or no id)."""
    if not studio_id:
        return None
    return (
        Membership.objects.select_related("studio")
        .filter(user=user, studio_id=studio_id, studio__deleted_at__isnull=True)
        .first()
    )


def user_default_membership(*, user: User) -> Membership | None:
    """Where a login without a studio lands: the last studio used, else the oldest membership."""
    if user.last_studio_id:
        membership = user_membership_get(user=user, studio_id=user.last_studio_id)
        if membership is not None:
            return membership
    return (
        Membership.objects.select_related("studio")
        .filter(user=user, studio__deleted_at__isnull=True)
        .order_by("created_at", "id")
        .first()
    )


def user_get_by_email(*, email: str) -> User | None:
    return User.objects.filter(email__iexact=email.strip()).first()


def studio_usage_get(*, studio: Studio) -> StudioUsage:
    """The studio's totals; zeros (unsaved) if the row is missing, since a read never writes."""
    usage = StudioUsage.objects.filter(studio=studio).first()
    return usage if usage is not None else StudioUsage(studio=studio)


def member_list(*, studio: Studio) -> QuerySet[Membership]:
    return Membership.objects.select_related("user").filter(studio=studio)


def member_get(*, studio: Studio, member_id: uuid.UUID) -> Membership:
    return studio_object_or_404(
        Membership.objects.select_related("user"),
        studio=studio,
        object_id=member_id,
        message="No such member in this studio.",
    )


def invitation_list_pending(*, studio: Studio) -> QuerySet[Invitation]:
    return Invitation.objects.select_related("invited_by").filter(
        studio=studio,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    )


def invitation_get(*, studio: Studio, invitation_id: uuid.UUID) -> Invitation:
    return studio_object_or_404(
        Invitation.objects.select_related("invited_by"),
        studio=studio,
        object_id=invitation_id,
        message="No such invitation in this studio.",
    )
