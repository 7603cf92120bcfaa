"""Inquiry fixtures: a wedding form of studio A with an auto-reply, the cache emptied (rate
limit counters) around each test."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from crm.services import inquiries as services
from picpick.testing.factories import EmailTemplateFactory
from tests.crm.inquiries.support import QUESTIONS


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def auto_reply(studio_a):
    return EmailTemplateFactory(
        studio=studio_a,
        name="Inquiry thanks",
        subject="Thank you, {{ client.first_name }}!",
        body=(
            "Hi {{ client.first_name }},\n\nThank you for your {{ job.type|lower }} inquiry "
            "for {{ job.event_date }}. We answer within two days.\n\n{{ studio.name }}\n"
        ),
    )


@pytest.fixture
def wedding_form(studio_a, alice, auto_reply):
    return services.inquiry_form_create(
        studio=studio_a,
        by=alice,
        name="Weddings",
        slug="weddings",
        title="Tell us about your wedding",
        intro="We photograph 25 weddings a year.",
        fields=QUESTIONS,
        job_type="wedding",
        auto_reply_template_id=auto_reply.id,
        embed_origins=["https://annasmith.com"],
        success_message="Thank you! Anna answers within two days.",
    )
