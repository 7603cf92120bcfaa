"""Fixed-window rate limits counted with the cache's atomic increment.

Redis INCR in production (and LocMem's locked increment in a single process), so concurrent
requests in several web processes cannot slip past a limit: the N+1th caller of a window is
refused, whatever the interleaving. Client addresses are hashed with the secret key: keys
never hold an address.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from django.conf import settings
from django.core.cache import cache


def client_hash(address: str, *, purpose: str) -> str:
    return hmac.new(
        settings.SECRET_KEY.encode(), f"{purpose}:{address}".encode(), hashlib.sha256
    ).hexdigest()


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


def take(limits: list[tuple[str, int]], *, window: int) -> int | None:
    """Count one request against each ``(key, limit)`` in order; the seconds until the window
    ends when one is exceeded (later keys are then not counted), else None."""
    now = time.time()
    slot = int(now // window)
    retry_after = max(1, int((slot + 1) * window - now) + 1)
    for key, limit in limits:
        if _count(f"rate:{key}:{slot}", timeout=window + 5) > limit:
            return retry_after
    return None
