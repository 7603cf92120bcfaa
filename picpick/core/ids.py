"""Random, time-ordered public identifiers.

Every public table uses a UUIDv7 primary key: random enough (74 random bits) that ids in URLs
cannot be guessed or enumerated, and ordered by creation time so InnoDB inserts append to the
clustered index instead of splitting pages at random, as UUIDv4 keys would.
"""

from __future__ import annotations

import os
import time
import uuid


def uuid7() -> uuid.UUID:
    unix_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)  # rand_b, 62 bits
    return uuid.UUID(int=value)


def uuid_or_404(value: object, *, message: str) -> uuid.UUID:
    """``value`` as a UUID; a malformed id names no row, so it is a 404 like an unknown one."""
    from picpick.core.errors import NotFound

    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise NotFound(message) from None
