"""Caddy's on-demand TLS "ask" and the cost of host routing, through the full middleware stack.

The contract measured: ``GET /internal/tls-ask?domain=<host>`` on the internal host ``web``
answers in milliseconds with 1,000 active custom domains (and 1,000 studios): from the routing
cache when warm (0 queries), with one indexed query on a miss, never a DNS lookup. Caddy asks
once per new certificate, so misses are the common case for a fresh domain and hits for its
renewals and repeated handshakes. Host routing is measured as the extra time of ``/healthz`` on a
studio's custom domain over the same view on the API host (which needs no lookup).

The cache is the configured one: Django's local memory without ``REDIS_URL``, Redis with it.
"""

from __future__ import annotations

import random
import statistics
import time

from bench import Result, percentile
from bench.django_env import QueryCounter, fresh_database

DOMAINS = 1_000
REQUESTS = 2_000
MISSES = 500
WARMUP = 200
TARGET_P50_MS = 2
TARGET_P99_MS = 5
TARGET_MISS_P99_MS = 10
TARGET_MISS_QUERIES = 1
TARGET_ROUTING_MS = 1


def _seed() -> list[str]:
    from django.utils import timezone

    from accounts.models import Studio
    from domains.models import Domain

    now = timezone.now()
    studios = Studio.objects.bulk_create(
        Studio(name=f"Studio {n}", slug=f"studio-{n:04d}") for n in range(DOMAINS)
    )
    hosts = [f"photos.studio{n:04d}.example" for n in range(DOMAINS)]
    Domain.objects.bulk_create(
        (
            Domain(
                studio=studio,
                hostname=host,
                kind=Domain.Kind.SUBDOMAIN,
                state=Domain.State.ACTIVE,
                held_hostname=host,
                challenge_token=f"{n:032x}",
                verify_started_at=now,
                verified_at=now,
                activated_at=now,
                next_check_at=now,
            )
            for n, (studio, host) in enumerate(zip(studios, hosts, strict=True))
        ),
        batch_size=500,
    )
    return hosts


def run() -> list[Result]:
    with fresh_database():
        from django.core.cache import cache
        from django.db import connection
        from django.test import Client

        from domains.routing import host_cache_key

        hosts = _seed()
        cache.clear()
        client = Client()
        rng = random.Random(20_241_122)  # the same hosts every run, so runs compare

        def ask(host: str, expected: int = 200) -> float:
            started = time.perf_counter()
            response = client.get("/internal/tls-ask", {"domain": host}, HTTP_HOST="web")
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != expected:
                raise AssertionError(f"ask({host}) answered {response.status_code}")
            return elapsed

        # Misses: every answer from the database (the cache entry dropped before each ask).
        miss_ms: list[float] = []
        miss_queries: list[int] = []
        for host in rng.sample(hosts, MISSES):
            cache.delete(host_cache_key(host))
            counter = QueryCounter()
            with connection.execute_wrapper(counter):
                miss_ms.append(ask(host))
            miss_queries.append(counter.count)

        # Warm: every domain asked once, then random asks (hits, 0 queries).
        for host in hosts:
            ask(host)
        for host in rng.choices(hosts, k=WARMUP):
            ask(host)
        unknown = [f"nobody{n}.example" for n in range(50)]
        for host in unknown:
            ask(host, 404)  # cached as unknown (briefly)
        hit_ms: list[float] = []
        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            for host in rng.choices(hosts, k=REQUESTS):
                hit_ms.append(ask(host))
            unknown_ms = [ask(host, 404) for host in rng.choices(unknown, k=REQUESTS // 4)]
        if counter.count:
            raise AssertionError(f"{counter.count} queries on a warm cache")

        # Routing: /healthz on a custom domain (a cache hit) against the API host.
        def healthz(host: str) -> float:
            started = time.perf_counter()
            response = client.get("/healthz", HTTP_HOST=host)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise AssertionError(f"/healthz on {host} answered {response.status_code}")
            return elapsed

        api_ms, studio_ms = [], []
        for host in rng.choices(hosts, k=REQUESTS):
            api_ms.append(healthz("testserver"))
            studio_ms.append(healthz(host))
        routing_ms = max(0.0, statistics.median(studio_ms) - statistics.median(api_ms))

    return [
        Result.at_most("tls_ask.p50", statistics.median(hit_ms), "ms", TARGET_P50_MS),
        Result.at_most("tls_ask.p99", percentile(hit_ms, 0.99), "ms", TARGET_P99_MS),
        Result.at_most("tls_ask.unknown_p99", percentile(unknown_ms, 0.99), "ms", TARGET_P99_MS),
        Result.at_most("tls_ask.miss_p50", statistics.median(miss_ms), "ms", TARGET_MISS_P99_MS),
        Result.at_most("tls_ask.miss_p99", percentile(miss_ms, 0.99), "ms", TARGET_MISS_P99_MS),
        Result.at_most(
            "tls_ask.miss_queries", max(miss_queries), "queries/request", TARGET_MISS_QUERIES
        ),
        Result.at_most("host_routing.cost_median", routing_ms, "ms", TARGET_ROUTING_MS),
    ]
