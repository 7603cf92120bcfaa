"""Contacts: create, read, update, delete, search, custom fields, permissions and scoping."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache

from accounts.models import Role
from crm.models import Contact, ContactEmail, ContactPhone, Tag
from picpick.testing.factories import (
    ContactFactory,
    CustomFieldDefinitionFactory,
    JobContactFactory,
)

pytestmark = pytest.mark.django_db
URL = "/api/v1/crm/contacts/"


def _create(client, **body):
    return client.post(URL, body, format="json")


def test_create_reads_back_with_e164_phone_lowercase_email_and_tags(alice_client, studio_a):
    r = _create(
        alice_client,
        first_name="Ana",
        last_name="Lima",
        emails=["Ana@Example.COM", "ana.work@example.com"],
        phones=[{"number": "(415) 555-0100", "label": "mobile"}],
        country="us",
        tags=["Wedding 2027", "vip"],
        source="referral",
    )
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["email"] == "ana@example.com"
    assert [e["email"] for e in body["emails"]] == ["ana@example.com", "ana.work@example.com"]
    assert body["emails"][0]["is_primary"] and not body["emails"][1]["is_primary"]
    assert body["phone"] == "+14155550100"
    assert body["country"] == "US"
    assert body["tags"] == ["vip", "Wedding 2027"]
    assert Tag.objects.filter(studio=studio_a).count() == 2
    assert body["marketing_consent"] is False and body["marketing_consent_at"] is None


def test_existing_email_is_409_naming_the_contact(alice_client):
    first = _create(alice_client, first_name="A", emails=["ana@example.com"]).json()
    r = _create(alice_client, first_name="B", emails=["ANA@example.com"])
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "contact_exists"
    assert r.json()["error"]["contact_id"] == first["id"]
    other = _create(alice_client, first_name="C", emails=["c@example.com"]).json()
    r = alice_client.patch(f"{URL}{other['id']}/", {"emails": ["ana@example.com"]}, format="json")
    assert r.status_code == 409 and r.json()["error"]["contact_id"] == first["id"]
    assert Contact.objects.count() == 2


def test_same_email_in_another_studio_is_fine(alice_client, bob_client):
    assert _create(alice_client, emails=["ana@example.com"]).status_code == 201
    assert _create(bob_client, emails=["ana@example.com"]).status_code == 201


def test_bad_phone_is_400_naming_the_field_and_writes_nothing(alice_client):
    r = _create(alice_client, first_name="A", phones=[{"number": "+14155550100"}, {"number": "12"}])
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_phone"
    assert list(r.json()["error"]["fields"]) == ["phones.1.number"]
    assert not Contact.objects.exists() and not ContactPhone.objects.exists()


@pytest.mark.parametrize(
    "body,code",
    [
        ({"emails": ["not-an-email"]}, "invalid_email"),
        ({"country": "ZZ"}, "invalid_country"),
        ({"custom_fields": {"nope": 1}}, "invalid_custom_fields"),
        ({"source": "carrier pigeon"}, "validation_error"),
        ({"titel": "typo"}, "validation_error"),
    ],
)
def test_bad_input_is_a_clear_400(alice_client, body, code):
    r = _create(alice_client, first_name="A", **body)
    assert r.status_code == 400, r.json()
    assert r.json()["error"]["code"] == code
    assert not Contact.objects.exists()


def test_custom_fields_checked_by_kind_and_required(alice_client, studio_a):
    CustomFieldDefinitionFactory(studio=studio_a, key="guests", kind="number")
    CustomFieldDefinitionFactory(studio=studio_a, key="date", kind="date", required=True)
    r = _create(alice_client, custom_fields={"guests": "many", "date": "2027-06-05"})
    assert r.status_code == 400
    assert r.json()["error"]["fields"] == {"custom_fields.guests": ["Must be a number."]}
    r = _create(alice_client, custom_fields={"guests": 80})
    assert r.json()["error"]["fields"] == {"custom_fields.date": ["This field is required."]}
    r = _create(alice_client, custom_fields={"guests": 80, "date": "2027-06-05"})
    assert r.status_code == 201
    assert r.json()["custom_fields"] == {"guests": 80, "date": "2027-06-05"}


def test_custom_field_definitions_crud_and_removed_values_leave_outputs(alice_client, studio_a):
    r = alice_client.post(
        "/api/v1/crm/custom-fields/",
        {"applies_to": "contact", "key": "venue", "label": "Venue", "kind": "text"},
        format="json",
    )
    assert r.status_code == 201
    definition_id = r.json()["id"]
    dup = alice_client.post(
        "/api/v1/crm/custom-fields/",
        {"applies_to": "contact", "key": "venue", "label": "Again", "kind": "text"},
        format="json",
    )
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "custom_field_exists"
    bad = alice_client.post(
        "/api/v1/crm/custom-fields/",
        {"applies_to": "job", "key": "pkg", "label": "P", "kind": "choice"},
        format="json",
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_choices"
    contact = _create(alice_client, custom_fields={"venue": "Barn"}).json()
    assert contact["custom_fields"] == {"venue": "Barn"}
    r = alice_client.patch(
        f"/api/v1/crm/custom-fields/{definition_id}/", {"label": "Location"}, format="json"
    )
    assert r.json()["label"] == "Location"
    listed = alice_client.get("/api/v1/crm/custom-fields/?applies_to=contact").json()
    assert [d["key"] for d in listed["results"]] == ["venue"]
    assert alice_client.delete(f"/api/v1/crm/custom-fields/{definition_id}/").status_code == 204
    assert alice_client.get(f"{URL}{contact['id']}/").json()["custom_fields"] == {}
    # The stored value stays in the row; an update does not trip over it.
    assert Contact.objects.get(id=contact["id"]).custom_fields == {"venue": "Barn"}
    r = alice_client.patch(f"{URL}{contact['id']}/", {"first_name": "Z"}, format="json")
    assert r.status_code == 200
    r = alice_client.patch(f"{URL}{contact['id']}/", {"custom_fields": {}}, format="json")
    assert r.status_code == 200


def test_update_replaces_lists_keeps_primary_copies_and_records_consent(alice_client):
    c = _create(alice_client, emails=["a@example.com"], phones=[{"number": "+14155550100"}]).json()
    r = alice_client.patch(
        f"{URL}{c['id']}/",
        {
            "emails": ["b@example.com", "a@example.com"],
            "phones": [{"number": "+44 20 7946 0958"}],
            "tags": ["x"],
            "marketing_consent": True,
            "marketing_consent_source": "consultation",
        },
        format="json",
    )
    body = r.json()
    assert r.status_code == 200
    assert body["email"] == "b@example.com" and body["phone"] == "+442079460958"
    assert body["marketing_consent"] is True and body["marketing_consent_at"]
    assert body["marketing_consent_source"] == "consultation"
    assert ContactEmail.objects.filter(contact_id=c["id"], is_primary=True).count() == 1
    assert body["tags"] == ["x"]


def test_delete_only_without_jobs(alice_client, studio_a):
    free = ContactFactory(studio=studio_a)
    assert alice_client.delete(f"{URL}{free.id}/").status_code == 204
    link = JobContactFactory(job__stage__pipeline__studio=studio_a)
    r = alice_client.delete(f"{URL}{link.contact_id}/")
    assert r.status_code == 409 and r.json()["error"]["code"] == "contact_has_jobs"
    assert Contact.objects.filter(id=link.contact_id).exists()


def test_another_studios_contact_is_404_everywhere(alice_client, studio_b):
    other = ContactFactory(studio=studio_b)
    definition = CustomFieldDefinitionFactory(studio=studio_b)
    mine = _create(alice_client, first_name="Me").json()
    for method, url, body in [
        ("get", f"{URL}{other.id}/", None),
        ("patch", f"{URL}{other.id}/", {"first_name": "x"}),
        ("delete", f"{URL}{other.id}/", None),
        ("post", f"{URL}{other.id}/merge/", {"from": mine["id"]}),
        ("post", f"{URL}{mine['id']}/merge/", {"from": str(other.id)}),
        ("get", f"{URL}{other.id}/data/", None),
        ("post", f"{URL}{other.id}/erase/", None),
        ("get", f"/api/v1/crm/custom-fields/{definition.id}/", None),
        ("patch", f"/api/v1/crm/custom-fields/{definition.id}/", {"label": "x"}),
        ("delete", f"/api/v1/crm/custom-fields/{definition.id}/", None),
        ("get", f"{URL}imports/{uuid.uuid4()}/", None),
    ]:
        r = getattr(alice_client, method)(url, body, format="json")
        assert r.status_code == 404, (method, url, r.status_code)
    assert Contact.objects.get(id=other.id).first_name == other.first_name


def test_permissions_assistant_none_photographer_reads_only(member_of_a, studio_a):
    contact = ContactFactory(studio=studio_a)
    _, assistant = member_of_a(Role.ASSISTANT)
    _, photographer = member_of_a(Role.PHOTOGRAPHER)
    assert assistant.get(URL).status_code == 403
    assert assistant.get(f"{URL}{contact.id}/").status_code == 403
    assert photographer.get(URL).status_code == 200
    assert photographer.get(f"{URL}{contact.id}/").status_code == 200
    assert photographer.get(f"{URL}export/").status_code == 200
    assert _create(photographer, first_name="x").status_code == 403
    r = photographer.patch(f"{URL}{contact.id}/", {"first_name": "x"}, format="json")
    assert r.status_code == 403
    assert photographer.post(f"{URL}{contact.id}/erase/").status_code == 403
    assert photographer.get(f"{URL}{contact.id}/data/").status_code == 403


# --- Search ---------------------------------------------------------------------------------------
@pytest.fixture
def people(alice_client, studio_a, studio_b):
    made = {}
    for key, first, last, email, phone, tags in [
        ("ana", "Ana", "Lima", "ana@example.com", "+14155550100", ["vip"]),
        ("anabel", "Anabel", "Smith", "anabel@studio.org", "+442079460958", []),
        ("bo", "Bo", "Anders", "bo@example.com", "", ["vip"]),
        ("cy", "Cy", "Young", "cy@example.net", "+33142685300", []),
    ]:
        body = {"first_name": first, "last_name": last, "emails": [email], "tags": tags}
        if phone:
            body["phones"] = [{"number": phone}]
        made[key] = _create(alice_client, **body).json()["id"]
    ContactFactory(studio=studio_b, first_name="Ana", last_name="Other")
    return made


def _ids(client, query):
    r = client.get(f"{URL}?{query}")
    assert r.status_code == 200, r.json()
    return [c["id"] for c in r.json()["results"]]


def test_search_by_name_prefix_and_first_last(alice_client, people):
    assert set(_ids(alice_client, "q=an")) == {people["ana"], people["anabel"], people["bo"]}
    assert _ids(alice_client, "q=ana%20li") == [people["ana"]]
    assert _ids(alice_client, "q=ANABEL") == [people["anabel"]]


def test_search_by_email_exact_or_prefix(alice_client, people):
    assert _ids(alice_client, "q=ana@example.com") == [people["ana"]]
    assert set(_ids(alice_client, "q=ana@")) == {people["ana"]}
    assert _ids(alice_client, "q=Anabel@stu") == [people["anabel"]]


def test_search_by_phone_in_any_spelling_and_suffix(alice_client, people):
    assert _ids(alice_client, "q=(415)%20555-0100") == [people["ana"]]
    assert _ids(alice_client, "q=%2B44%2020%207946%200958") == [people["anabel"]]
    assert _ids(alice_client, "q=5550100") == [people["ana"]]
    assert _ids(alice_client, "q=68-53-00") == [people["cy"]]


def test_tag_source_and_created_filters_and_ordering(alice_client, people):
    assert set(_ids(alice_client, "tag=VIP")) == {people["ana"], people["bo"]}
    assert _ids(alice_client, "tag=unknown") == []
    assert _ids(alice_client, "source=import") == []
    assert len(_ids(alice_client, "source=manual")) == 4
    assert len(_ids(alice_client, "created_after=2000-01-01T00:00:00Z")) == 4
    assert _ids(alice_client, "created_before=2000-01-01T00:00:00Z") == []
    by_name = _ids(alice_client, "ordering=name")
    assert by_name == [people["bo"], people["ana"], people["anabel"], people["cy"]]
    assert _ids(alice_client, "ordering=-name") == by_name[::-1]
    r = alice_client.get(f"{URL}?ordering=shoe_size")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_ordering"


def test_keyset_pages_cover_everyone_once(alice_client, people):
    seen, cursor = [], ""
    while True:
        body = alice_client.get(f"{URL}?page_size=1&ordering=-created_at&cursor={cursor}").json()
        seen += [c["id"] for c in body["results"]]
        if not body["next"]:
            break
        cursor = body["next"]
    assert sorted(seen) == sorted(people.values()) and len(seen) == 4


def test_search_by_the_dotted_part_before_the_at(alice_client, studio_a):
    made = _create(alice_client, first_name="Zed", emails=["ana.lima@example.com"]).json()
    assert _ids(alice_client, "q=ana.li") == [made["id"]]


def test_a_name_search_pages_as_a_union_of_name_ranges(alice_client, people):
    expected = _ids(alice_client, "q=an")
    seen, cursor = [], ""
    while True:
        body = alice_client.get(f"{URL}?q=an&page_size=1&cursor={cursor}").json()
        seen += [c["id"] for c in body["results"]]
        if not body["next"]:
            break
        cursor = body["next"]
    assert seen == expected


def _pages(client, query, page_size=2):
    seen, cursor = [], ""
    while True:
        body = client.get(f"{URL}?{query}&page_size={page_size}&cursor={cursor}").json()
        seen += [c["id"] for c in body["results"]]
        if not body["next"]:
            return seen
        cursor = body["next"]


@pytest.mark.parametrize("ordering", ["name", "-name", "first_name", "-created_at", "email"])
def test_a_dense_tag_walks_names_and_finds_the_same_pages(
    alice_client, studio_a, monkeypatch, ordering
):
    from crm.selectors import contacts as selectors

    tag = Tag.objects.create(studio=studio_a, name="Wedding")
    tagged = set()
    for n in range(9):
        contact = ContactFactory(
            studio=studio_a, first_name=f"F{n % 3}", last_name=f"L{(n * 7) % 5}"
        )
        if n % 3:
            contact.tags.add(tag)
            tagged.add(str(contact.id))
    merged = ContactFactory(studio=studio_a, first_name="Gone")
    merged.tags.add(tag)
    merged.merged_into = contact
    merged.save()
    sparse = _pages(alice_client, f"tag=wedding&ordering={ordering}")
    monkeypatch.setattr(selectors, "DENSE_TAG", 1)
    cache.clear()  # the remembered density of the tag
    dense = _pages(alice_client, f"tag=wedding&ordering={ordering}")
    assert dense == sparse and set(dense) == tagged
    assert _pages(alice_client, f"tag=wedding&q=F1&ordering={ordering}") == [
        i for i in dense if Contact.objects.get(id=i).first_name == "F1"
    ]


def test_merged_contacts_leave_name_searches_and_first_name_order_breaks_ties_by_last(
    alice_client, studio_a
):
    keep = ContactFactory(studio=studio_a, first_name="Ana", last_name="Zed")
    other = ContactFactory(studio=studio_a, first_name="Ana", last_name="Abe")
    gone = ContactFactory(studio=studio_a, first_name="Ana", last_name="Lee")
    gone.merged_into = keep
    gone.save()
    assert _ids(alice_client, "q=ana") == [str(other.id), str(keep.id)]
    assert _ids(alice_client, "q=lee") == []
    assert _ids(alice_client, "ordering=first_name") == [str(other.id), str(keep.id)]
