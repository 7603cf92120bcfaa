"""Fixed-window rate limits counted with the cache's atomic increment.

Redis INCR in production (and LocMem's locked increment in a single process), so concurrent
requests in several web processes cannot slip past a limit: the N+1th caller of a window is
refused, whatever the interleaving. Client addresses are hashed with the secret key: keys
never hold an address. The address is ``picpick.core.clientaddr.client_address``: the one that
believes forwarding headers only from trusted proxies.

DRF's throttles (``picpick.core.throttles``), the guests' password/PIN guesses, selfie searches
and the login lockout all count here: one mechanism, one store, atomic everywhere.

When the store cannot be reached (Redis restarting, a network blip) the limits fail open: the
request goes through uncounted and a warning is logged (at most one per ``_DOWN_LOG_SECONDS``
per process). A brief window without counting costs less than answering every request of the
deployment with a 500 while Redis is away.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from picpick.core.cache import CACHE_DOWN
from picpick.core.observability import metrics

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"20/min"`` -> ``(20, 60)``: requests per window of seconds (DRF's notation: the
    period's first letter counts, s/m/h/d)."""
    count, _, period = rate.partition("/")
    if not count.isdigit() or int(count) < 1 or period[:1] not in _PERIODS:
        raise ImproperlyConfigured(f"{rate!r} is not a rate like 20/min, 5/hour or 1000/day.")
    return int(count), _PERIODS[period[:1]]


def _bucket(address: str) -> str:
    """An IPv6 client is its /64: one subscriber or host is handed a whole /64, and counting
    each of its 2**64 addresses apart would make every per-address limit endless."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network(f"{parsed}/64", strict=False))
    return str(parsed)


def keyed_hash(value: str, *, purpose: str) -> str:
    """A key part that does not hold ``value`` (an address, an email) and cannot be guessed
    from it without the secret key."""
    return hmac.new(
        settings.SECRET_KEY.encode(), f"{purpose}:{value}".encode(), hashlib.sha256
    ).hexdigest()


def client_hash(address: str, *, purpose: str) -> str:
    return keyed_hash(_bucket(address), purpose=purpose)


logger = logging.getLogger(__name__)

_DOWN_LOG_SECONDS = 10.0
_down_logged_at = 0.0


def _store_down(exc: BaseException) -> None:
    global _down_logged_at
    now = time.monotonic()
    if now - _down_logged_at >= _DOWN_LOG_SECONDS:
        _down_logged_at = now
        logger.warning("rate limits not counted: the cache is unreachable (%r)", exc)


def _count(key: str, *, timeout: int) -> int:
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=timeout)
        return 1


def _slot_key(key: str, window: int) -> str:
    return f"rate:{key}:{int(time.time() // window)}"


def give_back(key: str, *, window: int) -> None:
    """Return one slot taken in the current window: for limits that count only failures
    (a slot is taken before the check, so concurrent callers cannot overrun the limit, and
    given back when the attempt turns out fine)."""
    try:
        if (cache.get(_slot_key(key, window)) or 0) > 0:
            cache.decr(_slot_key(key, window))
    except ValueError:  # the window ended in between: nothing to give back
        pass
    except CACHE_DOWN as exc:
        _store_down(exc)


def take(limits: list[tuple[str, int]], *, window: int) -> int | None:
    """Count one request against each ``(key, limit)`` in order; the seconds until the window
    ends when one is exceeded (later keys are then not counted), else None."""
    now = time.time()
    slot = int(now // window)
    retry_after = max(1, int((slot + 1) * window - now) + 1)
    for key, limit in limits:
        try:
            count = _count(f"rate:{key}:{slot}", timeout=window + 5)
        except CACHE_DOWN as exc:  # fail open (module docstring)
            _store_down(exc)
            return None
        if count > limit:
            metrics.rate_limited(key=key)
            return retry_after
    return None
