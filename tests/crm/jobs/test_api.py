"""Jobs and the pipeline through the API: pipelines and stages, jobs, links, board, reports."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Role
from crm.models import Job, JobContact, JobGallery, Stage, StageChange, TimelineEvent
from crm.services.jobs import job_create, job_stage_change
from crm.services.pipelines import pipeline_default_ensure
from picpick.testing.factories import (
    ContactFactory,
    CustomFieldDefinitionFactory,
    GalleryFactory,
    InquiryFactory,
    UserFactory,
)
from tests.queries import QueryCount

API = "/api/v1/crm/"


@pytest.fixture
def pipeline(studio_a):
    return pipeline_default_ensure(studio=studio_a)


def stage(pipeline, name):
    return Stage.objects.get(pipeline=pipeline, name=name)


@pytest.fixture
def job(studio_a, alice, pipeline):
    return job_create(studio=studio_a, by=alice, name="Smith wedding")


def error(response):
    return response.json()["error"]["code"]


# --- Pipelines and stages -----------------------------------------------------------------------
def test_pipeline_list_makes_the_default_pipeline(alice_client):
    response = alice_client.get(API + "pipelines/")
    assert response.status_code == 200
    [pipeline] = response.json()["results"]
    assert pipeline["is_default"] and [s["name"] for s in pipeline["stages"]][:3] == [
        "Inquiry",
        "Proposal sent",
        "Booked",
    ]


def test_pipeline_create_rename_and_stages(alice_client, pipeline):
    response = alice_client.post(
        API + "pipelines/",
        {"name": "Portraits", "stages": [{"name": "New"}, {"name": "Done", "kind": "completed"}]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert not body["is_default"] and [s["kind"] for s in body["stages"]] == ["open", "completed"]
    pid = body["id"]
    assert (
        alice_client.patch(API + f"pipelines/{pid}/", {"name": "Minis"}, format="json").json()[
            "name"
        ]
        == "Minis"
    )
    added = alice_client.post(
        API + f"pipelines/{pid}/stages/",
        {"name": "Booked", "kind": "booked", "position": 1},
        format="json",
    )
    assert added.status_code == 201 and added.json()["position"] == 1
    ids = [s["id"] for s in alice_client.get(API + f"pipelines/{pid}/").json()["stages"]]
    assert len(ids) == 3
    reordered = alice_client.post(
        API + f"pipelines/{pid}/stages/reorder/", {"stage_ids": ids[::-1]}, format="json"
    )
    assert [s["id"] for s in reordered.json()["stages"]] == ids[::-1]
    bad = alice_client.post(
        API + f"pipelines/{pid}/stages/", {"name": "X", "kind": "weird"}, format="json"
    )
    assert bad.status_code == 400 and error(bad) == "invalid_stage_kind"


def test_reorder_with_a_stage_of_another_pipeline_is_400(alice_client, studio_a, pipeline):
    other = alice_client.post(API + "pipelines/", {"name": "Other"}, format="json").json()
    ids = [s.id for s in Stage.objects.filter(pipeline=pipeline).order_by("position")]
    response = alice_client.post(
        API + f"pipelines/{pipeline.id}/stages/reorder/",
        {"stage_ids": [str(i) for i in ids[:-1]] + [other["stages"][0]["id"]]},
        format="json",
    )
    assert response.status_code == 400 and error(response) == "stage_of_another_pipeline"


def test_removing_a_stage_with_jobs_needs_somewhere_for_them(
    alice_client, studio_a, alice, pipeline
):
    for n in range(3):
        job_create(studio=studio_a, by=alice, name=f"J{n}")
    inquiry, proposal = stage(pipeline, "Inquiry"), stage(pipeline, "Proposal sent")
    response = alice_client.delete(API + f"stages/{inquiry.id}/")
    assert response.status_code == 409
    assert (
        response.json()["error"]["code"] == "stage_not_empty"
        and response.json()["error"]["count"] == 3
    )
    other = alice_client.post(API + "pipelines/", {"name": "Other"}, format="json").json()
    response = alice_client.delete(
        API + f"stages/{inquiry.id}/?move_jobs_to={other['stages'][0]['id']}"
    )
    assert response.status_code == 400 and error(response) == "stage_of_another_pipeline"
    assert Stage.objects.filter(id=inquiry.id).exists()
    response = alice_client.delete(API + f"stages/{inquiry.id}/?move_jobs_to={proposal.id}")
    assert response.status_code == 204
    assert Job.objects.filter(stage=proposal).count() == 3
    assert StageChange.objects.filter(to_stage=proposal).count() == 3
    positions = list(
        Stage.objects.filter(pipeline=pipeline)
        .order_by("position")
        .values_list("position", flat=True)
    )
    assert positions == list(range(8))


# --- Jobs ---------------------------------------------------------------------------------------
def test_job_create_with_everything(alice_client, studio_a, alice, pipeline):
    studio_a.timezone = "America/New_York"
    studio_a.save(update_fields=["timezone"])
    client = ContactFactory(studio=studio_a, first_name="Jane", last_name="Smith")
    planner = ContactFactory(studio=studio_a)
    CustomFieldDefinitionFactory(studio=studio_a, applies_to="job", key="guests", kind="number")
    response = alice_client.post(
        API + "jobs/",
        {
            "name": "Smith wedding",
            "job_type": "wedding",
            "event_start": "2026-06-13T15:00",
            "event_end": "2026-06-14T00:00",
            "event_timezone": "Europe/Paris",
            "location": "Maincy",
            "estimated_value": 450000,
            "currency": "eur",
            "lead_source": "instagram",
            "owner": str(alice.id),
            "contacts": [
                {"contact": str(client.id)},
                {"contact": str(planner.id), "role": "planner"},
            ],
            "custom_fields": {"guests": 120},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["event_start"] == "2026-06-13T13:00:00Z"
    assert body["event_start_local"] == "2026-06-13T15:00:00+02:00"
    assert body["currency"] == "EUR" and body["estimated_value"] == 450000
    assert body["owner"]["id"] == str(alice.id) and body["custom_fields"] == {"guests": 120}
    assert [(c["name"], c["role"], c["is_billing"]) for c in body["contacts"]] == [
        ("Jane Smith", "client", True),
        (planner.first_name + " " + planner.last_name, "planner", False),
    ]
    assert body["stage"]["name"] == "Inquiry"
    # Without an event zone, a wall-clock time is the studio's.
    response = alice_client.post(
        API + "jobs/", {"name": "NY", "event_start": "2026-01-10T10:00"}, format="json"
    )
    assert response.json()["event_start"] == "2026-01-10T15:00:00Z"
    assert response.json()["currency"] == studio_a.default_currency


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"estimated_value": "12.50"}, "invalid_amount"),
        ({"estimated_value": 12.5}, "invalid_amount"),
        ({"estimated_value": -1}, "invalid_amount"),
        ({"estimated_value": True}, "invalid_amount"),
        ({"currency": "ABC"}, "invalid_currency"),
        ({"event_timezone": "Mars/Olympus"}, "invalid_timezone"),
        (
            {"event_start": "2026-06-02T10:00Z", "event_end": "2026-06-01T10:00Z"},
            "invalid_event_range",
        ),
        ({"custom_fields": {"nope": 1}}, "invalid_custom_fields"),
        ({"colour": "red"}, "validation_error"),
    ],
)
def test_job_create_bad_input(alice_client, pipeline, body, code):
    response = alice_client.post(API + "jobs/", {"name": "X", **body}, format="json")
    assert response.status_code == 400, response.content
    assert error(response) == code
    assert not Job.objects.exists()


def test_job_create_refuses_other_studios_things(alice_client, studio_a, studio_b, bob, pipeline):
    stranger = UserFactory()
    theirs = ContactFactory(studio=studio_b)
    their_stage = Stage.objects.filter(pipeline=pipeline_default_ensure(studio=studio_b)).first()
    for body, code in [
        ({"owner": str(stranger.id)}, "owner_not_member"),
        ({"owner": str(bob.id)}, "owner_not_member"),
        ({"contacts": [{"contact": str(theirs.id)}]}, "contact_not_found"),
        ({"stage": str(their_stage.id)}, "stage_not_found"),
    ]:
        response = alice_client.post(API + "jobs/", {"name": "X", **body}, format="json")
        assert (response.status_code, error(response)) == (400, code), body
    other = alice_client.post(API + "pipelines/", {"name": "Other"}, format="json").json()
    response = alice_client.post(
        API + "jobs/",
        {"name": "X", "pipeline": str(pipeline.id), "stage": other["stages"][0]["id"]},
        format="json",
    )
    assert (response.status_code, error(response)) == (400, "stage_of_another_pipeline")
    assert not Job.objects.filter(studio=studio_a).exists()


def test_job_update_list_filters_and_delete(alice_client, studio_a, alice, pipeline):
    contact = ContactFactory(studio=studio_a)
    a = job_create(
        studio=studio_a,
        by=alice,
        name="Alpha wedding",
        job_type="wedding",
        contacts=[(contact, "client", True)],
    )
    b = job_create(
        studio=studio_a, by=alice, name="Beta portrait", job_type="portrait", owner=alice
    )
    job_stage_change(job=b, stage=stage(pipeline, "Booked"), by=alice)
    response = alice_client.patch(
        API + f"jobs/{a.id}/",
        {"event_start": "2026-05-01T10:00Z", "estimated_value": 100},
        format="json",
    )
    assert response.status_code == 200 and response.json()["estimated_value"] == 100
    assert (
        alice_client.patch(
            API + f"jobs/{a.id}/", {"estimated_value": 1.5}, format="json"
        ).status_code
        == 400
    )

    def names(query):
        response = alice_client.get(API + "jobs/" + query)
        assert response.status_code == 200, response.content
        return [j["name"] for j in response.json()["results"]]

    assert names("") == ["Beta portrait", "Alpha wedding"]
    assert names("?job_type=wedding") == ["Alpha wedding"]
    assert names(f"?stage={stage(pipeline, 'Booked').id}") == ["Beta portrait"]
    assert names(f"?owner={alice.id}") == ["Beta portrait"]
    assert names(f"?contact={contact.id}") == ["Alpha wedding"]
    assert names("?q=PORTRAIT") == ["Beta portrait"]
    assert names("?event_from=2026-04-01T00:00Z&event_to=2026-06-01T00:00Z") == ["Alpha wedding"]
    assert names("?ordering=name") == ["Alpha wedding", "Beta portrait"]
    assert names(f"?pipeline={pipeline.id}&page_size=1") == ["Beta portrait"]
    assert alice_client.delete(API + f"jobs/{a.id}/").status_code == 204
    assert names("") == ["Beta portrait"]


def test_stage_change_endpoint(alice_client, studio_a, job, pipeline):
    lost = stage(pipeline, "Lost")
    response = alice_client.post(
        API + f"jobs/{job.id}/stage/", {"stage": str(lost.id)}, format="json"
    )
    assert (response.status_code, error(response)) == (400, "reason_required")
    response = alice_client.post(
        API + f"jobs/{job.id}/stage/", {"stage": str(lost.id), "reason": "Budget"}, format="json"
    )
    assert response.status_code == 200 and response.json()["lost_reason"] == "Budget"
    history = alice_client.get(API + f"jobs/{job.id}/stage/").json()["results"]
    assert [
        (h["from_stage"] and h["from_stage"]["name"], h["to_stage"]["name"]) for h in history
    ] == [
        (None, "Inquiry"),
        ("Inquiry", "Lost"),
    ]
    other = alice_client.post(API + "pipelines/", {"name": "Other"}, format="json").json()
    response = alice_client.post(
        API + f"jobs/{job.id}/stage/", {"stage": other["stages"][0]["id"]}, format="json"
    )
    assert (response.status_code, error(response)) == (400, "stage_of_another_pipeline")


def test_contacts_keep_exactly_one_billing(alice_client, studio_a, job, studio_b):
    a, b = ContactFactory(studio=studio_a), ContactFactory(studio=studio_a)
    url = API + f"jobs/{job.id}/contacts/"
    assert alice_client.post(url, {"contact": str(a.id)}, format="json").status_code == 200
    body = alice_client.post(
        url, {"contact": str(b.id), "role": "partner", "is_billing": True}, format="json"
    ).json()
    assert {c["contact_id"]: c["is_billing"] for c in body["contacts"]} == {
        str(a.id): False,
        str(b.id): True,
    }
    again = alice_client.post(url, {"contact": str(a.id)}, format="json")
    assert (again.status_code, error(again)) == (409, "contact_already_linked")
    bad_role = alice_client.post(
        url, {"contact": str(ContactFactory(studio=studio_a).id), "role": "boss"}, format="json"
    )
    assert (bad_role.status_code, error(bad_role)) == (400, "invalid_role")
    theirs = alice_client.post(
        url, {"contact": str(ContactFactory(studio=studio_b).id)}, format="json"
    )
    assert (theirs.status_code, error(theirs)) == (400, "contact_not_found")
    unset = alice_client.patch(url + f"{b.id}/", {"is_billing": False}, format="json")
    assert (unset.status_code, error(unset)) == (400, "billing_contact_required")
    assert (
        alice_client.patch(url + f"{a.id}/", {"is_billing": True}, format="json").status_code == 200
    )
    assert alice_client.delete(url + f"{a.id}/").status_code == 204
    assert list(
        JobContact.objects.filter(job=job, is_billing=True).values_list("contact_id", flat=True)
    ) == [b.id]


def test_galleries_link_once(alice_client, studio_a, studio_b, alice, job):
    gallery = GalleryFactory(studio=studio_a, name="Smith Wedding")
    url = API + f"jobs/{job.id}/galleries/"
    response = alice_client.post(url, {"gallery": str(gallery.id)}, format="json")
    assert (
        response.status_code == 200 and response.json()["galleries"][0]["name"] == "Smith Wedding"
    )
    assert TimelineEvent.objects.filter(job=job, kind="gallery_linked").count() == 1
    other_job = job_create(studio=studio_a, by=alice, name="Other")
    taken = alice_client.post(
        API + f"jobs/{other_job.id}/galleries/", {"gallery": str(gallery.id)}, format="json"
    )
    assert (taken.status_code, error(taken)) == (409, "gallery_linked_elsewhere")
    theirs = alice_client.post(
        url, {"gallery": str(GalleryFactory(studio=studio_b).id)}, format="json"
    )
    assert (theirs.status_code, error(theirs)) == (400, "gallery_not_found")
    assert alice_client.delete(url + f"{gallery.id}/").status_code == 204
    assert not JobGallery.objects.exists()


# --- Studio B and permissions -------------------------------------------------------------------
def test_every_object_endpoint_is_404_for_another_studio(bob_client, studio_a, job, pipeline):
    contact = ContactFactory(studio=studio_a)
    JobContact.objects.create(studio=studio_a, job=job, contact=contact, is_billing=True)
    gallery = GalleryFactory(studio=studio_a)
    inquiry = stage(pipeline, "Inquiry")
    calls = [
        ("get", f"pipelines/{pipeline.id}/", None),
        ("patch", f"pipelines/{pipeline.id}/", {"name": "x"}),
        ("post", f"pipelines/{pipeline.id}/stages/", {"name": "x"}),
        ("post", f"pipelines/{pipeline.id}/stages/reorder/", {"stage_ids": []}),
        ("patch", f"stages/{inquiry.id}/", {"name": "x"}),
        ("delete", f"stages/{inquiry.id}/", None),
        ("get", f"jobs/{job.id}/", None),
        ("patch", f"jobs/{job.id}/", {"name": "x"}),
        ("delete", f"jobs/{job.id}/", None),
        ("get", f"jobs/{job.id}/stage/", None),
        ("post", f"jobs/{job.id}/stage/", {"stage": str(inquiry.id)}),
        ("post", f"jobs/{job.id}/contacts/", {"contact": str(contact.id)}),
        ("patch", f"jobs/{job.id}/contacts/{contact.id}/", {"role": "guest"}),
        ("delete", f"jobs/{job.id}/contacts/{contact.id}/", None),
        ("post", f"jobs/{job.id}/galleries/", {"gallery": str(gallery.id)}),
        ("delete", f"jobs/{job.id}/galleries/{gallery.id}/", None),
        ("get", f"board/?pipeline={pipeline.id}", None),
        ("get", f"board/stages/{inquiry.id}/", None),
        ("get", f"reports/conversion/?pipeline={pipeline.id}", None),
        ("get", f"reports/stage-times/?pipeline={pipeline.id}", None),
    ]
    for method, path, body in calls:
        response = getattr(bob_client, method)(API + path, body, format="json")
        assert response.status_code == 404, (method, path, response.content)
    assert Job.objects.filter(id=job.id, name="Smith wedding").exists()
    assert bob_client.get(API + "jobs/").json()["results"] == []


def test_view_and_edit_permissions(member_of_a, job, pipeline):
    _user, assistant = member_of_a(Role.ASSISTANT)
    _user, photographer = member_of_a(Role.PHOTOGRAPHER)
    assert assistant.get(API + "jobs/").status_code == 403
    assert assistant.get(API + "board/").status_code == 403
    assert photographer.get(API + "jobs/").status_code == 200
    assert photographer.get(API + "board/").status_code == 200
    assert photographer.get(API + "reports/upcoming/").status_code == 200
    response = photographer.post(API + "jobs/", {"name": "x"}, format="json")
    assert response.status_code == 403 and response.json()["error"]["permission"] == "crm.edit"
    response = photographer.post(
        API + f"jobs/{job.id}/stage/", {"stage": str(stage(pipeline, "Booked").id)}, format="json"
    )
    assert response.status_code == 403


# --- Board --------------------------------------------------------------------------------------
def _fill(studio, pipeline, n, start=0):
    stages = list(Stage.objects.filter(pipeline=pipeline).order_by("position"))
    now = timezone.now()
    Job.objects.bulk_create(
        Job(
            studio=studio,
            pipeline=pipeline,
            stage=stages[i % len(stages)],
            name=f"Job {i}",
            stage_entered_at=now,
            position=i,
            estimated_value=100 * (i % 7),
            currency="USD" if i % 3 else "EUR",
        )
        for i in range(start, start + n)
    )


def _board_queries(client, pipeline) -> tuple[int, list]:
    with QueryCount(connection) as queries:
        response = client.get(API + f"board/?pipeline={pipeline.id}&per_stage=5")
    assert response.status_code == 200
    return len(queries), response.json()["stages"]


def test_board_reads_the_same_few_queries_at_10_and_1000_jobs(
    alice_client, studio_a, pipeline, django_assert_max_num_queries
):
    _fill(studio_a, pipeline, 10)
    at_10, _columns = _board_queries(alice_client, pipeline)
    _fill(studio_a, pipeline, 990, start=10)
    with django_assert_max_num_queries(at_10):
        at_1000, columns = _board_queries(alice_client, pipeline)
    assert at_10 == at_1000 <= 9
    assert sum(c["count"] for c in columns) == 1000
    expected = {}
    for j in Job.objects.filter(pipeline=pipeline):
        expected.setdefault(str(j.stage_id), {}).setdefault(j.currency, 0)
        expected[str(j.stage_id)][j.currency] += j.estimated_value
    for column in columns:
        totals = {t["currency"]: t["value"] for t in column["totals"]}
        assert totals == expected.get(column["stage"]["id"], {})
        assert len(column["results"]) == min(5, column["count"])
        assert (column["next"] is not None) == (column["count"] > 5)


def test_board_column_pages_walk_every_job(alice_client, studio_a, pipeline):
    _fill(studio_a, pipeline, 90)
    column = alice_client.get(API + "board/?per_stage=3").json()["stages"][0]
    seen = [c["id"] for c in column["results"]]
    cursor = column["next"]
    while cursor:
        page = alice_client.get(
            API + f"board/stages/{column['stage']['id']}/", {"cursor": cursor, "page_size": 4}
        ).json()
        seen += [c["id"] for c in page["results"]]
        cursor = page["next"]
    expected = list(
        Job.objects.filter(stage_id=column["stage"]["id"])
        .order_by("position", "id")
        .values_list("id", flat=True)
    )
    assert seen == [str(i) for i in expected] and len(seen) == column["count"]


# --- Reports ------------------------------------------------------------------------------------
def test_reports(alice_client, studio_a, alice, pipeline):
    studio_a.timezone = "Europe/Paris"
    studio_a.save(update_fields=["timezone"])
    made = [
        job_create(
            studio=studio_a, by=alice, name=f"J{i}", lead_source="instagram" if i < 3 else ""
        )
        for i in range(4)
    ]
    # 23:30 UTC on Jan 31 is February in Paris.
    Job.objects.filter(id=made[0].id).update(
        created_at=dt.datetime(2026, 1, 31, 23, 30, tzinfo=dt.UTC)
    )
    Job.objects.filter(id__in=[j.id for j in made[1:]]).update(
        created_at=dt.datetime(2026, 1, 15, tzinfo=dt.UTC)
    )
    InquiryFactory(studio=studio_a)
    job_stage_change(job=made[1], stage=stage(pipeline, "Booked"), by=alice)
    job_stage_change(job=made[2], stage=stage(pipeline, "Shot"), by=alice)

    body = alice_client.get(API + "reports/inquiries/?start=2026-01-01&end=2026-02-28").json()
    assert body["jobs"] == [
        {"month": "2026-01", "lead_source": "", "count": 1},
        {"month": "2026-01", "lead_source": "instagram", "count": 2},
        {"month": "2026-02", "lead_source": "instagram", "count": 1},
    ]
    assert [m["month"] for m in body["inquiries"]] == ["2026-01", "2026-02"]

    body = alice_client.get(API + "reports/conversion/?start=2026-01-01&end=2026-02-28").json()
    assert (body["created"], body["booked"], body["rate"]) == (4, 2, 0.5)
    assert body["months"][0] == {"month": "2026-01", "created": 3, "booked": 2, "rate": 0.6667}

    today = timezone.now().date()
    day = dt.timedelta(days=1)
    body = alice_client.get(
        API + f"reports/stage-times/?start={today - day}&end={today + day}"
    ).json()
    inquiry = next(s for s in body["stages"] if s["stage"]["name"] == "Inquiry")
    assert inquiry["moves"] == 2 and inquiry["average_seconds"] is not None
    bad = alice_client.get(API + "reports/conversion/?start=2026-03-01&end=2026-01-01")
    assert (bad.status_code, error(bad)) == (400, "invalid_period")


def test_upcoming_events(alice_client, studio_a, alice, pipeline):
    now = timezone.now()
    soon = job_create(
        studio=studio_a, by=alice, name="Soon", event_start=now + dt.timedelta(days=2)
    )
    job_create(studio=studio_a, by=alice, name="Later", event_start=now + dt.timedelta(days=20))
    job_create(studio=studio_a, by=alice, name="Past", event_start=now - dt.timedelta(days=2))
    lost = job_create(
        studio=studio_a, by=alice, name="Lost", event_start=now + dt.timedelta(days=1)
    )
    job_stage_change(job=lost, stage=stage(pipeline, "Lost"), by=alice, reason="No")
    body = alice_client.get(API + "reports/upcoming/?limit=5").json()
    assert [j["name"] for j in body["results"]] == ["Soon", "Later"]
    assert body["results"][0]["id"] == str(soon.id)


def test_board_cards_name_the_billing_contact(alice_client, studio_a, alice, pipeline):
    jane = ContactFactory(studio=studio_a, first_name="Jane", last_name="Smith")
    job_create(studio=studio_a, by=alice, name="Smith wedding", contacts=[(jane, "client", True)])
    job_create(studio=studio_a, by=alice, name="Nobody")
    column = alice_client.get(API + "board/").json()["stages"][0]
    assert {c["name"]: c["client_name"] for c in column["results"]} == {
        "Smith wedding": "Jane Smith",
        "Nobody": "",
    }
    more = alice_client.get(API + f"board/stages/{column['stage']['id']}/").json()
    assert {c["client_name"] for c in more["results"]} == {"Jane Smith", ""}
