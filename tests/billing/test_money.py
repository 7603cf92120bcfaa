"""Money: exponents from Babel, exact parsing of input, formatting, and no mixing of currencies."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.money import (
    MAX_MINOR,
    AmountFloat,
    AmountInvalid,
    AmountPrecision,
    AmountTooLarge,
    CurrencyMismatch,
    CurrencyUnknown,
    Money,
    MoneyError,
    currency_exponent,
    currency_valid,
    money_format,
    money_parse,
)


@pytest.mark.parametrize(("code", "exponent"), [("JPY", 0), ("EUR", 2), ("USD", 2), ("KWD", 3)])
def test_currency_exponents_come_from_babel(code, exponent):
    assert currency_exponent(code) == exponent


@pytest.mark.parametrize("code", ["eur", "EURO", "ZZZ", "", None, 978, "EU"])
def test_only_known_upper_case_iso_codes_are_currencies(code):
    assert not currency_valid(code)


def test_an_unknown_currency_has_no_exponent():
    with pytest.raises(CurrencyUnknown) as info:
        currency_exponent("ZZZ")
    assert info.value.code == "currency_unknown"


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        (1050, "EUR", 1050),
        (0, "EUR", 0),
        (-250, "EUR", -250),
        ("10.00", "EUR", 1000),
        ("10", "EUR", 1000),
        ("0.5", "EUR", 50),
        ("0.05", "EUR", 5),
        ("-3.10", "EUR", -310),
        ("007.10", "EUR", 710),
        ("1000", "JPY", 1000),
        ("1.234", "KWD", 1234),
        ("1.2", "KWD", 1200),
        (Decimal("12.34"), "USD", 1234),
        (MAX_MINOR, "EUR", MAX_MINOR),
        ("10000000000.00", "EUR", MAX_MINOR),
    ],
)
def test_parse_reads_minor_units_and_decimal_strings_exactly(value, currency, minor):
    assert money_parse(value, currency) == Money(minor, currency)


@pytest.mark.parametrize(
    ("value", "currency", "error", "code"),
    [
        (10.0, "EUR", AmountFloat, "amount_float"),
        (0.1, "EUR", AmountFloat, "amount_float"),
        (float("nan"), "EUR", AmountFloat, "amount_float"),
        (True, "EUR", AmountInvalid, "amount_invalid"),
        (None, "EUR", AmountInvalid, "amount_invalid"),
        ("NaN", "EUR", AmountInvalid, "amount_invalid"),
        ("inf", "EUR", AmountInvalid, "amount_invalid"),
        ("-Infinity", "EUR", AmountInvalid, "amount_invalid"),
        (Decimal("NaN"), "EUR", AmountInvalid, "amount_invalid"),
        ("1e3", "EUR", AmountInvalid, "amount_invalid"),
        ("1E3", "EUR", AmountInvalid, "amount_invalid"),
        ("", "EUR", AmountInvalid, "amount_invalid"),
        (" 10", "EUR", AmountInvalid, "amount_invalid"),
        ("1,000.00", "EUR", AmountInvalid, "amount_invalid"),
        ("+5", "EUR", AmountInvalid, "amount_invalid"),
        (".5", "EUR", AmountInvalid, "amount_invalid"),
        ("5.", "EUR", AmountInvalid, "amount_invalid"),
        ("١٠", "EUR", AmountInvalid, "amount_invalid"),  # Arabic-Indic digits
        ([10], "EUR", AmountInvalid, "amount_invalid"),
        ("10.001", "EUR", AmountPrecision, "amount_precision"),
        ("10.000", "EUR", AmountPrecision, "amount_precision"),
        ("10.5", "JPY", AmountPrecision, "amount_precision"),
        ("1.2345", "KWD", AmountPrecision, "amount_precision"),
        (MAX_MINOR + 1, "EUR", AmountTooLarge, "amount_too_large"),
        (-MAX_MINOR - 1, "EUR", AmountTooLarge, "amount_too_large"),
        ("10000000000.01", "EUR", AmountTooLarge, "amount_too_large"),
        ("9" * 5000, "EUR", AmountTooLarge, "amount_too_large"),
        (100, "eur", CurrencyUnknown, "currency_unknown"),
        ("1.00", "ZZZ", CurrencyUnknown, "currency_unknown"),
    ],
)
def test_parse_refuses_bad_input_with_its_own_code(value, currency, error, code):
    with pytest.raises(error) as info:
        money_parse(value, currency)
    assert isinstance(info.value, MoneyError) and isinstance(info.value, ValueError)
    assert info.value.code == code


def test_the_error_codes_are_distinct():
    codes = [cls.code for cls in (AmountFloat, AmountInvalid, AmountPrecision, AmountTooLarge)] + [
        CurrencyUnknown.code,
        CurrencyMismatch.code,
    ]
    assert len(set(codes)) == len(codes)


@pytest.mark.parametrize("amount", [10.0, True, "10", Decimal(10), None])
def test_money_holds_only_an_int(amount):
    with pytest.raises(MoneyError):
        Money(amount, "EUR")


def test_money_needs_a_known_currency():
    with pytest.raises(CurrencyUnknown):
        Money(1, "eur")


def test_arithmetic_and_order_within_one_currency():
    ten, three = Money(1000, "EUR"), Money(300, "EUR")
    assert ten + three == Money(1300, "EUR")
    assert ten - three == Money(700, "EUR")
    assert -three == Money(-300, "EUR")
    assert three < ten <= ten and ten > three >= three
    assert Money.zero("JPY") == Money(0, "JPY")
    assert Money.zero("EUR").is_zero() and not ten.is_zero()
    assert ten.is_positive() and not (-ten).is_positive() and not Money.zero("EUR").is_positive()


def test_two_currencies_never_mix():
    euros, dollars = Money(100, "EUR"), Money(100, "USD")
    for operation in (
        lambda: euros + dollars,
        lambda: euros - dollars,
        lambda: euros < dollars,
        lambda: euros <= dollars,
        lambda: euros > dollars,
        lambda: euros >= dollars,
    ):
        with pytest.raises(CurrencyMismatch) as info:
            operation()
        assert info.value.code == "currency_mismatch"
    assert euros != dollars  # value equality: different, not an error
    assert len({euros, dollars, Money(100, "EUR")}) == 2


def test_money_is_immutable():
    money = Money(1, "EUR")
    with pytest.raises(AttributeError):
        money.amount = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(1000, "EUR"), "10.00"),
        (Money(5, "EUR"), "0.05"),
        (Money(-5, "EUR"), "-0.05"),
        (Money(-1234, "USD"), "-12.34"),
        (Money(0, "EUR"), "0.00"),
        (Money(1000, "JPY"), "1000"),
        (Money(1000, "KWD"), "1.000"),
        (Money(MAX_MINOR, "EUR"), "10000000000.00"),
    ],
)
def test_decimal_str_has_the_exponent_digits(money, text):
    assert money.decimal_str() == text
    assert money_parse(text, money.currency) == money  # and reads back


@pytest.mark.parametrize(
    ("money", "locale", "text"),
    [
        (Money(1000, "EUR"), "en", "€10.00"),
        (Money(1000, "EUR"), "de_DE", "10,00\xa0€"),
        (Money(123456789, "EUR"), "de_DE", "1.234.567,89\xa0€"),
        (Money(-1050, "USD"), "en_US", "-$10.50"),
        (Money(1000, "JPY"), "en", "¥1,000"),
        (Money(1234, "KWD"), "en", "KWD1.234"),
        # 2**53 + 1 cents: a float would print ...0.92; Decimal keeps every digit.
        (Money(2**53 + 1, "EUR"), "en", "€90,071,992,547,409.93"),
    ],
)
def test_format_in_the_locale_exactly(money, locale, text):
    assert money_format(money, locale) == text
