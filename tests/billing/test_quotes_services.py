"""Quotes through their services: writing (items checked like invoice lines), the client's
choices and what they cost, sending (numbers, the email and its link), accepting (the invoice
with the chosen lines and the quote's schedule, the job moved, the timelines), declining,
withdrawing, and the refusals, each leaving nothing written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Instalment, Invoice, LedgerTransaction, Quote, QuoteItem
from billing.selectors.quotes import quote_for_link
from billing.services.invoices.common import today_of
from billing.services.quotes import (
    QuoteItemInput,
    choice_default,
    quote_accept,
    quote_decline,
    quote_delete,
    quote_link_read,
    quote_link_token,
    quote_send,
    quote_totals,
    quote_update,
    quote_withdraw,
)
from billing.services.reconcile import ledger_check
from crm.models import StageChange, TimelineEvent
from picpick.core.errors import ApplicationError, Conflict, NotFound
from picpick.testing.factories import (
    CatalogueItemFactory,
    ContactFactory,
    JobFactory,
    PipelineFactory,
    StageFactory,
)
from tests.billing.invoicing_support import vat_fixture  # noqa: F401 (a fixture)
from tests.billing.test_quotes_support import (  # noqa: F401 (fixtures)
    VAT,
    booked_fixture,
    item,
    jane_fixture,
    make_quote,
    pipeline_fixture,
    sent_quote,
    wedding_fixture,
)

pytestmark = pytest.mark.django_db


def accept(quote: Quote, package: str | None = "Full day", addons=(), **changes) -> Invoice:
    return quote_accept(
        quote=quote,
        accepted_name=changes.pop("accepted_name", "Jane Doe"),
        address=changes.pop("address", "203.0.113.9"),
        user_agent=changes.pop("user_agent", "Mozilla/5.0 (test)"),
        package_id=item(quote, package).id if package else None,
        addon_ids=[item(quote, name).id for name in addons],
        **changes,
    )


# --- writing --------------------------------------------------------------------------------


def test_a_draft_keeps_its_items_in_order_with_the_first_package_preselected(studio_a, jane):
    quote = make_quote(
        studio_a,
        jane,
        items=[
            QuoteItemInput(name="Half day", unit_price=100_000, kind="package"),
            QuoteItemInput(name="Full day", unit_price=180_000, kind="package"),
            QuoteItemInput(name="Album", unit_price=30_000, optional=True, selected=True),
            QuoteItemInput(name="Travel", unit_price=5_000, selected=False),
        ],
    )
    assert quote.state == Quote.State.DRAFT and quote.number is None
    rows = list(quote.items.order_by("position"))
    assert [(r.name, r.kind, r.optional, r.selected) for r in rows] == [
        ("Half day", "package", False, True),
        ("Full day", "package", False, False),
        ("Album", "item", True, True),
        ("Travel", "item", False, True),  # a required item is always in
    ]
    assert choice_default(rows) == (rows[0].id, (rows[2].id,))


def test_a_catalogue_item_fills_the_item_with_its_kind_and_add_on_flag(studio_a, jane, vat):
    package = CatalogueItemFactory(
        studio=studio_a, kind="package", name="Elopement", unit_price=90_000, currency="EUR"
    )
    package.taxes.add(vat)
    addon = CatalogueItemFactory(
        studio=studio_a, kind="item", name="Drone", unit_price=20_000, currency="EUR", optional=True
    )
    quote = make_quote(
        studio_a,
        jane,
        items=[
            QuoteItemInput(catalogue_item_id=package.id),
            QuoteItemInput(catalogue_item_id=addon.id),
        ],
    )
    first, second = quote.items.order_by("position")
    assert (first.name, first.kind, first.unit_price, first.taxes) == (
        "Elopement",
        "package",
        90_000,
        [{"name": "VAT", "rate": "20", "inclusive": False, "compound": False}],
    )
    assert (second.kind, second.optional, second.selected) == ("item", True, False)


@pytest.mark.parametrize(
    ("bad", "code", "field"),
    [
        (QuoteItemInput(name="x", unit_price=10.5), "price_invalid", "items[1].unit_price"),
        (QuoteItemInput(name="x", unit_price=100, quantity=-1), "quantity_invalid", None),
        (QuoteItemInput(name="x", unit_price=100, quantity=1.5), "quantity_invalid", None),
        (
            QuoteItemInput(name="x", unit_price=100, discount_amount=101),
            "discount_exceeds_total",
            None,
        ),
        (
            QuoteItemInput(name="x", unit_price=100, taxes=[{"name": "T", "rate": "100.5"}]),
            "tax_rate_invalid",
            None,
        ),
        (QuoteItemInput(name="", unit_price=100), "line_name_invalid", "items[1].name"),
        (QuoteItemInput(name="x", unit_price=100, kind="bundle"), "item_invalid", None),
        (
            QuoteItemInput(name="x", unit_price=100, kind="package", optional=True),
            "item_invalid",
            None,
        ),
        (
            QuoteItemInput(name="x", unit_price=100, kind="package", selected=True),
            "choice_invalid",  # a second pre-selected package
            None,
        ),
    ],
)
def test_bad_items_are_refused_with_the_invoice_codes_and_nothing_is_written(
    studio_a, jane, bad, code, field
):
    first = QuoteItemInput(name="Full day", unit_price=180_000, kind="package", selected=True)
    with pytest.raises(ApplicationError) as caught:
        make_quote(studio_a, jane, items=[first, bad])
    assert caught.value.code == code
    if field:
        assert field in caught.value.fields
    assert not Quote.objects.exists() and not QuoteItem.objects.exists()


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"discount_amount": 105_001}, "discount_exceeds_total"),  # above the cheapest choice
        ({"discount_percent": 10.0}, "discount_invalid"),
        ({"discount_percent": "10", "discount_amount": 5}, "discount_invalid"),
        ({"schedule": [{"amount": 200_000}, {"balance": True}]}, "schedule_exceeds_total"),
        ({"schedule": [{"percent": 30.0}, {"balance": True}]}, "schedule_invalid"),
        ({"title": "  "}, "title_required"),
        ({"payment_terms_days": 400}, "invalid"),
        ({"currency": "XXY"}, "currency_unknown"),
    ],
)
def test_bad_quote_fields_are_refused_and_nothing_is_written(studio_a, jane, fields, code):
    with pytest.raises(ApplicationError) as caught:
        make_quote(studio_a, jane, **fields)
    assert caught.value.code == code
    assert not Quote.objects.exists()


def test_the_accept_stage_is_a_stage_of_the_jobs_pipeline(
    studio_a, studio_b, jane, wedding, booked
):
    other = StageFactory(
        pipeline=PipelineFactory(studio=studio_a), name="Elsewhere"
    )  # another pipeline of studio A
    with pytest.raises(NotFound) as caught:
        make_quote(studio_a, jane, wedding, accept_stage=other)
    assert caught.value.code == "stage_not_found"
    with pytest.raises(ApplicationError) as caught:
        make_quote(studio_a, jane, accept_stage=booked)
    assert caught.value.code == "accept_stage_needs_job"
    lost = StageFactory(pipeline=wedding.pipeline, name="Lost", kind="lost")
    with pytest.raises(ApplicationError) as caught:
        make_quote(studio_a, jane, wedding, accept_stage=lost)
    assert caught.value.code == "accept_stage_invalid"
    with pytest.raises(NotFound) as caught:
        make_quote(studio_a, ContactFactory(studio=studio_b))
    assert caught.value.code == "contact_not_found"
    with pytest.raises(NotFound) as caught:
        make_quote(studio_a, jane, JobFactory())
    assert caught.value.code == "job_not_found"
    assert not Quote.objects.exists()


def test_editing_a_sent_quote_keeps_it_sent_and_a_closed_one_is_refused(studio_a, jane):
    quote = sent_quote(studio_a, jane)
    number = quote.number
    quote = quote_update(quote=quote, title="Doe wedding, revised", discount_percent="10")
    assert (quote.state, quote.number, quote.title) == (
        Quote.State.SENT,
        number,
        "Doe wedding, revised",
    )
    quote = quote_update(quote=quote, discount_amount=1_000)
    assert (quote.discount_percent, quote.discount_amount) == (None, 1_000)
    quote = quote_update(quote=quote, items=[QuoteItemInput(name="Portraits", unit_price=40_000)])
    assert [i.name for i in quote.items.all()] == ["Portraits"]
    quote_withdraw(quote=quote)
    with pytest.raises(Conflict) as caught:
        quote_update(quote=quote, title="again")
    assert caught.value.code == "quote_closed"


def test_only_a_draft_is_deleted(studio_a, jane):
    draft = make_quote(studio_a, jane)
    quote_delete(quote=draft)
    assert not Quote.objects.exists() and not QuoteItem.objects.exists()
    quote = sent_quote(studio_a, jane)
    with pytest.raises(Conflict) as caught:
        quote_delete(quote=quote)
    assert caught.value.code == "quote_not_draft"


# --- sending --------------------------------------------------------------------------------


def test_sending_numbers_the_quote_emails_the_link_and_records_it(
    studio_a, jane, wedding, mailoutbox, django_capture_on_commit_callbacks
):
    quote = make_quote(studio_a, jane, wedding, message="Two options for your day.")
    with django_capture_on_commit_callbacks(execute=True):
        quote = quote_send(quote=quote)
    year = today_of(studio_a).year
    assert (quote.state, quote.number) == (Quote.State.SENT, f"Q-{year}-0001")
    assert quote.sent_at is not None
    [mail] = mailoutbox
    assert mail.to == ["jane@example.com"]
    assert "Two options for your day." in mail.body and quote.number in mail.body
    link = next(line for line in mail.body.splitlines() if "/quotes/" in line)
    token = link.rsplit("/quotes/", 1)[1].strip("/")
    assert quote_link_read(token) == quote.id
    assert quote_for_link(token, studio=studio_a).id == quote.id
    events = TimelineEvent.objects.filter(kind="quote_sent")
    assert {(e.job_id, e.contact_id) for e in events} == {(wedding.id, jane.id)}
    assert events[0].payload == {
        "quote_id": str(quote.id),
        "number": quote.number,
        "title": "Doe wedding",
    }
    # Sent again: the same number, a second email; the next quote takes the next number.
    with django_capture_on_commit_callbacks(execute=True):
        assert quote_send(quote=quote).number == quote.number
    assert len(mailoutbox) == 2
    assert sent_quote(studio_a, jane).number == f"Q-{year}-0002"


def test_a_link_of_another_studio_or_forged_or_of_a_draft_is_not_found(studio_a, studio_b, jane):
    quote = sent_quote(studio_a, jane)
    token = quote_link_token(quote=quote)
    with pytest.raises(NotFound):
        quote_for_link(token, studio=studio_b)
    with pytest.raises(NotFound):
        quote_for_link(token[:-2] + "xx", studio=studio_a)
    assert quote_link_read("nonsense") is None
    draft = make_quote(studio_a, jane)
    with pytest.raises(NotFound):
        quote_for_link(quote_link_token(quote=draft), studio=studio_a)


def test_a_quote_is_not_sent_empty_expired_or_counting_from_a_missing_event(studio_a, jane):
    empty = make_quote(studio_a, jane, items=[QuoteItemInput(name="x", unit_price=1)])
    QuoteItem.objects.filter(quote=empty).delete()
    with pytest.raises(Conflict) as caught:
        quote_send(quote=empty)
    assert caught.value.code == "quote_empty"
    old = make_quote(studio_a, jane, expires_on=today_of(studio_a) - dt.timedelta(days=1))
    with pytest.raises(Conflict) as caught:
        quote_send(quote=old)
    assert caught.value.code == "quote_expired"
    eventless = make_quote(
        studio_a,
        jane,
        schedule=[{"percent": "50"}, {"balance": True, "due": {"on": "before_event", "days": 7}}],
    )
    with pytest.raises(ApplicationError) as caught:
        quote_send(quote=eventless)
    assert caught.value.code == "event_date_required"
    assert not Quote.objects.exclude(state=Quote.State.DRAFT).exists()
    assert not Quote.objects.exclude(number=None).exists()


# --- choosing -------------------------------------------------------------------------------


def test_the_totals_of_each_choice(studio_a, jane):
    quote = sent_quote(studio_a, jane)
    full = quote_totals(quote=quote, package_id=item(quote, "Full day").id)
    assert (full.net, full.tax, full.total) == (185_000, 37_000, 222_000)
    half_album = quote_totals(
        quote=quote,
        package_id=str(item(quote, "Half day").id),
        addon_ids=[str(item(quote, "Album").id)],
    )
    assert half_album.total == (100_000 + 5_000 + 30_000) * 12 // 10
    quote = quote_update(quote=quote, discount_percent="10")
    assert quote_totals(quote=quote, package_id=item(quote, "Full day").id).total == 199_800


@pytest.mark.parametrize(
    ("package", "addons", "code"),
    [
        (None, (), "package_required"),
        ("Travel", (), "choice_invalid"),  # not a package
        ("Full day", ("Travel",), "choice_invalid"),  # required, not an add-on
        ("Full day", ("Half day",), "choice_invalid"),  # a package, not an add-on
        ("nonsense", (), "choice_invalid"),
    ],
)
def test_a_choice_outside_the_quote_is_refused(studio_a, jane, package, addons, code):
    quote = sent_quote(studio_a, jane)
    ids = {i.name: i.id for i in quote.items.all()}
    with pytest.raises(ApplicationError) as caught:
        quote_totals(
            quote=quote,
            package_id=ids.get(package, package),
            addon_ids=[ids[name] for name in addons],
        )
    assert caught.value.code == code


def test_a_quote_without_packages_needs_no_package_and_not_nothing(studio_a, jane):
    quote = sent_quote(
        studio_a,
        jane,
        items=[
            QuoteItemInput(name="Album", unit_price=30_000, optional=True),
            QuoteItemInput(name="Prints", unit_price=5_000, optional=True),
        ],
    )
    assert quote_totals(quote=quote, addon_ids=[item(quote, "Prints").id]).total == 5_000
    with pytest.raises(ApplicationError) as caught:
        quote_totals(quote=quote)
    assert caught.value.code == "choice_empty"
    with pytest.raises(ApplicationError) as caught:
        quote_totals(quote=quote, package_id=item(quote, "Album").id)
    assert caught.value.code == "choice_invalid"


# --- accepting ------------------------------------------------------------------------------


def test_accepting_issues_the_invoice_of_the_choice_with_the_quotes_schedule(
    studio_a, jane, wedding, booked
):
    quote = sent_quote(
        studio_a,
        jane,
        wedding,
        accept_stage=booked,
        discount_percent="10",
        schedule=[
            {"label": "Retainer", "percent": "30", "due": {"on": "acceptance"}},
            {"label": "Balance", "balance": True, "due": {"on": "before_event", "days": 14}},
        ],
    )
    invoice = accept(quote, "Half day", addons=("Album",))
    # The lines are the choice, in the quote's order, with the quote's discount.
    lines = list(invoice.lines.order_by("position"))
    assert [(line.name, line.unit_price, line.quantity) for line in lines] == [
        ("Half day", 100_000, Decimal("1")),
        ("Travel", 5_000, Decimal("1")),
        ("Album", 30_000, Decimal("1")),
    ]
    expected = quote_totals(
        quote=quote, package_id=item(quote, "Half day").id, addon_ids=[item(quote, "Album").id]
    )
    assert (invoice.net_total, invoice.tax_total, invoice.total) == (
        expected.net,
        expected.tax,
        expected.total,
    )
    assert invoice.total == 145_800  # 1,350.00 - 10% + VAT 20%
    assert invoice.status == Invoice.Status.OPEN and invoice.number.startswith("INV-")
    assert invoice.source_key == f"quote:{quote.id}" and invoice.job_id == wedding.id
    # The schedule: 30% now, the balance two weeks before the event.
    retainer, balance = Instalment.objects.filter(invoice=invoice).order_by("position")
    assert (retainer.label, retainer.amount, retainer.due_date) == (
        "Retainer",
        43_740,
        invoice.issue_date,
    )
    event_day = wedding.event_start.astimezone(dt.UTC).date()
    assert (balance.amount, balance.due_date) == (102_060, event_day - dt.timedelta(days=14))
    # The quote records the acceptance and links the invoice.
    quote.refresh_from_db()
    assert quote.state == Quote.State.ACCEPTED and quote.invoice_id == invoice.id
    assert (quote.accepted_name, quote.accepted_address, quote.accepted_user_agent) == (
        "Jane Doe",
        "203.0.113.9",
        "Mozilla/5.0 (test)",
    )
    assert quote.accepted_at is not None
    assert quote.accepted_choice == {
        "package": str(item(quote, "Half day").id),
        "addons": [str(item(quote, "Album").id)],
    }
    # The job moved, and the timelines say so.
    wedding.refresh_from_db()
    assert wedding.stage_id == booked.id and wedding.booked_at is not None
    assert StageChange.objects.filter(job=wedding, to_stage=booked).count() == 1
    accepted = TimelineEvent.objects.get(kind="quote_accepted")
    assert (accepted.job_id, accepted.contact_id) == (wedding.id, jane.id)
    assert accepted.payload == {
        "quote_id": str(quote.id),
        "number": quote.number,
        "accepted_name": "Jane Doe",
        "invoice_id": str(invoice.id),
    }
    assert TimelineEvent.objects.filter(kind="invoice_issued", job=wedding).count() == 1
    assert ledger_check().ok


def test_without_a_schedule_the_invoice_is_one_payment_due_on_the_quotes_terms(studio_a, jane):
    quote = sent_quote(studio_a, jane, payment_terms_days=30)
    invoice = accept(quote)
    [only] = Instalment.objects.filter(invoice=invoice)
    assert only.amount == invoice.total == 222_000
    assert only.due_date == invoice.issue_date + dt.timedelta(days=30) == invoice.due_date


def test_accepting_twice_is_refused_and_makes_one_invoice(studio_a, jane):
    quote = sent_quote(studio_a, jane)
    first = accept(quote)
    with pytest.raises(Conflict) as caught:
        accept(quote, "Half day", accepted_name="Someone else")
    assert caught.value.code == "quote_accepted"
    assert list(Invoice.objects.values_list("id", flat=True)) == [first.id]
    assert LedgerTransaction.objects.filter(kind="invoice_issued").count() == 1
    quote.refresh_from_db()
    assert quote.accepted_name == "Jane Doe"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"accepted_name": "   "}, "accepted_name_required"),
        ({"accepted_name": "x" * 201}, "accepted_name_required"),
        ({"package": None}, "package_required"),
        ({"addons": ("Travel",)}, "choice_invalid"),
    ],
)
def test_a_bad_acceptance_writes_nothing(studio_a, jane, wedding, booked, changes, code):
    quote = sent_quote(studio_a, jane, wedding, accept_stage=booked)
    with pytest.raises(ApplicationError) as caught:
        accept(quote, **changes)
    assert caught.value.code == code
    quote.refresh_from_db()
    assert quote.state == Quote.State.SENT and quote.invoice_id is None
    assert not Invoice.objects.exists() and not LedgerTransaction.objects.exists()
    wedding.refresh_from_db()
    assert wedding.stage_id != booked.id


def test_an_expired_quote_is_not_accepted_the_day_after_in_the_studios_zone(studio_a, jane):
    studio_a.timezone = "Pacific/Auckland"
    studio_a.save(update_fields=["timezone"])
    now = timezone.now()
    quote = sent_quote(studio_a, jane, expires_on=today_of(studio_a, now))
    quote.studio = studio_a
    with pytest.raises(Conflict) as caught:
        accept(quote, now=now + dt.timedelta(days=1))
    assert caught.value.code == "quote_expired"
    assert accept(quote, now=now).status == Invoice.Status.OPEN  # its last day


@pytest.mark.parametrize(
    ("close", "code"),
    [
        (lambda q: quote_withdraw(quote=q), "quote_withdrawn"),
        (lambda q: quote_decline(quote=q, reason="We eloped"), "quote_declined"),
    ],
)
def test_a_withdrawn_or_declined_quote_is_not_accepted(studio_a, jane, close, code):
    quote = sent_quote(studio_a, jane)
    close(quote)
    with pytest.raises(Conflict) as caught:
        accept(quote)
    assert caught.value.code == code
    assert not Invoice.objects.exists()


def test_a_draft_is_not_accepted_nor_declined(studio_a, jane):
    quote = make_quote(studio_a, jane)
    for act in (lambda: accept(quote), lambda: quote_decline(quote=quote)):
        with pytest.raises(Conflict) as caught:
            act()
        assert caught.value.code == "quote_draft"


def test_declining_keeps_the_reason_and_withdrawing_twice_changes_nothing(studio_a, jane):
    quote = quote_decline(quote=sent_quote(studio_a, jane), reason="  We eloped  ")
    assert (quote.state, quote.decline_reason) == (Quote.State.DECLINED, "We eloped")
    assert quote.declined_at is not None
    (event,) = TimelineEvent.objects.filter(kind="quote_declined")
    assert event.payload["reason"] == "We eloped" and event.contact_id == jane.id
    with pytest.raises(Conflict) as caught:
        quote_withdraw(quote=quote)
    assert caught.value.code == "quote_declined"
    other = sent_quote(studio_a, jane)
    assert quote_withdraw(quote=quote_withdraw(quote=other)).state == Quote.State.WITHDRAWN
    with pytest.raises(Conflict) as caught:
        quote_withdraw(quote=make_quote(studio_a, jane))
    assert caught.value.code == "quote_draft"


def test_a_failing_issue_leaves_the_quote_sent_to_accept_again(studio_a, jane, monkeypatch):
    quote = sent_quote(studio_a, jane)

    def refuse(**kwargs):
        raise Conflict("The ledger is closed.", code="ledger_closed")

    monkeypatch.setattr("billing.services.quotes.accept.invoice_issue", refuse)
    with pytest.raises(Conflict):
        accept(quote)
    quote.refresh_from_db()
    assert quote.state == Quote.State.SENT and not Invoice.objects.exists()
    monkeypatch.undo()
    assert accept(quote).status == Invoice.Status.OPEN


def test_a_job_that_can_no_longer_move_does_not_stop_the_acceptance(
    studio_a, jane, wedding, booked
):
    quote = sent_quote(studio_a, jane, wedding, accept_stage=booked)
    other = StageFactory(pipeline=PipelineFactory(studio=studio_a), name="Elsewhere")
    wedding.pipeline, wedding.stage = other.pipeline, other
    wedding.save(update_fields=["pipeline", "stage"])
    invoice = accept(quote)
    wedding.refresh_from_db()
    assert wedding.stage_id == other.id and invoice.status == Invoice.Status.OPEN


def test_a_catalogue_item_repriced_in_another_currency_still_invoices(studio_a, jane):
    catalogue = CatalogueItemFactory(
        studio=studio_a, kind="package", name="Elopement", unit_price=90_000, currency="EUR"
    )
    quote = sent_quote(studio_a, jane, items=[QuoteItemInput(catalogue_item_id=catalogue.id)])
    catalogue.currency = "USD"
    catalogue.save(update_fields=["currency"])
    invoice = accept(quote, "Elopement")
    [line] = invoice.lines.all()
    assert (line.unit_price, line.catalogue_item_id) == (90_000, None)


def test_the_invoice_goes_to_the_contact_the_client_was_merged_into(studio_a, jane):
    quote = sent_quote(studio_a, jane)
    survivor = ContactFactory(studio=studio_a, first_name="Jane", email="jane.doe@example.com")
    jane.merged_into = survivor
    jane.save(update_fields=["merged_into"])
    assert accept(quote).contact_id == survivor.id
