"""Every write endpoint of the studio API, called by every role, against the permission table.

``WRITES`` names each write route with the permissions it needs (the method's, then those of
the fields the body sends). A role the table allows gets past the check (whatever the view then
answers: the ids here may name nothing); any other role gets the 403 naming the first missing
permission. A new write route fails ``test_every_write_route_is_listed`` until it is added here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import Role
from accounts.permissions import Perm
from picpick.core.apis import StudioAPIView
from picpick.testing.factories import (
    MembershipFactory,
    UserFactory,
)
from tests.accounts.test_permissions import EXPECTED
from tests.conftest import client_for

ROLES = [Role.OWNER, Role.ADMIN, Role.PHOTOGRAPHER, Role.ASSISTANT]
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
FACES_OFF = {"face_recognition_enabled": False, "confirm": "delete-face-data"}


@dataclass(frozen=True)
class Write:
    method: str
    route: str  # as in the URLconf, below /api/v1/
    perms: tuple[Perm, ...]
    body: Any = None

    def __str__(self) -> str:
        fields = f" {sorted(self.body)}" if isinstance(self.body, dict) else ""
        return f"{self.method} {self.route}{fields}"


def W(method: str, route: str, *perms: Perm, body: Any = None) -> Write:
    return Write(method, route, perms, body)


P = Perm
WRITES = [
    # accounts
    W("PATCH", "studio/", P.STUDIO_EDIT, body={"name": "Renamed"}),
    W("PATCH", "studio/", P.STUDIO_EDIT, body=FACES_OFF),
    W("DELETE", "studio/", P.STUDIO_DELETE, body={"confirm_slug": "wrong"}),
    W("POST", "studio/leave/", P.STUDIO_VIEW),
    W("PATCH", "studio/members/<uuid:member_id>/", P.MEMBER_MANAGE, body={"role": "assistant"}),
    W("DELETE", "studio/members/<uuid:member_id>/", P.MEMBER_MANAGE),
    W(
        "POST",
        "studio/invitations/",
        P.MEMBER_INVITE,
        body={"email": "new@example.com", "role": "assistant"},
    ),
    W("DELETE", "studio/invitations/<uuid:invitation_id>/", P.MEMBER_INVITE),
    # galleries
    W("POST", "galleries/", P.GALLERY_CREATE, body={"name": "New"}),
    W("PATCH", "galleries/<uuid:gallery_id>/", P.GALLERY_EDIT, body={"notes": "x"}),
    W("PATCH", "galleries/<uuid:gallery_id>/", P.GALLERY_EDIT, P.STUDIO_EDIT, body=FACES_OFF),
    W(
        "PATCH",
        "galleries/<uuid:gallery_id>/",
        P.GALLERY_EDIT,
        P.GALLERY_PUBLISH,
        body={"watermark_id": None},
    ),
    W("DELETE", "galleries/<uuid:gallery_id>/", P.GALLERY_DELETE),
    W("POST", "galleries/<uuid:gallery_id>/publish/", P.GALLERY_PUBLISH),
    W("POST", "galleries/<uuid:gallery_id>/archive/", P.GALLERY_PUBLISH),
    W("POST", "galleries/<uuid:gallery_id>/unarchive/", P.GALLERY_PUBLISH),
    W("POST", "galleries/<uuid:gallery_id>/albums/", P.GALLERY_EDIT, body={"name": "A"}),
    W("POST", "galleries/<uuid:gallery_id>/albums/reorder/", P.GALLERY_EDIT, body={}),
    W("PATCH", "albums/<uuid:album_id>/", P.GALLERY_EDIT, body={"name": "B"}),
    W("DELETE", "albums/<uuid:album_id>/", P.GALLERY_EDIT),
    W(
        "POST",
        "galleries/<uuid:gallery_id>/photos/",
        P.PHOTO_UPLOAD,
        body={"filename": "x.jpg", "size": 5, "content_type": "image/jpeg"},
    ),
    W("POST", "galleries/<uuid:gallery_id>/photos/reorder/", P.PHOTO_EDIT, body={}),
    W(
        "POST",
        "galleries/<uuid:gallery_id>/photos/bulk/",
        P.PHOTO_EDIT,
        body={"action": "hide", "photo_ids": ["x"]},
    ),
    BULK_DELETE := W(
        "POST",
        "galleries/<uuid:gallery_id>/photos/bulk/",
        P.PHOTO_EDIT,
        P.PHOTO_DELETE,
        body={"action": "delete", "photo_ids": ["x"]},
    ),
    W("PATCH", "photos/<uuid:photo_id>/", P.PHOTO_EDIT, body={"hidden": True}),
    W("DELETE", "photos/<uuid:photo_id>/", P.PHOTO_DELETE),
    W("POST", "galleries/<uuid:gallery_id>/downloads/", P.GALLERY_VIEW, body={}),
    W("POST", "galleries/<uuid:gallery_id>/reprocess/", P.GALLERY_EDIT, body={"scope": "failed"}),
    W("POST", "galleries/<uuid:gallery_id>/events/ticket/", P.GALLERY_VIEW),
    W("POST", "watermarks/", P.STUDIO_EDIT, body={"name": "W"}),
    W("PATCH", "watermarks/<uuid:watermark_id>/", P.STUDIO_EDIT, body={"text": "x"}),
    W("DELETE", "watermarks/<uuid:watermark_id>/", P.STUDIO_EDIT),
    W("POST", "watermarks/<uuid:watermark_id>/logo/", P.STUDIO_EDIT, body={}),
    W("POST", "galleries/<uuid:gallery_id>/uploads/", P.PHOTO_UPLOAD, body={}),
    W("DELETE", "uploads/<uuid:upload_id>/", P.PHOTO_UPLOAD),
    W("POST", "uploads/<uuid:upload_id>/parts/", P.PHOTO_UPLOAD, body={}),
    W("POST", "uploads/<uuid:upload_id>/renew/", P.PHOTO_UPLOAD, body={}),
    W("POST", "uploads/<uuid:upload_id>/complete/", P.PHOTO_UPLOAD, body={}),
    W("POST", "upload-batches/<uuid:batch_id>/complete/", P.PHOTO_UPLOAD, body={}),
    # faces
    W("POST", "galleries/<uuid:gallery_id>/people/recluster/", P.GALLERY_EDIT),
    W("POST", "galleries/<uuid:gallery_id>/faces/", P.GALLERY_EDIT, body={}),
    W("PATCH", "people/<uuid:person_id>/", P.GALLERY_EDIT, body={"name": "Bride"}),
    W("POST", "people/<uuid:person_id>/merge/", P.GALLERY_EDIT, body={}),
    W("POST", "people/<uuid:person_id>/split/", P.GALLERY_EDIT, body={}),
    W("POST", "faces/<uuid:face_id>/assign/", P.GALLERY_EDIT, body={}),
    W("POST", "faces/<uuid:face_id>/remove/", P.GALLERY_EDIT),
    W("POST", "faces/<uuid:face_id>/confirm/", P.GALLERY_EDIT),
    W("POST", "faces/<uuid:face_id>/reject/", P.GALLERY_EDIT, body={}),
    W("POST", "galleries/<uuid:gallery_id>/selfie-search/", P.GALLERY_VIEW, body={}),
    # domains
    W("POST", "studio/domains/", P.DOMAIN_MANAGE, body={"hostname": "photos.example.com"}),
    W("DELETE", "studio/domains/<uuid:domain_id>/", P.DOMAIN_MANAGE),
    W("POST", "studio/domains/<uuid:domain_id>/verify-now/", P.DOMAIN_MANAGE),
    W("POST", "studio/domains/<uuid:domain_id>/make-primary/", P.DOMAIN_MANAGE),
    # guests, the studio's side
    W("POST", "studio/logo/", P.STUDIO_EDIT, body={}),
    W("DELETE", "studio/logo/", P.STUDIO_EDIT),
    W("PATCH", "galleries/<uuid:gallery_id>/guest-access/", P.GALLERY_PUBLISH, body={}),
    # crm: timeline and gallery opt-ins
    W("POST", "crm/jobs/<uuid:job_id>/notes/", P.CRM_EDIT, body={"text": "x"}),
    W("POST", "crm/contacts/<uuid:contact_id>/notes/", P.CRM_EDIT, body={"text": "x"}),
    W("POST", "crm/galleries/<uuid:gallery_id>/opt-ins/convert/", P.CRM_EDIT, body={"all": True}),
    # crm: contacts
    W("POST", "crm/custom-fields/", P.CRM_EDIT, body={}),
    W("PATCH", "crm/custom-fields/<uuid:definition_id>/", P.CRM_EDIT, body={}),
    W("DELETE", "crm/custom-fields/<uuid:definition_id>/", P.CRM_EDIT),
    W("POST", "crm/contacts/", P.CRM_EDIT, body={}),
    W("PATCH", "crm/contacts/<uuid:contact_id>/", P.CRM_EDIT, body={}),
    W("DELETE", "crm/contacts/<uuid:contact_id>/", P.CRM_EDIT),
    W("POST", "crm/contacts/<uuid:contact_id>/merge/", P.CRM_EDIT, body={}),
    W("POST", "crm/contacts/<uuid:contact_id>/erase/", P.CRM_EDIT),
    W("POST", "crm/contacts/imports/", P.CRM_EDIT, body={}),
    # crm: pipelines, stages and jobs
    W("POST", "crm/pipelines/", P.CRM_EDIT, body={}),
    W("PATCH", "crm/pipelines/<uuid:pipeline_id>/", P.CRM_EDIT, body={}),
    W("POST", "crm/pipelines/<uuid:pipeline_id>/stages/", P.CRM_EDIT, body={}),
    W("POST", "crm/pipelines/<uuid:pipeline_id>/stages/reorder/", P.CRM_EDIT, body={}),
    W("PATCH", "crm/stages/<uuid:stage_id>/", P.CRM_EDIT, body={}),
    W("DELETE", "crm/stages/<uuid:stage_id>/", P.CRM_EDIT),
    W("POST", "crm/jobs/", P.CRM_EDIT, body={}),
    W("PATCH", "crm/jobs/<uuid:job_id>/", P.CRM_EDIT, body={}),
    W("DELETE", "crm/jobs/<uuid:job_id>/", P.CRM_EDIT),
    W("POST", "crm/jobs/<uuid:job_id>/stage/", P.CRM_EDIT, body={}),
    W("POST", "crm/jobs/<uuid:job_id>/contacts/", P.CRM_EDIT, body={}),
    W("PATCH", "crm/jobs/<uuid:job_id>/contacts/<uuid:contact_id>/", P.CRM_EDIT, body={}),
    W("DELETE", "crm/jobs/<uuid:job_id>/contacts/<uuid:contact_id>/", P.CRM_EDIT),
    W("POST", "crm/jobs/<uuid:job_id>/galleries/", P.CRM_EDIT, body={}),
    W("DELETE", "crm/jobs/<uuid:job_id>/galleries/<uuid:gallery_id>/", P.CRM_EDIT),
    # crm: tasks, email templates and sending, workflows
    W("POST", "crm/tasks/", P.CRM_EDIT, body={}),
    W("PATCH", "crm/tasks/<uuid:task_id>/", P.CRM_EDIT, body={}),
    W("DELETE", "crm/tasks/<uuid:task_id>/", P.CRM_EDIT),
    W("POST", "crm/tasks/<uuid:task_id>/done/", P.CRM_EDIT),
    W("DELETE", "crm/tasks/<uuid:task_id>/done/", P.CRM_EDIT),
    W("POST", "crm/email-templates/", P.CRM_EDIT, body={}),
    W("PATCH", "crm/email-templates/<uuid:template_id>/", P.CRM_EDIT, body={}),
    W("DELETE", "crm/email-templates/<uuid:template_id>/", P.CRM_EDIT),
    W("POST", "crm/email-templates/<uuid:template_id>/preview/", P.CRM_VIEW, body={}),
    W("POST", "crm/jobs/<uuid:job_id>/emails/", P.CRM_EDIT, body={}),
    W("POST", "crm/contacts/<uuid:contact_id>/emails/", P.CRM_EDIT, body={}),
    W("POST", "crm/workflows/", P.CRM_EDIT, body={}),
    W("PATCH", "crm/workflows/<uuid:workflow_id>/", P.CRM_EDIT, body={}),
    W("DELETE", "crm/workflows/<uuid:workflow_id>/", P.CRM_EDIT),
    W("POST", "crm/workflows/<uuid:workflow_id>/steps/", P.CRM_EDIT, body={}),
    W("PATCH", "crm/workflow-steps/<uuid:step_id>/", P.CRM_EDIT, body={}),
    W("DELETE", "crm/workflow-steps/<uuid:step_id>/", P.CRM_EDIT),
    W("POST", "crm/jobs/<uuid:job_id>/workflows/", P.CRM_EDIT, body={}),
    W("POST", "crm/jobs/<uuid:job_id>/workflows/<uuid:run_id>/pause/", P.CRM_EDIT),
    W("DELETE", "crm/jobs/<uuid:job_id>/workflows/<uuid:run_id>/pause/", P.CRM_EDIT),
    # crm: inquiry forms
    W("POST", "crm/inquiry-forms/", P.CRM_EDIT, body={}),
    W("PATCH", "crm/inquiry-forms/<uuid:form_id>/", P.CRM_EDIT, body={}),
    W("DELETE", "crm/inquiry-forms/<uuid:form_id>/", P.CRM_EDIT),
    # billing: the ledger
    W("POST", "billing/transactions/<uuid:transaction_id>/reverse/", P.BILLING_MANAGE, body={}),
    # billing: settings, wallets and gift cards
    W("PATCH", "billing/settings/", P.BILLING_MANAGE, body={}),
    W("POST", "billing/wallets/", P.BILLING_MANAGE, body={}),
    W("POST", "billing/wallets/<uuid:wallet_id>/grant/", P.BILLING_MANAGE, body={}),
    W("POST", "billing/wallets/<uuid:wallet_id>/spend/", P.BILLING_MANAGE, body={}),
    W("POST", "billing/wallets/<uuid:wallet_id>/refund/", P.BILLING_MANAGE, body={}),
    W("POST", "billing/wallets/<uuid:wallet_id>/holds/", P.BILLING_MANAGE, body={}),
    W("POST", "billing/wallet-holds/<uuid:hold_id>/capture/", P.BILLING_MANAGE, body={}),
    W("POST", "billing/wallet-holds/<uuid:hold_id>/release/", P.BILLING_MANAGE),
    W("POST", "billing/gift-cards/", P.BILLING_MANAGE, body={}),
    W("POST", "billing/gift-cards/redeem/", P.BILLING_MANAGE, body={}),
    W("POST", "billing/gift-cards/<uuid:card_id>/resend/", P.BILLING_MANAGE, body={}),
    W("POST", "billing/gift-cards/<uuid:card_id>/void/", P.BILLING_MANAGE, body={}),
    # billing: card payments
    W("POST", "billing/connect/", P.BILLING_MANAGE, body={}),
    W("POST", "billing/connect/refresh/", P.BILLING_MANAGE),
    W("POST", "billing/payments/<uuid:payment_id>/refresh/", P.BILLING_MANAGE),
    W("POST", "billing/payments/<uuid:payment_id>/refunds/", P.BILLING_MANAGE, body={}),
    # billing: saved cards
    W("POST", "billing/contacts/<uuid:contact_id>/card-setups/", P.BILLING_MANAGE),
    W(
        "POST",
        "billing/contacts/<uuid:contact_id>/card-setups/<str:setup_id>/refresh/",
        P.BILLING_MANAGE,
    ),
    W("DELETE", "billing/contacts/<uuid:contact_id>/cards/<uuid:card_id>/", P.BILLING_MANAGE),
    # billing: tax rates and the catalogue
    W("POST", "billing/tax-rates/", P.BILLING_MANAGE, body={}),
    W("PATCH", "billing/tax-rates/<uuid:tax_rate_id>/", P.BILLING_MANAGE, body={}),
    W("DELETE", "billing/tax-rates/<uuid:tax_rate_id>/", P.BILLING_MANAGE),
    W("POST", "billing/catalogue/", P.BILLING_MANAGE, body={}),
    W("POST", "billing/catalogue/reorder/", P.BILLING_MANAGE, body={}),
    W("PATCH", "billing/catalogue/<uuid:item_id>/", P.BILLING_MANAGE, body={}),
    W("DELETE", "billing/catalogue/<uuid:item_id>/", P.BILLING_MANAGE),
    # billing: quotes
    W("POST", "billing/quotes/", P.BILLING_MANAGE, body={}),
    W("PATCH", "billing/quotes/<uuid:quote_id>/", P.BILLING_MANAGE, body={}),
    W("DELETE", "billing/quotes/<uuid:quote_id>/", P.BILLING_MANAGE),
    W("POST", "billing/quotes/<uuid:quote_id>/send/", P.BILLING_MANAGE),
    W("POST", "billing/quotes/<uuid:quote_id>/withdraw/", P.BILLING_MANAGE),
    # billing: invoices
    W("POST", "billing/invoices/", P.BILLING_MANAGE, body={}),
    W("PATCH", "billing/invoices/<uuid:invoice_id>/", P.BILLING_MANAGE, body={}),
    W("DELETE", "billing/invoices/<uuid:invoice_id>/", P.BILLING_MANAGE),
    W("POST", "billing/invoices/<uuid:invoice_id>/issue/", P.BILLING_MANAGE),
    W("POST", "billing/invoices/<uuid:invoice_id>/void/", P.BILLING_MANAGE, body={}),
    W("POST", "billing/invoices/<uuid:invoice_id>/write-off/", P.BILLING_MANAGE, body={}),
    W("POST", "billing/invoices/<uuid:invoice_id>/credit-notes/", P.BILLING_MANAGE, body={}),
    W("PUT", "billing/invoices/<uuid:invoice_id>/schedule/", P.BILLING_MANAGE, body={}),
    W("POST", "billing/invoices/<uuid:invoice_id>/send/", P.BILLING_MANAGE, body={}),
    W("POST", "billing/invoices/<uuid:invoice_id>/refunds/", P.BILLING_MANAGE, body={}),
    W("POST", "billing/invoices/<uuid:invoice_id>/payments/", P.BILLING_MANAGE, body={}),
]

# Write routes outside the studio's role table, and why: a user's own account, or guests.
NOT_ROLE_GATED = {
    "auth/signup/",
    "auth/login/",
    "auth/refresh/",
    "auth/logout/",
    "auth/logout-all/",
    "auth/password-reset/",
    "auth/password-reset/confirm/",
    "auth/switch-studio/",
    "me/",
    "me/password/",
    "invitations/accept/",
    # billing: the payment provider's webhook (signed), the client pages' payments (anonymous,
    # on the studio's own site)
    "billing/stripe/webhook/",
    "billing/public/gift-card-purchases/",
    "billing/public/wallet-top-ups/",
    "billing/public/invoices/<str:token>/payments/",
}


def _api_routes():
    """(route below /api/v1/, view class) for every view of the API."""

    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                view = getattr(pattern.callback, "view_class", None)
                if view is not None:
                    yield prefix + str(pattern.pattern), view

    for route, view in walk(get_resolver().url_patterns, ""):
        if route.startswith("api/v1/"):
            yield route.removeprefix("api/v1/"), view


def _writes(view) -> list[str]:
    return [method for method in WRITE_METHODS if hasattr(view, method.lower())]


def test_every_write_route_is_listed_with_the_permission_its_view_declares():
    listed = {(w.method, w.route): w.perms[0] for w in WRITES}
    found = {}
    for route, view in _api_routes():
        if route.startswith("public/") or route in NOT_ROLE_GATED or not _writes(view):
            continue
        assert issubclass(view, StudioAPIView), f"{route}: a studio write outside StudioAPIView"
        for method in _writes(view):
            found[(method, route)] = view.permissions.get(method)
    assert found == listed


def test_field_permissions_are_listed():
    declared = {
        (method, route, field, perm)
        for route, view in _api_routes()
        if issubclass(view, StudioAPIView)
        for method, fields in view.field_permissions.items()
        for field, perm in fields.items()
    }
    listed = {
        (w.method, w.route, field, perm)
        for w in WRITES
        # The bulk delete's extra permission depends on a value, not a field: its view checks it.
        if len(w.perms) > 1 and w is not BULK_DELETE
        for field in w.body
        for perm in w.perms[1:]
        if field != "confirm"
    }
    assert declared == listed


@pytest.fixture
def objects(studio_a, alice):
    from galleries import services

    gallery = services.gallery_create(studio=studio_a, by=alice, name="Smith Wedding")
    photo = services.photo_create(
        gallery=gallery, by=alice, filename="a.jpg", size=100, content_type="image/jpeg"
    )
    return {
        "gallery_id": gallery.id,
        "album_id": services.album_create(gallery=gallery, by=alice, name="Ceremony").id,
        "photo_id": photo.id,
        "member_id": MembershipFactory(studio=studio_a, role=Role.ASSISTANT).id,
    }


def _url(route: str, objects: dict) -> str:
    parts = []
    for segment in route.split("/"):
        if segment.startswith("<uuid:"):
            name = segment.removeprefix("<uuid:").removesuffix(">")
            segment = str(objects.get(name) or uuid.uuid4())  # the check comes before the lookup
        parts.append(segment)
    return "/api/v1/" + "/".join(parts)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("write", WRITES, ids=str)
def test_each_write_endpoint_follows_the_table_for_each_role(write, role, studio_a, alice, objects):
    user = alice if role == Role.OWNER else UserFactory()
    if role != Role.OWNER:
        MembershipFactory(studio=studio_a, user=user, role=role)
    client = client_for(user, studio_a)
    response = getattr(client, write.method.lower())(
        _url(write.route, objects), write.body, format="json"
    )
    missing = [perm for perm in write.perms if role not in EXPECTED[perm]]
    if missing:
        assert response.status_code == 403, response.content
        error = response.json()["error"]
        assert (error["code"], error["permission"]) == ("permission_denied", missing[0])
    else:
        assert response.status_code not in (401, 403), response.content
