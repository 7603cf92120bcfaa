"""The PicPick API as this client uses it: JSON over HTTPS with a Bearer token that refreshes
itself, retries on transient failures, and 4xx answers turned into ``ApiError`` with the
server's machine-readable ``code``.

Only the public API (``/api/v1/...``) is used, never anything of the server's code.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from typing import Any

import httpx

from picpick_upload import __version__, config
from picpick_upload.config import Session
from picpick_upload.errors import ApiError, AuthError, TransientHttpError, UsageError
from picpick_upload.retry import RetryPolicy, call_with_retries, retry_after_seconds

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
USER_AGENT = f"picpick-upload/{__version__}"
# Refresh a little before the access token's expiry rather than after a 401.
REFRESH_MARGIN_SECONDS = 30


def normalize_api_url(url: str) -> str:
    """The service's root URL, whether given with ``/api/v1`` or not."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"The API URL must start with http:// or https:// (got {url!r}).")
    return url.removesuffix(API_PREFIX)


def timeouts() -> httpx.Timeout:
    # Reads wait on the server (a batch complete verifies up to 500 files); writes on the
    # uplink (a 16 MiB part over venue Wi-Fi).
    return httpx.Timeout(connect=15.0, read=120.0, write=120.0, pool=60.0)


def token_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (not verified: only to refresh before it runs out)."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        return float(json.loads(base64.urlsafe_b64decode(payload))["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return None


def error_of(response: httpx.Response) -> tuple[str, str, dict]:
    """(code, message, body) of an error answer (the API's ``{"error": {...}}`` shape)."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("code") or "error"), str(error.get("message") or ""), body
    return f"http_{response.status_code}", response.reason_phrase or "", body or {}


def raise_for_transient(response: httpx.Response) -> None:
    if response.status_code == 429 or response.status_code >= 500:
        _, message, _ = error_of(response)
        raise TransientHttpError(
            response.status_code,
            message or response.reason_phrase,
            retry_after_seconds(response.headers.get("Retry-After")),
        )


class Api:
    """One logged-in session against one service; safe to share between threads."""

    def __init__(
        self,
        session: Session,
        *,
        policy: RetryPolicy | None = None,
        stop: threading.Event | None = None,
        max_connections: int = 16,
        persist: bool = True,
    ) -> None:
        self.session = session
        self.policy = policy or RetryPolicy.from_env()
        self.stop = stop or threading.Event()
        self.persist = persist
        self._refresh_lock = threading.Lock()
        self.client = httpx.Client(
            base_url=session.api + API_PREFIX,
            timeout=timeouts(),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    def close(self) -> None:
        self.client.close()

    # -- tokens --
    def _auth_headers(self) -> dict[str, str]:
        expiry = token_expiry(self.session.access)
        if expiry is not None and expiry - time.time() < REFRESH_MARGIN_SECONDS:
            self.refresh(self.session.access)
        return {"Authorization": f"Bearer {self.session.access}"}

    def refresh(self, stale_access: str) -> None:
        """A new token pair, unless another thread or process already got one."""
        with self._refresh_lock, config.session_lock():
            if self.session.access != stale_access:
                return  # another thread refreshed meanwhile
            if self.persist:
                saved = config.session_load()
                if (
                    saved is not None
                    and saved.api == self.session.api
                    and saved.access != stale_access
                    and saved.refresh != self.session.refresh
                ):
                    self.session = saved  # another process refreshed meanwhile
                    return

            def send() -> httpx.Response:
                response = self.client.post(
                    "/auth/refresh/", json={"refresh": self.session.refresh}
                )
                raise_for_transient(response)
                return response

            response = call_with_retries(
                send, policy=self.policy, stop=self.stop, what="refreshing the session"
            )
            if response.status_code != 200:
                code, _, _ = error_of(response)
                raise AuthError(
                    f"The session has expired ({code}); run `picpick-upload login` again.",
                    code="session_expired",
                )
            pair = response.json()
            self.session.access, self.session.refresh = pair["access"], pair["refresh"]
            if self.persist:
                config.session_save(self.session)
            logger.info("session refreshed")

    # -- requests --
    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        what: str | None = None,
    ) -> httpx.Response:
        """The answer to a 2xx; ``ApiError`` for a 4xx; retries for the rest."""

        def send() -> httpx.Response:
            headers = self._auth_headers()
            response = self.client.request(
                method, path, json=json_body, params=params, headers=headers
            )
            if response.status_code == 401:
                self.refresh(headers["Authorization"].removeprefix("Bearer "))
                response = self.client.request(
                    method, path, json=json_body, params=params, headers=self._auth_headers()
                )
            raise_for_transient(response)
            return response

        response = call_with_retries(
            send, policy=self.policy, stop=self.stop, what=what or f"{method} {path}"
        )
        if response.status_code >= 400:
            code, message, body = error_of(response)
            if response.status_code == 401:
                raise AuthError(f"Not logged in ({code}): run `picpick-upload login`.", code=code)
            raise ApiError(message or code, code=code, status=response.status_code, body=body)
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        response = self.request("POST", path, json_body=body, **kwargs)
        return response.json() if response.content else None

    def delete(self, path: str, **kwargs: Any) -> None:
        self.request("DELETE", path, **kwargs)


def login(
    *, api: str, email: str, password: str, policy: RetryPolicy, stop: threading.Event
) -> dict:
    """POST /auth/login/ (no token yet): the user, their default studio and a token pair."""
    with httpx.Client(
        base_url=api + API_PREFIX, timeout=timeouts(), headers={"User-Agent": USER_AGENT}
    ) as client:

        def send() -> httpx.Response:
            response = client.post("/auth/login/", json={"email": email, "password": password})
            if response.status_code == 429:
                code, _, _ = error_of(response)
                if code == "account_locked":  # waiting a few seconds does not help
                    return response
            raise_for_transient(response)
            return response

        response = call_with_retries(send, policy=policy, stop=stop, what="logging in")
    if response.status_code != 200:
        code, message, _ = error_of(response)
        raise AuthError(message or f"Login failed ({code}).", code=code)
    return response.json()


def logout(session: Session, *, policy: RetryPolicy, stop: threading.Event) -> None:
    """Revoke the refresh token (best effort: the local session is deleted anyway)."""
    with httpx.Client(
        base_url=session.api + API_PREFIX, timeout=timeouts(), headers={"User-Agent": USER_AGENT}
    ) as client:

        def send() -> httpx.Response:
            response = client.post("/auth/logout/", json={"refresh": session.refresh})
            raise_for_transient(response)
            return response

        call_with_retries(send, policy=policy, stop=stop, what="logging out")
