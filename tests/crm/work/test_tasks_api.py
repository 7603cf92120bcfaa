"""Tasks: on a job or a contact, due fixed or relative to the job's dates, done once."""

import datetime as dt

import pytest
from django.utils import timezone

from crm.models import Task, TimelineEvent
from crm.services.jobs import job_update
from picpick.testing.factories import ContactFactory, JobFactory, StageFactory, TaskFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/crm/tasks/"


def test_a_task_due_a_week_before_the_event_ends_that_day_in_the_studios_zone(
    alice_client, studio_a, job_a
):
    studio_a.timezone = "Europe/Paris"
    studio_a.save(update_fields=["timezone"])
    answer = alice_client.post(
        URL,
        {
            "job_id": str(job_a.id),
            "title": "Questionnaire",
            "due_anchor": "event",
            "due_offset_days": -7,
        },
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    # 15 June 16:00 in Paris, minus 7 days: 8 June, by 23:59 Paris time (21:59 UTC).
    assert answer.json()["due_at"] == "2030-06-08T21:59:00Z"
    assert TimelineEvent.objects.filter(job=job_a, kind="task_created").count() == 1


def test_relative_tasks_follow_the_event_date(alice, studio_a, job_a):
    from crm.services.tasks import task_create

    relative = task_create(
        studio=studio_a, by=alice, title="Call", job=job_a, due_anchor="event", due_offset_days=-1
    )
    fixed = task_create(
        studio=studio_a,
        by=alice,
        title="Fixed",
        job=job_a,
        due_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
    )
    job_update(job=job_a, by=alice, event_start=dt.datetime(2030, 7, 1, 12, tzinfo=dt.UTC))
    relative.refresh_from_db()
    fixed.refresh_from_db()
    assert relative.due_at == dt.datetime(2030, 6, 30, 23, 59, tzinfo=dt.UTC)
    assert fixed.due_at == dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def test_a_booking_relative_task_has_no_date_until_the_job_is_booked(alice_client, job_a):
    answer = alice_client.post(
        URL,
        {
            "job_id": str(job_a.id),
            "title": "Deposit",
            "due_anchor": "booking",
            "due_offset_days": 3,
        },
        format="json",
    )
    assert answer.status_code == 201
    assert answer.json()["due_at"] is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"title": "Orphan"}, "task_needs_owner"),
        (
            {"title": "x", "due_anchor": "event", "due_offset_days": 2, "contact": True},
            "due_anchor_needs_job",
        ),
        (
            {"title": "x", "job": True, "due_anchor": "event", "due_at": "2030-01-01T00:00:00Z"},
            "due_ambiguous",
        ),
        ({"title": "x", "job": True, "due_offset_days": 2}, "due_offset_without_anchor"),
        (
            {"title": "x", "job": True, "assignee_id": "0190a2c4-1111-7c3a-9d2e-1f2a3b4c5d6e"},
            "assignee_not_member",
        ),
        ({"title": "x", "job_id": "0190a2c4-1111-7c3a-9d2e-1f2a3b4c5d6e"}, "job_not_found"),
        ({"title": "x", "job": True, "colour": "red"}, "validation_error"),
    ],
)
def test_bad_task_input_is_a_400_and_writes_nothing(alice_client, studio_a, job_a, body, code):
    body = dict(body)
    if body.pop("job", None):
        body["job_id"] = str(job_a.id)
    if body.pop("contact", None):
        body["contact_id"] = str(ContactFactory(studio=studio_a).id)
    answer = alice_client.post(URL, body, format="json")
    assert answer.status_code == 400, answer.json()
    assert answer.json()["error"]["code"] == code
    assert not Task.objects.exists()


def test_a_task_on_another_studios_job_is_refused(alice_client, studio_b):
    other = JobFactory(stage=StageFactory(pipeline__studio=studio_b))
    answer = alice_client.post(URL, {"job_id": str(other.id), "title": "x"}, format="json")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "job_not_found"


def test_done_is_recorded_once_and_can_be_undone(alice_client, job_a):
    task = TaskFactory(job=job_a)
    url = f"{URL}{task.id}/done/"
    assert alice_client.post(url).json()["done"] is True
    assert alice_client.post(url).status_code == 200
    assert TimelineEvent.objects.filter(job=job_a, kind="task_done").count() == 1
    assert alice_client.delete(url).json()["done"] is False


def test_my_tasks_and_overdue_lists(alice, alice_client, studio_a, job_a, member_of_a):
    other, _ = member_of_a("manager")
    now = timezone.now()
    mine_late = TaskFactory(job=job_a, assignee=alice, due_at=now - dt.timedelta(days=2))
    mine_soon = TaskFactory(job=job_a, assignee=alice, due_at=now + dt.timedelta(days=1))
    mine_undated = TaskFactory(job=job_a, assignee=alice)
    TaskFactory(job=job_a, assignee=alice, due_at=now - dt.timedelta(days=3), done_at=now)
    theirs_late = TaskFactory(job=job_a, assignee=other, due_at=now - dt.timedelta(days=1))

    mine = alice_client.get(f"{URL}mine/").json()["results"]
    assert [t["id"] for t in mine] == [str(mine_late.id), str(mine_soon.id), str(mine_undated.id)]
    overdue = alice_client.get(f"{URL}overdue/").json()["results"]
    assert [t["id"] for t in overdue] == [str(mine_late.id), str(theirs_late.id)]

    page = alice_client.get(URL, {"page_size": 2, "assignee": str(alice.id)}).json()
    assert len(page["results"]) == 2 and page["next"]
    rest = alice_client.get(
        URL, {"page_size": 2, "assignee": str(alice.id), "cursor": page["next"]}
    ).json()
    assert [t["id"] for t in rest["results"]] == [str(mine_undated.id)]


def test_patch_assigns_and_switches_to_a_relative_date(alice, alice_client, job_a):
    task = TaskFactory(job=job_a, due_at=timezone.now())
    answer = alice_client.patch(
        f"{URL}{task.id}/",
        {"assignee_id": str(alice.id), "due_anchor": "event", "due_offset_days": 0},
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json()["assignee_id"] == str(alice.id)
    assert answer.json()["due_at"] == "2030-06-15T23:59:00Z"


def test_another_studio_gets_404(bob_client, job_a):
    task = TaskFactory(job=job_a)
    for method in ("get", "patch", "delete"):
        assert getattr(bob_client, method)(f"{URL}{task.id}/", {}, format="json").status_code == 404
    assert bob_client.post(f"{URL}{task.id}/done/").status_code == 404
    assert bob_client.get(URL).json()["results"] == []


def test_a_task_on_a_contact_alone_is_on_their_timeline(alice_client, studio_a):
    contact = ContactFactory(studio=studio_a)
    answer = alice_client.post(
        URL,
        {
            "contact_id": str(contact.id),
            "title": "Call back",
            "due_at": "2030-01-02T10:00:00+01:00",
        },
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    assert answer.json()["job_id"] is None and answer.json()["due_at"] == "2030-01-02T09:00:00Z"
    assert (
        TimelineEvent.objects.get(contact=contact, kind="task_created").payload["title"]
        == "Call back"
    )
    listed = alice_client.get(URL, {"contact": str(contact.id)}).json()["results"]
    assert [t["title"] for t in listed] == ["Call back"]
