"""Login and password-reset limits: keyed on the real client address (a client's own
X-Forwarded-For changes nothing), counted atomically, plus a per-account lockout that no number
of addresses gets around."""

from __future__ import annotations

import pytest
from django.core import mail

from accounts.services import users as services
from picpick.core.errors import ApplicationError, RateLimited
from tests.accounts.helpers import assert_error, throttle_rates
from tests.conftest import PASSWORD
from tests.races import race

LOGIN = "/api/v1/auth/login/"
RESET = "/api/v1/auth/password-reset/"
CADDY = "172.31.250.3"

pytestmark = pytest.mark.django_db


@pytest.fixture
def evaluated(monkeypatch) -> list[str]:
    """The emails whose password the login really checked."""
    seen: list[str] = []
    real = services.authenticate

    def counting(request, **credentials):
        seen.append(credentials["email"])
        return real(request, **credentials)

    monkeypatch.setattr(services, "authenticate", counting)
    return seen


@pytest.fixture
def no_lockout(settings):
    settings.PICPICK_LOGIN_LOCKOUT_ATTEMPTS = 10_000


def _xff(n: int) -> str:
    return f"203.0.{n // 256}.{n % 256}"


@pytest.mark.usefixtures("no_lockout")
def test_a_new_forwarded_for_per_request_does_not_dodge_the_login_limit(
    anon_client, alice, settings, evaluated
):
    throttle_rates(settings, auth="20/min")
    body = {"email": "alice@example.com", "password": "wrong"}
    statuses = [
        anon_client.post(
            LOGIN, body, REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR=_xff(n)
        ).status_code
        for n in range(40)
    ]
    assert statuses == [401] * 20 + [429] * 20
    assert len(evaluated) == 20


@pytest.mark.usefixtures("no_lockout")
def test_behind_the_trusted_proxy_each_real_client_has_its_own_login_limit(
    anon_client, alice, settings, evaluated
):
    settings.PICPICK_TRUSTED_PROXIES = ["172.31.250.0/24"]
    throttle_rates(settings, auth="3/min")
    body = {"email": "alice@example.com", "password": "wrong"}

    def login(forwarded_for: str):
        return anon_client.post(LOGIN, body, REMOTE_ADDR=CADDY, HTTP_X_FORWARDED_FOR=forwarded_for)

    # The client varies the part it writes itself; Caddy's right-most entry stays the same.
    codes = [login(f"{_xff(n)}, 198.51.100.7").status_code for n in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    # Another client behind the same proxy (Caddy's address is not one bucket for everyone).
    assert login("198.51.100.8").status_code == 401
    assert len(evaluated) == 4


def test_the_password_reset_limit_ignores_a_forwarded_for_from_the_client(
    anon_client, alice, settings
):
    throttle_rates(settings, password_reset="5/hour")
    statuses = [
        anon_client.post(
            RESET,
            {"email": "alice@example.com"},
            REMOTE_ADDR="198.51.100.7",
            HTTP_X_FORWARDED_FOR=_xff(n),
        ).status_code
        for n in range(8)
    ]
    assert statuses == [202] * 5 + [429] * 3
    assert len(mail.outbox) == 5


def test_throttled_answers_keep_the_error_shape_and_retry_after(anon_client, alice, settings):
    throttle_rates(settings, password_reset="1/hour")
    assert anon_client.post(RESET, {"email": "alice@example.com"}).status_code == 202
    response = anon_client.post(RESET, {"email": "alice@example.com"})
    error = assert_error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 3601
    assert error["retry_after"] == int(response["Retry-After"])


# --- per-account lockout ---------------------------------------------------------------------


def test_failed_logins_from_many_addresses_lock_the_account(anon_client, alice, bob, settings):
    settings.PICPICK_LOGIN_LOCKOUT_ATTEMPTS = 3
    wrong = {"email": "alice@example.com", "password": "wrong"}
    for n in range(3):
        response = anon_client.post(LOGIN, wrong, REMOTE_ADDR=f"198.51.100.{n + 1}")
        assert_error(response, 401, "invalid_credentials")

    # A fresh address, the right password: still locked, for the rest of the window.
    response = anon_client.post(
        LOGIN, {"email": "Alice@Example.com", "password": PASSWORD}, REMOTE_ADDR="192.0.2.99"
    )
    error = assert_error(response, 429, "account_locked")
    window = settings.PICPICK_LOGIN_LOCKOUT_WINDOW_SECONDS
    assert 1 <= int(response["Retry-After"]) <= window + 1
    assert error["retry_after"] == int(response["Retry-After"])
    # Other accounts log in as usual, from the same addresses.
    bob_login = {"email": "bob@example.com", "password": PASSWORD}
    assert anon_client.post(LOGIN, bob_login, REMOTE_ADDR="198.51.100.1").status_code == 200


def test_an_unknown_email_is_locked_the_same_way(anon_client, alice, settings):
    settings.PICPICK_LOGIN_LOCKOUT_ATTEMPTS = 2

    def answers(email: str) -> list[tuple[int, str]]:
        body = {"email": email, "password": "wrong"}
        return [
            (r.status_code, r.json()["error"]["code"])
            for r in (anon_client.post(LOGIN, body) for _ in range(3))
        ]

    # Nothing tells an account that exists from one that does not.
    assert answers("alice@example.com") == answers("nobody@example.com")
    assert answers("nobody2@example.com") == [
        (401, "invalid_credentials"),
        (401, "invalid_credentials"),
        (429, "account_locked"),
    ]


def test_a_successful_login_does_not_count_as_a_failure(anon_client, alice, settings):
    settings.PICPICK_LOGIN_LOCKOUT_ATTEMPTS = 3
    wrong = {"email": "alice@example.com", "password": "wrong"}
    right = {"email": "alice@example.com", "password": PASSWORD}
    assert [anon_client.post(LOGIN, wrong).status_code for _ in range(2)] == [401, 401]
    assert [anon_client.post(LOGIN, right).status_code for _ in range(5)] == [200] * 5
    assert anon_client.post(LOGIN, wrong).status_code == 401
    assert anon_client.post(LOGIN, wrong).status_code == 429


@pytest.mark.django_db(transaction=True)
def test_concurrent_wrong_logins_check_exactly_the_lockout_limit(alice, settings, evaluated):
    settings.PICPICK_LOGIN_LOCKOUT_ATTEMPTS = 10

    def guess(index: int):
        return services.auth_login(email="alice@example.com", password=f"wrong-{index}")

    results = race(40, guess)
    wrong = [
        r for r in results if isinstance(r, ApplicationError) and r.code == "invalid_credentials"
    ]
    locked = [r for r in results if isinstance(r, RateLimited)]
    assert len(wrong) == 10 and len(locked) == 30, results
    assert {e.code for e in locked} == {"account_locked"}
    assert len(evaluated) == 10
