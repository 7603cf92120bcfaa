"""Password/PIN guesses are limited per gallery and client address: 10 per 15 minutes (and 100
per gallery from all addresses), counted atomically before the secret is checked, so however
many guesses arrive at once, exactly the limit are evaluated and every other one is a 429 with
Retry-After.

Run with real concurrency twice: 100 HTTP requests from threads against the live server (each
request in its own server thread, with its own database connection on MariaDB), and 100 calls
of the service released together by ``tests.races``. The counters are in the configured cache:
Django's local memory without ``REDIS_URL``, Redis (INCR) with it.
"""

from __future__ import annotations

import json
import threading
import types
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings

from galleries.models import Gallery
from guests import access, services
from picpick.core import ratelimit
from picpick.core.errors import Forbidden, RateLimited
from tests.guests.api_support import (
    PIN,
    STUDIO_A_HOST,
    error_code,
    guest,
    protect,
    public_url,
    secret_of,
)
from tests.races import race
from tests.storage_fixtures import send

pytest_plugins = ["tests.guests.api_fixtures"]
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

GUESSES = 100
LIMIT = 10
WINDOW = 15 * 60


def test_the_limit_is_10_guesses_per_15_minutes():
    assert settings.PICPICK_GUEST_UNLOCK_ATTEMPTS == LIMIT
    assert settings.PICPICK_GUEST_UNLOCK_WINDOW_SECONDS == WINDOW
    assert settings.PICPICK_GUEST_UNLOCK_GALLERY_ATTEMPTS == 10 * LIMIT


@pytest.fixture
def evaluated(monkeypatch) -> list[str]:
    """Every secret the service really checked (the hash comparison), from any thread."""
    seen: list[str] = []
    lock = threading.Lock()
    real = services.check_password

    def counting(secret, encoded):
        with lock:
            seen.append(secret)
        return real(secret, encoded)

    monkeypatch.setattr(services, "check_password", counting)
    return seen


def _assert_rate_limited(status: int, headers, body: dict) -> None:
    assert status == 429
    assert body["error"]["code"] == "too_many_attempts"
    retry_after = int(headers["Retry-After"])
    assert 1 <= retry_after <= WINDOW + 1
    assert body["error"]["retry_after"] == retry_after


# --- Through real HTTP ------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("host", ["api", "studio"])
def test_100_concurrent_wrong_guesses_over_http_evaluate_exactly_10(
    live_server, gallery_a, evaluated, host
):
    protect(gallery_a, Gallery.Access.PIN)
    # Django's test server listens with a backlog of 10: a burst of 100 connections would be
    # reset by the kernel before the server sees them. A deployment's server queues far more.
    live_server.thread.httpd.socket.listen(GUESSES)
    url = f"{live_server.url}{public_url(gallery_a, 'unlock/')}"
    headers = {"Content-Type": "application/json"}
    if host == "studio":
        headers["Host"] = f"{STUDIO_A_HOST}:{live_server.url.rsplit(':', 1)[1]}"
    barrier = threading.Barrier(GUESSES)

    def guess(index: int):
        body = json.dumps({"secret": f"9{index:03d}"}).encode()  # never the PIN (2468)
        barrier.wait()
        return send("POST", url, headers=headers, body=body)

    with ThreadPoolExecutor(max_workers=GUESSES) as pool:
        responses = list(pool.map(guess, range(GUESSES)))

    statuses = sorted(r.status for r in responses)
    assert statuses == [403] * LIMIT + [429] * (GUESSES - LIMIT), statuses
    for response in responses:
        body = json.loads(response.body)
        if response.status == 403:
            assert body["error"]["code"] == "wrong_pin"
        else:
            _assert_rate_limited(response.status, response.headers, body)
    assert len(evaluated) == LIMIT

    # The budget is spent: even the right PIN waits, from this address.
    right = send("POST", url, headers=headers, body=json.dumps({"secret": PIN}).encode())
    _assert_rate_limited(right.status, right.headers, json.loads(right.body))
    assert len(evaluated) == LIMIT
    # Another address is counted apart.
    other = guest().post(public_url(gallery_a, "unlock/"), {"secret": PIN}, REMOTE_ADDR="192.0.2.7")
    assert other.status_code == 200


# --- At the service -----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [Gallery.Access.PIN, Gallery.Access.PASSWORD])
def test_100_concurrent_wrong_guesses_at_the_service_evaluate_exactly_10(
    gallery_a, evaluated, mode
):
    protect(gallery_a, mode)

    def guess(index: int):
        return services.gallery_unlock(
            gallery=gallery_a, secret=f"wrong-{index:03d}", address="192.0.2.10"
        )

    results = race(GUESSES, guess)
    wrong = [r for r in results if isinstance(r, Forbidden)]
    limited = [r for r in results if isinstance(r, RateLimited)]
    assert len(wrong) == LIMIT and len(limited) == GUESSES - LIMIT, results
    assert {e.code for e in wrong} == {f"wrong_{mode}"}
    assert {e.code for e in limited} == {"too_many_attempts"}
    assert all(1 <= e.extra["retry_after"] <= WINDOW + 1 for e in limited)
    assert len(evaluated) == LIMIT


def test_100_concurrent_wrong_download_pins_evaluate_exactly_10(gallery_a, evaluated):
    protect(gallery_a, Gallery.Access.PUBLIC, download_pin="8642")
    grant = services.grant_current(gallery=gallery_a, grant=None)

    def guess(index: int):
        return services.downloads_unlock(
            gallery=gallery_a, grant=grant, pin=f"9{index:03d}", address="192.0.2.11"
        )

    results = race(GUESSES, guess)
    assert sum(isinstance(r, Forbidden) and r.code == "wrong_download_pin" for r in results) == 10
    assert sum(isinstance(r, RateLimited) for r in results) == GUESSES - LIMIT
    assert len(evaluated) == LIMIT


# --- What is counted together ---------------------------------------------------------------------
def _spend(gallery, address: str, count: int = LIMIT) -> None:
    for n in range(count):
        response = guest().post(
            public_url(gallery, "unlock/"), {"secret": f"0{n:03d}"}, REMOTE_ADDR=address
        )
        assert response.status_code == 403, response.json()


def test_the_budget_is_per_gallery_and_per_address(gallery_a, gallery_a2, evaluated):
    protect(gallery_a, Gallery.Access.PIN)
    protect(gallery_a2, Gallery.Access.PIN)
    _spend(gallery_a, "192.0.2.1")
    limited = guest().post(
        public_url(gallery_a, "unlock/"), {"secret": PIN}, REMOTE_ADDR="192.0.2.1"
    )
    _assert_rate_limited(limited.status_code, limited, limited.json())
    # The same address on another gallery, and another address on this one, go on.
    for gallery, address in ((gallery_a2, "192.0.2.1"), (gallery_a, "192.0.2.2")):
        response = guest().post(
            public_url(gallery, "unlock/"), {"secret": PIN}, REMOTE_ADDR=address
        )
        assert response.status_code == 200
    assert len(evaluated) == LIMIT + 2


def test_a_forwarded_for_header_does_not_dodge_the_limit(gallery_a):
    protect(gallery_a, Gallery.Access.PIN)
    _spend(gallery_a, "192.0.2.3")
    for n in range(3):
        response = guest().post(
            public_url(gallery_a, "unlock/"),
            {"secret": "0000"},
            REMOTE_ADDR="192.0.2.3",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        )
        assert (response.status_code, error_code(response)) == (429, "too_many_attempts")


@pytest.mark.parametrize("mode", [Gallery.Access.PIN, Gallery.Access.PASSWORD])
def test_open_by_link_with_a_secret_counts_against_the_same_budget(gallery_a, mode):
    protect(gallery_a, mode)
    _spend(gallery_a, "192.0.2.4")
    response = guest().post(
        "/api/v1/public/galleries/open/",
        {"gallery_id": str(gallery_a.id), "secret": secret_of(mode)},
        REMOTE_ADDR="192.0.2.4",
    )
    assert (response.status_code, error_code(response)) == (429, "too_many_attempts")
    assert "token" not in response.json()


def test_the_download_pin_has_its_own_budget(gallery_a):
    protect(gallery_a, Gallery.Access.PIN, download_pin="8642")
    token = access.dump(access.Grant(gallery_id=gallery_a.id, access_version=2))
    _spend(gallery_a, "192.0.2.5")
    response = guest(token).post(
        public_url(gallery_a, "downloads/unlock/"), {"pin": "8642"}, REMOTE_ADDR="192.0.2.5"
    )
    assert response.status_code == 200, response.json()
    assert access.load(response.json()["token"]).downloads_unlocked


def test_a_new_window_gives_a_new_budget(gallery_a, monkeypatch):
    protect(gallery_a, Gallery.Access.PIN)
    now = [1_800_000_000.0]  # the start of a window (a multiple of 900 s)
    monkeypatch.setattr(ratelimit, "time", types.SimpleNamespace(time=lambda: now[0]))
    _spend(gallery_a, "192.0.2.6")
    limited = guest().post(
        public_url(gallery_a, "unlock/"), {"secret": PIN}, REMOTE_ADDR="192.0.2.6"
    )
    assert limited.status_code == 429
    assert limited["Retry-After"] == str(WINDOW + 1)

    now[0] += WINDOW - 10  # still the same window
    limited = guest().post(
        public_url(gallery_a, "unlock/"), {"secret": PIN}, REMOTE_ADDR="192.0.2.6"
    )
    assert (limited.status_code, limited["Retry-After"]) == (429, "11")

    now[0] += 10  # the next window
    response = guest().post(
        public_url(gallery_a, "unlock/"), {"secret": PIN}, REMOTE_ADDR="192.0.2.6"
    )
    assert response.status_code == 200


def test_right_guesses_do_not_use_up_the_budget_of_guests_behind_one_address(gallery_a):
    """A wedding's guests on the venue's wifi share one address: 30 of them typing the right
    PIN, and a few typos among them, never lock the others out."""
    protect(gallery_a, Gallery.Access.PIN)
    for n in range(30):
        if n % 5 == 0:  # 6 typos in all: under the limit of 10 wrong guesses
            wrong = guest().post(
                public_url(gallery_a, "unlock/"), {"secret": "0000"}, REMOTE_ADDR="192.0.2.9"
            )
            assert error_code(wrong) == "wrong_pin"
        right = guest().post(
            public_url(gallery_a, "unlock/"), {"secret": PIN}, REMOTE_ADDR="192.0.2.9"
        )
        assert right.status_code == 200, (n, right.json())


# --- Behind the proxy: the real client, and a ceiling per gallery ------------------------------
CADDY = "172.31.250.3"


def _guess_via_caddy(gallery, forwarded_for: str, secret: str = "0000"):
    return guest().post(
        public_url(gallery, "unlock/"),
        {"secret": secret},
        REMOTE_ADDR=CADDY,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


def test_behind_the_proxy_the_budget_is_the_real_clients(gallery_a, settings, evaluated):
    """Every request reaches web from Caddy's address: counted by that, one guest's typos
    would lock out all of the gallery's guests."""
    settings.PICPICK_TRUSTED_PROXIES = ["172.31.250.0/24"]
    protect(gallery_a, Gallery.Access.PIN)
    for n in range(LIMIT):
        # The client writes a new address of its own each time; Caddy appends the real one.
        response = _guess_via_caddy(gallery_a, f"198.51.100.{n}, 203.0.113.5")
        assert error_code(response) == "wrong_pin"
    limited = _guess_via_caddy(gallery_a, "198.51.100.99, 203.0.113.5", secret=PIN)
    _assert_rate_limited(limited.status_code, limited, limited.json())
    # Another guest behind the same proxy is not locked out.
    assert _guess_via_caddy(gallery_a, "203.0.113.6", secret=PIN).status_code == 200
    assert len(evaluated) == LIMIT + 1


def test_the_gallery_has_a_ceiling_across_addresses(gallery_a, gallery_a2, settings, evaluated):
    settings.PICPICK_GUEST_UNLOCK_GALLERY_ATTEMPTS = 25
    protect(gallery_a, Gallery.Access.PIN)
    protect(gallery_a2, Gallery.Access.PIN)
    # Guessing spread over many addresses, each under its own limit.
    for n in range(25):
        response = guest().post(
            public_url(gallery_a, "unlock/"), {"secret": "0000"}, REMOTE_ADDR=f"198.51.100.{n}"
        )
        assert error_code(response) == "wrong_pin", n
    fresh = guest().post(
        public_url(gallery_a, "unlock/"), {"secret": PIN}, REMOTE_ADDR="192.0.2.50"
    )
    _assert_rate_limited(fresh.status_code, fresh, fresh.json())
    assert len(evaluated) == 25
    # The ceiling is this gallery's: the studio's other gallery opens.
    other = guest().post(
        public_url(gallery_a2, "unlock/"), {"secret": PIN}, REMOTE_ADDR="192.0.2.50"
    )
    assert other.status_code == 200


def test_a_refusal_by_the_ceiling_costs_the_address_nothing(gallery_a, settings):
    settings.PICPICK_GUEST_UNLOCK_GALLERY_ATTEMPTS = 3
    protect(gallery_a, Gallery.Access.PIN)
    _spend(gallery_a, "198.51.100.1", count=3)
    for _ in range(2 * LIMIT):  # refused by the gallery's ceiling, never evaluated
        response = guest().post(
            public_url(gallery_a, "unlock/"), {"secret": "0000"}, REMOTE_ADDR="192.0.2.60"
        )
        assert error_code(response) == "too_many_attempts"
    key = services._attempt_keys(gallery=gallery_a, address="192.0.2.60", what="unlock")[0]
    slot = int(ratelimit.time.time() // WINDOW)
    assert (ratelimit.cache.get(f"rate:{key}:{slot}") or 0) == 0


def test_an_address_that_used_up_its_guesses_leaves_the_ceiling_to_the_others(gallery_a, settings):
    """A shared venue address (or one attacker) hammering the gallery spends its own budget
    only: what it sends after its limit does not count against the gallery."""
    settings.PICPICK_GUEST_UNLOCK_GALLERY_ATTEMPTS = LIMIT + 5
    protect(gallery_a, Gallery.Access.PIN)
    for n in range(200):
        guest().post(
            public_url(gallery_a, "unlock/"), {"secret": f"9{n:03d}"}, REMOTE_ADDR="192.0.2.70"
        )
    for n in range(5):
        response = guest().post(
            public_url(gallery_a, "unlock/"), {"secret": "0000"}, REMOTE_ADDR=f"198.51.100.{n}"
        )
        assert error_code(response) == "wrong_pin", n
    response = guest().post(
        public_url(gallery_a, "unlock/"), {"secret": PIN}, REMOTE_ADDR="192.0.2.71"
    )
    assert response.status_code == 429  # the ceiling: LIMIT + 5 wrong guesses were evaluated
