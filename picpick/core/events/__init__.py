"""Live progress: per-topic snapshots that workers publish and clients read as Server-Sent Events.

Why Server-Sent Events over ASGI and not WebSockets through Django Channels: the flow is one way
(the server tells, the client only listens); a browser's ``EventSource`` reconnects by itself and
sends ``Last-Event-ID``, so resuming is built in; it is plain HTTP, so it passes every proxy,
load balancer and CDN that passes a long response; it needs no second protocol server and no
channel layer beside the Redis we already run; and the desktop uploader reads the same endpoint
with an ordinary streaming HTTP client.

What travels is always a *snapshot* (absolute counts, never deltas): a client that missed events
needs only the newest one, and a reconnect can never leave it with wrong totals.

- ``bus``: publishing (coalesced, after commit, never failing the caller) and the two transports
  -- a Redis Stream per topic when ``REDIS_URL`` is set, else the database itself (the stream
  polls the snapshot), which works across the web and worker processes of ``make run``.
- ``sse``: the response, as an async iterator under ASGI and a generator under WSGI.
- ``tickets``: short-lived signed tickets for clients that cannot send headers (EventSource).
"""

from picpick.core.events.bus import flush, publish, publish_after_commit, stream_key
from picpick.core.events.sse import event_stream_response

__all__ = ["event_stream_response", "flush", "publish", "publish_after_commit", "stream_key"]
