"""Merging two contacts, and a person's data: export (GDPR art. 15) and erase (art. 17)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from crm.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    EmailMessage,
    Inquiry,
    JobContact,
    Task,
    TimelineEvent,
)
from crm.services.contacts import contact_create, contact_merge
from crm.services.timeline import timeline_record
from guests.models import Favourite, Visitor
from picpick.testing.factories import (
    CustomFieldDefinitionFactory,
    EmailMessageFactory,
    FavouriteFactory,
    InquiryFactory,
    InquiryFormFactory,
    JobContactFactory,
    JobFactory,
    StageFactory,
    TaskFactory,
    VisitorFactory,
)

pytestmark = pytest.mark.django_db
URL = "/api/v1/crm/contacts/"


def _contact(studio, **kw):
    return contact_create(studio=studio, by=None, **kw)


@pytest.fixture
def pair(studio_a):
    CustomFieldDefinitionFactory(studio=studio_a, key="venue")
    CustomFieldDefinitionFactory(studio=studio_a, key="colour")
    survivor = _contact(
        studio_a,
        first_name="Ana",
        emails=["ana@example.com"],
        phones=[{"number": "+14155550100"}],
        tags=["vip"],
        custom_fields={"venue": "Barn"},
    )
    merged = _contact(
        studio_a,
        first_name="Ana B",
        last_name="Lima",
        emails=["ana.lima@example.com"],
        phones=[{"number": "+14155550100"}, {"number": "+442079460958"}],
        tags=["vip", "2027"],
        custom_fields={"venue": "Hall", "colour": "blue"},
        marketing_consent=True,
        marketing_consent_source="inquiry form",
    )
    stage = StageFactory(pipeline__studio=studio_a)
    shared_job = JobFactory(stage=stage)
    own_job = JobFactory(stage=stage)
    JobContactFactory(job=shared_job, contact=survivor)
    JobContactFactory(job=shared_job, contact=merged)
    JobContactFactory(job=own_job, contact=merged)
    InquiryFactory(form=InquiryFormFactory(studio=studio_a), contact=merged)
    EmailMessageFactory(contact=merged)
    TaskFactory(job=own_job, contact=merged)
    TimelineEvent.objects.create(
        studio=studio_a,
        kind="note",
        payload={"text": "hi"},
        contact=merged,
        occurred_at=timezone.now(),
    )
    return survivor, merged, shared_job, own_job


def test_merge_moves_everything_and_leaves_a_tombstone(alice_client, pair):
    survivor, merged, shared_job, own_job = pair
    r = alice_client.post(f"{URL}{survivor.id}/merge/", {"from": str(merged.id)}, format="json")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert {e["email"] for e in body["emails"]} == {"ana@example.com", "ana.lima@example.com"}
    assert body["email"] == "ana@example.com"
    assert sorted(p["number"] for p in body["phones"]) == ["+14155550100", "+442079460958"]
    assert sorted(body["tags"]) == ["2027", "vip"]
    assert body["custom_fields"] == {"venue": "Barn", "colour": "blue"}  # survivor wins, fills
    assert body["last_name"] == "Lima"  # a blank filled
    assert body["marketing_consent"] is True  # the only explicit consent
    assert body["marketing_consent_source"] == "inquiry form"
    links = JobContact.objects.filter(contact=survivor)
    assert sorted(str(j) for j in links.values_list("job_id", flat=True)) == sorted(
        [str(shared_job.id), str(own_job.id)]
    )
    assert not JobContact.objects.filter(contact=merged).exists()
    for model in (Inquiry, EmailMessage, Task):
        assert not model.objects.filter(contact=merged).exists()
        assert model.objects.filter(contact=survivor).count() == 1
    assert TimelineEvent.objects.filter(contact=survivor, kind="note").count() == 1
    event = TimelineEvent.objects.get(contact=survivor, kind="contact_merged")
    assert event.payload["merged_contact_id"] == str(merged.id)
    assert ContactEmail.objects.filter(contact=survivor, is_primary=True).count() == 1
    assert ContactPhone.objects.filter(contact=survivor, is_primary=True).count() == 1

    old = alice_client.get(f"{URL}{merged.id}/")
    assert old.status_code == 200 and old.json()["merged_into"] == str(survivor.id)
    assert old.json()["merged_at"]
    listed = [c["id"] for c in alice_client.get(URL).json()["results"]]
    assert listed == [str(survivor.id)]
    again = alice_client.post(f"{URL}{survivor.id}/merge/", {"from": str(merged.id)}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "contact_merged"
    edit = alice_client.patch(f"{URL}{merged.id}/", {"first_name": "x"}, format="json")
    assert edit.status_code == 409


def test_merge_keeps_the_most_recent_explicit_consent(studio_a):
    a = _contact(studio_a, first_name="A", marketing_consent=True)
    b = _contact(studio_a, first_name="B")
    Contact.objects.filter(id=a.id).update(
        marketing_consent_at=timezone.now() - dt.timedelta(days=30)
    )
    Contact.objects.filter(id=b.id).update(
        marketing_consent=False,
        marketing_consent_at=timezone.now(),
        marketing_consent_source="unsubscribed",
    )
    a.refresh_from_db()
    b.refresh_from_db()
    survivor = contact_merge(survivor=a, merged=b, by=None)
    assert survivor.marketing_consent is False
    assert survivor.marketing_consent_source == "unsubscribed"


def test_merge_into_itself_is_400(alice_client, studio_a):
    c = _contact(studio_a, first_name="A")
    r = alice_client.post(f"{URL}{c.id}/merge/", {"from": str(c.id)}, format="json")
    assert r.status_code == 400 and r.json()["error"]["code"] == "merge_into_self"


def test_merge_needs_from(alice_client, studio_a):
    c = _contact(studio_a, first_name="A")
    r = alice_client.post(f"{URL}{c.id}/merge/", {}, format="json")
    assert r.status_code == 400 and "from" in r.json()["error"]["fields"]


def test_data_export_holds_everything_including_guest_visits(alice_client, studio_a, pair):
    _, merged, *_ = pair
    visitor = VisitorFactory(gallery__studio=studio_a, email="ana.lima@example.com", name="Ana")
    FavouriteFactory(favourite_list__visitor=visitor, comment="love it")
    VisitorFactory(gallery__studio=studio_a, email="someone@example.com")
    r = alice_client.get(f"{URL}{merged.id}/data/")
    assert r.status_code == 200
    data = r.json()
    assert data["contact"]["first_name"] == "Ana B"
    assert data["emails"] == ["ana.lima@example.com"]
    assert [p["number"] for p in data["phones"]] == ["+14155550100", "+442079460958"]
    assert data["tags"] == ["2027", "vip"]
    assert data["custom_fields"] == {"venue": "Hall", "colour": "blue"}
    assert len(data["jobs"]) == 2 and len(data["inquiries"]) == 1
    assert len(data["emails_sent"]) == 1 and len(data["tasks"]) == 1
    assert [e["kind"] for e in data["timeline"]] == ["note"]
    assert len(data["galleries_visited"]) == 1
    assert data["galleries_visited"][0]["favourites"][0]["comment"] == "love it"


def test_erase_anonymises_and_keeps_rows_money_points_at(alice_client, studio_a, pair):
    merged = pair[1]
    visitor = VisitorFactory(
        gallery__studio=studio_a, email="ana.lima@example.com", name="Ana", visits=3
    )
    favourite = FavouriteFactory(favourite_list__visitor=visitor, comment="my arm, please")
    stranger = VisitorFactory(gallery__studio=studio_a, email="someone@example.com")
    job = JobContact.objects.filter(contact=merged).first().job
    gallery = {"gallery_id": str(visitor.gallery_id), "gallery_name": "G"}
    visit, other_visit = (
        timeline_record(
            studio=studio_a,
            kind="gallery_first_visit",
            payload={**gallery, "email": email},
            job=job,
        )
        for email in ("Ana.Lima@example.com", "someone@example.com")
    )
    timeline_record(
        studio=studio_a,
        kind="email_sent",
        payload={"email_id": str(uuid.uuid4()), "subject": "Hi", "to": "ana.lima@example.com"},
        contact=merged,
    )
    r = alice_client.post(f"{URL}{merged.id}/erase/")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["first_name"] == "Erased contact" and body["last_name"] == ""
    assert body["emails"] == [] and body["phones"] == [] and body["email"] == ""
    assert body["tags"] == [] and body["custom_fields"] == {} and body["notes"] == ""
    assert body["erased_at"] and body["marketing_consent"] is False
    row = Contact.objects.get(id=merged.id)
    assert row.custom_fields == {}
    assert JobContact.objects.filter(contact=merged).count() == 2  # the jobs keep their client
    assert Inquiry.objects.get(contact=merged).answers == {}
    assert EmailMessage.objects.get(contact=merged).to == ""
    assert TimelineEvent.objects.filter(contact=merged, kind="contact_erased").exists()
    # The guests' rows of the person's email, through the guests app's service.
    assert not Visitor.objects.filter(email="ana.lima@example.com").exists()
    visitor = Visitor.objects.get(id=visitor.id)
    assert visitor.email.endswith("@erased.invalid") and visitor.name == ""
    assert visitor.marketing_opt_in is False and visitor.visits == 3
    assert Favourite.objects.get(id=favourite.id).comment == ""
    assert Visitor.objects.get(id=stranger.id).email == "someone@example.com"
    # Addresses leave the timeline: the person's own events and their jobs' gallery events.
    payloads = {e.kind: e.payload for e in TimelineEvent.objects.filter(contact=merged)}
    assert payloads["email_sent"]["to"] == "" and payloads["email_sent"]["subject"] == "Hi"
    assert TimelineEvent.objects.get(id=visit.id).payload["email"] == ""
    assert TimelineEvent.objects.get(id=other_visit.id).payload["email"] == "someone@example.com"
    # The email is free again.
    assert _contact(studio_a, emails=["ana.lima@example.com"]).email == "ana.lima@example.com"
