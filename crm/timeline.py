"""The kinds of timeline event and the payload each carries. Pure: no ORM.

One append-only table holds every event (``crm.models.TimelineEvent``); its ``payload`` is
checked here against the kind's fields before it is written, so readers (the API, exports,
later the invoices) can rely on its shape. A new kind is one line in ``KINDS``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    type: type | tuple[type, ...]
    required: bool = True


_ID = Field(str)
_OPT_STR = Field(str, required=False)

KINDS: dict[str, dict[str, Field]] = {
    "note": {"text": Field(str)},
    "job_created": {"name": Field(str), "stage": Field(str)},
    "stage_changed": {
        "from_stage": Field((str, type(None))),
        "to_stage": Field(str),
        "reason": _OPT_STR,
    },
    "inquiry_received": {"inquiry_id": _ID, "form": Field(str), "message": _OPT_STR},
    "email_sent": {"email_id": _ID, "subject": Field(str), "to": Field(str)},
    "email_failed": {"email_id": _ID, "subject": Field(str), "to": Field(str), "code": Field(str)},
    "task_created": {"task_id": _ID, "title": Field(str)},
    "task_done": {"task_id": _ID, "title": Field(str)},
    "contact_merged": {"merged_contact_id": _ID, "merged_name": Field(str)},
    "contact_erased": {},
    "workflow_step": {
        "workflow": Field(str),
        "step_run_id": _ID,
        "action": Field(str),
        "outcome": Field(str),
    },
    # From the galleries and guests apps (through the hooks they declare).
    "gallery_linked": {"gallery_id": _ID, "gallery_name": Field(str)},
    "gallery_delivered": {"gallery_id": _ID, "gallery_name": Field(str)},
    "gallery_first_visit": {"gallery_id": _ID, "gallery_name": Field(str), "email": _OPT_STR},
    "favourites_made": {
        "gallery_id": _ID,
        "gallery_name": Field(str),
        "count": Field(int),
        "email": _OPT_STR,
        "list": _OPT_STR,
    },
    "zip_downloaded": {
        "gallery_id": _ID,
        "gallery_name": Field(str),
        "size": Field(str),
        "email": _OPT_STR,
    },
    "marketing_opt_in": {"gallery_id": _ID, "gallery_name": Field(str), "email": _OPT_STR},
    # From billing (amounts as the studio reads them, e.g. "€1,234.56").
    "quote_sent": {"quote_id": _ID, "number": Field(str), "title": Field(str)},
    "quote_declined": {"quote_id": _ID, "number": Field(str), "reason": _OPT_STR},
    "quote_accepted": {
        "quote_id": _ID,
        "number": Field(str),
        "accepted_name": Field(str),
        "invoice_id": _ID,
    },
    "invoice_issued": {"invoice_id": _ID, "number": Field(str), "total": Field(str)},
    "invoice_paid": {"invoice_id": _ID, "number": Field(str), "total": Field(str)},
    "invoice_payment": {"invoice_id": _ID, "number": Field(str), "amount": Field(str)},
    "invoice_overdue": {
        "invoice_id": _ID,
        "number": Field(str),
        "instalment": Field(str),
        "amount": Field(str),
    },
    "invoice_refunded": {"invoice_id": _ID, "number": Field(str), "amount": Field(str)},
    "invoice_voided": {"invoice_id": _ID, "number": Field(str), "reason": _OPT_STR},
    "credit_note_issued": {
        "invoice_id": _ID,
        "number": Field(str),
        "credit_note_id": _ID,
        "amount": Field(str),
    },
    "payment_disputed": {"invoice_id": _ID, "number": Field(str), "amount": Field(str)},
}


class PayloadError(ValueError):
    """A timeline payload that does not match its kind."""


def payload_check(kind: str, payload: dict) -> dict:
    """The payload, checked against ``KINDS[kind]``; raises PayloadError naming the problem."""
    fields = KINDS.get(kind)
    if fields is None:
        raise PayloadError(f"unknown timeline kind {kind!r}")
    if not isinstance(payload, dict):
        raise PayloadError("a payload is an object")
    extra = sorted(set(payload) - set(fields))
    if extra:
        raise PayloadError(f"{kind}: unknown fields {extra}")
    for name, field in fields.items():
        if name not in payload:
            if field.required:
                raise PayloadError(f"{kind}: {name} is required")
            continue
        value = payload[name]
        # bool is an int to isinstance; a count or id is never a bool.
        if isinstance(value, bool) and bool not in _types(field.type):
            raise PayloadError(f"{kind}: {name} has the wrong type")
        if not isinstance(value, field.type):
            raise PayloadError(f"{kind}: {name} has the wrong type")
    return payload


def _types(value: type | tuple[type, ...]) -> tuple[type, ...]:
    return value if isinstance(value, tuple) else (value,)
