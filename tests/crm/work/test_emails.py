"""Email templates (checked when saved) and sending from a job or a contact: queued rows,
claimed once, sent through Django's backend, the delivery state kept and on the timeline."""

import datetime as dt
import smtplib

import pytest
from django.core import mail
from django.utils import timezone

from crm.models import EmailMessage, TimelineEvent
from crm.services import emails
from picpick.testing.factories import (
    ContactFactory,
    EmailMessageFactory,
    EmailTemplateFactory,
    JobContactFactory,
    WorkflowStepFactory,
)

pytestmark = pytest.mark.django_db
TEMPLATES = "/api/v1/crm/email-templates/"


def test_template_crud(alice_client, bob_client):
    body = {
        "name": "Hello",
        "subject": "Hi {{ client.first_name }}",
        "body": "See you {{ job.event_date }}",
    }
    created = alice_client.post(TEMPLATES, body, format="json")
    assert created.status_code == 201, created.json()
    url = f"{TEMPLATES}{created.json()['id']}/"
    assert (
        alice_client.patch(url, {"html_body": "<p>{{ job.name }}</p>"}, format="json").status_code
        == 200
    )
    assert alice_client.get(TEMPLATES).json()["results"][0]["html_body"] == "<p>{{ job.name }}</p>"
    for method in ("get", "patch", "delete"):
        assert getattr(bob_client, method)(url, {}, format="json").status_code == 404
    assert alice_client.delete(url).status_code == 204


@pytest.mark.parametrize(
    ("field", "text", "reason", "placeholder"),
    [
        ("body", "Hi {{ client.frist_name }}", "unknown_variable", "client.frist_name"),
        ("body", "{{ client.__class__ }}", "template_syntax", "client.__class__"),
        ("subject", "{% load static %}", "template_syntax", "{%"),
        ("html_body", "<p>{{ job.delete }}</p>", "unknown_variable", "job.delete"),
    ],
)
def test_a_bad_template_is_a_400_naming_the_field_and_placeholder(
    alice_client, field, text, reason, placeholder
):
    body = {"name": "T", "subject": "S", "body": "B", field: text}
    answer = alice_client.post(TEMPLATES, body, format="json")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_template"
    assert error["reason"] == reason and error["placeholder"] == placeholder
    assert field in error["fields"]


def test_a_template_a_workflow_sends_cannot_be_deleted(alice_client, studio_a):
    template = EmailTemplateFactory(studio=studio_a)
    WorkflowStepFactory(workflow__studio=studio_a, action="send_email", template=template)
    answer = alice_client.delete(f"{TEMPLATES}{template.id}/")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "template_in_use"


def test_preview_renders_for_a_job(alice_client, studio_a, job_a):
    template = EmailTemplateFactory(studio=studio_a, html_body="<b>{{ client.first_name }}</b>")
    answer = alice_client.post(
        f"{TEMPLATES}{template.id}/preview/", {"job_id": str(job_a.id)}, format="json"
    )
    assert answer.json()["subject"] == "Hello Ana"
    assert answer.json()["html_body"] == "<b>Ana</b>"


def test_sending_a_template_from_a_job_reaches_its_clients_and_the_timeline(
    alice, alice_client, studio_a, job_a, django_capture_on_commit_callbacks
):
    partner = ContactFactory(studio=studio_a, first_name="Ben", email="ben@example.com")
    JobContactFactory(job=job_a, contact=partner, role="client")
    JobContactFactory(job=job_a, role="planner")  # not a default recipient
    template = EmailTemplateFactory(
        studio=studio_a,
        subject="{{ job.name }} for {{ client.first_name }}",
        html_body="<p>Hi {{ client.first_name }}</p>",
    )
    with django_capture_on_commit_callbacks(execute=True):
        answer = alice_client.post(
            f"/api/v1/crm/jobs/{job_a.id}/emails/", {"template_id": str(template.id)}, format="json"
        )
    assert answer.status_code == 201, answer.json()
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@example.com", "ben@example.com"]
    ana = next(m for m in mail.outbox if m.to == ["ana@example.com"])
    assert ana.subject == "Lee wedding for Ana"
    assert ana.alternatives[0][0] == "<p>Hi Ana</p>"
    assert ana.reply_to == [alice.email]
    assert "Anna Smith Photography" in ana.from_email
    rows = EmailMessage.objects.filter(job=job_a)
    assert {r.state for r in rows} == {"sent"} and all(r.sent_at for r in rows)
    assert TimelineEvent.objects.filter(job=job_a, kind="email_sent").count() == 2
    listed = alice_client.get(f"/api/v1/crm/jobs/{job_a.id}/emails/").json()["results"]
    assert {m["state"] for m in listed} == {"sent"}


def test_values_are_not_html_in_the_html_part(
    alice_client, studio_a, job_a, django_capture_on_commit_callbacks
):
    contact = ContactFactory(
        studio=studio_a, first_name="<script>x</script>", email="x@example.com"
    )
    template = EmailTemplateFactory(studio=studio_a, html_body="<p>{{ client.first_name }}</p>")
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(
            f"/api/v1/crm/contacts/{contact.id}/emails/",
            {"template_id": str(template.id)},
            format="json",
        )
    (sent,) = mail.outbox
    assert sent.alternatives[0][0] == "<p>&lt;script&gt;x&lt;/script&gt;</p>"
    assert sent.body.startswith("Hi <script>x</script>")  # plain text is not escaped


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "email_content_required"),
        ({"subject": "Hi", "body": "{{ job.oops }}"}, "invalid_template"),
        ({"template_id": "0190a2c4-1111-7c3a-9d2e-1f2a3b4c5d6e"}, "template_not_found"),
        (
            {"subject": "S", "body": "B", "to": ["0190a2c4-1111-7c3a-9d2e-1f2a3b4c5d6e"]},
            "contact_not_found",
        ),
        ({"subject": "S", "body": "B", "to": "bad-contact"}, "contact_without_email"),
    ],
)
def test_bad_sends_are_400s_that_queue_nothing(alice_client, studio_a, job_a, body, code):
    body = dict(body)
    if body.get("to") == "bad-contact":
        body["to"] = [str(ContactFactory(studio=studio_a, email="").id)]
    answer = alice_client.post(f"/api/v1/crm/jobs/{job_a.id}/emails/", body, format="json")
    assert answer.status_code == 400, answer.json()
    assert answer.json()["error"]["code"] == code
    assert not EmailMessage.objects.exists()


def test_another_studios_template_job_or_contact_is_refused(
    alice_client, bob_client, studio_b, job_a
):
    theirs = EmailTemplateFactory(studio=studio_b)
    answer = alice_client.post(
        f"/api/v1/crm/jobs/{job_a.id}/emails/", {"template_id": str(theirs.id)}, format="json"
    )
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "template_not_found"
    assert (
        bob_client.post(f"/api/v1/crm/jobs/{job_a.id}/emails/", {}, format="json").status_code
        == 404
    )
    contact = job_a.contacts.first()
    assert bob_client.get(f"/api/v1/crm/contacts/{contact.id}/emails/").status_code == 404
    message = EmailMessageFactory(contact=contact)
    assert bob_client.get(f"/api/v1/crm/emails/{message.id}/").status_code == 404


def test_a_job_without_clients_has_nobody_to_send_to(alice_client, stages_a):
    from picpick.testing.factories import JobFactory

    job = JobFactory(stage=stages_a["Inquiry"])
    answer = alice_client.post(
        f"/api/v1/crm/jobs/{job.id}/emails/", {"subject": "S", "body": "B"}, format="json"
    )
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "no_recipients"


# --- Delivery -----------------------------------------------------------------------------------
class _Flaky:
    """An email backend that fails as told, then delivers."""

    failures: list = []
    sent: list = []

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        if _Flaky.failures:
            raise _Flaky.failures.pop(0)
        _Flaky.sent.extend(messages)
        return len(messages)


@pytest.fixture
def flaky(settings):
    settings.EMAIL_BACKEND = f"{__name__}._Flaky"
    _Flaky.failures, _Flaky.sent = [], []
    return _Flaky


def _queued(studio_a, job_a):
    contact = job_a.contacts.first()
    return EmailMessageFactory(contact=contact, job=job_a, studio=studio_a)


def test_a_transient_failure_is_retried_by_the_sweep_after_its_wait(flaky, studio_a, job_a):
    message = _queued(studio_a, job_a)
    flaky.failures = [ConnectionRefusedError("down")]
    assert emails.email_message_deliver(message_id=message.id) == "queued"
    message.refresh_from_db()
    assert (message.state, message.attempts, message.failure_code) == (
        "queued",
        1,
        "connection_failed",
    )
    assert emails.emails_sweep() == 0  # the wait is not over
    assert emails.emails_sweep(now=timezone.now() + dt.timedelta(minutes=2)) == 1
    message.refresh_from_db()
    assert message.state == "sent" and len(flaky.sent) == 1
    assert TimelineEvent.objects.filter(kind="email_sent", job=job_a).count() == 1


def test_a_refused_recipient_fails_at_once_with_a_code(flaky, studio_a, job_a):
    message = _queued(studio_a, job_a)
    flaky.failures = [smtplib.SMTPRecipientsRefused({"x@y": (550, b"no such user")})]
    assert emails.email_message_deliver(message_id=message.id) == "failed"
    message.refresh_from_db()
    assert message.failure_code == "recipient_refused"
    event = TimelineEvent.objects.get(kind="email_failed")
    assert event.payload["code"] == "recipient_refused" and event.job_id == job_a.id


def test_after_the_last_attempt_it_fails(flaky, studio_a, job_a):
    message = _queued(studio_a, job_a)
    flaky.failures = [OSError("down")] * emails.MAX_ATTEMPTS
    now = timezone.now()
    for _ in range(emails.MAX_ATTEMPTS):
        EmailMessage.objects.filter(id=message.id, state="queued").update(claimed_at=None)
        emails.email_message_deliver(message_id=message.id, now=now)
    message.refresh_from_db()
    assert (message.state, message.attempts) == ("failed", emails.MAX_ATTEMPTS)
    assert emails.emails_sweep(now=now + dt.timedelta(days=1)) == 0


def test_a_message_stuck_sending_is_taken_over_after_the_timeout_and_a_sent_one_never(
    flaky, studio_a, job_a
):
    stuck = _queued(studio_a, job_a)
    sent = _queued(studio_a, job_a)
    long_ago = timezone.now() - dt.timedelta(hours=1)
    EmailMessage.objects.filter(id=stuck.id).update(
        state="sending", claimed_at=long_ago, attempts=1
    )
    EmailMessage.objects.filter(id=sent.id).update(
        state="sent", claimed_at=long_ago, attempts=1, sent_at=long_ago
    )
    assert emails.emails_sweep() == 1
    assert [m.to for m in flaky.sent] == [[stuck.to]]
    assert emails.emails_sweep(now=timezone.now() + dt.timedelta(hours=2)) == 0
    assert len(flaky.sent) == 1


def test_a_lost_task_is_picked_up_by_the_sweep(flaky, studio_a, job_a):
    message = _queued(studio_a, job_a)
    assert emails.emails_sweep() == 0  # just queued: its task is on its way
    assert emails.emails_sweep(now=timezone.now() + dt.timedelta(minutes=5)) == 1
    message.refresh_from_db()
    assert message.state == "sent"


def test_two_deliveries_of_one_message_send_it_once(flaky, studio_a, job_a):
    message = _queued(studio_a, job_a)
    assert emails.email_message_deliver(message_id=message.id) == "sent"
    assert emails.email_message_deliver(message_id=message.id) is None
    assert len(flaky.sent) == 1


def test_a_line_break_in_a_value_cannot_add_a_header(
    studio_a, job_a, django_capture_on_commit_callbacks
):
    contact = ContactFactory(
        studio=studio_a, first_name="Ana\r\nBcc: evil@example.com", email="a@example.com"
    )
    with django_capture_on_commit_callbacks(execute=True):
        (message,) = emails.email_queue(
            studio=studio_a,
            by=None,
            recipients=[contact],
            subject="Hi {{ client.first_name }}",
            body="B",
        )
    assert message.subject == "Hi Ana Bcc: evil@example.com"
    (sent,) = mail.outbox
    assert sent.bcc == [] and "\n" not in sent.subject
    message.refresh_from_db()
    assert message.state == "sent"
