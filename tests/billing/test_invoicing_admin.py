"""Invoicing in the admin: documents (quotes, invoices with their lines and instalments,
reminders, autopay attempts, counters) are read-only for everyone; tax rates and catalogue
items are edited by staff with the permission, through the services' own rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib import admin as django_admin
from django.contrib.auth.models import Permission
from django.test import Client, RequestFactory

from billing.models import (
    AutopayAttempt,
    CatalogueItem,
    DocumentCounter,
    Instalment,
    Invoice,
    InvoiceReminder,
    Quote,
    TaxRate,
)
from billing.services import catalogue as services
from picpick.testing.factories import (
    AutopayAttemptFactory,
    CatalogueItemFactory,
    ContactFactory,
    DocumentCounterFactory,
    InstalmentFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    InvoiceReminderFactory,
    QuoteFactory,
    QuoteItemFactory,
    TaxRateFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

DOCUMENTS = [
    (Quote, QuoteFactory),
    (Invoice, InvoiceFactory),
    (Instalment, InstalmentFactory),
    (InvoiceReminder, InvoiceReminderFactory),
    (AutopayAttempt, AutopayAttemptFactory),
    (DocumentCounter, DocumentCounterFactory),
]


@pytest.fixture
def sam() -> Client:
    """Support with every permission (a superuser)."""
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def staff_client(*codenames: str) -> Client:
    user = UserFactory(is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="billing", codename__in=codenames)
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(("model", "factory"), DOCUMENTS, ids=lambda v: getattr(v, "__name__", v))
def test_documents_are_read_only_even_for_a_superuser(model, factory):
    row = factory()
    request = RequestFactory().get("/admin/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    model_admin = django_admin.site._registry[model]
    assert model_admin.has_view_permission(request, row)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, row)
    assert not model_admin.has_delete_permission(request, row)
    for inline in model_admin.get_inline_instances(request, row):
        assert not inline.has_add_permission(request, row)
        assert not inline.has_change_permission(request, row)
        assert not inline.has_delete_permission(request, row)


def test_an_invoice_with_its_lines_and_instalments_is_shown_and_cannot_be_posted_to(sam):
    contact = ContactFactory(email="jane@example.com")
    invoice = InvoiceFactory(contact=contact, number="INV-2026-0001", status="open", total=12_000)
    InvoiceLineFactory(invoice=invoice, name="Prints of the ceremony", unit_price=12_000)
    InstalmentFactory(invoice=invoice, label="Deposit", amount=12_000)
    quote = QuoteFactory(contact=contact, number="Q-2026-0001")
    QuoteItemFactory(quote=quote, name="Full day", taxes=[{"name": "VAT", "rate": "20"}])

    page = sam.get(f"/admin/billing/invoice/{invoice.id}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Prints of the ceremony" in html and "Deposit" in html
    assert page.context["has_change_permission"] is False
    assert "Full day" in sam.get(f"/admin/billing/quote/{quote.id}/change/").content.decode()

    listed = sam.get("/admin/billing/invoice/", {"q": "jane@example.com"})
    assert [row.id for row in listed.context["cl"].result_list] == [invoice.id]
    assert "120.00 EUR" in listed.content.decode()
    by_number = sam.get("/admin/billing/invoice/", {"q": "INV-2026-0001", "status__exact": "open"})
    assert [row.id for row in by_number.context["cl"].result_list] == [invoice.id]
    assert sam.get("/admin/billing/quote/", {"q": "Q-2026-0001"}).context["cl"].result_count == 1
    assert sam.get("/admin/billing/instalment/", {"q": "INV-2026-0001"}).status_code == 200

    response = sam.post(
        f"/admin/billing/invoice/{invoice.id}/change/", {"status": "paid", "total": "1"}
    )
    assert response.status_code == 403
    invoice.refresh_from_db()
    assert (invoice.status, invoice.total) == ("open", 12_000)
    assert sam.get("/admin/billing/invoice/add/").status_code == 403
    assert sam.get(f"/admin/billing/invoice/{invoice.id}/delete/").status_code == 403


# --- tax rates ------------------------------------------------------------------------------


def _rate_form(studio, **fields) -> dict:
    return {"studio": str(studio.pk), "name": "VAT", "rate": "20", "country": "", **fields}


def test_staff_add_a_tax_rate_through_the_service(sam, studio_a):
    response = sam.post("/admin/billing/taxrate/add/", _rate_form(studio_a, country="fr"))
    assert response.status_code == 302, response.content.decode()[:2000]
    rate = TaxRate.objects.get()
    assert (rate.studio_id, rate.name, rate.rate, rate.country) == (
        studio_a.id,
        "VAT",
        Decimal("20"),
        "FR",
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rate": "100.5"}, "A rate is a percent from 0 to 100."),
        ({"inclusive": "on", "compound": "on"}, "A compound tax cannot be included in prices"),
        ({"name": "vat"}, "already has an active tax rate"),
    ],
)
def test_a_tax_rate_the_api_would_refuse_is_refused_here(sam, studio_a, fields, message):
    TaxRateFactory(studio=studio_a, name="VAT", rate=Decimal("20"))
    response = sam.post("/admin/billing/taxrate/add/", _rate_form(studio_a, **fields))
    assert response.status_code == 200  # the form again, with the error
    assert message in response.content.decode()
    assert TaxRate.objects.count() == 1


def test_a_rate_change_needs_the_permission_and_keeps_the_lines_copies(studio_a):
    rate = services.tax_rate_create(studio=studio_a, name="VAT", rate="20")
    line = InvoiceLineFactory(invoice__contact__studio=studio_a, taxes=services.tax_copies([rate]))
    form = {"name": "VAT", "rate": "21", "country": "", "region": ""}
    looker = staff_client()
    assert looker.get(f"/admin/billing/taxrate/{rate.id}/change/").status_code == 200
    assert looker.post(f"/admin/billing/taxrate/{rate.id}/change/", form).status_code == 403
    rate.refresh_from_db()
    assert rate.rate == Decimal("20")

    editor = staff_client("view_taxrate", "change_taxrate", "delete_taxrate")
    response = editor.post(f"/admin/billing/taxrate/{rate.id}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    rate.refresh_from_db()
    assert rate.rate == Decimal("21")
    line.refresh_from_db()
    assert line.taxes[0]["rate"] == "20"
    # Archived, never deleted.
    assert editor.get(f"/admin/billing/taxrate/{rate.id}/delete/").status_code == 403
    response = editor.post(f"/admin/billing/taxrate/{rate.id}/change/", {**form, "archived": "on"})
    assert response.status_code == 302
    assert TaxRate.objects.get().archived is True


# --- catalogue items ------------------------------------------------------------------------


def _item_form(studio, **fields) -> dict:
    return {
        "studio": str(studio.pk),
        "kind": "package",
        "name": "Full day",
        "description": "",
        "unit_price": "250000",
        "currency": "EUR",
        "taxes": "",
        **fields,
    }


def test_staff_add_an_item_with_its_studios_taxes_through_the_service(sam, studio_a):
    CatalogueItemFactory(studio=studio_a)
    vat = TaxRateFactory(studio=studio_a)
    response = sam.post("/admin/billing/catalogueitem/add/", _item_form(studio_a, taxes=vat.id))
    assert response.status_code == 302, response.content.decode()[:2000]
    item = CatalogueItem.objects.get(name="Full day")
    assert (item.unit_price, item.currency, item.position) == (250_000, "EUR", 1)
    assert list(item.taxes.all()) == [vat]
    listed = sam.get("/admin/billing/catalogueitem/", {"kind__exact": "package"})
    assert "2500.00 EUR" in listed.content.decode()


def test_an_item_with_another_studios_tax_rate_is_refused(sam, studio_a, studio_b):
    theirs = TaxRateFactory(studio=studio_b)
    response = sam.post(
        "/admin/billing/catalogueitem/add/", _item_form(studio_a, taxes=str(theirs.id))
    )
    assert response.status_code == 200
    assert "Tax rate not found." in response.content.decode()
    assert not CatalogueItem.objects.exists()


def test_an_item_change_goes_through_the_service(sam, studio_a):
    item = services.catalogue_item_create(
        studio=studio_a, kind="item", name="Prints", unit_price=1500, currency="EUR"
    )
    url = f"/admin/billing/catalogueitem/{item.id}/change/"
    form = {
        "kind": "item",
        "name": "Prints",
        "description": "",
        "unit_price": "1500",
        "currency": "JPY",
        "taxes": "",
    }
    response = sam.post(url, form)
    assert response.status_code == 200
    assert "Give the unit_price in the new currency with it." in response.content.decode()
    response = sam.post(url, {**form, "unit_price": "2000", "optional": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    item.refresh_from_db()
    assert (item.currency, item.unit_price, item.optional) == ("JPY", 2000, True)
    assert sam.get(f"/admin/billing/catalogueitem/{item.id}/delete/").status_code == 403
