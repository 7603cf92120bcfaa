"""The fake's building blocks: ids, errors, the request's context, parameters, and the store
every endpoint group works on (objects per account, expansion, events).

Objects are Stripe-shaped JSON dicts (ids with Stripe's prefixes, ``object`` fields, integer
amounts in Stripe's units, lower-case currencies). Each lives on one account: the platform
(``None``) or a connected account named by the ``Stripe-Account`` header, and is not found
from another. Errors are raised as ``StripeApiError`` and answered as Stripe answers them.
"""

from __future__ import annotations

import copy
import re
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

API_VERSION = "2026-10-28.endive"
ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()  # noqa: SIM905
)
COUNTRY_CURRENCY = {
    "US": "usd",
    "GB": "gbp",
    "CA": "cad",
    "AU": "aud",
    "NZ": "nzd",
    "JP": "jpy",
    "CH": "chf",
    "SE": "sek",
    "NO": "nok",
    "DK": "dkk",
    "PL": "pln",
}
EUROZONE = frozenset("AT BE CY DE EE ES FI FR GR HR IE IT LT LU LV MT NL PT SI SK".split())  # noqa: SIM905
CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)
CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
MINIMUM_AMOUNT = 50  # Stripe's minimum charge is about 0.50 USD; 50 units here, any currency
_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def stripe_fee(amount: int, currency: str) -> int:
    """2.9% (+ 30 units, but not for zero-decimal currencies), rounded half up."""
    percent = (amount * 29 + 500) // 1000
    return percent if currency.lower() in ZERO_DECIMAL else percent + 30


class StripeApiError(Exception):
    """An error answer: ``{"error": {"type", "code", "message", "param", ...}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error: dict[str, Any] = {"type": type, "message": message}
        if code:
            self.error["code"] = code
            self.error["doc_url"] = f"https://docs.stripe.com/error-codes/{code}"
        if param:
            self.error["param"] = param
        self.error.update({key: value for key, value in extra.items() if value is not None})

    def body(self) -> dict[str, Any]:
        return {"error": self.error}


def missing(name: str) -> StripeApiError:
    return StripeApiError(
        400, f"Missing required param: {name}.", code="parameter_missing", param=name
    )


def no_such(kind: str, object_id: str, param: str) -> StripeApiError:
    return StripeApiError(
        404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param
    )


@dataclass
class Context:
    """The request an operation answers (None for the test helpers' changes)."""

    account: str | None
    request_id: str | None = None
    idempotency_key: str | None = None
    api_version: str = API_VERSION


class Store:
    """Every object, its account, and the events, under one lock."""

    def __init__(self, url: Callable[[], str]) -> None:
        self._url = url
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.objects: dict[str, dict[str, Any]] = {}
            self.owner: dict[str, str | None] = {}
            # The fake's own notes on an object (a payment method's test card, an intent's
            # return URL, a link's URLs), never sent.
            self.notes: dict[str, dict[str, Any]] = {}
            self.charges: list[dict[str, Any]] = []
            self.events: list[dict[str, Any]] = []

    def _check_account(self, context: Context) -> None:
        account = context.account
        if account is not None and self.objects.get(account, {}).get("object") != "account":
            raise StripeApiError(
                403,
                "The provided key does not have access to account "
                f"'{account}' (or that account does not exist).",
                code="account_invalid",
            )

    # --- storage, expansion, events --------------------------------------------------------

    def _store(self, obj: dict, account: str | None, **notes: Any) -> None:
        self.objects[obj["id"]] = obj
        self.owner[obj["id"]] = account
        self.notes[obj["id"]] = dict(notes)

    def _get(self, object_id: str | None, kind: str, account: str | None, *, param: str) -> dict:
        obj = self.objects.get(object_id or "")
        if obj is None or obj["object"] != kind or self.owner[obj["id"]] != account:
            raise no_such(kind, str(object_id), param)
        return obj

    def _check_state(
        self, obj: dict, allowed: tuple[str, ...], verb: str, kind: str = "PaymentIntent"
    ) -> None:
        if obj["status"] not in allowed:
            raise StripeApiError(
                400,
                f"You cannot {verb} this {kind} because it has a status of {obj['status']}. "
                f"Only a {kind} with one of the following statuses may be {verb}ed: "
                f"{', '.join(allowed)}.",
                code=f"{kind.lower().replace('intent', '_intent')}_unexpected_state",
                **{obj["object"]: copy.deepcopy(obj)},
            )

    def _expanded(self, obj: dict, params: dict, account: str | None) -> dict:
        body = copy.deepcopy(obj)
        expand = params.get("expand") or []
        if not isinstance(expand, list):
            raise StripeApiError(400, "Invalid array", param="expand")
        for path in expand:
            self._expand(body, str(path).split("."), account, path)
        return body

    def _expand(self, node: dict, parts: list[str], account: str | None, path: str) -> None:
        head, rest = parts[0], parts[1:]
        if head not in node:
            raise StripeApiError(400, f"This property cannot be expanded ({path}).", param="expand")
        value = node[head]
        if isinstance(value, str):
            target = self.objects.get(value)
            if target is None or self.owner[value] != account:
                return
            value = node[head] = copy.deepcopy(target)
        if rest and isinstance(value, dict):
            self._expand(value, rest, account, path)

    def _event(
        self,
        type: str,
        obj: dict,
        context: Context,
        previous: dict | None = None,
    ) -> dict:
        event: dict[str, Any] = {
            "id": new_id("evt_"),
            "object": "event",
            "api_version": context.api_version,
            "created": now(),
            "data": {"object": copy.deepcopy(obj)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": context.request_id, "idempotency_key": context.idempotency_key},
            "type": type,
        }
        if previous is not None:
            event["data"]["previous_attributes"] = previous
        if context.account is not None:
            event["account"] = context.account
        self.events.append(event)
        return event


# --- parameters ----------------------------------------------------------------------------------


def now() -> int:
    return int(time.time())


def allowed(params: dict, names: str) -> None:
    known = set(names.split())
    for name in params:
        if name not in known:
            raise StripeApiError(
                400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
            )


def param_str(params: dict, name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise StripeApiError(400, f"Invalid string: {name}", param=name)
    return value


def param_int(params: dict, name: str, *, required: bool = False) -> int | None:
    value = param_str(params, name)
    if value is None:
        if required:
            raise missing(name)
        return None
    if not re.fullmatch(r"-?[0-9]+", value):
        raise StripeApiError(
            400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=name
        )
    return int(value)


def param_bool(params: dict, name: str) -> bool:
    value = param_str(params, name)
    if value is None:
        return False
    if value not in ("true", "false"):
        raise StripeApiError(400, f"Invalid boolean: {value}", param=name)
    return value == "true"


def param_enum(params: dict, name: str, values: tuple[str, ...]) -> str | None:
    value = param_str(params, name)
    if value is not None and value not in values:
        raise StripeApiError(
            400,
            f"Invalid {name}: must be one of {', '.join(values)}",
            param=name,
        )
    return value


def param_currency(params: dict) -> str:
    value = param_str(params, "currency")
    if value is None:
        raise missing("currency")
    if not re.fullmatch(r"[A-Za-z]{3}", value):
        raise StripeApiError(400, f"Invalid currency: {value}", param="currency")
    return value.lower()


def param_metadata(params: dict) -> dict[str, str]:
    value = params.get("metadata") or {}
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise StripeApiError(400, "Invalid hash", param="metadata")
    for key, item in value.items():
        if len(key) > 40 or not isinstance(item, str) or len(item) > 500:
            raise StripeApiError(400, f"Invalid metadata[{key}]", param=f"metadata[{key}]")
    return {key: item for key, item in value.items() if item != ""}
