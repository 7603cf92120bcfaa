"""Gallery guests who tick the marketing opt-in become contacts (source "gallery", consent with
when and how), linked to the gallery's job as guests; the studio lists them and turns them into
leads. Selfie search never makes a contact."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from crm.models import Contact, ContactEmail, Job, JobContact, TimelineEvent
from guests.models import Visitor
from guests.services import VISITOR_OPTED_IN_HOOKS
from picpick.testing.factories import (
    ContactEmailFactory,
    ContactFactory,
    JobFactory,
    JobGalleryFactory,
    StageFactory,
)
from tests.guests.api_support import guest, public_url

pytest_plugins = ["tests.guests.api_fixtures"]
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


@pytest.fixture
def job_a(studio_a, gallery_a):
    job = JobFactory(stage=StageFactory(pipeline__studio=studio_a), name="Smith wedding")
    JobGalleryFactory(job=job, gallery=gallery_a)
    return job


def sign_up(gallery, captured, email, name="Tom Baker", **extra):
    body = {"email": email, "name": name, **extra}
    with captured(execute=True):
        response = guest().post(public_url(gallery, "register/"), body, format="json")
    assert response.status_code == 200, response.json()
    return response


def opt_ins_url(gallery, suffix=""):
    return f"/api/v1/crm/galleries/{gallery.id}/opt-ins/{suffix}"


def test_a_guest_who_opts_in_becomes_a_gallery_contact_on_the_job(
    job_a, gallery_a, django_capture_on_commit_callbacks
):
    sign_up(gallery_a, django_capture_on_commit_callbacks, "Tom@Example.com", marketing_opt_in=True)
    visitor = Visitor.objects.get(gallery=gallery_a)
    assert visitor.marketing_opt_in and visitor.marketing_opt_in_at is not None
    contact = Contact.objects.get()
    assert (contact.first_name, contact.last_name, contact.email) == (
        "Tom",
        "Baker",
        "tom@example.com",
    )
    assert contact.source == Contact.Source.GALLERY
    assert contact.marketing_consent and contact.marketing_consent_at == visitor.marketing_opt_in_at
    assert contact.marketing_consent_source == "gallery opt-in: Smith Wedding"
    assert ContactEmail.objects.get().email == "tom@example.com"
    link = JobContact.objects.get(contact=contact)
    assert (link.job_id, link.role) == (job_a.id, JobContact.Role.GUEST)
    event = TimelineEvent.objects.get(kind="marketing_opt_in")
    assert (event.job_id, event.contact_id) == (job_a.id, contact.id)


def test_the_box_is_off_by_default_and_a_later_visit_withdraws_nothing(
    job_a, gallery_a, django_capture_on_commit_callbacks
):
    captured = django_capture_on_commit_callbacks
    sign_up(gallery_a, captured, "tom@example.com")
    assert not Contact.objects.exists() and not Visitor.objects.get().marketing_opt_in
    sign_up(gallery_a, captured, "tom@example.com", marketing_opt_in=True)
    sign_up(gallery_a, captured, "tom@example.com", marketing_opt_in=True)  # told once
    sign_up(gallery_a, captured, "tom@example.com", marketing_opt_in=False)
    assert Visitor.objects.get().marketing_opt_in
    assert Contact.objects.count() == 1
    assert TimelineEvent.objects.filter(kind="marketing_opt_in").count() == 1


def test_an_existing_contact_is_matched_by_email_and_given_consent(
    studio_a, job_a, gallery_a, django_capture_on_commit_callbacks
):
    jane = ContactFactory(studio=studio_a, email="jane@example.com", source=Contact.Source.MANUAL)
    ContactEmailFactory(contact=jane, studio=studio_a, email="jane@example.com", is_primary=True)
    sign_up(
        gallery_a, django_capture_on_commit_callbacks, "JANE@example.com", marketing_opt_in=True
    )
    jane.refresh_from_db()
    assert Contact.objects.count() == 1
    assert jane.source == Contact.Source.MANUAL and jane.marketing_consent
    assert JobContact.objects.filter(job=job_a, contact=jane).exists()


def test_a_gallery_without_a_job_makes_the_contact_unlinked(
    gallery_a, django_capture_on_commit_callbacks
):
    sign_up(gallery_a, django_capture_on_commit_callbacks, "tom@example.com", marketing_opt_in=True)
    contact = Contact.objects.get()
    assert not JobContact.objects.exists()
    assert TimelineEvent.objects.get().contact_id == contact.id


def test_the_guest_page_checkbox_opts_in(
    studio_a, job_a, gallery_a, django_capture_on_commit_callbacks
):
    from django.test import Client

    from tests.guests.api_support import STUDIO_A_HOST, protect

    protect(gallery_a, "public", require_registration=True)
    client = Client(HTTP_HOST=STUDIO_A_HOST)
    page = client.get(f"/g/{gallery_a.slug}/")
    html = page.content.decode()
    assert (
        'name="marketing_opt_in"' in html
        and "checked" not in html.split("marketing_opt_in")[1][:60]
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/g/{gallery_a.slug}/register/",
            {"email": "tom@example.com", "marketing_opt_in": "1"},
        )
    assert response.status_code in (200, 302)
    assert Contact.objects.get().marketing_consent


def test_selfie_search_never_makes_a_contact(
    job_a, gallery_a, django_capture_on_commit_callbacks, monkeypatch
):
    called = []
    monkeypatch.setattr("guests.services.VISITOR_OPTED_IN_HOOKS", [called.append])
    client = guest()
    upload = SimpleUploadedFile("selfie.jpg", b"not a photo", content_type="image/jpeg")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(public_url(gallery_a, "selfie-search/"), {"selfie": upload}, format="multipart")
    assert called == [] and not Contact.objects.exists()
    assert not Visitor.objects.exists()


def test_the_studio_lists_the_opted_in_guests_and_converts_them_to_leads(
    alice_client, job_a, gallery_a, django_capture_on_commit_callbacks
):
    captured = django_capture_on_commit_callbacks
    for n in range(3):
        sign_up(
            gallery_a, captured, f"guest{n}@example.com", name=f"Guest {n}", marketing_opt_in=True
        )
    sign_up(gallery_a, captured, "quiet@example.com")
    listed = alice_client.get(opt_ins_url(gallery_a), {"page_size": 2})
    assert listed.status_code == 200, listed.json()
    body = listed.json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    assert body["results"][0]["email"] == "guest2@example.com"
    assert all(item["contact_id"] for item in body["results"])

    chosen = body["results"][0]["visitor_id"]
    response = alice_client.post(
        opt_ins_url(gallery_a, "convert/"), {"visitor_ids": [chosen]}, format="json"
    )
    assert response.status_code == 200, response.json()
    [result] = response.json()["results"]
    assert result["created"] is True
    lead = Job.objects.get(id=result["job_id"])
    assert lead.stage.position == min(s.position for s in lead.pipeline.stages.all())
    assert list(lead.job_contacts.values_list("contact_id", "is_billing")) == [
        (Contact.objects.get(email="guest2@example.com").id, True)
    ]

    everyone = alice_client.post(opt_ins_url(gallery_a, "convert/"), {"all": True}, format="json")
    created = [r["created"] for r in everyone.json()["results"]]
    assert sorted(created) == [False, True, True]  # guest2 keeps its lead
    assert Job.objects.exclude(id=job_a.id).count() == 3


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "validation_error"),
        (
            {"all": True, "visitor_ids": ["01939a61-0c1d-7e2f-8a3b-4c5d6e7f8091"]},
            "validation_error",
        ),
        ({"visitor_ids": ["01939a61-0c1d-7e2f-8a3b-4c5d6e7f8091"]}, "visitor_not_opted_in"),
        ({"visitor_ids": []}, "validation_error"),
    ],
)
def test_bad_conversions_are_400_and_make_nothing(alice_client, job_a, gallery_a, body, code):
    response = alice_client.post(opt_ins_url(gallery_a, "convert/"), body, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (400, code)
    assert Job.objects.count() == 1


def test_opt_ins_of_another_studio_s_gallery_are_a_404(bob_client, gallery_a, member_of_a):
    assert bob_client.get(opt_ins_url(gallery_a)).status_code == 404
    assert (
        bob_client.post(
            opt_ins_url(gallery_a, "convert/"), {"all": True}, format="json"
        ).status_code
        == 404
    )
    _, photographer = member_of_a("photographer")
    assert photographer.get(opt_ins_url(gallery_a)).status_code == 200
    assert (
        photographer.post(
            opt_ins_url(gallery_a, "convert/"), {"all": True}, format="json"
        ).status_code
        == 403
    )


def test_the_hook_is_registered():
    from crm.services.optins import visitor_opted_in

    assert visitor_opted_in in VISITOR_OPTED_IN_HOOKS
