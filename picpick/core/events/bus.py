"""Publishing snapshots of a topic (e.g. one gallery's progress) and the Redis Stream behind it.

With ``REDIS_URL``: one Redis Stream per topic, ``XADD ... MAXLEN ~ STREAM_MAXLEN`` of the
snapshot's JSON; the entry ids (``<ms>-<seq>``, monotonic) are the SSE ids, so a client's
``Last-Event-ID`` is a position to ``XREAD`` after. The stream expires a day after its last
entry, so idle topics leave nothing behind.

Without Redis there is nothing to publish to: the stream polls the snapshot from the database
(``sse``), which the web and worker processes of ``make run`` share, so ``publish`` returns.

Publishing never fails the caller's work (a broken snapshot or an unreachable Redis is logged
and dropped: the stream's idle reconciliation heals it), never runs inside a transaction that
could still roll back (``publish_after_commit``), and is coalesced: a worker finishing 50 photos
a second publishes at most one snapshot per topic per ``COALESCE_SECONDS``. The first change of
a quiet topic is published at once (the leading edge); changes inside the interval schedule one
trailing publish at its end, which reads the snapshot *then*, so the final counts always arrive.
Across processes a Redis gate (``SET NX PX``) holds the same limit: a process that finds the
gate taken retries when it expires, and publishes the counts of that moment.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from celery.signals import worker_process_shutdown, worker_shutdown
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, transaction

logger = logging.getLogger(__name__)

Snapshot = dict[str, Any]
SnapshotFn = Callable[[], Snapshot]

STREAM_MAXLEN = 1000  # about four minutes of a busy gallery at the coalesced rate
STREAM_TTL_SECONDS = 24 * 3600
COALESCE_SECONDS = 0.25
REDIS_TIMEOUT_SECONDS = 2.0  # a publisher never waits long on a sick Redis


def redis_url() -> str:
    return getattr(settings, "REDIS_URL", "") or ""


def _prefix() -> str:
    return settings.CACHES.get("default", {}).get("KEY_PREFIX") or "picpick"


def stream_key(topic: str) -> str:
    return f"{_prefix()}:events:{topic}"


def _gate_key(topic: str) -> str:
    return f"{_prefix()}:events-gate:{topic}"


def encode(snapshot: Snapshot) -> str:
    return json.dumps(snapshot, cls=DjangoJSONEncoder, separators=(",", ":"), sort_keys=True)


_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def redis_client() -> redis.Redis | None:
    """This process's client for publishing (thread-safe pool; redis-py renews it after a
    fork), or None without Redis."""
    url = redis_url()
    if not url:
        return None
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(
                url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                health_check_interval=30,
            )
            _clients[url] = client
        return client


def append(client: redis.Redis, topic: str, data: str) -> str:
    """Add one snapshot to the topic's stream; its entry id."""
    key = stream_key(topic)
    pipe = client.pipeline(transaction=False)
    pipe.xadd(key, {"data": data}, maxlen=STREAM_MAXLEN, approximate=True)
    pipe.expire(key, STREAM_TTL_SECONDS)
    entry_id, _ = pipe.execute()
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def _send(topic: str, snapshot: SnapshotFn) -> float | None:
    """Publish now unless another process published this topic less than an interval ago;
    then the seconds until the gate opens (the caller retries then)."""
    client = redis_client()
    if client is None:
        return None
    try:
        interval_ms = int(COALESCE_SECONDS * 1000)
        if interval_ms > 0 and not client.set(_gate_key(topic), 1, nx=True, px=interval_ms):
            left_ms = client.pttl(_gate_key(topic))
            return (left_ms if left_ms and left_ms > 0 else interval_ms) / 1000
        data = encode(snapshot())
        append(client, topic, data)
    except Exception:
        # The work that changed the counts is committed; listeners heal at their next idle
        # reconciliation. Nothing about the snapshot's content is logged.
        logger.exception("events: could not publish a snapshot of %s", topic)
    return None


class _Coalescer:
    """At most one publish per topic per interval in this process, with a trailing one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._timers: dict[str, threading.Timer] = {}

    def submit(self, topic: str, snapshot: SnapshotFn) -> None:
        with self._lock:
            if topic in self._timers:
                return  # the pending trailing publish reads the counts when it fires
            now = time.monotonic()
            self._prune(now)
            wait = self._last.get(topic, -math.inf) + COALESCE_SECONDS - now
            if wait > 0:
                self._schedule(topic, snapshot, wait)
                return
            self._last[topic] = now
        retry = _send(topic, snapshot)
        if retry is not None:
            with self._lock:
                if topic not in self._timers:
                    self._schedule(topic, snapshot, retry)

    def _prune(self, now: float) -> None:
        if len(self._last) > 10_000:
            self._last = {t: at for t, at in self._last.items() if now - at < COALESCE_SECONDS}

    def _schedule(self, topic: str, snapshot: SnapshotFn, wait: float) -> None:
        timer = threading.Timer(wait, self._trail, args=(topic, snapshot))
        timer.daemon = True
        self._timers[topic] = timer
        timer.start()

    def _trail(self, topic: str, snapshot: SnapshotFn) -> None:
        with self._lock:
            self._timers.pop(topic, None)
            self._last[topic] = time.monotonic()
        try:
            retry = _send(topic, snapshot)
        finally:
            connections.close_all()  # this timer thread's own; it ends now
        if retry is not None:
            with self._lock:
                if topic not in self._timers:
                    self._schedule(topic, snapshot, retry)

    def flush(self, timeout: float) -> bool:
        """Wait for the pending trailing publishes; whether none is left."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = list(self._timers.values())
            if not pending:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            pending[0].join(left)


_coalescer = _Coalescer()


def publish(*, topic: str, snapshot: SnapshotFn) -> None:
    """The state of ``topic`` changed: publish ``snapshot()`` (read when the publish happens,
    now or at the end of the coalescing interval). Never raises."""
    if not redis_url():
        return  # streams poll the database instead
    try:
        _coalescer.submit(topic, snapshot)
    except Exception:
        logger.exception("events: could not publish %s", topic)


def publish_after_commit(*, topic: str, snapshot: SnapshotFn) -> None:
    """``publish`` once the current transaction commits (at once outside one); nothing when it
    rolls back."""
    if not redis_url():
        return  # nothing to publish to: spare the transaction a callback
    transaction.on_commit(lambda: publish(topic=topic, snapshot=snapshot), robust=True)


def flush(timeout: float = 5.0) -> bool:
    """Wait for this process's pending trailing publishes (tests; a worker shutting down)."""
    return _coalescer.flush(timeout)


@worker_process_shutdown.connect
@worker_shutdown.connect
def _flush_before_exit(**kwargs) -> None:
    """A worker that stops on purpose (a deploy, ``--max-tasks-per-child``) publishes its
    pending trailing snapshots first; one killed outright leaves them to the listeners' idle
    reconciliation."""
    flush(timeout=COALESCE_SECONDS + 2 * REDIS_TIMEOUT_SECONDS)
