"""Tax ids: checked per country with python-stdnum, stored compact, shown formatted."""

from __future__ import annotations

import pytest

from billing import tax_ids
from billing.tax_ids import TaxIdError, tax_id_check, tax_id_format

VALID = [
    # (country, as typed, compact)
    ("FR", "FR40303265045", "FR40303265045"),
    ("FR", "40303265045", "FR40303265045"),  # the prefix is optional
    ("FR", "fr 403 032 650 45", "FR40303265045"),
    ("DE", "DE 136.695.976", "DE136695976"),
    ("DE", "136695976", "DE136695976"),
    ("GR", "094259216", "EL094259216"),  # Greece's VAT prefix is EL
    ("GR", "EL094259216", "EL094259216"),
    ("AT", "U13585627", "ATU13585627"),
    ("NL", "NL004495445B01", "NL004495445B01"),
    ("ES", "B64717838", "ESB64717838"),
    ("IT", "IT 00743110157", "IT00743110157"),
    ("BE", "0428.759.497", "BE0428759497"),
    ("IE", "6433435F", "IE6433435F"),
    ("GB", "GB 980 7806 84", "980780684"),
    ("GB", "980780684", "980780684"),
    ("GB", "XI 980 7806 84", "XI980780684"),  # Northern Ireland
    ("CH", "CHE-116.281.710 MWST", "CHE116281710MWST"),
    ("CH", "CHE-116.281.710", "CHE116281710"),  # the UID alone
    ("NO", "NO 995 525 828 MVA", "995525828MVA"),
    ("NO", "995 525 828", "995525828"),  # the organisation number
    ("AU", "83 914 571 673", "83914571673"),
    ("NZ", "49-091-850", "49091850"),
    ("CA", "123456782", "123456782"),
    ("CA", "12345 6782 RT 0001", "123456782RT0001"),  # GST/HST program account
    ("US", "04-2103594", "042103594"),
    ("IN", "27AAPFU0939F1ZV", "27AAPFU0939F1ZV"),
    ("BR", "16.727.230/0001-97", "16727230000197"),
    ("MX", "GODE561231GR8", "GODE561231GR8"),
    ("JP", "5-8356-7825-6246", "5835678256246"),
    ("AR", "20-26756539-3", "20267565393"),  # any other country stdnum knows
    ("fr", " FR40303265045 ", "FR40303265045"),  # lower-case country, spaces around
    ("US", "１２-３４５６７８９", "123456789"),  # full-width digits come out ASCII
]

INVALID = [
    ("FR", "FR40303265046"),  # check digits
    ("FR", "DE136695976"),  # another member state's number
    ("DE", "12345"),
    ("GR", "GR094259216"),  # GR is not Greece's VAT prefix
    ("GB", "980780685"),
    ("CH", "CHE-116.281.711"),
    ("NO", "995525829"),
    ("AU", "83 914 571 674"),
    ("NZ", "49-091-851"),
    ("CA", "123456783"),
    ("CA", "123456782RT00"),
    ("US", "00-2103594"),  # no such EIN prefix
    ("IN", "27AAPFU0939F1ZX"),
    ("BR", "16.727.230/0001-98"),
    ("MX", "GODE561331GR8"),  # month 13
    ("JP", "5-8356-7825-6247"),
    ("AR", "123"),
    ("US", "12-34567890"),  # a digit too many
]


@pytest.mark.parametrize(("country", "value", "compact"), VALID)
def test_valid_tax_ids_are_normalised(country, value, compact):
    assert tax_id_check(country=country, value=value) == compact
    # The compact form checks again to itself (it can be stored and re-checked).
    assert tax_id_check(country=country, value=compact) == compact


@pytest.mark.parametrize(("country", "value"), INVALID)
def test_invalid_tax_ids_are_refused_with_the_expected_format(country, value):
    with pytest.raises(TaxIdError) as caught:
        tax_id_check(country=country, value=value)
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.code == "tax_id_invalid"
    assert "expected" in error.message
    assert "e.g." in error.message or "a valid" in error.message


def test_the_message_names_the_format_of_the_country():
    with pytest.raises(TaxIdError, match=r"Canadian business number.*123456782RT0001"):
        tax_id_check(country="CA", value="12")
    with pytest.raises(TaxIdError, match=r"for DE: expected the DE prefix.*DE136695976"):
        tax_id_check(country="DE", value="FR40303265045")
    with pytest.raises(TaxIdError, match=r"Employer Identification Number"):
        tax_id_check(country="US", value="nope")


@pytest.mark.parametrize("value", ["", "   ", None])
def test_an_empty_value_is_no_tax_id(value):
    assert tax_id_check(country="FR", value=value) == ""
    assert tax_id_check(country="", value=value) == ""
    assert tax_id_format(country="FR", value=value) == ""


@pytest.mark.parametrize("country", ["", "ZZ", "XK", "GG"])
def test_a_country_without_a_known_format_takes_any_printable_text(country):
    assert tax_id_check(country=country, value="  Reg. No 12/345-A  ") == "Reg. No 12/345-A"
    assert tax_id_check(country=country, value="x" * 40) == "x" * 40
    for bad in ("x" * 41, "12\n34", "12\x0034", "tab\there"):
        with pytest.raises(TaxIdError) as caught:
            tax_id_check(country=country, value=bad)
        assert caught.value.code == "tax_id_invalid"
        assert "1 to 40 printable characters" in caught.value.message


def test_every_example_in_the_messages_is_valid():
    for prefix, example in tax_ids._EU_EXAMPLES.items():
        country = {"EL": "GR", "XI": "GB"}.get(prefix, prefix)
        assert tax_id_check(country=country, value=example) == example
    for country, (_modules, expected) in tax_ids._MODULES.items():
        examples = expected.split("e.g. ")[1].split(" or ")
        for example in examples:
            assert tax_id_check(country=country, value=example)


def test_every_eu_member_state_is_checked():
    from stdnum.eu import vat

    members = {cc.upper() for cc in vat.MEMBER_STATES} - {"XI"}
    assert set(tax_ids._EU_PREFIX) == members


@pytest.mark.parametrize(
    ("country", "value", "shown"),
    [
        ("AU", "83914571673", "83 914 571 673"),
        ("CH", "CHE116281710MWST", "CHE-116.281.710 MWST"),
        ("CH", "CHE116281710", "CHE-116.281.710"),
        ("GB", "980780684", "GB 980 7806 84"),
        ("US", "042103594", "04-2103594"),
        ("BR", "16727230000197", "16.727.230/0001-97"),
        ("NO", "995525828MVA", "NO 995 525 828 MVA"),
        ("FR", "40303265045", "FR40303265045"),  # EU: compact, with the prefix
        ("CA", "123456782RT0001", "123456782RT0001"),  # stdnum has no format: compact
        ("ZZ", "Reg. 12", "Reg. 12"),
        ("US", "not an ein", "not an ein"),  # shown as stored, never an error
    ],
)
def test_tax_ids_are_formatted_for_documents(country, value, shown):
    assert tax_id_format(country=country, value=value) == shown
