"""End to end through a real SMTP server on loopback: the API queues, the worker (eager here)
sends through Django's SMTP backend, the server receives the message as sent."""

from __future__ import annotations

import email
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller

from crm.models import EmailMessage, TimelineEvent
from picpick.testing.factories import EmailTemplateFactory

pytestmark = pytest.mark.django_db


class _Inbox:
    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10
    settings.DEFAULT_FROM_EMAIL = "PicPick <no-reply@picpick.test>"
    yield inbox
    controller.stop()


def test_a_job_email_arrives_with_its_headers_and_both_parts(
    smtp_server, alice, alice_client, studio_a, job_a, django_capture_on_commit_callbacks
):
    template = EmailTemplateFactory(
        studio=studio_a,
        subject="{{ job.name }}: next steps",
        body="Hi {{ client.first_name }},\nsee you on {{ job.event_date }}.",
        html_body="<p>Hi {{ client.first_name }} &amp; welcome</p>",
    )
    with django_capture_on_commit_callbacks(execute=True):
        answer = alice_client.post(
            f"/api/v1/crm/jobs/{job_a.id}/emails/", {"template_id": str(template.id)}, format="json"
        )
    assert answer.status_code == 201, answer.json()

    (envelope,) = smtp_server.envelopes
    assert envelope.mail_from == "no-reply@picpick.test"
    assert envelope.rcpt_tos == ["ana@example.com"]
    received = email.message_from_bytes(envelope.original_content, policy=policy.default)
    assert received["Subject"] == "Lee wedding: next steps"
    assert received["To"] == "ana@example.com"
    assert received["From"] == "Anna Smith Photography <no-reply@picpick.test>"
    assert received["Reply-To"] == alice.email
    message = EmailMessage.objects.get()
    assert received["Message-ID"] == f"<{message.id}@picpick.test>"
    plain = received.get_body(preferencelist=("plain",)).get_content()
    html = received.get_body(preferencelist=("html",)).get_content()
    assert "Hi Ana,\nsee you on 15 June 2030." in plain.replace("\r\n", "\n")
    assert "<p>Hi Ana &amp; welcome</p>" in html

    assert message.state == "sent" and message.sent_at is not None and message.attempts == 1
    assert TimelineEvent.objects.filter(kind="email_sent", job=job_a).count() == 1


def test_a_server_that_refuses_the_recipient_fails_the_message(
    settings, smtp_server, studio_a, job_a, django_capture_on_commit_callbacks
):
    class Refusing(_Inbox):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            return "550 5.1.1 no such user"

    controller = Controller(Refusing(), hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_PORT = controller.port
    try:
        from crm.services.emails import email_queue

        with django_capture_on_commit_callbacks(execute=True):
            (message,) = email_queue(
                studio=studio_a,
                by=None,
                recipients=list(job_a.contacts.all()),
                job=job_a,
                subject="Hi",
                body="Hello",
            )
    finally:
        controller.stop()
    message.refresh_from_db()
    assert (message.state, message.failure_code) == ("failed", "recipient_refused")
    assert TimelineEvent.objects.filter(kind="email_failed", job=job_a).count() == 1
