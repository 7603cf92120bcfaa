"""A studio's locale: how its money is written (Babel's CLDR data), set on the studio."""

from __future__ import annotations

import pytest

from billing.apis.fields import money_output, studio_locale
from billing.money import Money

pytestmark = pytest.mark.django_db
URL = "/api/v1/studio/"


def test_the_locale_is_checked_canonical_and_used_for_money(alice_client, studio_a):
    assert alice_client.get(URL).json()["locale"] == "en"
    r = alice_client.patch(URL, {"locale": "de-de"}, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["locale"] == "de_DE"
    studio_a.refresh_from_db()
    assert studio_locale(studio_a) == "de_DE"
    formatted = money_output(Money(123456, "EUR"), locale=studio_locale(studio_a))["formatted"]
    assert formatted == "1.234,56\xa0€"
    bad = alice_client.patch(URL, {"locale": "xx_NOPE"}, format="json")
    assert bad.status_code == 400 and "locale" in bad.json()["error"]["fields"]
    studio_a.refresh_from_db()
    assert studio_a.locale == "de_DE"


def test_the_client_pages_write_amounts_in_the_studios_locale(studio_a):
    from billing.pages import page_locale, page_money

    studio_a.locale = "de_DE"
    assert page_money(1050, "EUR") == "€10.50"  # outside a page: English
    with page_locale(studio_a):
        assert page_money(1050, "EUR") == "10,50\xa0€"
    assert page_money(1050, "EUR") == "€10.50"
