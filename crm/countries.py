"""ISO 3166-1 alpha-2 country codes. Pure.

No country list ships with the project's dependencies except the phone library's regions,
which are the ISO codes plus three non-ISO ones (Ascension, Tristan da Cunha, Kosovo's
user-assigned code) and lack the seven territories that have no phone plan of their own.
"""

from __future__ import annotations

import phonenumbers

_NOT_ISO = {"AC", "TA", "XK"}
_NO_PHONE_PLAN = {"AQ", "BV", "GS", "HM", "PN", "TF", "UM"}

COUNTRY_CODES: frozenset[str] = frozenset(
    (set(phonenumbers.SUPPORTED_REGIONS) - _NOT_ISO) | _NO_PHONE_PLAN
)


def country_valid(code: str) -> bool:
    return code in COUNTRY_CODES
