"""The Server-Sent Events response of one topic.

The wire format: ``retry: 3000`` once; then ``id:`` / ``event: progress`` / ``data: <JSON>``
frames, each a full snapshot; ``: keep-alive`` after ``HEARTBEAT_SECONDS`` without one. The first
frame after a connect is a snapshot read from the database, unless the client resumes
(``Last-Event-ID``) from a position the stream still holds: then it gets the newest snapshot it
missed, or nothing until the next change when it missed none (counts are absolute, so the newest
entry is all it needs, and nothing it already has is sent twice). The response ends after
``MAX_LIFETIME_SECONDS``; the client reconnects with its last id and loses nothing.

Two transports (``bus``): with Redis the stream blocks on ``XREAD`` after the last id, and when
idle for a heartbeat compares the database's counts with the last snapshot it sent, appending a
fresh one when they differ (a trailing publish lost with a killed worker, photos deleted), so a
listener heals within a heartbeat. Without Redis it polls the snapshot every ``POLL_SECONDS`` and
sends it when the counts changed; its ids are ``<ms>-<hash of the counts>``, so a client
resuming with the counts it already has is not sent them again.

Two servers: under ASGI the content is an async iterator (Redis through ``redis.asyncio``, the
database through ``sync_to_async`` on a pooled thread whose connection is closed after each
read, so an hour-long stream holds no database connection); Django cancels it when the client
disconnects and ``finally`` closes its Redis connection. Under WSGI (``make run``'s dev server,
the tests' live server) Django would consume an async iterator to its end before sending a byte,
so the same loop runs as a plain generator; a disconnect is noticed at the next write, at the
latest one heartbeat later. Under gunicorn's sync workers a response is cut short of the
worker timeout (``GUNICORN_LIFETIME_SECONDS``), should a stream reach ``web`` instead of the
events service: the client reconnects with its last id.

Should Redis fail under a stream (a broker restart), the stream carries on from the database
for ``REDIS_DOWN_SECONDS`` and then ends; the client's reconnect finds Redis again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import zlib
from collections.abc import AsyncIterator, Iterator

import redis
import redis.asyncio
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.http import StreamingHttpResponse

from picpick.core.events import bus
from picpick.core.events.bus import SnapshotFn

logger = logging.getLogger(__name__)

RETRY_MS = 3000
HEARTBEAT_SECONDS = 15.0
MAX_LIFETIME_SECONDS = 3600.0
POLL_SECONDS = 1.0
# A sync gunicorn worker that is busy past its --timeout (30 s in docker-compose.yml) is killed:
# a stream that reaches one (the events service is the right place) ends before that, and the
# client reconnects with its last id.
GUNICORN_LIFETIME_SECONDS = 25.0
# Redis failing under an open stream (a broker restart): the stream goes on from the database
# for this long, then ends, and the client's reconnect finds Redis again.
REDIS_DOWN_SECONDS = 60.0
EVENT_NAME = "progress"
KEEPALIVE = b": keep-alive\n\n"
READ_COUNT = 100
# An open stream's Redis connection shows in CLIENT LIST as this, then ":<topic>".
CLIENT_NAME = "picpick-event-stream"


def _retry() -> bytes:
    return f"retry: {RETRY_MS}\n\n".encode()


def frame(event_id: str, data: str) -> bytes:
    return f"id: {event_id}\nevent: {EVENT_NAME}\ndata: {data}\n\n".encode()


def _counts(data: str | None) -> str | None:
    """The snapshot without its timestamp: what "changed" compares."""
    if data is None:
        return None
    try:
        body = json.loads(data)
    except ValueError:
        return None
    if isinstance(body, dict):
        body.pop("updated_at", None)
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def _digest(data: str) -> str:
    return format(zlib.crc32((_counts(data) or "").encode()), "08x")


def _stream_id(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    ms, sep, seq = value.strip().partition("-")
    if not (ms.isdigit() and seq.isdigit() and sep):
        return None
    return int(ms), int(seq)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry(entry) -> tuple[str, str]:
    entry_id, fields = entry
    data = fields.get(b"data") if b"data" in fields else fields.get("data")
    return _text(entry_id), _text(data)


def _resume_after(resume: str | None, first: str | None, last: str | None) -> str | None:
    """The position to resume after, or None when the client needs a fresh snapshot: no id, an
    id that is not one of ours, older than what the trimmed stream still holds, or newer than
    its last entry (the stream was lost and started again)."""
    wanted = _stream_id(resume)
    if wanted is None or first is None or last is None:
        return None
    if wanted < _stream_id(first) or wanted > _stream_id(last):
        return None
    return f"{wanted[0]}-{wanted[1]}"


def _snapshot_data(snapshot: SnapshotFn) -> str:
    return bus.encode(snapshot())


def _snapshot_data_released(snapshot: SnapshotFn) -> str:
    """For the async path: read on a pooled thread, and hand its connection back at once."""
    try:
        return _snapshot_data(snapshot)
    finally:
        connection.close()


def _release_connection() -> None:
    connection.close()  # looked up in the thread it runs in: each thread has its own


def _fallback_id(previous: str | None, data: str) -> str:
    now_ms = int(time.time() * 1000)
    before = _stream_id((previous or "").split("-")[0] + "-0")
    if before is not None and now_ms <= before[0]:
        now_ms = before[0] + 1  # monotonic within this response, whatever the clock does
    return f"{now_ms}-{_digest(data)}"


def _fallback_known(resume: str | None) -> str | None:
    """The counts digest a resuming client already has (fallback ids only)."""
    if not resume:
        return None
    ms, _, digest = resume.strip().partition("-")
    hexdigits = set("0123456789abcdef")
    if ms.isdigit() and len(digest) == 8 and set(digest) <= hexdigits:
        return digest
    return None


# --- WSGI: a generator ----------------------------------------------------------------------
def _sync_redis(
    topic: str, snapshot: SnapshotFn, resume: str | None, lifetime: float
) -> Iterator[bytes]:
    heartbeat = HEARTBEAT_SECONDS
    key = bus.stream_key(topic)
    client = redis.Redis.from_url(
        bus.redis_url(),
        socket_connect_timeout=bus.REDIS_TIMEOUT_SECONDS,
        socket_timeout=heartbeat + 10,  # a blocking read returns after a heartbeat at most
        client_name=f"{CLIENT_NAME}:{topic}",
    )
    try:
        yield _retry()
        first = client.xrange(key, count=1)
        last = client.xrevrange(key, count=1)
        first_id = _entry(first[0])[0] if first else None
        last_id = _entry(last[0])[0] if last else None
        cursor = _resume_after(resume, first_id, last_id)
        known: str | None = None
        if cursor is None:
            cursor = last_id or "0-0"
            known = _snapshot_data(snapshot)
            yield frame(cursor, known)
        else:
            missed = client.xrevrange(key, "+", f"({cursor}", count=1)
            if missed:
                cursor, known = _entry(missed[0])
                yield frame(cursor, known)
            else:
                had = client.xrange(key, cursor, cursor, count=1)
                known = _entry(had[0])[1] if had else None
        deadline = time.monotonic() + lifetime
        while (left := deadline - time.monotonic()) > 0:
            block_ms = max(1, int(min(heartbeat, left) * 1000))
            reply = client.xread({key: cursor}, block=block_ms, count=READ_COUNT)
            if reply:
                cursor, known = _entry(reply[0][1][-1])
                yield frame(cursor, known)
                continue
            yield KEEPALIVE
            fresh = _snapshot_data(snapshot)
            if _counts(fresh) != _counts(known):
                bus.append(client, topic, fresh)  # read by the next XREAD, for every listener
    finally:
        client.close()


def _sync_poll(
    snapshot: SnapshotFn, resume: str | None, lifetime: float, announce: bool = True
) -> Iterator[bytes]:
    heartbeat = HEARTBEAT_SECONDS
    if announce:
        yield _retry()
    known = _fallback_known(resume)
    event_id = resume if known else None
    deadline = time.monotonic() + lifetime
    quiet_since = time.monotonic()
    while True:
        data = _snapshot_data(snapshot)
        if _digest(data) != known:
            event_id = _fallback_id(event_id, data)
            known = _digest(data)
            quiet_since = time.monotonic()
            yield frame(event_id, data)
        elif time.monotonic() - quiet_since >= heartbeat:
            quiet_since = time.monotonic()
            yield KEEPALIVE
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(POLL_SECONDS, left))


# --- ASGI: an async iterator ----------------------------------------------------------------
async def _async_redis(
    topic: str, snapshot: SnapshotFn, resume: str | None
) -> AsyncIterator[bytes]:
    heartbeat = HEARTBEAT_SECONDS
    key = bus.stream_key(topic)
    read = sync_to_async(_snapshot_data_released, thread_sensitive=False)
    client = redis.asyncio.Redis.from_url(
        bus.redis_url(),
        socket_connect_timeout=bus.REDIS_TIMEOUT_SECONDS,
        socket_timeout=heartbeat + 10,  # a blocking read returns after a heartbeat at most
        client_name=f"{CLIENT_NAME}:{topic}",
    )
    try:
        yield _retry()
        first = await client.xrange(key, count=1)
        last = await client.xrevrange(key, count=1)
        first_id = _entry(first[0])[0] if first else None
        last_id = _entry(last[0])[0] if last else None
        cursor = _resume_after(resume, first_id, last_id)
        known: str | None = None
        if cursor is None:
            cursor = last_id or "0-0"
            known = await read(snapshot)
            yield frame(cursor, known)
        else:
            missed = await client.xrevrange(key, "+", f"({cursor}", count=1)
            if missed:
                cursor, known = _entry(missed[0])
                yield frame(cursor, known)
            else:
                had = await client.xrange(key, cursor, cursor, count=1)
                known = _entry(had[0])[1] if had else None
        deadline = time.monotonic() + MAX_LIFETIME_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            block_ms = max(1, int(min(heartbeat, left) * 1000))
            reply = await client.xread({key: cursor}, block=block_ms, count=READ_COUNT)
            if reply:
                cursor, known = _entry(reply[0][1][-1])
                yield frame(cursor, known)
                continue
            yield KEEPALIVE
            fresh = await read(snapshot)
            if _counts(fresh) != _counts(known):
                pipe = client.pipeline(transaction=False)
                pipe.xadd(key, {"data": fresh}, maxlen=bus.STREAM_MAXLEN, approximate=True)
                pipe.expire(key, bus.STREAM_TTL_SECONDS)
                await pipe.execute()
    finally:
        # Also reached when Django cancels the response on a client disconnect.
        await client.aclose()


async def _async_poll(
    snapshot: SnapshotFn, resume: str | None, lifetime: float | None = None, announce: bool = True
) -> AsyncIterator[bytes]:
    heartbeat = HEARTBEAT_SECONDS
    read = sync_to_async(_snapshot_data_released, thread_sensitive=False)
    if announce:
        yield _retry()
    known = _fallback_known(resume)
    event_id = resume if known else None
    deadline = time.monotonic() + (MAX_LIFETIME_SECONDS if lifetime is None else lifetime)
    quiet_since = time.monotonic()
    while True:
        data = await read(snapshot)
        if _digest(data) != known:
            event_id = _fallback_id(event_id, data)
            known = _digest(data)
            quiet_since = time.monotonic()
            yield frame(event_id, data)
        elif time.monotonic() - quiet_since >= heartbeat:
            quiet_since = time.monotonic()
            yield KEEPALIVE
        left = deadline - time.monotonic()
        if left <= 0:
            return
        await asyncio.sleep(min(POLL_SECONDS, left))


async def _async_stream(
    topic: str, snapshot: SnapshotFn, resume: str | None, use_redis: bool
) -> AsyncIterator[bytes]:
    # The view ran on this request's own thread, whose database connection would otherwise
    # sit idle for the stream's whole life.
    await sync_to_async(_release_connection)()
    inner = _async_redis(topic, snapshot, resume) if use_redis else _async_poll(snapshot, resume)
    try:
        async for chunk in inner:
            yield chunk
    except asyncio.CancelledError:
        raise  # the client went away
    except redis.RedisError:
        logger.warning("events: Redis failed under the stream of %s", topic, exc_info=True)
        fallback = _async_poll(snapshot, None, REDIS_DOWN_SECONDS, announce=False)
        try:
            async for chunk in fallback:
                yield chunk
        finally:
            await fallback.aclose()
    except Exception:
        logger.exception("events: the stream of %s failed", topic)
    finally:
        await inner.aclose()


def _sync_stream(
    topic: str, snapshot: SnapshotFn, resume: str | None, use_redis: bool, lifetime: float
) -> Iterator[bytes]:
    inner = (
        _sync_redis(topic, snapshot, resume, lifetime)
        if use_redis
        else _sync_poll(snapshot, resume, lifetime)
    )
    try:
        yield from inner
    except GeneratorExit:
        raise  # the client went away
    except redis.RedisError:
        logger.warning("events: Redis failed under the stream of %s", topic, exc_info=True)
        yield from _sync_poll(snapshot, None, min(lifetime, REDIS_DOWN_SECONDS), announce=False)
    except Exception:
        logger.exception("events: the stream of %s failed", topic)
    finally:
        inner.close()


def event_stream_response(
    request, *, topic: str, snapshot: SnapshotFn, resume: str | None
) -> StreamingHttpResponse:
    """The ``text/event-stream`` response of ``topic``; ``resume`` is the client's last id."""
    django_request = getattr(request, "_request", request)
    use_redis = bool(bus.redis_url())
    if isinstance(django_request, ASGIRequest):
        content = _async_stream(topic, snapshot, resume, use_redis)
    else:
        lifetime = MAX_LIFETIME_SECONDS
        if django_request.META.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
            lifetime = min(lifetime, GUNICORN_LIFETIME_SECONDS)
        content = _sync_stream(topic, snapshot, resume, use_redis, lifetime)
    response = StreamingHttpResponse(content, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx-style proxies: do not buffer
    return response
