"""What the quote tests share (fixtures and helpers; no tests here): a job in studio A's
pipeline with a "Booked" stage to move to, and a quote of two packages, a required item and
an add-on (VAT 20% exclusive) made through the services.

The quote's items, in order: ``Half day`` (package, 1,000.00), ``Full day`` (package,
1,800.00, pre-selected), ``Travel`` (required, 50.00), ``Album`` (optional add-on, 300.00).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from billing.models import Quote, QuoteItem
from billing.services.quotes import QuoteItemInput, quote_create, quote_send
from picpick.testing.factories import ContactFactory, JobFactory, PipelineFactory, StageFactory

VAT = [{"name": "VAT", "rate": "20"}]


@pytest.fixture(name="pipeline")
def pipeline_fixture(studio_a):
    pipeline = PipelineFactory(studio=studio_a, name="Weddings")
    StageFactory(pipeline=pipeline, name="Lead", kind="open", position=0)
    StageFactory(pipeline=pipeline, name="Booked", kind="booked", position=1)
    return pipeline


@pytest.fixture(name="booked")
def booked_fixture(pipeline):
    return pipeline.stages.get(name="Booked")


@pytest.fixture(name="wedding")
def wedding_fixture(studio_a, pipeline):
    return JobFactory(
        stage=pipeline.stages.get(name="Lead"),
        name="Doe wedding",
        currency="EUR",
        event_start=timezone.now() + dt.timedelta(days=120),
    )


@pytest.fixture(name="jane")
def jane_fixture(studio_a):
    return ContactFactory(
        studio=studio_a, first_name="Jane", last_name="Doe", email="jane@example.com"
    )


def default_items() -> list[QuoteItemInput]:
    half = QuoteItemInput(name="Half day", unit_price=100_000, kind="package", taxes=VAT)
    full = QuoteItemInput(
        name="Full day", unit_price=180_000, kind="package", taxes=VAT, selected=True
    )
    travel = QuoteItemInput(name="Travel", unit_price=5_000, taxes=VAT)
    album = QuoteItemInput(name="Album", unit_price=30_000, optional=True, taxes=VAT)
    return [half, full, travel, album]


def make_quote(studio, contact, job=None, **fields) -> Quote:
    fields.setdefault("currency", "EUR")
    fields.setdefault("title", "Doe wedding")
    return quote_create(
        studio=studio,
        contact=contact,
        job=job,
        items=fields.pop("items", None) or default_items(),
        **fields,
    )


def sent_quote(studio, contact, job=None, **fields) -> Quote:
    return quote_send(quote=make_quote(studio, contact, job, **fields))


def item(quote: Quote, name: str) -> QuoteItem:
    return quote.items.get(name=name)
