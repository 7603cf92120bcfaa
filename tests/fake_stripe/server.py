"""A fake Stripe API on loopback, for tests that go through the real SDK.

``FakeStripe`` serves ``tests.fake_stripe.api``'s endpoints over HTTP on 127.0.0.1 (a
``ThreadingHTTPServer`` in a daemon thread) and adds what Stripe's edge does: the bearer key,
the ``Stripe-Account`` header, ``Idempotency-Key`` (the first answer stored per account and
key and replayed, a different request under the same key refused, a concurrent one 409), and
the request id. For tests it adds a log of every request, faults (``fail_next``), slow answers
(``delay_next_response``), the succeeded charges, the events and their signatures, and the
customer's side (3-D Secure, a card saved in the browser, onboarding, disputes).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.fake_stripe.api import API_VERSION, Context, StripeApiError, StripeState, new_id
from tests.fake_stripe.forms import FormError, parse_form
from tests.fake_stripe.signing import sign_payload

FAKE_SECRET_KEY = "sk_test_fake_picpick_51Fake000000000000000000"
FAKE_PUBLISHABLE_KEY = "pk_test_fake_picpick_51Fake000000000000000000"
FAKE_WEBHOOK_SECRET = "whsec_test_fake_picpick_0000000000000000"

# The browser's side (Stripe.js): the fake's script, and the calls it makes with the
# publishable key and an intent's client secret instead of the secret key.
STRIPE_JS = Path(__file__).parent / "browser" / "stripe-v3.js"
_BROWSER_CALL = re.compile(r"/v1/payment_intents/(pi_[A-Za-z0-9]+)(/confirm)?")


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    params: dict[str, Any]
    headers: dict[str, str]
    status: int = 0
    replayed: bool = False

    @property
    def account(self) -> str | None:
        return self.headers.get("Stripe-Account")

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")


@dataclass
class _Fault:
    path_prefix: str
    remaining: int
    status: int = 500
    seconds: float = 0


@dataclass
class _Stored:
    fingerprint: str
    status: int = 0
    body: dict[str, Any] = field(default_factory=dict)
    done: bool = False


class FakeStripe:
    def __init__(self, *, api_key: str = FAKE_SECRET_KEY) -> None:
        self.api_key = api_key
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.state = StripeState(lambda: self.url)
        self.reset()

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeStripe:
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-stripe", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake Stripe server is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        """Forget every object, request, event, idempotency key and pending fault."""
        with self._lock:
            self.requests: list[RecordedRequest] = []
            self._idempotency: dict[tuple[str | None, str], _Stored] = {}
            self._failures: list[_Fault] = []
            self._delays: list[_Fault] = []
        self.state.reset()

    # --- what tests look at ----------------------------------------------------------------

    @property
    def charges(self) -> list[dict[str, Any]]:
        """Succeeded charges (live objects: refunds show on them)."""
        with self.state.lock:
            return list(self.state.charges)

    @property
    def events(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.events)

    def events_of(self, type: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["type"] == type]

    def last_event(self, type: str) -> dict[str, Any]:
        found = self.events_of(type)
        if not found:
            raise LookupError(f"no {type} event")
        return found[-1]

    def object(self, object_id: str) -> dict[str, Any]:
        with self.state.lock:
            return copy.deepcopy(self.state.objects[object_id])

    def api_requests(self) -> list[RecordedRequest]:
        """Requests to the API (not the browser pages: 3-D Secure, onboarding)."""
        return [request for request in self.requests if request.path.startswith("/v1/")]

    def signed(
        self,
        event: dict[str, Any],
        secret: str = FAKE_WEBHOOK_SECRET,
        timestamp: int | None = None,
    ) -> tuple[bytes, str]:
        """The event as Stripe delivers it: (raw JSON body, ``Stripe-Signature`` header)."""
        payload = json.dumps(event, indent=2).encode()
        return payload, sign_payload(payload, secret, timestamp)

    # --- faults ----------------------------------------------------------------------------

    def fail_next(
        self, n: int = 1, *, status: int = 500, path_prefix: str = "/v1/payment_intents"
    ) -> None:
        """Answer the next ``n`` requests under ``path_prefix`` with ``status`` (5xx or 429),
        doing nothing and storing nothing under their idempotency keys."""
        with self._lock:
            self._failures.append(_Fault(path_prefix, n, status=status))

    def delay_next_response(
        self, seconds: float, *, path_prefix: str = "/v1/payment_intents", n: int = 1
    ) -> None:
        """Do the next ``n`` requests under ``path_prefix``, then wait ``seconds`` before
        answering: past the client's timeout, the work is done and the answer is lost."""
        with self._lock:
            self._delays.append(_Fault(path_prefix, n, seconds=seconds))

    def _take(self, faults: list[_Fault], path: str) -> _Fault | None:
        with self._lock:
            for fault in faults:
                if fault.remaining > 0 and path.startswith(fault.path_prefix):
                    fault.remaining -= 1
                    return fault
        return None

    # --- the customer's and Stripe's side ---------------------------------------------------

    def authenticate(self, object_id: str, succeed: bool = True) -> dict[str, Any]:
        """The customer completes (or fails) 3-D Secure on a payment or setup intent."""
        return self.state.authenticate(object_id, succeed=succeed)

    def confirm_setup(self, setup_id: str, payment_method: str = "pm_card_visa") -> dict:
        """Stripe.js confirms a setup intent in the browser with a test card."""
        return self.state.confirm_setup(setup_id, payment_method)

    def dispute(self, intent_id: str, amount: int | None = None, reason: str = "fraudulent"):
        return self.state.dispute(intent_id, amount, reason)

    def close_dispute(self, dispute_id: str, *, won: bool) -> dict:
        return self.state.close_dispute(dispute_id, won=won)

    def fail_refund(self, refund_id: str, failure_reason: str = "expired_or_canceled_card"):
        return self.state.fail_refund(refund_id, failure_reason)

    def connected_account(self, *, country: str = "US", onboarded: bool = True) -> str:
        """A studio's connected account, onboarded unless told otherwise; its id."""
        return self.state.new_account(country=country, onboarded=onboarded)["id"]

    def complete_onboarding(self, account_id: str) -> dict:
        return self.state.complete_onboarding(account_id)

    # --- serving ---------------------------------------------------------------------------

    def serve(self, handler: _Handler, method: str) -> None:
        split = urlsplit(handler.path)
        path = split.path
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode() if length else ""
        headers = dict(handler.headers.items())
        record = RecordedRequest(method, path, split.query, {}, headers)
        with self._lock:
            self.requests.append(record)
        if path in ("/v3", "/v3/"):
            record.status = 200
            handler.answer_raw(200, STRIPE_JS.read_bytes(), "text/javascript; charset=utf-8")
            return
        if path.startswith("/fake/"):
            status, extra, body = self._browser(path, split.query)
            record.status = status
            handler.answer(status, body, extra)
            return

        request_id = new_id("req_", 14)
        extra_headers = {"Request-Id": request_id, "Stripe-Version": API_VERSION}
        status, body, replayed = self._api(method, split.query, raw, record, request_id)
        record.status, record.replayed = status, replayed
        if replayed:
            extra_headers["Idempotent-Replayed"] = "true"
        if record.idempotency_key:
            extra_headers["Idempotency-Key"] = record.idempotency_key
        delay = self._take(self._delays, path) if status < 500 else None
        if delay is not None:
            time.sleep(delay.seconds)
        handler.answer(status, body, extra_headers)

    def _api(
        self, method: str, query: str, raw: str, record: RecordedRequest, request_id: str
    ) -> tuple[int, dict[str, Any], bool]:
        path, headers = record.path, record.headers
        fault = self._take(self._failures, path)
        if fault is not None:
            kind = "rate_limit_error" if fault.status == 429 else "api_error"
            return fault.status, _error(kind, "An error occurred with our connection."), False
        if "Authorization" not in headers:
            form = raw if method == "POST" else query
            answer = self._publishable(method, form, record, request_id)
            if answer is not None:
                return answer
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            return (
                401,
                _error("invalid_request_error", "Invalid API Key provided: sk_test_****"),
                False,
            )
        try:
            params = parse_form(raw if method == "POST" else query)
        except FormError as exc:
            return 400, _error("invalid_request_error", str(exc)), False
        record.params = params
        account = headers.get("Stripe-Account")
        key = headers.get("Idempotency-Key") if method == "POST" else None
        context = Context(
            account=account,
            request_id=request_id,
            idempotency_key=key,
            api_version=headers.get("Stripe-Version") or API_VERSION,
        )
        if key is None:
            return (*self._run(method, path, params, context), False)

        fingerprint = json.dumps([method, path, params], sort_keys=True)
        with self._lock:
            stored = self._idempotency.get((account, key))
            if stored is None:
                stored = self._idempotency[(account, key)] = _Stored(fingerprint)
                mine = True
            else:
                mine = False
        if not mine:
            if stored.fingerprint != fingerprint:
                return (
                    400,
                    _error(
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with. Try using a key other than "
                        f"'{key}' if you meant to execute a different request.",
                    ),
                    False,
                )
            if not stored.done:
                return (
                    409,
                    _error(
                        "invalid_request_error",
                        "There is currently another in-progress request using this "
                        f"Idempotent Key (that probably means you submitted twice, and the "
                        f"other request is still going through): {key}. Please try again later.",
                        code="idempotency_key_in_use",
                    ),
                    False,
                )
            return stored.status, copy.deepcopy(stored.body), True
        status, body = self._run(method, path, params, context)
        with self._lock:
            stored.status, stored.body, stored.done = status, copy.deepcopy(body), True
        return status, body, False

    def _publishable(
        self, method: str, raw: str, record: RecordedRequest, request_id: str
    ) -> tuple[int, dict[str, Any], bool] | None:
        """What Stripe.js calls from a client's browser: read an intent, confirm it, with the
        publishable key (``key``), the connected account (``_stripe_account``) and the
        intent's client secret as form fields (a simple CORS request). None: not such a call
        (the secret key is required as usual)."""
        match = _BROWSER_CALL.fullmatch(record.path)
        if match is None or (method == "POST") != bool(match[2]):
            return None
        try:
            params = parse_form(raw)
        except FormError as exc:
            return 400, _error("invalid_request_error", str(exc)), False
        if params.pop("key", None) != FAKE_PUBLISHABLE_KEY:
            return 401, _error("invalid_request_error", "Invalid API Key provided."), False
        account = params.pop("_stripe_account", None)
        secret = params.pop("client_secret", None)
        with self.state.lock:
            intent = self.state.objects.get(match[1])
            mine = (
                intent is not None
                and secret is not None
                and intent.get("client_secret") == secret
                and self.state.owner.get(match[1]) == account
            )
        if not mine:
            missing = f"No such payment_intent: '{match[1]}'"
            return 404, _error("invalid_request_error", missing, code="resource_missing"), False
        record.params = params
        context = Context(account=account, request_id=request_id, idempotency_key=None)
        return (*self._run(method, record.path, params, context), False)

    def _run(
        self, method: str, path: str, params: dict[str, Any], context: Context
    ) -> tuple[int, dict[str, Any]]:
        try:
            return 200, self.state.handle(method, path, params, context)
        except StripeApiError as exc:
            return exc.status, exc.body()

    def _browser(self, path: str, query: str) -> tuple[int, dict[str, str], dict[str, Any]]:
        """The pages Stripe shows the customer: 3-D Secure and Connect onboarding."""
        args = parse_qs(query)
        parts = path.strip("/").split("/")
        if parts[:2] == ["fake", "3ds"] and len(parts) == 3:
            succeed = args.get("outcome", ["succeed"])[0] != "fail"
            try:
                target = self.authenticate(parts[2], succeed=succeed)
            except (KeyError, ValueError) as exc:
                return 400, {}, {"error": str(exc)}
            with self.state.lock:
                return_url = self.state.notes[target["id"]].get("return_url")
            if not return_url:
                return 200, {}, {"status": target["status"]}
            prefix = "setup_intent" if target["object"] == "setup_intent" else "payment_intent"
            back = {
                prefix: target["id"],
                f"{prefix}_client_secret": target["client_secret"],
                "redirect_status": "succeeded" if succeed else "failed",
            }
            separator = "&" if "?" in return_url else "?"
            return 302, {"Location": f"{return_url}{separator}{urlencode(back)}"}, {}
        if parts[:3] == ["fake", "connect", "onboarding"] and len(parts) == 4:
            target_url = self.state.follow_link(parts[3])
            if target_url is None:
                return 404, {}, {"error": "no such link"}
            return 302, {"Location": target_url}, {}
        return 404, {}, {"error": "not found"}


def _error(type: str, message: str, code: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": type, "message": message}
    if code:
        error["code"] = code
    return {"error": error}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's session expects
    # Headers and body go out in two writes: without TCP_NODELAY each answer waits ~40 ms for
    # the client's delayed ACK.
    disable_nagle_algorithm = True
    server_version = "FakeStripe/1"
    fake: FakeStripe

    def do_GET(self) -> None:
        self.fake.serve(self, "GET")

    def do_POST(self) -> None:
        self.fake.serve(self, "POST")

    def do_DELETE(self) -> None:
        self.fake.serve(self, "DELETE")

    def answer(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        data = json.dumps(body).encode() if body or status != 302 else b""
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            # The browser's Stripe.js calls from the studio's site (another origin).
            self.send_header("Access-Control-Allow-Origin", "*")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (a timeout test)

    def answer_raw(self, status: int, data: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Access-Control-Allow-Origin", "*")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is FakeStripe.requests
