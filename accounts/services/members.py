"""Members of a studio and invitations to join one."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.timezone import now

from accounts.models import Invitation, Membership, Role, Studio, User
from accounts.permissions import Perm, role_has
from accounts.services.common import app_link, clean_email, remember_studio
from picpick.core.email import email_send_on_commit
from picpick.core.errors import ApplicationError, Conflict, Forbidden, NotFound


def _lock_members(studio: Studio) -> list[Membership]:
    # Every membership row of the studio, always in id order: the owner count read under this
    # lock stays true until commit (no two demotions can both see "2 owners"), and a fixed
    # order means two such transactions queue instead of deadlocking.
    return list(Membership.objects.select_for_update().filter(studio=studio).order_by("id"))


def _owner_count(members: list[Membership]) -> int:
    return sum(1 for member in members if member.role == Role.OWNER)


def _locked_actor(members: list[Membership], actor: User, perm: Perm) -> Membership:
    # Re-read under the lock: the actor's own role may have changed since the request began.
    mine = next((member for member in members if member.user_id == actor.pk), None)
    if mine is None or not role_has(mine.role, perm):
        raise Forbidden("Your role may not do this.", code="permission_denied")
    return mine


def _locked_target(members: list[Membership], member_id: uuid.UUID) -> Membership:
    target = next((member for member in members if member.id == member_id), None)
    if target is None:
        raise NotFound("No such member in this studio.")
    return target


@transaction.atomic
def member_role_change(
    *, studio: Studio, actor: User, member_id: uuid.UUID, role: str
) -> Membership:
    members = _lock_members(studio)
    mine = _locked_actor(members, actor, Perm.MEMBER_MANAGE)
    target = _locked_target(members, member_id)
    if Role.OWNER in (target.role, role) and mine.role != Role.OWNER:
        raise Forbidden("Only an owner can change an owner or make one.", code="owner_required")
    if target.role == role:
        return target
    if target.role == Role.OWNER and _owner_count(members) == 1:
        raise Conflict("A studio needs at least one owner.", code="last_owner")
    target.role = role
    target.save(update_fields=["role", "updated_at"])
    return target


@transaction.atomic
def member_remove(*, studio: Studio, actor: User, member_id: uuid.UUID) -> None:
    members = _lock_members(studio)
    mine = _locked_actor(members, actor, Perm.MEMBER_MANAGE)
    target = _locked_target(members, member_id)
    if target.role == Role.OWNER and mine.role != Role.OWNER:
        raise Forbidden("Only an owner can remove an owner.", code="owner_required")
    if target.role == Role.OWNER and _owner_count(members) == 1:
        raise Conflict("A studio needs at least one owner.", code="last_owner")
    target.delete()


@transaction.atomic
def studio_leave(*, studio: Studio, user: User) -> None:
    members = _lock_members(studio)
    mine = next((member for member in members if member.user_id == user.pk), None)
    if mine is None:
        raise Forbidden("You are not a member of this studio.", code="not_a_member")
    if mine.role == Role.OWNER and _owner_count(members) == 1:
        raise Conflict("You are the last owner: make someone else owner first.", code="last_owner")
    mine.delete()
    if user.last_studio_id == studio.id:
        user.last_studio = None
        user.save(update_fields=["last_studio", "updated_at"])


def _token_hash(raw: str) -> str:
    # The token has 256 random bits, so a fast unsalted hash is enough: nothing to brute-force.
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def invitation_create(*, studio: Studio, by: Membership, email: str, role: str) -> Invitation:
    """Invite an address; a pending invitation to the same address is replaced."""
    email = clean_email(email)
    if role == Role.OWNER and by.role != Role.OWNER:
        raise Forbidden("Only an owner can invite an owner.", code="owner_required")
    # The studio row serialises invitation writes of one studio: two concurrent invitations to
    # one address cannot both stay pending.
    list(Studio.objects.select_for_update().filter(pk=studio.pk))
    if Membership.objects.filter(studio=studio, user__email__iexact=email).exists():
        raise Conflict("This person is already a member of the studio.", code="already_member")
    at = now()
    Invitation.objects.filter(
        studio=studio, email=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=at, updated_at=at)
    raw = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        studio=studio,
        email=email,
        role=role,
        invited_by=by.user,
        token_hash=_token_hash(raw),
        expires_at=at + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    link = app_link("/invitations/accept", token=raw)
    inviter = by.user.full_name or by.user.email
    role_name = invitation.get_role_display()
    body = (
        f"{inviter} invited you to join {studio.name} on PicPick as {role_name}."
        f"\n\nAccept the invitation here (valid for {settings.INVITATION_TTL_DAYS} days):\n{link}\n"
    )
    email_send_on_commit(subject=f"Join {studio.name} on PicPick", body=body, to=[invitation.email])
    return invitation


@transaction.atomic
def invitation_revoke(*, studio: Studio, invitation_id: uuid.UUID) -> None:
    invitation = (
        Invitation.objects.select_for_update().filter(studio=studio, id=invitation_id).first()
    )
    if invitation is None:
        raise NotFound("No such invitation in this studio.")
    if invitation.accepted_at is not None:
        raise Conflict("This invitation has already been accepted.", code="invitation_accepted")
    if invitation.revoked_at is None:
        invitation.revoked_at = now()
        invitation.save(update_fields=["revoked_at", "updated_at"])


def invitation_lock_pending(raw_token: str, *, field: str) -> Invitation:
    # No select_related here: MariaDB cannot restrict FOR UPDATE to one table, and locking the
    # studio row too would break the studio-then-memberships lock order.
    invitation = (
        Invitation.objects.select_for_update().filter(token_hash=_token_hash(raw_token)).first()
    )
    if invitation is None or not invitation.is_pending or invitation.studio.is_deleted:
        raise ApplicationError(
            "This invitation is invalid, expired, revoked or already used.",
            code="invalid_invitation",
            fields={field: ["Invalid invitation."]},
        )
    return invitation


def invitation_consume(*, invitation: Invitation, user: User) -> Membership:
    already = Conflict("You are already a member of this studio.", code="already_member")
    if Membership.objects.filter(studio_id=invitation.studio_id, user=user).exists():
        raise already
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                studio=invitation.studio, user=user, role=invitation.role
            )
    except IntegrityError as exc:  # the unique (studio, user) constraint: a concurrent accept
        raise already from exc
    invitation.accepted_at = now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by", "updated_at"])
    return membership


@transaction.atomic
def invitation_accept(*, user: User, raw_token: str) -> Membership:
    invitation = invitation_lock_pending(raw_token, field="token")
    if invitation.email != clean_email(user.email):
        raise Forbidden("This invitation was sent to another email address.", code="email_mismatch")
    membership = invitation_consume(invitation=invitation, user=user)
    remember_studio(user, membership.studio)
    return membership
