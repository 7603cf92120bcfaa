"""Inquiries racing each other on MariaDB's locks and unique indexes."""

from __future__ import annotations

import pytest
from django.db import connection

from crm.models import Contact, ContactEmail, Inquiry, Job
from tests.crm.inquiries.support import aged_token, answers, submit
from tests.races import race

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="SQLite serialises all writers; the race needs MariaDB's row locks",
    ),
]


def test_first_inquiries_from_one_email_at_once_make_one_contact_with_a_job_each(wedding_form):
    # Four tabs (or a double click) send at once from a new address: the unique email index
    # lets one make the contact; the others join it instead of failing.
    results = race(
        4,
        lambda n: submit(wedding_form, answers(message=f"Try {n}"), address=f"192.0.2.{n}"),
    )
    assert not any(isinstance(r, Exception) for r in results), results
    assert Contact.objects.count() == 1
    assert ContactEmail.objects.get().email == "jane.doe@example.com"
    assert Inquiry.objects.count() == Job.objects.count() == 4
    assert Inquiry.objects.values("contact").distinct().count() == 1


def test_the_per_address_limit_holds_under_a_burst(wedding_form, settings):
    settings.PICPICK_CRM_INQUIRY_PER_ADDRESS = 3
    results = race(8, lambda n: submit(wedding_form, answers(email=f"burst{n}@example.com")))
    made = [r for r in results if isinstance(r, Inquiry)]
    refused = [r for r in results if not isinstance(r, Inquiry)]
    assert len(made) == 3 and Inquiry.objects.count() == 3
    assert {type(r).__name__ for r in refused} == {"RateLimited"}


def test_one_token_sent_four_times_at_once_makes_one_inquiry(wedding_form):
    token = aged_token(wedding_form)
    results = race(4, lambda n: submit(wedding_form, token=token, address=f"192.0.2.{n}"))
    assert not any(isinstance(r, Exception) for r in results), results
    assert sum(isinstance(r, Inquiry) for r in results) == 1
    assert Inquiry.objects.count() == Job.objects.count() == 1
