"""Submitting an inquiry (the service): what it makes, whom it emails, and every refusal."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from crm.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    Inquiry,
    Job,
    JobContact,
    TimelineEvent,
)
from crm.services import inquiries as services
from picpick.core.errors import ApplicationError, RateLimited
from picpick.testing.factories import (
    ContactEmailFactory,
    ContactFactory,
    PipelineFactory,
    StageFactory,
)
from tests.crm.inquiries.support import aged_token, answers, event_day, submit

pytestmark = pytest.mark.django_db


def written() -> dict:
    return {
        "contacts": Contact.objects.count(),
        "jobs": Job.objects.count(),
        "inquiries": Inquiry.objects.count(),
        "events": TimelineEvent.objects.filter(kind="inquiry_received").count(),
    }


NOTHING = {"contacts": 0, "jobs": 0, "inquiries": 0, "events": 0}


def test_a_submission_makes_the_contact_a_job_in_the_first_stage_and_the_inquiry(wedding_form):
    inquiry = submit(wedding_form, answers(marketing_consent="on"), origin="https://annasmith.com/")

    contact = inquiry.contact
    assert (contact.first_name, contact.last_name) == ("Jane", "Doe")
    assert contact.email == "jane.doe@example.com"  # lower-case, as every stored email
    assert contact.phone == "+33612345678"  # E.164
    assert contact.source == Contact.Source.INQUIRY
    assert contact.marketing_consent is True
    assert contact.marketing_consent_source == "inquiry form: Weddings"
    assert contact.marketing_consent_at is not None
    emails = ContactEmail.objects.filter(contact=contact).values_list("email", "is_primary")
    assert list(emails) == [("jane.doe@example.com", True)]
    phone = ContactPhone.objects.get(contact=contact)
    assert (phone.number, phone.is_primary, phone.digits_reversed) == (
        "+33612345678",
        True,
        "87654321633",
    )

    job = inquiry.job
    assert job.name == "Wedding – Jane Doe"
    assert job.stage.name == "Inquiry" and job.stage.position == 0
    assert job.pipeline.is_default
    assert job.job_type == "Wedding"
    assert (job.estimated_value, job.currency) == (350000, "USD")
    assert job.event_start == dt.datetime.combine(
        event_day(), dt.time(0), tzinfo=zoneinfo.ZoneInfo("UTC")
    )
    assert job.lead_source == "inquiry form"
    link = JobContact.objects.get(job=job)
    assert (link.contact_id, link.role, link.is_billing) == (contact.id, "client", True)

    assert inquiry.form == wedding_form
    assert inquiry.origin == "https://annasmith.com/"
    assert inquiry.client_hash and "198.51.100.7" not in inquiry.client_hash
    assert inquiry.answers == {
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane.doe@example.com",
        "event_type": "Wedding",
        "event_date": event_day().isoformat(),
        "budget": {"amount": 350000, "currency": "USD"},
        "message": "We are getting married in Lyon!\nSmall and outdoors.",
        "phone": "+33612345678",
        "guests": 80,
        "marketing_consent": True,
    }
    event = TimelineEvent.objects.get(kind="inquiry_received")
    assert (event.job_id, event.contact_id) == (job.id, contact.id)  # on both timelines
    # No personal text on the append-only timeline: erasing the contact clears the answers.
    assert event.payload == {"inquiry_id": str(inquiry.id), "form": "Weddings"}


def test_the_studio_is_told_and_the_inquirer_gets_the_auto_reply_after_the_commit(
    wedding_form, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        submit(wedding_form)
        assert mailoutbox == []  # nothing leaves before the commit
    assert len(callbacks) == 2
    studio_mail, reply = mailoutbox
    assert studio_mail.to == ["alice@example.com"]  # no notify_emails: the studio's owners
    assert studio_mail.subject == "New inquiry: Jane Doe (Weddings)"
    assert "Email: jane.doe@example.com" in studio_mail.body
    assert "Budget: 3,500.00 USD" in studio_mail.body
    assert "What are we celebrating?: Wedding" in studio_mail.body
    assert "We are getting married in Lyon!\nSmall and outdoors." in studio_mail.body
    assert "in the stage Inquiry" in studio_mail.body
    assert reply.to == ["jane.doe@example.com"]
    assert reply.subject == "Thank you, Jane!"
    assert "Thank you for your wedding inquiry for " in reply.body
    assert event_day().strftime("%B %Y") in reply.body
    assert "Anna Smith Photography" in reply.body


def test_the_forms_notify_emails_replace_the_owners_and_no_template_means_no_auto_reply(
    wedding_form, alice, mailoutbox, django_capture_on_commit_callbacks
):
    services.inquiry_form_update(
        form=wedding_form,
        by=alice,
        changes={"notify_emails": ["Desk@AnnaSmith.com"], "auto_reply_template_id": None},
    )
    with django_capture_on_commit_callbacks(execute=True):
        submit(wedding_form)
    assert [m.to for m in mailoutbox] == [["desk@annasmith.com"]]


def test_a_newline_in_a_name_never_reaches_a_subject(
    wedding_form, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        submit(wedding_form, answers(first_name="Jane\nBcc: x@example.com"))
    assert all("\n" not in m.subject for m in mailoutbox)
    assert mailoutbox[1].subject == "Thank you, Jane Bcc: x@example.com!"


def test_auto_replies_to_one_address_are_capped_per_day(
    wedding_form, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.PICPICK_CRM_INQUIRY_REPLIES_PER_EMAIL = 2
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            submit(wedding_form, address=f"198.51.100.{n}")
    replies = [m for m in mailoutbox if m.to == ["jane.doe@example.com"]]
    assert len(replies) == 2
    assert Inquiry.objects.count() == 3  # the inquiries themselves all count


def test_an_existing_contact_is_matched_by_email_and_only_its_blanks_are_filled(wedding_form):
    contact = ContactFactory(
        studio=wedding_form.studio, first_name="Janet", last_name="", email="jane.doe@example.com"
    )
    ContactEmailFactory(
        studio=contact.studio, contact=contact, email="jane.doe@example.com", is_primary=True
    )
    first = submit(wedding_form)
    second = submit(wedding_form, answers(phone="+33 6 12 34 56 78"))

    assert first.contact_id == second.contact_id == contact.id
    assert Contact.objects.count() == 1
    contact.refresh_from_db()
    assert (contact.first_name, contact.last_name) == ("Janet", "Doe")  # kept, blank filled
    assert contact.phone == "+33612345678"
    assert ContactPhone.objects.filter(contact=contact).count() == 1  # the same number once
    assert contact.source == Contact.Source.MANUAL  # where it first came from
    assert first.job_id != second.job_id  # each inquiry is a new job
    assert JobContact.objects.filter(contact=contact).count() == 2


def test_a_number_without_a_country_prefix_is_read_in_the_studios_region(wedding_form, settings):
    settings.PICPICK_CRM_PHONE_REGION = "US"
    assert submit(wedding_form, answers(phone="(415) 555-0100")).contact.phone == "+14155550100"


def test_a_submission_costs_a_bounded_number_of_queries(
    wedding_form, django_assert_max_num_queries
):
    submit(wedding_form, answers(email="first@example.com"), address="192.0.2.1")  # the pipeline
    with django_assert_max_num_queries(30):
        submit(wedding_form, answers(email="second@example.com"), address="192.0.2.2")


def test_consent_is_given_by_the_tick_and_never_withdrawn_by_its_absence(wedding_form):
    contact = submit(wedding_form).contact
    assert contact.marketing_consent is False
    submit(wedding_form, answers(marketing_consent="on"))
    contact.refresh_from_db()
    assert contact.marketing_consent is True
    submit(wedding_form)
    contact.refresh_from_db()
    assert contact.marketing_consent is True


def test_a_merged_contacts_email_leads_to_the_survivor(wedding_form):
    studio = wedding_form.studio
    survivor = ContactFactory(studio=studio, first_name="Jane")
    tombstone = ContactFactory(studio=studio, merged_into=survivor)
    ContactEmailFactory(studio=studio, contact=tombstone, email="jane.doe@example.com")
    assert submit(wedding_form).contact == survivor


def test_the_forms_pipeline_takes_the_job_into_its_first_open_stage(wedding_form, alice):
    pipeline = PipelineFactory(studio=wedding_form.studio, name="Weddings")
    StageFactory(pipeline=pipeline, name="Lead", position=0)
    StageFactory(pipeline=pipeline, name="Booked", position=1)
    services.inquiry_form_update(form=wedding_form, by=alice, changes={"pipeline_id": pipeline.id})
    job = submit(wedding_form).job
    assert (job.pipeline_id, job.stage.name) == (pipeline.id, "Lead")


def test_without_an_event_type_the_forms_job_type_and_a_plain_name_are_used(wedding_form, alice):
    fields = [q for q in wedding_form.fields if q["key"] not in ("event_type", "budget")]
    services.inquiry_form_update(form=wedding_form, by=alice, changes={"fields": fields})
    job = submit(wedding_form, answers(event_type=None, budget=None)).job
    assert (job.name, job.job_type, job.estimated_value) == ("Inquiry – Jane Doe", "wedding", 0)


# --- Refusals ------------------------------------------------------------------------------------
BAD_ANSWERS = [
    ({"first_name": ""}, "first_name", "required"),
    ({"first_name": None}, "first_name", "required"),
    ({"email": "not-an-email"}, "email", "invalid_email"),
    ({"email": None}, "email", "required"),
    ({"message": "   "}, "message", "required"),
    ({"message": "x" * 5001}, "message", "too_long"),
    ({"how_found": "x" * 301}, "how_found", "too_long"),
    ({"first_name": "x" * 121}, "first_name", "too_long"),
    ({"how_found": "a\x00b"}, "how_found", "invalid"),
    ({"event_type": "Funeral"}, "event_type", "invalid_choice"),
    ({"event_type": ""}, "event_type", "required"),
    ({"venue": "Castle"}, "venue", "invalid_choice"),
    ({"event_date": "12/06/2027"}, "event_date", "invalid_date"),
    ({"event_date": "2001-01-01"}, "event_date", "date_in_past"),
    ({"event_date": "2999-01-01"}, "event_date", "invalid_date"),
    ({"budget": "lots"}, "budget", "invalid_amount"),
    ({"budget": "-5"}, "budget", "invalid_amount"),
    ({"budget": "12.345"}, "budget", "invalid_amount"),
    ({"guests": "eighty"}, "guests", "invalid_number"),
    ({"phone": "12"}, "phone", "invalid_phone"),
    ({"partner_email": "partner@"}, "partner_email", "invalid_email"),
    ({"marketing_consent": "maybe"}, "marketing_consent", "invalid"),
    ({"message": 5}, "message", "invalid"),
    ({"colour": "blue"}, "colour", "unknown_field"),
]


@pytest.mark.parametrize(("change", "key", "code"), BAD_ANSWERS, ids=lambda v: str(v)[:30])
def test_each_bad_answer_is_a_400_naming_the_field_and_writes_nothing(
    wedding_form, change, key, code
):
    with pytest.raises(ApplicationError) as caught:
        submit(wedding_form, answers(**change) if None not in change.values() else _without(change))
    error = caught.value
    assert (error.status_code, error.code) == (400, "invalid_answers")
    assert error.extra["field_codes"] == {key: code}
    assert list(error.fields) == [key]
    assert written() == NOTHING


def _without(change: dict) -> dict:
    data = answers()
    for key in change:
        data.pop(key, None)
    return data


def test_every_problem_is_named_at_once(wedding_form):
    with pytest.raises(ApplicationError) as caught:
        submit(wedding_form, {"email": "x", "event_type": "Party"})
    assert caught.value.extra["field_codes"] == {
        "first_name": "required",
        "email": "invalid_email",
        "event_type": "invalid_choice",
        "message": "required",
    }


def test_a_page_post_ignores_keys_the_form_does_not_ask(wedding_form):
    assert submit(wedding_form, {**answers(), "colour": "blue"}, strict=False) is not None


def test_the_budget_is_read_in_the_currency_of_the_studio(wedding_form):
    studio = wedding_form.studio
    studio.default_currency = "JPY"
    studio.save(update_fields=["default_currency"])
    with pytest.raises(ApplicationError) as caught:
        submit(wedding_form, answers(budget="3500.50"))
    assert caught.value.extra["field_codes"] == {"budget": "invalid_amount"}
    job = submit(wedding_form, answers(budget="350000")).job
    assert (job.estimated_value, job.currency) == (350000, "JPY")


def test_a_filled_honeypot_is_a_quiet_success_that_stores_and_sends_nothing(
    wedding_form, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert submit(wedding_form, honeypot="https://spam.example") is None
    assert written() == NOTHING
    assert mailoutbox == []


@pytest.mark.parametrize("age", [0, 1, 2.5])
def test_a_form_sent_faster_than_a_person_types_is_refused(wedding_form, age):
    with pytest.raises(ApplicationError) as caught:
        submit(wedding_form, token=aged_token(wedding_form, age))
    assert (caught.value.status_code, caught.value.code) == (400, "too_fast")
    assert written() == NOTHING


def test_the_minimum_time_is_a_setting(wedding_form, settings):
    settings.PICPICK_CRM_INQUIRY_MIN_SECONDS = 30
    with pytest.raises(ApplicationError, match="too fast"):
        submit(wedding_form, token=aged_token(wedding_form, 20))
    assert submit(wedding_form, token=aged_token(wedding_form, 31)) is not None


def test_an_expired_token_is_refused(wedding_form):
    with pytest.raises(ApplicationError) as caught:
        submit(wedding_form, token=aged_token(wedding_form, 2 * 3600 + 1))
    assert caught.value.code == "form_token_expired"


@pytest.mark.parametrize("kind", ["missing", "garbage", "forged", "other_form", "tampered"])
def test_a_missing_or_forged_token_is_refused(wedding_form, studio_a, alice, kind):
    from django.core import signing

    other = services.inquiry_form_create(studio=studio_a, by=alice, name="Family", slug="family")
    token = {
        "missing": "",
        "garbage": "not-a-token",
        "forged": signing.dumps({"f": str(wedding_form.id), "t": 0}, salt="another salt"),
        "other_form": aged_token(other),
        "tampered": aged_token(wedding_form).replace(":", ":x", 1),
    }[kind]
    with pytest.raises(ApplicationError) as caught:
        submit(wedding_form, token=token)
    assert caught.value.code == "invalid_form_token"
    assert written() == NOTHING


def test_one_address_may_send_a_few_inquiries_per_window(wedding_form, settings):
    settings.PICPICK_CRM_INQUIRY_PER_ADDRESS = 2
    submit(wedding_form)
    # A mistake does not use up a slot: only inquiries that get through count.
    with pytest.raises(ApplicationError):
        submit(wedding_form, answers(email="nope"))
    submit(wedding_form)
    with pytest.raises(RateLimited) as caught:
        submit(wedding_form)
    assert caught.value.code == "too_many_inquiries"
    assert 0 < caught.value.extra["retry_after"] <= 3600
    assert Inquiry.objects.count() == 2
    assert submit(wedding_form, address="203.0.113.9") is not None  # another address


def test_an_ipv6_client_is_counted_by_its_64(wedding_form, settings):
    settings.PICPICK_CRM_INQUIRY_PER_ADDRESS = 1
    submit(wedding_form, address="2001:db8:1:2::1")
    with pytest.raises(RateLimited):
        submit(wedding_form, address="2001:db8:1:2::beef")


def test_the_token_is_checked_before_the_limit_is_counted(wedding_form, settings):
    settings.PICPICK_CRM_INQUIRY_PER_ADDRESS = 1
    for _ in range(3):
        with pytest.raises(ApplicationError, match="too fast"):
            submit(wedding_form, token=services.inquiry_form_token(form=wedding_form))
    assert submit(wedding_form) is not None


def test_a_token_makes_one_inquiry_so_a_double_click_makes_one(wedding_form, settings):
    settings.PICPICK_CRM_INQUIRY_PER_ADDRESS = 2
    token = aged_token(wedding_form)
    assert submit(wedding_form, token=token) is not None
    assert submit(wedding_form, token=token) is None  # answered as a success, makes nothing
    assert Inquiry.objects.count() == Job.objects.count() == 1
    # The repeat took no slot of the address.
    assert submit(wedding_form) is not None
    assert Inquiry.objects.count() == 2


def test_tokens_issued_in_the_same_instant_differ(wedding_form):
    now = 1_800_000_000.0
    first = services.inquiry_form_token(form=wedding_form, now=now)
    assert first != services.inquiry_form_token(form=wedding_form, now=now)


def test_a_failed_submission_gives_its_token_back(wedding_form, monkeypatch):
    token = aged_token(wedding_form)

    def fail(**kwargs):
        raise ApplicationError("The pipeline has no stages.", code="pipeline_empty")

    monkeypatch.setattr(services, "job_create", fail)
    with pytest.raises(ApplicationError):
        submit(wedding_form, token=token)
    assert written() == NOTHING
    monkeypatch.undo()
    assert submit(wedding_form, token=token) is not None
