"""An inquiry form's questions: checking the studio's definition and reading a submission's
answers against it. No ORM (the services feed it the form and the studio's settings).

Every form asks for a first name, a last name (optional) and an email; the studio picks the
rest, each an entry ``{"key", "label", "kind", "required", "choices"}``:

- the standard questions, whose answers become part of the job or the contact, have fixed
  keys and kinds: ``event_type`` (a choice; the job's type), ``event_date`` (a date; the job's
  event), ``budget`` (an amount in the studio's currency; the job's estimated value),
  ``message`` (a long text), ``phone`` (a phone number; the contact's), ``marketing_consent``
  (a checkbox; the contact's consent, never required: consent must be free);
- custom questions, any other key, of kind text, textarea, email, phone, date, number or
  choice; their answers are kept on the inquiry.

Answers are normalised into JSON values: dates as ISO strings, phones in E.164, a budget as
``{"amount": <minor units>, "currency": "EUR"}``, numbers as integers (or a decimal string,
never a float), the consent as a boolean.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from crm.phones import PhoneError, phone_parse

MAX_FIELDS = 30
MAX_CHOICES = 50
LABEL_MAX = 200
CHOICE_MAX = 100
NAME_MAX = 120
EMAIL_MAX = 254
TEXT_MAX = 300
TEXTAREA_MAX = 5000
EVENT_DATE_MAX_YEARS = 10
BUDGET_MAX_MAJOR = 10**10

CUSTOM_KINDS = ("text", "textarea", "email", "phone", "date", "number", "choice")
KINDS = (*CUSTOM_KINDS, "event_type", "budget", "consent")

# key -> (kind, default label)
STANDARD: dict[str, tuple[str, str]] = {
    "event_type": ("event_type", "Type of event"),
    "event_date": ("date", "Event date"),
    "budget": ("budget", "Budget"),
    "message": ("textarea", "Message"),
    "phone": ("phone", "Phone"),
    "marketing_consent": ("consent", "Keep me posted about news and offers"),
}
# Asked on every form, and the names the page itself uses (the spam token and the honeypot):
# a question may not take them.
BUILTIN = ("first_name", "last_name", "email")
RESERVED = frozenset({*BUILTIN, "token", "website", "csrfmiddlewaretoken", "origin"})

_KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,39}\Z")
# Control characters other than tab and newline never belong in an answer (they hide text in
# the studio's email, or break a header).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NUMBER_RE = re.compile(r"-?\d{1,15}(\.\d{1,6})?\Z")
_AMOUNT_RE = re.compile(r"\d{1,15}(\.\d+)?\Z")

# ISO 4217 minor-unit exponents that are not 2 (no currency table ships with the project).
_EXPONENTS = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(),  # noqa: SIM905
        0,
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),  # noqa: SIM905
    "CLF": 4,
    "UYW": 4,
}


def currency_exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


class DefinitionError(ValueError):
    """A form definition that can't be saved; ``fields`` maps ``fields.<i>.<name>`` paths to
    messages."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))
        self.fields = fields


def definition_check(value: object) -> list[dict]:
    """The studio's question list, normalised (standard questions get their kind and a default
    label); raises DefinitionError naming every problem."""
    if not isinstance(value, list):
        raise DefinitionError({"fields": ["A list of questions."]})
    if len(value) > MAX_FIELDS:
        raise DefinitionError({"fields": [f"At most {MAX_FIELDS} questions."]})
    errors: dict[str, list[str]] = {}
    out: list[dict] = []
    seen: set[str] = set()
    for index, entry in enumerate(value):
        where = f"fields.{index}"

        def err(name: str, message: str, where: str = where) -> None:
            errors.setdefault(f"{where}.{name}", []).append(message)

        if not isinstance(entry, dict):
            errors[where] = ["A question is an object."]
            continue
        unknown = sorted(set(entry) - {"key", "label", "kind", "required", "choices"})
        for name in unknown:
            err(name, "Unknown field.")
        key = entry.get("key")
        if not isinstance(key, str) or not _KEY_RE.match(key):
            err("key", "Lower-case letters, digits and _, starting with a letter (at most 40).")
            continue
        if key in RESERVED:
            err("key", f"{key!r} is asked by every form or used by the page.")
            continue
        if key in seen:
            err("key", f"{key!r} is asked twice.")
            continue
        seen.add(key)
        standard = STANDARD.get(key)
        kind = entry.get("kind", standard[0] if standard else None)
        if standard is not None and kind != standard[0]:
            err("kind", f"{key} is a question of kind {standard[0]}.")
            continue
        if standard is None and kind not in CUSTOM_KINDS:
            err("kind", f"One of {', '.join(CUSTOM_KINDS)}.")
            continue
        label = entry.get("label", standard[1] if standard else None)
        if not isinstance(label, str) or not label.strip() or len(label.strip()) > LABEL_MAX:
            err("label", f"A label of 1 to {LABEL_MAX} characters.")
            continue
        required = entry.get("required", False)
        if not isinstance(required, bool):
            err("required", "true or false.")
            continue
        if kind == "consent" and required:
            err("required", "Consent to marketing is never required (it must be freely given).")
            continue
        question = {"key": key, "label": label.strip(), "kind": kind, "required": required}
        choices = entry.get("choices")
        if kind in ("choice", "event_type"):
            problem = _choices_problem(choices)
            if problem:
                err("choices", problem)
                continue
            question["choices"] = [c.strip() for c in choices]
        elif choices not in (None, []):
            err("choices", "Only choice questions have choices.")
            continue
        out.append(question)
    if errors:
        raise DefinitionError(errors)
    return out


def _choices_problem(choices: object) -> str | None:
    if not isinstance(choices, list) or not choices or len(choices) > MAX_CHOICES:
        return f"A list of 1 to {MAX_CHOICES} choices."
    cleaned = []
    for choice in choices:
        if not isinstance(choice, str) or not choice.strip() or len(choice.strip()) > CHOICE_MAX:
            return f"Each choice is a text of 1 to {CHOICE_MAX} characters."
        cleaned.append(choice.strip())
    if len(set(cleaned)) != len(cleaned):
        return "Each choice once."
    return None


BUILTIN_QUESTIONS: tuple[dict, ...] = (
    {"key": "first_name", "label": "First name", "kind": "text", "required": True},
    {"key": "last_name", "label": "Last name", "kind": "text", "required": False},
    {"key": "email", "label": "Email", "kind": "email", "required": True},
)
DEFAULT_SUCCESS = "Thank you! We got your message and will be in touch soon."


def questions(definition: list[dict]) -> list[dict]:
    """Every question of a form as a page or an app shows them: the built-ins first."""
    return [*BUILTIN_QUESTIONS, *definition]


# --- Answers ---------------------------------------------------------------------------------
@dataclass
class Submission:
    """A submission's values once read against the form."""

    first_name: str
    last_name: str
    email: str
    answers: dict  # key -> normalised value, for every question answered (not the built-ins)


class AnswerErrors(ValueError):
    """Every problem of a submission: ``fields`` maps a key to its messages, ``codes`` a key to
    one machine-readable code (``required``, ``invalid_email``, ...)."""

    def __init__(self) -> None:
        super().__init__("invalid answers")
        self.fields: dict[str, list[str]] = {}
        self.codes: dict[str, str] = {}

    def add(self, key: str, code: str, message: str) -> None:
        self.fields.setdefault(key, []).append(message)
        self.codes.setdefault(key, code)

    def __str__(self) -> str:
        return ", ".join(f"{k}: {c}" for k, c in self.codes.items())


class _Invalid(Exception):
    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message


def answers_read(
    definition: list[dict],
    data: Mapping,
    *,
    today: dt.date,
    currency: str,
    phone_region: str | None,
    strict: bool = True,
) -> Submission:
    """The submission in ``data`` (a form post's strings, or a JSON object's values) read
    against the form's questions; raises AnswerErrors with every problem. ``strict`` refuses
    keys the form does not ask (the JSON API; a page only reads the keys it rendered)."""
    errors = AnswerErrors()
    questions = {q["key"]: q for q in definition}
    if strict:
        for key in sorted(set(data) - set(questions) - set(BUILTIN)):
            errors.add(key, "unknown_field", "This form does not ask this.")
    builtin: dict[str, str] = {}
    for key, required, limit in (
        ("first_name", True, NAME_MAX),
        ("last_name", False, NAME_MAX),
        ("email", True, EMAIL_MAX),
    ):
        try:
            text = _line(data.get(key), limit=limit)
            if not text and required:
                raise _Invalid("required", "This field is required.")
            if key == "email" and text:
                text = _email(text)
            builtin[key] = text
        except _Invalid as exc:
            errors.add(key, exc.code, exc.message)
    answers: dict = {}
    for key, question in questions.items():
        try:
            value = _answer(
                question,
                data.get(key),
                today=today,
                currency=currency,
                phone_region=phone_region,
            )
        except _Invalid as exc:
            errors.add(key, exc.code, exc.message)
            continue
        if value is None or value == "":
            if question["required"]:
                errors.add(key, "required", "This field is required.")
            continue
        answers[key] = value
    if errors.fields:
        raise errors
    return Submission(
        first_name=builtin["first_name"],
        last_name=builtin["last_name"],
        email=builtin["email"],
        answers=answers,
    )


def _text(value: object, *, limit: int, multiline: bool) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Invalid("invalid", "Expected a text.")
    if _CONTROL_RE.search(value):
        raise _Invalid("invalid", "The text holds control characters.")
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not multiline:
        text = " ".join(text.split())
    if len(text) > limit:
        raise _Invalid("too_long", f"At most {limit} characters.")
    return text


def _line(value: object, *, limit: int) -> str:
    return _text(value, limit=limit, multiline=False)


def _email(text: str) -> str:
    try:
        validate_email(text)
    except ValidationError as exc:
        raise _Invalid("invalid_email", "Enter a valid email address.") from exc
    return text.lower()


def _answer(
    question: dict, value: object, *, today: dt.date, currency: str, phone_region: str | None
) -> object:
    kind = question["kind"]
    if kind == "consent":
        return _checkbox(value)
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if kind == "textarea":
        return _text(value, limit=TEXTAREA_MAX, multiline=True)
    text = _line(value, limit=TEXT_MAX)
    if not text:
        return None
    if kind == "text":
        return text
    if kind == "email":
        return _email(text)
    if kind == "phone":
        try:
            return phone_parse(text, region=phone_region)
        except PhoneError as exc:
            raise _Invalid("invalid_phone", str(exc)) from exc
    if kind in ("choice", "event_type"):
        if text not in question["choices"]:
            raise _Invalid("invalid_choice", f"One of: {', '.join(question['choices'])}.")
        return text
    if kind == "date":
        try:
            day = dt.date.fromisoformat(text)
        except ValueError as exc:
            raise _Invalid("invalid_date", "A date like 2027-06-12.") from exc
        if question["key"] == "event_date":
            if day < today:
                raise _Invalid("date_in_past", "The event date has passed.")
            if day.year > today.year + EVENT_DATE_MAX_YEARS:
                raise _Invalid("invalid_date", "The event date is too far away.")
        return day.isoformat()
    if kind == "number":
        if not _NUMBER_RE.match(text):
            raise _Invalid("invalid_number", "A number like 120 or 2.5.")
        number = Decimal(text)
        return int(number) if number == number.to_integral_value() else str(number.normalize())
    if kind == "budget":
        return {"amount": amount_minor(text, currency=currency), "currency": currency}
    raise AssertionError(f"unknown kind {kind}")  # definition_check lets none through


def amount_minor(text: str, *, currency: str) -> int:
    """An amount a person typed in major units ("2500", "2500.50") as integer minor units of
    ``currency``; more decimals than the currency has are refused, not rounded."""
    cleaned = text.replace(" ", "").replace("\u00a0", "")
    if not _AMOUNT_RE.match(cleaned):
        raise _Invalid("invalid_amount", "An amount like 2500 or 2500.50.")
    exponent = currency_exponent(currency)
    try:
        amount = Decimal(cleaned)
    except InvalidOperation as exc:  # pragma: no cover - the pattern lets only numbers through
        raise _Invalid("invalid_amount", "An amount like 2500.") from exc
    if amount > BUDGET_MAX_MAJOR:
        raise _Invalid("invalid_amount", "The amount is too large.")
    minor = amount.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise _Invalid("invalid_amount", f"At most {exponent} decimals in {currency}.")
    return int(minor)


def _checkbox(value: object) -> bool:
    if value in (None, "", False):
        return False
    if value is True:
        return True
    if isinstance(value, str) and value.strip().lower() in ("on", "true", "1", "yes"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("off", "false", "0", "no"):
        return False
    raise _Invalid("invalid", "Ticked or not (true or false).")
