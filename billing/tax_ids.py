"""Tax identification numbers (VAT, GST, ABN, EIN, ...): checked and normalised. Pure.

``tax_id_check(country=..., value=...)`` returns the compact form to store (no spaces, dots or
dashes) or raises ``TaxIdError`` naming the format expected. The checks are python-stdnum's
(check digits included), chosen by the ISO 3166 country of whoever the number belongs to:

- EU member states: the VAT number (``stdnum.eu.vat``), typed with or without its prefix
  (``FR``, ``EL`` for Greece, ...), kept *with* the prefix (``FR40303265045``): the form an
  intra-EU invoice must show. A United Kingdom number of Northern Ireland (``XI...``) is read
  the same way.
- Countries in ``_MODULES``: the studio-relevant number of that country (GB VAT, CH VAT or UID,
  NO MVA or organisation number, AU ABN, NZ IRD, CA business number with or without its
  program account such as GST/HST ``123456789RT0001``, US EIN, IN GSTIN, BR CNPJ, MX RFC, JP
  corporate number).
- Any other country stdnum knows a VAT-like number for (``stdnum.util.get_cc_module(cc,
  "vat")``: about 80 countries).
- A country stdnum has no format for, or no country: any 1..40 printable characters, stripped
  of surrounding spaces, kept as typed (we cannot check what we do not know; refusing would
  stop a studio from invoicing at all).

An empty value (or only spaces) is no tax id: ``""``.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType

from stdnum.eu import vat
from stdnum.exceptions import ValidationError
from stdnum.util import clean, get_cc_module

MAX_LENGTH = 40  # BillingSettings.tax_id and the JSON snapshots hold this much

# Module names per country, tried in order (the first that accepts the value wins), with the
# format people are told to use.
_MODULES: dict[str, tuple[tuple[str, ...], str]] = {
    "GB": (("gb.vat",), "a UK VAT registration number of 9 or 12 digits, e.g. GB 980 7806 84"),
    "CH": (
        ("ch.vat", "ch.uid"),
        "a Swiss UID or VAT number, e.g. CHE-116.281.710 or CHE-116.281.710 MWST",
    ),
    "NO": (
        ("no.mva", "no.orgnr"),
        "a Norwegian VAT number or organisation number, e.g. NO 995 525 828 MVA",
    ),
    "AU": (("au.abn",), "an Australian Business Number (ABN) of 11 digits, e.g. 83 914 571 673"),
    "NZ": (("nz.ird",), "a New Zealand IRD number of 8 or 9 digits, e.g. 49-091-850"),
    "CA": (
        ("ca.bn",),
        "a Canadian business number of 9 digits, or with its program account for GST/HST, "
        "e.g. 123456782 or 123456782RT0001",
    ),
    "US": (("us.ein",), "a US Employer Identification Number (EIN), e.g. 04-2103594"),
    "IN": (("in_.gstin",), "an Indian GSTIN of 15 characters, e.g. 27AAPFU0939F1ZV"),
    "BR": (("br.cnpj",), "a Brazilian CNPJ of 14 digits, e.g. 16.727.230/0001-97"),
    "MX": (("mx.rfc",), "a Mexican RFC of 12 or 13 characters, e.g. GODE561231GR8"),
    "JP": (("jp.cn",), "a Japanese corporate number of 13 digits, e.g. 5-8356-7825-6246"),
}

# The VAT prefix of each EU member state (Greece's is EL, not GR) and one valid number each,
# for the error messages (the tests check every example).
_EU_EXAMPLES = {
    "AT": "ATU13585627",
    "BE": "BE0428759497",
    "BG": "BG175074752",
    "CY": "CY10259033P",
    "CZ": "CZ25123891",
    "DE": "DE136695976",
    "DK": "DK13585628",
    "EE": "EE100594102",
    "EL": "EL094259216",
    "ES": "ESB64717838",
    "FI": "FI20774740",
    "FR": "FR40303265045",
    "HR": "HR33392005961",
    "HU": "HU12892312",
    "IE": "IE6433435F",
    "IT": "IT00743110157",
    "LT": "LT119511515",
    "LU": "LU15027442",
    "LV": "LV40003521600",
    "MT": "MT11679112",
    "NL": "NL004495445B01",
    "PL": "PL8567346215",
    "PT": "PT501964843",
    "RO": "RO18547290",
    "SE": "SE123456789701",
    "SI": "SI50223054",
    "SK": "SK2022749619",
    "XI": "XI980780684",  # Northern Ireland (a GB business), for goods
}
_EU_PREFIX = {prefix: prefix for prefix in _EU_EXAMPLES if prefix not in ("EL", "XI")} | {
    "GR": "EL"
}


class TaxIdError(ValueError):
    """A tax id that does not check out for its country; ``message`` says what is expected."""

    code = "tax_id_invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@functools.cache
def _module(name: str) -> ModuleType:
    return importlib.import_module(f"stdnum.{name}")


@functools.cache
def _generic_module(country: str) -> ModuleType | None:
    """stdnum's VAT-like number of a country not listed above, if it has one."""
    if not country.isalpha() or len(country) != 2:
        return None
    return get_cc_module(country.lower(), "vat")


def _name(module: ModuleType) -> str:
    """The number's name from the module's docstring ("BN (Canadian Business Number)")."""
    return (module.__doc__ or module.__name__).strip().splitlines()[0].rstrip(".")


def _country(country: str) -> str:
    country = (country or "").strip().upper()
    return "GR" if country == "EL" else country


def _eu_check(country: str, prefix: str, value: str) -> str:
    compact = clean(value, " -./,").upper()
    candidates = [compact, prefix + compact] if compact.startswith(prefix) else [prefix + compact]
    for candidate in candidates:
        try:
            number = vat.validate(candidate)
        except ValidationError:
            continue
        if number.startswith(prefix):
            return number
    raise TaxIdError(
        f"{value[:MAX_LENGTH]!r} is not a valid VAT number for {country}: expected the "
        f"{prefix} prefix (optional) and the national number, e.g. {_EU_EXAMPLES[prefix]}."
    )


def tax_id_check(*, country: str, value: str) -> str:
    """The compact, checked tax id of a business of ``country``; ``""`` for none.

    Raises ``TaxIdError`` (``code == "tax_id_invalid"``) with the format expected.
    """
    text = (value or "").strip()
    if not text:
        return ""
    country = _country(country)
    if country in _EU_PREFIX:
        return _eu_check(country, _EU_PREFIX[country], text)
    if country == "GB" and text.upper().replace(" ", "").startswith("XI"):
        return _eu_check(country, "XI", text)  # Northern Ireland: the EU's VAT rules for goods
    if country in _MODULES:
        names, expected = _MODULES[country]
        modules = [_module(name) for name in names]
    else:
        generic = _generic_module(country)
        if generic is None:
            return _free_form(text)
        modules = [generic]
        expected = f"a valid {_name(generic)}"
    for module in modules:
        try:
            number = module.validate(text)
        except ValidationError:
            continue
        if len(number) <= MAX_LENGTH:
            return number
    raise TaxIdError(f"{text[:MAX_LENGTH]!r} is not valid for {country}: expected {expected}.")


def _free_form(text: str) -> str:
    if len(text) > MAX_LENGTH or not text.isprintable():
        raise TaxIdError(
            f"A tax id is 1 to {MAX_LENGTH} printable characters (no line breaks or control "
            "characters)."
        )
    return text


def tax_id_format(*, country: str, value: str) -> str:
    """The tax id as people write it (``83 914 571 673``, ``CHE-116.281.710 MWST``), for
    documents. A value that does not check (stored before, or another country's) is shown as
    it is: a document never fails for want of formatting."""
    text = (value or "").strip()
    if not text:
        return ""
    try:
        compact = tax_id_check(country=country, value=text)
    except TaxIdError:
        return text
    country = _country(country)
    if country in _EU_PREFIX or compact.startswith("XI"):
        return compact  # EU numbers are written compact, with their prefix
    names = _MODULES[country][0] if country in _MODULES else ()
    modules = [_module(name) for name in names] or [_generic_module(country)]
    for module in modules:
        if module is None or not hasattr(module, "format"):
            continue
        try:
            module.validate(compact)
        except ValidationError:
            continue
        shown = module.format(compact)
        return f"GB {shown}" if country == "GB" else shown  # as HMRC writes it
    return compact
