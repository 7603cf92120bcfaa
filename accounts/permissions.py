"""The permission table: which studio role may do what. The only place roles are interpreted.

| permission       | owner | admin | photographer | assistant |
|------------------|:-----:|:-----:|:------------:|:---------:|
| studio.view      |   ✓   |   ✓   |      ✓       |     ✓     |
| studio.edit      |   ✓   |   ✓   |              |           |
| studio.delete    |   ✓   |       |              |           |
| member.view      |   ✓   |   ✓   |      ✓       |     ✓     |
| member.invite    |   ✓   |   ✓   |              |           |
| member.manage    |   ✓   |   ✓   |              |           |
| gallery.view     |   ✓   |   ✓   |      ✓       |     ✓     |
| gallery.create   |   ✓   |   ✓   |      ✓       |           |
| gallery.edit     |   ✓   |   ✓   |      ✓       |     ✓     |
| gallery.publish  |   ✓   |   ✓   |      ✓       |           |
| gallery.delete   |   ✓   |   ✓   |              |           |
| photo.upload     |   ✓   |   ✓   |      ✓       |     ✓     |
| photo.edit       |   ✓   |   ✓   |      ✓       |     ✓     |
| photo.delete     |   ✓   |   ✓   |      ✓       |           |
| crm.view         |   ✓   |   ✓   |      ✓       |           |
| crm.edit         |   ✓   |   ✓   |              |           |
| billing.view     |   ✓   |   ✓   |              |           |
| billing.manage   |   ✓   |       |              |           |
| domain.view      |   ✓   |   ✓   |      ✓       |     ✓     |
| domain.manage    |   ✓   |   ✓   |              |           |

What the less obvious ones cover:

- ``studio.edit``: every studio setting — name, address, currency, the site's logo, the
  studio's watermarks (a change re-stamps or un-stamps every gallery using one) and face
  recognition, studio-wide and per gallery. Switching face recognition off also needs
  ``"confirm": "delete-face-data"`` in the request and leaves an audit row with who did it.
- ``gallery.publish``: what guests get — publishing, archiving, guest access, and the
  watermark a gallery uses.
- ``gallery.edit``: the rest of a gallery — fields, albums, people and face corrections.

Admins manage members but never an owner: only an owner can change or remove an owner, and a
studio always keeps at least one owner (enforced in ``accounts.services``).
"""

from __future__ import annotations

from enum import StrEnum

from accounts.models import Role


class Perm(StrEnum):
    STUDIO_VIEW = "studio.view"
    STUDIO_EDIT = "studio.edit"
    STUDIO_DELETE = "studio.delete"
    MEMBER_VIEW = "member.view"
    MEMBER_INVITE = "member.invite"
    MEMBER_MANAGE = "member.manage"
    GALLERY_VIEW = "gallery.view"
    GALLERY_CREATE = "gallery.create"
    GALLERY_EDIT = "gallery.edit"
    GALLERY_PUBLISH = "gallery.publish"
    GALLERY_DELETE = "gallery.delete"
    PHOTO_UPLOAD = "photo.upload"
    PHOTO_EDIT = "photo.edit"
    PHOTO_DELETE = "photo.delete"
    CRM_VIEW = "crm.view"
    CRM_EDIT = "crm.edit"
    BILLING_VIEW = "billing.view"
    BILLING_MANAGE = "billing.manage"
    DOMAIN_VIEW = "domain.view"
    DOMAIN_MANAGE = "domain.manage"


_EVERYONE = {
    Perm.STUDIO_VIEW,
    Perm.MEMBER_VIEW,
    Perm.GALLERY_VIEW,
    Perm.GALLERY_EDIT,
    Perm.PHOTO_UPLOAD,
    Perm.PHOTO_EDIT,
    Perm.DOMAIN_VIEW,
}
_PHOTOGRAPHER = _EVERYONE | {
    Perm.GALLERY_CREATE,
    Perm.GALLERY_PUBLISH,
    Perm.PHOTO_DELETE,
    Perm.CRM_VIEW,
}
_ADMIN = _PHOTOGRAPHER | {
    Perm.STUDIO_EDIT,
    Perm.MEMBER_INVITE,
    Perm.MEMBER_MANAGE,
    Perm.GALLERY_DELETE,
    Perm.CRM_EDIT,
    Perm.BILLING_VIEW,
    Perm.DOMAIN_MANAGE,
}

ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    Role.OWNER: frozenset(Perm),
    Role.ADMIN: frozenset(_ADMIN),
    Role.PHOTOGRAPHER: frozenset(_PHOTOGRAPHER),
    Role.ASSISTANT: frozenset(_EVERYONE),
}


def role_has(role: str, perm: Perm | str) -> bool:
    return Perm(perm) in ROLE_PERMISSIONS.get(role, frozenset())
