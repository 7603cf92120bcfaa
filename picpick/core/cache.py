"""What the shared cache raises when its server cannot be reached.

Django's Redis cache passes redis-py's errors through: a Redis restart (a deploy, a failover)
turns every ``cache.get`` into an exception. The callers on every request's path (host routing,
rate limits) catch ``CACHE_DOWN`` and carry on without the cache rather than answer 500.
"""

from __future__ import annotations

import redis

CACHE_DOWN: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
