"""What the inquiry tests share: the studios' hosts, a wedding form, answers, aged tokens."""

from __future__ import annotations

import datetime as dt
import time

from crm.services import inquiries as services

STUDIO_A_HOST = "annasmith.localhost"
STUDIO_B_HOST = "bobsweddings.localhost"

QUESTIONS = [
    {
        "key": "event_type",
        "label": "What are we celebrating?",
        "kind": "event_type",
        "required": True,
        "choices": ["Wedding", "Family"],
    },
    {"key": "event_date", "label": "Date", "kind": "date", "required": False},
    {"key": "budget", "label": "Budget", "kind": "budget", "required": False},
    {"key": "message", "label": "Tell us about your day", "kind": "textarea", "required": True},
    {"key": "phone", "label": "Phone", "kind": "phone", "required": False},
    {"key": "guests", "label": "How many guests?", "kind": "number", "required": False},
    {"key": "venue", "label": "Venue", "kind": "choice", "choices": ["Barn", "Beach"]},
    {"key": "partner_email", "label": "Partner's email", "kind": "email"},
    {"key": "how_found", "label": "How did you find us?", "kind": "text"},
    {"key": "marketing_consent", "label": "Send me news and offers", "kind": "consent"},
]


def event_day(days: int = 200) -> dt.date:
    return dt.date.today() + dt.timedelta(days=days)


def answers(**changes) -> dict:
    base = {
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "Jane.Doe@Example.com",
        "event_type": "Wedding",
        "event_date": event_day().isoformat(),
        "budget": "3500",
        "message": "We are getting married in Lyon!\nSmall and outdoors.",
        "phone": "+33 6 12 34 56 78",
        "guests": "80",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def aged_token(form, seconds: float = 10) -> str:
    """A token issued ``seconds`` ago (old enough to pass the minimum time by default)."""
    return services.inquiry_form_token(form=form, now=time.time() - seconds)


def submit(form, data=None, *, address: str = "198.51.100.7", token=None, **kwargs):
    return services.inquiry_submit(
        form=form,
        data=answers() if data is None else data,
        token=aged_token(form) if token is None else token,
        address=address,
        **kwargs,
    )
