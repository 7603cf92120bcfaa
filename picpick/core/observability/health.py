"""Readiness: can this process serve requests that need the database, Redis and storage?

Each check runs in its own thread with a time budget: a dependency that hangs makes the
answer "not ready" within the budget instead of hanging the load balancer's probe. A check
still running when the budget ends is left to finish on its own (its thread closes its
database connection). Liveness (``/healthz``) checks nothing: a process that answers is alive,
and restarting it because MySQL is down would not help.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, connections

logger = logging.getLogger(__name__)

BUDGET_SECONDS = 2.0

# Once every migration is applied it stays so for the life of the process (a deploy starts
# new processes), so the migration graph is loaded until then only.
_migrations_applied = False
_migrations_lock = threading.Lock()


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str  # short, for operators: never a secret, a URL or a password
    ms: float


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "reachable"


def check_migrations() -> str:
    global _migrations_applied
    if _migrations_applied:
        return "applied"
    from django.db.migrations.executor import MigrationExecutor

    with _migrations_lock:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            raise NotReady(f"{len(plan)} migrations not applied")
        _migrations_applied = True
    return "applied"


_redis_clients: dict[str, object] = {}


def check_redis() -> str:
    url = settings.REDIS_URL
    if not url:
        return "not configured"
    import redis

    client = _redis_clients.get(url)
    if client is None:
        client = redis.Redis.from_url(
            url, socket_timeout=BUDGET_SECONDS, socket_connect_timeout=BUDGET_SECONDS
        )
        _redis_clients[url] = client
    client.ping()
    return "reachable"


_s3_clients: dict[tuple, object] = {}


def check_storage() -> str:
    from picpick.core.storage import get_storage

    storage = get_storage()
    if settings.PICPICK_STORAGE == "s3":
        import boto3
        from botocore.config import Config

        # A client of its own: the storage's retries (5, with backoff) would outlast the budget.
        endpoint = storage.client.meta.endpoint_url
        key = (endpoint, storage.region)
        client = _s3_clients.get(key)
        if client is None:
            client = boto3.session.Session().client(
                "s3",
                region_name=storage.region,
                endpoint_url=endpoint,
                config=Config(
                    connect_timeout=BUDGET_SECONDS,
                    read_timeout=BUDGET_SECONDS,
                    retries={"max_attempts": 1, "mode": "standard"},
                    s3=storage.client.meta.config.s3,
                ),
            )
            _s3_clients[key] = client
        client.head_bucket(Bucket=storage.bucket)
        return "bucket reachable"
    with tempfile.NamedTemporaryFile(dir=storage.root, prefix=".ready-"):
        pass
    return "root writable"


class NotReady(Exception):
    """A check that ran and found the dependency not ready (its message is the detail)."""


CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "migrations": check_migrations,
    "redis": check_redis,
    "storage": check_storage,
}


def _timed(name: str, check: Callable[[], str]) -> CheckResult:
    started = time.perf_counter()
    try:
        detail, ok = check(), True
    except NotReady as exc:
        detail, ok = str(exc), False
    except Exception as exc:  # the answer names the kind of failure; the log has the rest
        logger.warning("readiness check %s failed: %r", name, exc)
        detail, ok = f"unreachable ({type(exc).__name__})", False
    finally:
        if name in ("database", "migrations"):
            connections.close_all()  # this thread's connections; the pool threads are reused
    return CheckResult(name, ok, detail, round((time.perf_counter() - started) * 1000, 1))


_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="readyz")


def run_checks(*, budget: float = BUDGET_SECONDS) -> list[CheckResult]:
    futures = {name: _executor.submit(_timed, name, check) for name, check in CHECKS.items()}
    wait(futures.values(), timeout=budget)
    results = []
    for name, future in futures.items():
        if future.done():
            results.append(future.result())
        else:
            late = CheckResult(name, False, f"no answer within {budget:g} s", budget * 1000)
            results.append(late)
    return results
