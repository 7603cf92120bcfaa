"""Reads of users, studios and memberships."""

from __future__ import annotations

import uuid

from accounts.models import Membership, User


def membership_for_request(*, user: User, studio_id: str | uuid.UUID | None) -> Membership | None:
    """The caller's membership in the token's studio, with the studio, in one query."""
    if not studio_id:
        return None
    return (
        Membership.objects.select_related("studio").filter(user=user, studio_id=studio_id).first()
    )
