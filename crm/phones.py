"""Phone numbers to E.164 and back. Pure: no ORM.

Users type numbers in any form ("(415) 555-0100", "+44 20 7946 0958", "0044 ..."); the CRM
stores E.164 only, so search and de-duplication compare one spelling. A number without a
country prefix is read in ``region`` (the studio's country, or the configured default).
"""

from __future__ import annotations

import re

import phonenumbers

_DIGITS = re.compile(r"\D+")


class PhoneError(ValueError):
    """A number that is not a valid phone number (in ``region`` when it has no prefix)."""

    code = "invalid_phone"


def phone_parse(raw: str, *, region: str | None) -> str:
    """``raw`` as E.164 (``+14155550100``), or PhoneError."""
    text = (raw or "").strip()
    if not text:
        raise PhoneError("Enter a phone number.")
    if text.startswith("00"):
        # The international prefix of most of the world; phonenumbers reads it only with a region.
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, (region or "").upper() or None)
    except phonenumbers.NumberParseException as exc:
        if not text.startswith("+") and not region:
            raise PhoneError("Add the country code (+…) to the number.") from exc
        raise PhoneError("This is not a phone number.") from exc
    if not phonenumbers.is_valid_number(number):
        raise PhoneError("This is not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_try_parse(raw: str, *, region: str | None) -> str | None:
    """E.164 or None: for search, where a fragment is not an error."""
    try:
        return phone_parse(raw, region=region)
    except PhoneError:
        return None


def phone_format(e164: str, *, international: bool = True) -> str:
    """A stored number for people: "+1 415-555-0100" (or the national form)."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    style = (
        phonenumbers.PhoneNumberFormat.INTERNATIONAL
        if international
        else phonenumbers.PhoneNumberFormat.NATIONAL
    )
    return phonenumbers.format_number(number, style)


def phone_digits(raw: str) -> str:
    """The digits of whatever was typed ("(415) 555-01" -> "41555501")."""
    return _DIGITS.sub("", raw or "")


def region_valid(code: str) -> bool:
    return (code or "").upper() in phonenumbers.SUPPORTED_REGIONS
