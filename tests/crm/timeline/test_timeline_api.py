"""The timeline of a job and of a contact: newest first, keyset pages, kinds, notes; scoped to
the studio and to crm.view / crm.edit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Role
from crm.models import TimelineEvent
from crm.services.timeline import timeline_record
from picpick.testing.factories import ContactFactory, JobContactFactory, JobFactory, StageFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def job_of(studio, **kwargs):
    return JobFactory(stage=StageFactory(pipeline__studio=studio), **kwargs)


def note(*, at, job=None, contact=None, text="n", kind="note", payload=None):
    owner = job or contact
    return timeline_record(
        studio=owner.studio,
        kind=kind,
        payload=payload if payload is not None else {"text": text},
        job=job,
        contact=contact,
        occurred_at=at,
    )


def job_url(job, suffix="timeline/"):
    return f"/api/v1/crm/jobs/{job.id}/{suffix}"


def contact_url(contact, suffix="timeline/"):
    return f"/api/v1/crm/contacts/{contact.id}/{suffix}"


def walk(client, url, page_size, **params) -> tuple[list[str], list[dict]]:
    """Every page forward; the ids in order and the bodies."""
    ids, bodies, cursor = [], [], None
    while True:
        query = {"page_size": page_size, **params, **({"cursor": cursor} if cursor else {})}
        response = client.get(url, query)
        assert response.status_code == 200, response.json()
        body = response.json()
        bodies.append(body)
        ids += [item["id"] for item in body["results"]]
        cursor = body["next"]
        if cursor is None:
            return ids, bodies


def expected(events) -> list[str]:
    return [str(e.id) for e in sorted(events, key=lambda e: (e.occurred_at, e.id), reverse=True)]


def test_a_job_timeline_is_newest_first_in_keyset_pages(alice_client, alice, studio_a):
    job = job_of(studio_a)
    other = job_of(studio_a)
    # Ties on occurred_at are broken by id, so no page skips or repeats one.
    events = [note(job=job, at=T0 + dt.timedelta(minutes=i // 2), text=str(i)) for i in range(7)]
    note(job=other, at=T0)
    ids, bodies = walk(alice_client, job_url(job), page_size=3)
    assert ids == expected(events)
    assert [len(b["results"]) for b in bodies] == [3, 3, 1]
    assert bodies[0]["previous"] is None and bodies[1]["previous"] is not None
    first = bodies[0]["results"][0]
    assert set(first) == {"id", "kind", "occurred_at", "actor", "job_id", "contact_id", "payload"}
    assert (first["kind"], first["job_id"], first["payload"]) == (
        "note",
        str(job.id),
        {"text": "6"},
    )

    back = alice_client.get(job_url(job), {"page_size": 3, "cursor": bodies[2]["previous"]})
    assert [item["id"] for item in back.json()["results"]] == ids[3:6]


def test_a_contact_timeline_has_its_events_and_those_of_its_jobs_once(alice_client, studio_a):
    contact = ContactFactory(studio=studio_a)
    linked = [job_of(studio_a) for _ in range(3)]
    for job in linked:
        JobContactFactory(job=job, contact=contact)
    unlinked = job_of(studio_a)
    someone_else = ContactFactory(studio=studio_a)
    mine = [note(contact=contact, at=T0 + dt.timedelta(seconds=i)) for i in range(4)]
    of_jobs = [
        note(job=job, at=T0 + dt.timedelta(seconds=i, milliseconds=n))
        for n, job in enumerate(linked)
        for i in range(3)
    ]
    both = note(job=linked[0], contact=contact, at=T0 + dt.timedelta(seconds=2))
    note(job=unlinked, at=T0)
    note(contact=someone_else, at=T0)

    ids, _ = walk(alice_client, contact_url(contact), page_size=4)
    assert ids == expected([*mine, *of_jobs, both])
    assert len(ids) == len(set(ids))
    # Backwards from the last page gives the same rows in the same order.
    _, bodies = walk(alice_client, contact_url(contact), page_size=5)
    assert [len(b["results"]) for b in bodies] == [5, 5, 4]
    back = alice_client.get(
        contact_url(contact), {"page_size": 5, "cursor": bodies[-1]["previous"]}
    )
    assert [item["id"] for item in back.json()["results"]] == ids[5:10]
    assert back.json()["previous"] is not None


def test_a_contact_with_many_jobs_reads_them_as_one_part(alice_client, studio_a, monkeypatch):
    from crm.selectors import timeline

    monkeypatch.setattr(timeline, "JOB_PARTS_MAX", 2)
    contact = ContactFactory(studio=studio_a)
    jobs = [job_of(studio_a) for _ in range(4)]
    for job in jobs:
        JobContactFactory(job=job, contact=contact)
    events = [note(job=job, at=T0 + dt.timedelta(minutes=n)) for n, job in enumerate(jobs)]
    events.append(note(contact=contact, at=T0))
    ids, _ = walk(alice_client, contact_url(contact), page_size=2)
    assert ids == expected(events)


def test_a_contact_page_costs_a_query_per_linked_job_not_per_event(
    alice_client, studio_a, django_assert_max_num_queries
):
    contact = ContactFactory(studio=studio_a)
    jobs = [job_of(studio_a) for _ in range(2)]
    for job in jobs:
        JobContactFactory(job=job, contact=contact)
        for i in range(30):
            note(job=job, at=T0 + dt.timedelta(seconds=i))
    # the caller's membership (and studio), the contact, its jobs, the page (its parts in one)
    with django_assert_max_num_queries(5):
        response = alice_client.get(contact_url(contact), {"page_size": 50})
    assert len(response.json()["results"]) == 50


def test_the_kinds_filter(alice_client, studio_a):
    job = job_of(studio_a)
    note(job=job, at=T0)
    delivered = note(
        job=job,
        at=T0 + dt.timedelta(minutes=1),
        kind="gallery_delivered",
        payload={"gallery_id": "g", "gallery_name": "G"},
    )
    task = note(
        job=job,
        at=T0 + dt.timedelta(minutes=2),
        kind="task_done",
        payload={"task_id": "t", "title": "Call"},
    )
    both = alice_client.get(job_url(job), {"kind": "gallery_delivered,task_done"}).json()
    assert [i["id"] for i in both["results"]] == [str(task.id), str(delivered.id)]
    repeated = alice_client.get(f"{job_url(job)}?kind=task_done&kind=gallery_delivered").json()
    assert repeated["results"] == both["results"]
    one = alice_client.get(job_url(job), {"kind": "gallery_delivered"}).json()
    assert [i["id"] for i in one["results"]] == [str(delivered.id)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"kind": "bogus"}, "kind"),
        ({"page_size": 201}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"cursor": "nope"}, "cursor"),
        ({"ordering": "occurred_at"}, "ordering"),
    ],
)
def test_bad_timeline_queries_are_400(alice_client, studio_a, query, field):
    job = job_of(studio_a)
    response = alice_client.get(job_url(job), query)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_notes_on_a_job_and_a_contact(alice_client, alice, studio_a):
    job = job_of(studio_a)
    contact = ContactFactory(studio=studio_a)
    JobContactFactory(job=job, contact=contact)
    response = alice_client.post(job_url(job, "notes/"), {"text": "Wants a second shooter."})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "note" and body["payload"] == {"text": "Wants a second shooter."}
    assert body["actor"] == {"id": str(alice.id), "name": "Alice Owner"}
    assert (body["job_id"], body["contact_id"]) == (str(job.id), None)

    response = alice_client.post(contact_url(contact, "notes/"), {"text": "Prefers calls."})
    assert response.status_code == 201
    assert response.json()["contact_id"] == str(contact.id)
    # The job's note is on the contact's timeline too (the contact is on the job).
    kinds = [i["payload"]["text"] for i in alice_client.get(contact_url(contact)).json()["results"]]
    assert kinds == ["Prefers calls.", "Wants a second shooter."]
    assert len(alice_client.get(job_url(job)).json()["results"]) == 1


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "x" * 10_001}, {"text": "x", "y": 1}])
def test_bad_notes_are_400_and_write_nothing(alice_client, studio_a, body):
    job = job_of(studio_a)
    response = alice_client.post(job_url(job, "notes/"), body, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "validation_error")
    assert not TimelineEvent.objects.exists()


def test_another_studio_s_job_or_contact_is_a_404(bob_client, studio_a):
    job = job_of(studio_a)
    contact = ContactFactory(studio=studio_a)
    note(job=job, at=timezone.now())
    for url in (job_url(job), contact_url(contact)):
        assert bob_client.get(url).status_code == 404
    for url in (job_url(job, "notes/"), contact_url(contact, "notes/")):
        assert bob_client.post(url, {"text": "x"}).status_code == 404
    assert TimelineEvent.objects.count() == 1
    assert bob_client.get("/api/v1/crm/jobs/not-a-uuid/timeline/").status_code == 404


def test_reading_needs_crm_view_and_notes_crm_edit(member_of_a, studio_a):
    job = job_of(studio_a)
    _, photographer = member_of_a(Role.PHOTOGRAPHER)  # crm.view only
    _, assistant = member_of_a(Role.ASSISTANT)  # no CRM
    assert photographer.get(job_url(job)).status_code == 200
    denied = photographer.post(job_url(job, "notes/"), {"text": "x"})
    assert denied.status_code == 403
    assert assistant.get(job_url(job)).status_code == 403
    assert not TimelineEvent.objects.exists()
