"""Tax rates and the catalogue, through their services and selectors: the rate rules (exact
decimals, 0..100, 4 places, never a float), unique names per rate, compound never inclusive,
prices in minor units, another studio's tax rate refused with nothing written, the order of
the catalogue, and documents keeping their copies when a rate changes."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import connection

from billing.models import BillingSettings, CatalogueItem, TaxRate
from billing.money import MAX_MINOR
from billing.selectors import catalogue as selectors
from billing.services import catalogue as services
from picpick.core.errors import ApplicationError
from picpick.testing.factories import QuoteItemFactory, StudioFactory, TaxRateFactory
from tests.races import race

pytestmark = pytest.mark.django_db


@pytest.fixture
def euro_studio(studio_a):
    studio_a.default_currency = "EUR"
    studio_a.save(update_fields=["default_currency"])
    return studio_a


@pytest.fixture
def vat(euro_studio):
    return services.tax_rate_create(studio=euro_studio, name="VAT", rate="20", country="FR")


def refused(call, **kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        call(**kwargs)
    return caught.value


# --- tax rates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "stored", "text"),
    [
        ("20", Decimal("20"), "20"),
        ("9.975", Decimal("9.975"), "9.975"),
        ("5.50000", Decimal("5.5"), "5.5"),  # trailing zeros are not decimals
        (0, Decimal("0"), "0"),
        (100, Decimal("100"), "100"),
        (Decimal("0.0001"), Decimal("0.0001"), "0.0001"),
        (Decimal("1E+1"), Decimal("10"), "10"),
    ],
)
def test_a_rate_is_read_exactly(euro_studio, rate, stored, text):
    row = services.tax_rate_create(studio=euro_studio, name="Tax", rate=rate)
    row.refresh_from_db()
    assert row.rate == stored
    assert services.rate_text(row.rate) == text
    assert services.tax_copies([row]) == [
        {"name": "Tax", "rate": text, "inclusive": False, "compound": False}
    ]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"rate": 20.0}, "tax_rate_invalid"),  # a float, even a whole one
        ({"rate": 9.975}, "tax_rate_invalid"),
        ({"rate": "100.5"}, "tax_rate_invalid"),
        ({"rate": Decimal("100.5")}, "tax_rate_invalid"),
        ({"rate": "-1"}, "tax_rate_invalid"),
        ({"rate": "5.12345"}, "tax_rate_invalid"),  # 5 decimals: refused, never rounded
        ({"rate": Decimal("1E-999999999")}, "tax_rate_invalid"),
        ({"rate": Decimal("NaN")}, "tax_rate_invalid"),
        ({"rate": "1e2"}, "tax_rate_invalid"),
        ({"rate": " 20"}, "tax_rate_invalid"),
        ({"rate": "20%"}, "tax_rate_invalid"),
        ({"rate": True}, "tax_rate_invalid"),
        ({"rate": None}, "tax_rate_invalid"),
        ({"name": ""}, "invalid"),
        ({"name": "   "}, "invalid"),
        ({"name": "V" * 41}, "invalid"),
        ({"inclusive": True, "compound": True}, "tax_mixed"),
        ({"inclusive": "yes"}, "invalid"),
        ({"country": "France"}, "invalid"),
        ({"region": "R" * 11}, "invalid"),
    ],
)
def test_a_bad_tax_rate_is_refused_and_nothing_is_written(euro_studio, fields, code):
    error = refused(
        services.tax_rate_create, studio=euro_studio, **{"name": "VAT", "rate": "20", **fields}
    )
    assert (error.code, error.status_code) == (code, 400)
    assert error.fields
    assert not TaxRate.objects.exists()
    assert not BillingSettings.objects.exists()  # the lock's row went with the rollback


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="SQLite serialises all writers; the race needs MariaDB's row locks",
)
def test_racing_creates_make_one_rate_of_a_name_and_distinct_positions():
    studio = StudioFactory(default_currency="EUR")  # no billing settings yet: made in the race

    def rate(index: int):
        return services.tax_rate_create(studio=studio, name="VAT", rate="20")

    results = race(8, rate)
    codes = sorted(r.code if isinstance(r, ApplicationError) else "ok" for r in results)
    assert codes == ["ok"] + ["tax_rate_exists"] * 7, results
    assert TaxRate.objects.filter(studio=studio).count() == 1

    def item(index: int):
        return services.catalogue_item_create(
            studio=studio, kind="item", name=f"Item {index}", unit_price=100
        )

    assert all(isinstance(r, CatalogueItem) for r in race(8, item))
    positions = CatalogueItem.objects.filter(studio=studio).values_list("position", flat=True)
    assert sorted(positions) == list(range(8))


def test_a_name_is_unique_among_the_active_rates_of_the_same_rate(euro_studio, studio_b, vat):
    error = refused(services.tax_rate_create, studio=euro_studio, name="vat", rate="20.0")
    assert (error.code, error.status_code) == ("tax_rate_exists", 409)
    # Another rate, another studio, or once the first is archived: fine.
    services.tax_rate_create(studio=euro_studio, name="VAT", rate="5.5")
    services.tax_rate_create(studio=studio_b, name="VAT", rate="20")
    services.tax_rate_archive(tax_rate=vat)
    again = services.tax_rate_create(studio=euro_studio, name="VAT", rate="20")
    # Restoring the archived twin would make two.
    error = refused(services.tax_rate_update, tax_rate=vat, archived=False)
    assert error.code == "tax_rate_exists"
    services.tax_rate_archive(tax_rate=again)
    assert services.tax_rate_update(tax_rate=vat, archived=False).archived is False


def test_an_update_checks_the_whole_result_and_writes_only_what_changed(euro_studio, vat):
    gst = services.tax_rate_create(studio=euro_studio, name="GST", rate="5")
    assert refused(services.tax_rate_update, tax_rate=gst, name="VAT", rate="20").code == (
        "tax_rate_exists"
    )
    assert refused(services.tax_rate_update, tax_rate=gst, compound=True, inclusive=True).code == (
        "tax_mixed"
    )
    assert refused(services.tax_rate_update, tax_rate=gst, rate=5.0).code == "tax_rate_invalid"
    assert refused(services.tax_rate_update, tax_rate=gst, studio=None).code == "invalid"
    gst.refresh_from_db()
    assert (gst.name, gst.rate, gst.compound) == ("GST", Decimal("5"), False)
    before = gst.updated_at
    same = services.tax_rate_update(tax_rate=gst, rate="5.0000", name="GST")
    assert same.updated_at == before
    changed = services.tax_rate_update(tax_rate=gst, rate="9.975", name=" QST ", compound=True)
    changed.refresh_from_db()
    assert (changed.name, changed.rate, changed.compound) == ("QST", Decimal("9.975"), True)


def test_a_rate_change_makes_no_difference_to_lines_already_written(euro_studio, vat):
    line = QuoteItemFactory(
        quote__contact__studio=euro_studio, taxes=services.tax_copies([vat]), unit_price=10_000
    )
    services.tax_rate_update(tax_rate=vat, rate="21", name="VAT (new)")
    services.tax_rate_archive(tax_rate=vat)
    line.refresh_from_db()
    assert line.taxes == [{"name": "VAT", "rate": "20", "inclusive": False, "compound": False}]


def test_archiving_twice_is_harmless(vat):
    services.tax_rate_archive(tax_rate=vat)
    again = services.tax_rate_archive(tax_rate=vat)
    assert again.archived is True
    assert TaxRate.objects.get().archived is True


# --- catalogue items ------------------------------------------------------------------------


def test_an_item_takes_the_studio_currency_its_taxes_and_the_next_position(euro_studio, vat):
    first = services.catalogue_item_create(
        studio=euro_studio,
        kind="package",
        name=" Full day ",
        unit_price=250_000,
        tax_rate_ids=[vat.id, str(vat.id)],  # named twice: once
    )
    second = services.catalogue_item_create(
        studio=euro_studio, kind="item", name="Album", unit_price=0, optional=True
    )
    first.refresh_from_db()
    assert (first.name, first.currency, first.unit_price, first.position) == (
        "Full day",
        "EUR",
        250_000,
        0,
    )
    assert list(first.taxes.all()) == [vat]
    assert (second.position, second.unit_price, second.optional) == (1, 0, True)
    assert second.price_money.decimal_str() == "0.00"


def test_the_currency_follows_the_billing_settings_not_the_studio(euro_studio):
    BillingSettings.objects.create(studio=euro_studio, currency="CAD")
    item = services.catalogue_item_create(
        studio=euro_studio, kind="item", name="Prints", unit_price=1500
    )
    assert item.currency == "CAD"
    yen = services.catalogue_item_create(
        studio=euro_studio, kind="item", name="Prints", unit_price=1500, currency="JPY"
    )
    assert yen.currency == "JPY"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"unit_price": 1500.0}, "amount_float"),
        ({"unit_price": 0.0}, "amount_float"),
        ({"unit_price": Decimal("15")}, "amount_invalid"),
        ({"unit_price": "1500"}, "amount_invalid"),
        ({"unit_price": True}, "amount_invalid"),
        ({"unit_price": -1}, "amount_not_positive"),
        ({"unit_price": MAX_MINOR + 1}, "amount_too_large"),
        ({"currency": "eur"}, "currency_unknown"),
        ({"currency": "XYZ"}, "currency_unknown"),
        ({"kind": "service"}, "invalid"),
        ({"name": ""}, "invalid"),
        ({"name": "N" * 201}, "invalid"),
        ({"optional": 1}, "invalid"),
        ({"tax_rate_ids": "not-a-list"}, "invalid"),
    ],
)
def test_a_bad_item_is_refused_and_nothing_is_written(euro_studio, fields, code):
    error = refused(
        services.catalogue_item_create,
        studio=euro_studio,
        **{"kind": "item", "name": "Prints", "unit_price": 1500, **fields},
    )
    assert (error.code, error.status_code) == (code, 400)
    assert not CatalogueItem.objects.exists()


def test_another_studios_tax_rate_is_not_found_and_nothing_is_written(euro_studio, vat, studio_b):
    theirs = TaxRateFactory(studio=studio_b)
    for ids in ([vat.id, theirs.id], [uuid.uuid4()], ["not-a-uuid"]):
        error = refused(
            services.catalogue_item_create,
            studio=euro_studio,
            kind="item",
            name="Prints",
            unit_price=1500,
            tax_rate_ids=ids,
        )
        assert (error.code, error.status_code) == ("tax_rate_not_found", 404)
    assert not CatalogueItem.objects.exists()
    assert not CatalogueItem.taxes.through.objects.exists()

    item = services.catalogue_item_create(
        studio=euro_studio, kind="item", name="Prints", unit_price=1500, tax_rate_ids=[vat.id]
    )
    error = refused(services.catalogue_item_update, item=item, tax_rate_ids=[theirs.id], name="X")
    assert error.code == "tax_rate_not_found"
    item.refresh_from_db()
    assert item.name == "Prints" and list(item.taxes.all()) == [vat]


def test_an_items_taxes_are_all_inclusive_or_all_exclusive(euro_studio, vat):
    included = services.tax_rate_create(studio=euro_studio, name="TVA", rate="20", inclusive=True)
    error = refused(
        services.catalogue_item_create,
        studio=euro_studio,
        kind="item",
        name="Prints",
        unit_price=1500,
        tax_rate_ids=[vat.id, included.id],
    )
    assert (error.code, error.status_code) == ("tax_mixed", 400)
    big = [
        services.tax_rate_create(studio=euro_studio, name=f"T{n}", rate="60", inclusive=True)
        for n in range(2)
    ]
    error = refused(
        services.catalogue_item_create,
        studio=euro_studio,
        kind="item",
        name="Prints",
        unit_price=1500,
        tax_rate_ids=[rate.id for rate in big],
    )
    assert error.code == "tax_rate_invalid"
    assert not CatalogueItem.objects.exists()


def test_an_archived_rate_is_not_picked_but_an_item_keeps_the_one_it_has(euro_studio, vat):
    item = services.catalogue_item_create(
        studio=euro_studio, kind="item", name="Prints", unit_price=1500, tax_rate_ids=[vat.id]
    )
    services.tax_rate_archive(tax_rate=vat)
    error = refused(
        services.catalogue_item_create,
        studio=euro_studio,
        kind="item",
        name="Album",
        unit_price=1500,
        tax_rate_ids=[vat.id],
    )
    assert (error.code, error.status_code) == ("tax_rate_archived", 409)
    kept = services.catalogue_item_update(item=item, tax_rate_ids=[vat.id], unit_price=1800)
    assert list(kept.taxes.all()) == [vat] and kept.unit_price == 1800
    assert list(services.catalogue_item_update(item=item, tax_rate_ids=[]).taxes.all()) == []


def test_a_new_currency_comes_with_its_price(euro_studio):
    item = services.catalogue_item_create(
        studio=euro_studio, kind="item", name="Prints", unit_price=1500
    )
    error = refused(services.catalogue_item_update, item=item, currency="JPY")
    assert (error.code, error.status_code) == ("unit_price_required", 400)
    services.catalogue_item_update(item=item, currency="EUR")  # the same one: nothing to say
    moved = services.catalogue_item_update(item=item, currency="JPY", unit_price=2000)
    moved.refresh_from_db()
    assert (moved.currency, moved.unit_price) == ("JPY", 2000)


def test_archive_and_restore_an_item(euro_studio):
    item = services.catalogue_item_create(
        studio=euro_studio, kind="item", name="Prints", unit_price=1500
    )
    services.catalogue_item_archive(item=item)
    services.catalogue_item_archive(item=item)
    assert CatalogueItem.objects.get().archived is True
    assert list(selectors.catalogue_item_list(studio=euro_studio)) == []
    restored = services.catalogue_item_update(item=item, archived=False)
    assert restored.archived is False and restored.position == 0


def test_reorder_lists_every_active_item_once(euro_studio):
    a, b, c = (
        services.catalogue_item_create(studio=euro_studio, kind="item", name=n, unit_price=100)
        for n in ("A", "B", "C")
    )
    services.catalogue_item_archive(item=c)
    for ids in ([a.id], [a.id, b.id, c.id], [a.id, a.id, b.id], [a.id, b.id, uuid.uuid4()]):
        error = refused(services.catalogue_reorder, studio=euro_studio, ids=ids)
        assert (error.code, error.status_code) == ("catalogue_set_mismatch", 422)
    ordered = services.catalogue_reorder(studio=euro_studio, ids=[b.id, a.id])
    assert [item.name for item in ordered] == ["B", "A"]
    assert [i.name for i in selectors.catalogue_item_list(studio=euro_studio)] == ["B", "A"]
    assert CatalogueItem.objects.get(id=c.id).position == 2  # archived: where it was


def test_reordering_an_empty_catalogue_is_fine(euro_studio):
    assert services.catalogue_reorder(studio=euro_studio, ids=[]) == []


# --- selectors ------------------------------------------------------------------------------


def test_lists_filter_by_archived_and_name_prefix_within_the_studio(euro_studio, studio_b, vat):
    services.tax_rate_create(studio=euro_studio, name="GST", rate="5")
    old = services.tax_rate_create(studio=euro_studio, name="Vat old", rate="19.6")
    services.tax_rate_archive(tax_rate=old)
    TaxRateFactory(studio=studio_b, name="VAT")
    names = [r.name for r in selectors.tax_rate_list(studio=euro_studio)]
    assert names == ["GST", "VAT"]
    assert [r.name for r in selectors.tax_rate_list(studio=euro_studio, archived=True)] == [
        "Vat old"
    ]
    assert [r.name for r in selectors.tax_rate_list(studio=euro_studio, archived=None)] == [
        "GST",
        "VAT",
        "Vat old",
    ]
    assert [r.name for r in selectors.tax_rate_list(studio=euro_studio, search="va")] == ["VAT"]

    for kind, name in (("package", "Full day"), ("item", "Album")):
        services.catalogue_item_create(studio=euro_studio, kind=kind, name=name, unit_price=1)
    assert [i.name for i in selectors.catalogue_item_list(studio=euro_studio, kind="item")] == [
        "Album"
    ]
    assert [i.name for i in selectors.catalogue_item_list(studio=euro_studio, search="ful")] == [
        "Full day"
    ]
    assert list(selectors.catalogue_item_list(studio=studio_b)) == []


def test_another_studios_rate_or_item_is_a_404(euro_studio, studio_b, vat):
    item = services.catalogue_item_create(
        studio=euro_studio, kind="item", name="Prints", unit_price=1500
    )
    for call in (
        lambda: selectors.tax_rate_get(studio=studio_b, tax_rate_id=vat.id),
        lambda: selectors.catalogue_item_get(studio=studio_b, item_id=item.id),
        lambda: selectors.catalogue_item_get(studio=euro_studio, item_id="nope"),
    ):
        with pytest.raises(ApplicationError) as caught:
            call()
        assert caught.value.status_code == 404
    assert selectors.tax_rate_get(studio=euro_studio, tax_rate_id=vat.id) == vat
