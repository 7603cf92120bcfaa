"""The studio's inquiry form API: CRUD with every rule of a form's definition, the inquiries
it brought in, and studio B seeing none of it."""

from __future__ import annotations

import pytest

from accounts.models import Role
from crm.models import Inquiry, InquiryForm, Job
from picpick.testing.factories import EmailTemplateFactory, PipelineFactory
from tests.crm.inquiries.support import QUESTIONS, answers, submit

pytestmark = pytest.mark.django_db

FORMS = "/api/v1/crm/inquiry-forms/"


def form_url(form, suffix: str = "") -> str:
    return f"{FORMS}{form.id}/{suffix}"


def code(response) -> str:
    return response.json()["error"]["code"]


def test_a_studio_creates_a_form_and_gets_its_links(alice_client, auto_reply):
    response = alice_client.post(
        FORMS,
        {
            "name": "Weddings",
            "slug": "weddings",
            "fields": QUESTIONS,
            "auto_reply_template_id": str(auto_reply.id),
            "embed_origins": ["https://AnnaSmith.com/", "https://www.annasmith.com:8443"],
            "notify_emails": ["Anna@AnnaSmith.com"],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["active"] is True
    assert body["page_url"] == "https://annasmith.localhost/inquire/weddings/"
    assert body["embed_url"] == "https://annasmith.localhost/inquire/weddings/embed/"
    assert body["embed_snippet"] == (
        '<div data-picpick-inquiry="weddings"></div>\n'
        '<script src="https://annasmith.localhost/inquire/embed.js" async></script>'
    )
    assert body["embed_origins"] == ["https://annasmith.com", "https://www.annasmith.com:8443"]
    assert body["notify_emails"] == ["anna@annasmith.com"]
    assert body["auto_reply_template_id"] == str(auto_reply.id)
    assert body["pipeline_id"] is None
    assert [q["key"] for q in body["fields"]] == [q["key"] for q in QUESTIONS]
    venue = next(q for q in body["fields"] if q["key"] == "venue")
    assert venue == {
        "key": "venue",
        "label": "Venue",
        "kind": "choice",
        "required": False,
        "choices": ["Barn", "Beach"],
    }
    assert "choices" not in body["fields"][1]
    assert alice_client.get(form_url(InquiryForm.objects.get())).json() == body


def test_standard_questions_need_only_their_key(alice_client):
    response = alice_client.post(
        FORMS,
        {"name": "Quick", "slug": "quick", "fields": [{"key": "message", "required": True}]},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["fields"] == [
        {"key": "message", "label": "Message", "kind": "textarea", "required": True}
    ]


BAD_DEFINITIONS = [
    ("not a list", "fields"),
    ([{"key": "Bad Key", "label": "x", "kind": "text"}], "fields.0.key"),
    ([{"key": "email", "label": "x", "kind": "email"}], "fields.0.key"),
    ([{"key": "website", "label": "x", "kind": "text"}], "fields.0.key"),
    (
        [{"key": "a", "label": "A", "kind": "text"}, {"key": "a", "label": "B", "kind": "text"}],
        "fields.1.key",
    ),
    ([{"key": "colour", "label": "Colour", "kind": "colour"}], "fields.0.kind"),
    ([{"key": "colour", "label": "Colour"}], "fields.0.kind"),
    ([{"key": "tier", "label": "Tier", "kind": "budget"}], "fields.0.kind"),
    ([{"key": "budget", "label": "Budget", "kind": "number"}], "fields.0.kind"),
    ([{"key": "notes", "label": "", "kind": "text"}], "fields.0.label"),
    ([{"key": "notes", "label": "x" * 201, "kind": "text"}], "fields.0.label"),
    ([{"key": "notes", "label": "N", "kind": "text", "required": "yes"}], "fields.0.required"),
    ([{"key": "venue", "label": "V", "kind": "choice"}], "fields.0.choices"),
    ([{"key": "venue", "label": "V", "kind": "choice", "choices": []}], "fields.0.choices"),
    ([{"key": "venue", "label": "V", "kind": "choice", "choices": ["A", "A"]}], "fields.0.choices"),
    ([{"key": "venue", "label": "V", "kind": "choice", "choices": [""]}], "fields.0.choices"),
    ([{"key": "venue", "label": "V", "kind": "choice", "choices": ["a"] * 51}], "fields.0.choices"),
    ([{"key": "event_type", "choices": []}], "fields.0.choices"),
    ([{"key": "notes", "label": "N", "kind": "text", "choices": ["a"]}], "fields.0.choices"),
    ([{"key": "notes", "label": "N", "kind": "text", "hint": "x"}], "fields.0.hint"),
    ([{"key": "marketing_consent", "required": True}], "fields.0.required"),
    (["text"], "fields.0"),
]


@pytest.mark.parametrize(("fields", "path"), BAD_DEFINITIONS, ids=lambda v: str(v)[:40])
def test_a_bad_question_list_is_a_400_naming_the_question(alice_client, fields, path):
    response = alice_client.post(FORMS, {"name": "F", "slug": "f", "fields": fields}, format="json")
    assert response.status_code == 400, response.content
    if path != "fields":
        assert code(response) == "invalid_form_fields"
    assert path in response.json()["error"]["fields"]
    assert not InquiryForm.objects.exists()


def test_more_than_thirty_questions_are_refused(alice_client):
    fields = [{"key": f"q{n}", "label": "Q", "kind": "text"} for n in range(31)]
    response = alice_client.post(FORMS, {"name": "F", "slug": "f", "fields": fields}, format="json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "origin",
    [
        "http://annasmith.com",
        "annasmith.com",
        "https://annasmith.com/contact",
        "https://annasmith.com?x=1",
        "https://user@annasmith.com",
        "https://annasmith.com; script-src *",
        "https://anna smith.com",
        "https://*.annasmith.com",
        "https://annasmith.com:99999",
        "javascript:alert(1)",
        "https://",
    ],
)
def test_embed_origins_are_strict_https_origins(alice_client, origin):
    response = alice_client.post(
        FORMS, {"name": "F", "slug": "f", "embed_origins": [origin]}, format="json"
    )
    assert response.status_code == 400, response.content
    assert code(response) == "invalid_origin"
    assert "embed_origins.0" in response.json()["error"]["fields"]


def test_plain_http_origins_are_allowed_for_localhost_and_international_names_are_punycode(
    alice_client,
):
    response = alice_client.post(
        FORMS,
        {
            "name": "F",
            "slug": "f",
            "embed_origins": ["http://localhost:3000", "https://bücher.example"],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["embed_origins"] == [
        "http://localhost:3000",
        "https://xn--bcher-kva.example",
    ]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"name": "F", "slug": "Not A Slug"}, 400, "invalid_slug"),
        ({"name": "F", "slug": "embed"}, 400, "invalid_slug"),
        ({"name": "F", "slug": "a--b"}, 400, "invalid_slug"),
        ({"name": "", "slug": "f"}, 400, "validation_error"),
        ({"name": "F", "slug": "f", "notify_emails": ["nope"]}, 400, "validation_error"),
        ({"name": "F", "slug": "f", "notify_emails": ["a@example.com"] * 11}, 400, None),
        ({"name": "F", "slug": "f", "colour": "red"}, 400, "validation_error"),
        ({"name": "F", "slug": "f", "active": "maybe"}, 400, "validation_error"),
        ({"slug": "f"}, 400, "validation_error"),
    ],
)
def test_bad_form_settings_are_400s(alice_client, body, status, error):
    response = alice_client.post(FORMS, body, format="json")
    assert response.status_code == status, response.content
    if error:
        assert code(response) == error
    assert not InquiryForm.objects.exists()


def test_a_slug_is_unique_per_studio(alice_client, bob_client, wedding_form):
    taken = alice_client.post(FORMS, {"name": "Again", "slug": "weddings"}, format="json")
    assert taken.status_code == 409
    assert code(taken) == "slug_taken"
    other = alice_client.post(FORMS, {"name": "Family", "slug": "family"}, format="json").json()
    rename = alice_client.patch(f"{FORMS}{other['id']}/", {"slug": "weddings"}, format="json")
    assert (rename.status_code, code(rename)) == (409, "slug_taken")
    # Another studio may use it.
    assert (
        bob_client.post(FORMS, {"name": "W", "slug": "weddings"}, format="json").status_code == 201
    )


def test_the_pipeline_and_the_template_must_be_the_studios_own(alice_client, studio_b):
    bobs_pipeline = PipelineFactory(studio=studio_b)
    bobs_template = EmailTemplateFactory(studio=studio_b)
    for field, value, error in (
        ("pipeline_id", bobs_pipeline.id, "pipeline_not_found"),
        ("auto_reply_template_id", bobs_template.id, "template_not_found"),
    ):
        response = alice_client.post(
            FORMS, {"name": "F", "slug": "f", field: str(value)}, format="json"
        )
        assert (response.status_code, code(response)) == (422, error)
        assert field in response.json()["error"]["fields"]
    assert not InquiryForm.objects.exists()


def test_a_form_is_changed_field_by_field(alice_client, wedding_form, studio_a):
    pipeline = PipelineFactory(studio=studio_a)
    response = alice_client.patch(
        form_url(wedding_form),
        {"active": False, "pipeline_id": str(pipeline.id), "fields": [{"key": "message"}]},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["active"], body["pipeline_id"], body["name"]) == (
        False,
        str(pipeline.id),
        "Weddings",
    )
    assert [q["key"] for q in body["fields"]] == ["message"]
    bad = alice_client.patch(form_url(wedding_form), {"fields": [{"key": "x"}]}, format="json")
    assert bad.status_code == 400
    wedding_form.refresh_from_db()
    assert [q["key"] for q in wedding_form.fields] == ["message"]  # nothing half-written


def test_deleting_a_form_keeps_its_inquiries(alice_client, wedding_form):
    inquiry = submit(wedding_form)
    assert alice_client.delete(form_url(wedding_form)).status_code == 204
    assert not InquiryForm.objects.exists()
    inquiry.refresh_from_db()
    assert inquiry.form is None and inquiry.job is not None
    listed = alice_client.get("/api/v1/crm/inquiries/").json()["results"]
    assert [(i["id"], i["form_id"], i["form_name"]) for i in listed] == [
        (str(inquiry.id), None, "")
    ]


def test_a_forms_inquiries_are_listed_newest_first_in_pages(alice_client, wedding_form, alice):
    from crm.services import inquiries as services

    other = services.inquiry_form_create(
        studio=wedding_form.studio, by=alice, name="Family", slug="family"
    )
    made = [
        submit(wedding_form, answers(email=f"guest{n}@example.com"), address=f"192.0.2.{n}")
        for n in range(3)
    ]
    submit(other, {"first_name": "Other", "email": "other@example.com"}, address="192.0.2.9")

    first = alice_client.get(form_url(wedding_form, "inquiries/"), {"page_size": 2}).json()
    second = alice_client.get(
        form_url(wedding_form, "inquiries/"), {"page_size": 2, "cursor": first["next"]}
    ).json()
    ids = [i["id"] for i in first["results"] + second["results"]]
    assert ids == [str(i.id) for i in reversed(made)]
    assert second["next"] is None
    item = first["results"][0]
    assert item["contact"]["email"] == "guest2@example.com"
    assert item["contact"]["name"] == "Jane Doe"
    assert item["job"]["stage"] == "Inquiry"
    assert item["answers"]["budget"] == {"amount": 350000, "currency": "USD"}
    assert item["form_name"] == "Weddings"
    everything = alice_client.get("/api/v1/crm/inquiries/").json()["results"]
    assert len(everything) == 4
    detail = alice_client.get(f"/api/v1/crm/inquiries/{made[0].id}/").json()
    assert detail["id"] == str(made[0].id)


def test_the_form_list_is_paged(alice_client, wedding_form, alice):
    response = alice_client.get(FORMS, {"page_size": 1}).json()
    assert [f["slug"] for f in response["results"]] == ["weddings"]
    assert response["next"] is None


def test_another_studio_sees_none_of_it(bob_client, wedding_form):
    inquiry = submit(wedding_form)
    for method, url in (
        ("get", form_url(wedding_form)),
        ("patch", form_url(wedding_form)),
        ("delete", form_url(wedding_form)),
        ("get", form_url(wedding_form, "inquiries/")),
        ("get", f"/api/v1/crm/inquiries/{inquiry.id}/"),
    ):
        response = getattr(bob_client, method)(url, {"active": False}, format="json")
        assert response.status_code == 404, (method, url)
    assert bob_client.get(FORMS).json()["results"] == []
    assert bob_client.get("/api/v1/crm/inquiries/").json()["results"] == []
    assert InquiryForm.objects.get().active is True
    assert Inquiry.objects.count() == 1


def test_a_photographer_reads_forms_but_only_admins_change_them(member_of_a, wedding_form):
    _, photographer = member_of_a(Role.PHOTOGRAPHER)
    assert photographer.get(FORMS).status_code == 200
    assert (
        photographer.patch(form_url(wedding_form), {"active": False}, format="json").status_code
        == 403
    )
    _, assistant = member_of_a(Role.ASSISTANT)
    assert assistant.get(form_url(wedding_form, "inquiries/")).status_code == 403
    _, admin = member_of_a(Role.ADMIN)
    assert admin.patch(form_url(wedding_form), {"active": False}, format="json").status_code == 200


def test_an_inquiry_whose_job_was_deleted_is_still_listed(alice_client, wedding_form):
    inquiry = submit(wedding_form)
    Job.objects.filter(id=inquiry.job_id).delete()
    (listed,) = alice_client.get(form_url(wedding_form, "inquiries/")).json()["results"]
    assert (listed["id"], listed["job"]) == (str(inquiry.id), None)
