"""Phones are stored in E.164; what people type is read in the studio's region."""

from __future__ import annotations

import pytest

from crm.countries import COUNTRY_CODES, country_valid
from crm.phones import PhoneError, phone_digits, phone_format, phone_parse, phone_try_parse


@pytest.mark.parametrize(
    "raw,region,e164",
    [
        ("(415) 555-0100", "US", "+14155550100"),
        ("+1 415 555 0100", "GB", "+14155550100"),
        ("0044 20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+33 1 42 68 53 00", None, "+33142685300"),
    ],
)
def test_numbers_are_read_to_e164(raw, region, e164):
    assert phone_parse(raw, region=region) == e164


@pytest.mark.parametrize("raw", ["", "123", "not a phone", "+1 555 0000 000", "415 555 0100"])
def test_bad_numbers_are_a_clear_error(raw):
    region = None if raw == "415 555 0100" else "US"
    with pytest.raises(PhoneError):
        phone_parse(raw, region=region)
    assert phone_try_parse(raw, region=region) is None


def test_format_and_digits():
    assert phone_format("+14155550100") == "+1 415-555-0100"
    assert phone_digits("(415) 555-01") == "41555501"


def test_country_codes_are_iso_3166():
    assert len(COUNTRY_CODES) == 249
    assert country_valid("FR") and country_valid("AQ")
    assert not country_valid("XK") and not country_valid("fr") and not country_valid("ZZ")
